"""`/scalelite/api/*`: Scalelite's admin JSON API (§1.18) over the shared admin service. Off unless
ADMIN_API_ENABLED: while off every call answers `unsupportedRequest` (BBB XML, HTTP 200), exactly like a path that
does not exist, so a scan cannot tell that the API is there.

Checksum: like Scalelite it is checked against the load balancer secrets, but it also covers the body
(DEVIATION, docs/admin-api.md): checksum = H(apiName + rawQueryWithoutChecksum + rawBody + secret). Content type,
then checksum, then the call, as in Scalelite; those two failures are BBB XML (HTTP 200), the rest is JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from scalelite_api.dependencies import ContainerDep, SettingsDep
from scalelite_api.responses import error_response
from scalelite_common.bbb import checksum
from scalelite_common.config import Settings
from scalelite_common.errors import (
    AdminConflict,
    AdminError,
    AdminNotFound,
    AdminUpstreamError,
    BBBError,
    UnsupportedContentTypeError,
    UnsupportedRequestError,
)
from scalelite_common.observability import logger
from scalelite_common.services.admin import servers as commands
from scalelite_common.services.admin import tenants as tenant_commands
from scalelite_common.services.admin import validation
from scalelite_common.services.admin.context import AdminContext
from scalelite_common.values import parse_bool

router = APIRouter()

Payload = dict[str, Any]
Query = dict[str, str]
Handler = Callable[[AdminContext, Query, Payload], JSONResponse]

SERVER_CALLS = {
    "getServers": "GET",
    "getServerInfo": "GET",
    "addServer": "POST",
    "updateServer": "POST",
    "deleteServer": "POST",
    "panicServer": "POST",
}
TENANT_CALLS = {
    "getTenants": "GET",
    "getTenantInfo": "GET",
    "addTenant": "POST",
    "updateTenant": "POST",
    "deleteTenant": "POST",
}
STATE_ACTIONS = {
    "enable": "enable",
    "enabled": "enable",
    "cordon": "cordon",
    "cordoned": "cordon",
    "disable": "disable",
    "disabled": "disable",
}
STATUSES: dict[type[AdminError], int] = {AdminNotFound: 404, AdminConflict: 409, AdminUpstreamError: 502}


def status_for(exc: AdminError) -> int:
    """The HTTP status of a refusal: 400 (invalid input) unless a subclass says otherwise."""
    return STATUSES.get(type(exc), 400)


def _xml_error(error: BBBError) -> Response:
    return error_response(error)


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(content=body, status_code=status)


def _not_found(server_id: Any) -> JSONResponse:
    return _json({"error": f"Couldn't find server with id={server_id}"}, 404)


def _verify(call_name: str, raw_query: str, body: bytes, settings: Settings) -> None:
    given = checksum.checksum_from_query(raw_query) or ""
    signed = checksum.strip_checksum(raw_query, given) if given else raw_query
    checksum.verify(
        call_name,
        signed + body.decode("utf-8", errors="replace"),
        settings.accepted_secrets(),
        settings.checksum_algorithms,
        checksum=given,
    )


# -------------------------------------------------------------------------------------------------- calls
def get_servers(ctx: AdminContext, query: Query, payload: Payload) -> JSONResponse:
    servers = commands.servers_list(ctx)["servers"]
    if not servers:
        return _json({"error": "No servers are configured"}, 404)
    return _json(servers)


def get_server_info(ctx: AdminContext, query: Query, payload: Payload) -> JSONResponse:
    server_id = query.get("id") or payload.get("id")
    if not server_id:
        return _json({"error": "Missing parameter: id"}, 400)
    try:
        return _json(commands.servers_get(ctx, str(server_id)))
    except AdminNotFound:
        return _not_found(server_id)


def add_server(ctx: AdminContext, query: Query, payload: Payload) -> JSONResponse:
    fields = payload.get("server")
    if not isinstance(fields, dict) or not fields.get("url") or not fields.get("secret"):
        return _json({"error": "Server needs a URL and a secret"}, 400)
    multiplier = fields.get("load_multiplier")
    if multiplier in (0, "0", "", None):
        multiplier = None  # Scalelite: a missing or zero multiplier means 1.0
    server = commands.servers_add(
        ctx, fields["url"], fields["secret"], load_multiplier=multiplier, tag=fields.get("tag") or None
    )
    return _json(server, 201)


def update_server(ctx: AdminContext, query: Query, payload: Payload) -> JSONResponse:
    server_id = payload.get("id")
    fields = payload.get("server") or {}
    if not server_id or not isinstance(fields, dict):
        return _json({"error": "Missing parameter: id"}, 400)
    server_id = str(server_id)
    # Validate everything before the first write: nothing is half-applied.
    action = None
    if fields.get("state") is not None:
        action = STATE_ACTIONS.get(str(fields["state"]))
        if action is None:
            return _json({"error": f"Invalid state parameter: {fields['state']}"}, 400)
    changes: dict[str, Any] = {}
    if fields.get("url") is not None:
        changes["url"] = validation.validate_url(fields["url"])
    if fields.get("secret") is not None:
        changes["secret"] = validation.validate_secret(fields["secret"])
    if fields.get("load_multiplier") is not None:
        changes["load_multiplier"] = validation.validate_multiplier(fields["load_multiplier"])
    if "tag" in fields:
        changes["tag"] = validation.validate_tag(fields["tag"]) or ""
    if ctx.store.get_server(server_id) is None:
        return _not_found(server_id)
    try:
        result: dict[str, Any] | None = None
        if action == "enable":
            result = commands.servers_enable(ctx, server_id)
        elif action == "cordon":
            result = commands.servers_cordon(ctx, server_id)
        elif action == "disable":  # may refuse (409) a loaded server unless "force": nothing written then
            result = commands.servers_disable(ctx, server_id, force=_flag(payload.get("force")))
        if changes:
            result = commands.servers_update(ctx, server_id, **changes)
        if result is None:
            result = commands.servers_get(ctx, server_id)
    except AdminNotFound:
        return _not_found(server_id)
    return _json(result)


def delete_server(ctx: AdminContext, query: Query, payload: Payload) -> JSONResponse:
    server_id = payload.get("id")
    if not server_id:
        return _json({"error": "Missing parameter: id"}, 400)
    try:
        commands.servers_remove(ctx, str(server_id))
    except AdminNotFound:
        return _not_found(server_id)
    return _json({"success": f"Server id={server_id} was destroyed"})


def panic_server(ctx: AdminContext, query: Query, payload: Payload) -> JSONResponse:
    server_id = payload.get("id")
    if not server_id:
        return _json({"error": "Missing parameter: id"}, 400)
    nested = payload.get("server") if isinstance(payload.get("server"), dict) else {}
    keep_state = _flag(payload.get("keep_state", (nested or {}).get("keep_state")))  # Scalelite's docs nest it
    try:
        commands.servers_panic(ctx, str(server_id), keep_state=keep_state)
    except AdminNotFound:
        return _not_found(server_id)
    return _json({"success": f"Server id={server_id} has been disabled and the meetings have been destroyed"})


# ---------------------------------------------------------------------------------- tenants (multitenancy)
def _tenant_missing(tenant_id: Any) -> JSONResponse:
    return _json({"error": f"Couldn't find Tenant with id={tenant_id}"}, 404)


def get_tenants(ctx: AdminContext, query: Query, payload: Payload) -> JSONResponse:
    found = tenant_commands.tenants_list(ctx)["tenants"]
    return _json(found if found else {"message": "No tenants exist"})


def get_tenant_info(ctx: AdminContext, query: Query, payload: Payload) -> JSONResponse:
    tenant_id = query.get("id") or payload.get("id")
    if not tenant_id:
        return _json({"error": "Missing parameter: id"}, 400)
    try:
        return _json(tenant_commands.tenants_get(ctx, str(tenant_id)))
    except AdminNotFound:
        return _tenant_missing(tenant_id)


def add_tenant(ctx: AdminContext, query: Query, payload: Payload) -> JSONResponse:
    fields = payload.get("tenant")
    if not isinstance(fields, dict) or not fields.get("name") or not fields.get("secrets"):
        return _json({"message": "Error: both name and secrets are required to create a Tenant"}, 400)
    tenant = tenant_commands.tenants_add(ctx, str(fields["name"]), str(fields["secrets"]))
    return _json({"tenant": tenant}, 201)


def update_tenant(ctx: AdminContext, query: Query, payload: Payload) -> JSONResponse:
    tenant_id = payload.get("id")
    fields = payload.get("tenant") or {}
    if not tenant_id or not isinstance(fields, dict):
        return _json({"error": "Missing parameter: id"}, 400)
    try:
        tenant = tenant_commands.tenants_update(
            ctx,
            str(tenant_id),
            name=None if fields.get("name") is None else str(fields["name"]),
            secrets=None if fields.get("secrets") is None else str(fields["secrets"]),
        )
    except AdminNotFound:
        return _tenant_missing(tenant_id)
    except AdminError as exc:  # Scalelite: a record that does not validate
        return _json({"error": exc.message}, 422)
    return _json({"tenant": tenant})


def delete_tenant(ctx: AdminContext, query: Query, payload: Payload) -> JSONResponse:
    """Refused (422) while the tenant has live meetings, unless `force` (which ends them)."""
    tenant_id = payload.get("id")
    if not tenant_id:
        return _json({"error": "Missing parameter: id"}, 400)
    try:
        tenant_commands.tenants_remove(ctx, str(tenant_id), force=_flag(payload.get("force")))
    except AdminNotFound:
        return _tenant_missing(tenant_id)
    except AdminError as exc:
        return _json({"error": exc.message}, 422)
    return _json({"success": f"Tenant id={tenant_id} was destroyed"})


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return parse_bool(value) is True
    return bool(value)


HANDLERS: dict[str, Handler] = {
    "getServers": get_servers,
    "getServerInfo": get_server_info,
    "addServer": add_server,
    "updateServer": update_server,
    "deleteServer": delete_server,
    "panicServer": panic_server,
    "getTenants": get_tenants,
    "getTenantInfo": get_tenant_info,
    "addTenant": add_tenant,
    "updateTenant": update_tenant,
    "deleteTenant": delete_tenant,
}


# ------------------------------------------------------------------------------------------------ routing
@router.api_route(
    "/scalelite/api/{call_name}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False
)
async def admin_api(
    call_name: str,
    request: Request,
    settings: SettingsDep,
    container: ContainerDep,
) -> Response:
    if not settings.admin_api_enabled:
        return _xml_error(UnsupportedRequestError())
    verb = SERVER_CALLS.get(call_name) or TENANT_CALLS.get(call_name)
    if verb is None or request.method != verb:
        return _xml_error(UnsupportedRequestError())
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and body and content_type != "application/json":
        return _xml_error(UnsupportedContentTypeError())
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    try:
        _verify(call_name, raw_query, body, settings)
    except BBBError as exc:
        return _xml_error(exc)
    if call_name in TENANT_CALLS and not settings.multitenancy_enabled:
        return _json({"message": "Multitenancy is disabled"}, 412)
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        return _json({"error": "The body is not valid JSON"}, 400)
    if not isinstance(payload, dict):
        return _json({"error": "The body must be a JSON object"}, 400)
    query = dict(request.query_params)
    logger.append_keys(admin_api_call=call_name)
    try:
        return await run_in_threadpool(HANDLERS[call_name], container.admin_context, query, payload)
    except AdminError as exc:
        return _json({"error": exc.message}, status_for(exc))
    except Exception:  # never a stack trace to the caller
        logger.exception("admin API call failed", admin_api_call=call_name)
        return _json({"error": "Internal error"}, 500)
