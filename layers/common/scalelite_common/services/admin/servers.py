"""Server commands: CRUD, enable/cordon/disable/panic, status and an on-demand poll."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from scalelite_common.domain.entities import Server, ServerState
from scalelite_common.errors import AdminConflict, AdminError, AdminNotFound, ServerExists, ServerGone
from scalelite_common.observability import logger
from scalelite_common.presenters.admin_json import server_json
from scalelite_common.services.admin.context import AdminContext
from scalelite_common.services.admin.validation import (
    validate_id,
    validate_multiplier,
    validate_secret,
    validate_tag,
    validate_url,
)
from scalelite_common.services.polling import POLL_WHATS, Poller, clear_meetings


def require_server(ctx: AdminContext, server_id: str) -> Server:
    """The server, or AdminNotFound."""
    server = ctx.store.get_server(server_id)
    if server is None:
        raise AdminNotFound(f"No server found with id: {server_id}")
    return server


def update_server(ctx: AdminContext, server_id: str, changes: Mapping[str, Any]) -> Server:
    """`store.update_server`, with a vanished server as AdminNotFound."""
    try:
        return ctx.store.update_server(server_id, changes)
    except ServerGone:
        raise AdminNotFound(f"No server found with id: {server_id}") from None


# -------------------------------------------------------------------------------------------- servers
def servers_list(ctx: AdminContext) -> dict[str, Any]:
    servers = sorted(ctx.store.list_servers(), key=lambda s: s.id)
    return {"servers": [server_json(s) for s in servers]}


def servers_get(ctx: AdminContext, id: str) -> dict[str, Any]:
    return server_json(require_server(ctx, id))


def servers_add(
    ctx: AdminContext,
    url: str,
    secret: str,
    load_multiplier: Any = None,
    tag: str | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    """A new server starts disabled and offline (Scalelite): enable it, and the next poll brings it online."""
    url = validate_url(url)
    secret = validate_secret(secret)
    multiplier = 1.0 if load_multiplier is None else validate_multiplier(load_multiplier)
    server_tag = validate_tag(tag)
    if id is not None:
        server_id = validate_id(id)
    elif ctx.settings.server_id_is_hostname:
        server_id = (urlsplit(url).hostname or "").lower()
    else:
        server_id = str(uuid.uuid4())
    server = Server(id=server_id, url=url, secret=secret, load_multiplier=multiplier, tag=server_tag)
    try:
        ctx.store.add_server(server)
    except ServerExists:
        raise AdminConflict(f"Server already exists with id '{server_id}'") from None
    return server_json(server)


def servers_update(
    ctx: AdminContext,
    id: str,
    url: str | None = None,
    secret: str | None = None,
    load_multiplier: Any = None,
    tag: str | None = None,
) -> dict[str, Any]:
    """Change the given fields only; `tag=""` removes the tag."""
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = validate_url(url)
        changes["bbb_version"] = None  # maybe another machine now: read its version again
    if secret is not None:
        changes["secret"] = validate_secret(secret)
    if load_multiplier is not None:
        changes["load_multiplier"] = validate_multiplier(load_multiplier)
    if tag is not None:
        changes["tag"] = validate_tag(tag)
    if not changes:
        raise AdminError("Nothing to update: give url, secret, load_multiplier or tag")
    return server_json(update_server(ctx, id, changes))


def servers_remove(ctx: AdminContext, id: str) -> dict[str, Any]:
    """Meeting mappings left on it are dropped by the next create of each meeting (or expire)."""
    try:
        ctx.store.delete_server(id)
    except ServerGone:
        raise AdminNotFound(f"No server found with id: {id}") from None
    return {"removed": id}


def servers_enable(ctx: AdminContext, id: str) -> dict[str, Any]:
    return server_json(update_server(ctx, id, {"state": ServerState.ENABLED}))


def servers_cordon(ctx: AdminContext, id: str) -> dict[str, Any]:
    return server_json(update_server(ctx, id, {"state": ServerState.CORDONED}))


def servers_disable(ctx: AdminContext, id: str, force: bool = False) -> dict[str, Any]:
    """A server with users on it is only disabled with `force`, which also ends and forgets its meetings
    (Scalelite asks `yes` on stdin for this)."""
    server = require_server(ctx, id)
    loaded = (server.effective_load or 0) > 0
    if loaded and not force:
        raise AdminConflict(
            f"Server id={id} has load {round(server.effective_load or 0, 3)}: disabling it ends all its meetings."
            " Repeat with force to do so."
        )
    updated = update_server(ctx, id, {"state": ServerState.DISABLED, "load": None})
    if loaded:
        cleared = clear_meetings(ctx.store, ctx.client, server, short_timeouts=not server.online)
        logger.info("server disabled with force", server=id, meetings_cleared=len(cleared.meeting_ids))
    return server_json(updated)


def servers_panic(
    ctx: AdminContext,
    id: str,
    keep_state: bool = False,
    skip_end_calls: bool = False,
) -> dict[str, Any]:
    """Forget every meeting on the server (the next create places each one anew), `end` them unless
    `skip_end_calls`, and disable the server unless `keep_state`."""
    server = require_server(ctx, id)
    if not keep_state:
        server = update_server(ctx, id, {"state": ServerState.DISABLED, "load": None})
    cleared = clear_meetings(
        ctx.store, ctx.client, server, end_calls=not skip_end_calls, short_timeouts=not server.online
    )
    return {"server": server_json(server), "meetings_cleared": cleared.meeting_ids, "end_errors": cleared.end_errors}


# ------------------------------------------------------------------------------------------ status / poll
def status(ctx: AdminContext) -> dict[str, Any]:
    """Every server with its poller statistics (as of the last poll) and its pending recording uploads, sorted by
    hostname like `rake status`."""
    servers = sorted(ctx.store.list_servers(), key=lambda s: (s.hostname, s.id))
    # Uploads pending: recording upload URLs handed to the server and not imported yet (scale a node in at 0).
    return {
        "servers": [
            {"hostname": s.hostname, **server_json(s), "pending_uploads": len(ctx.store.pending_uploads(s.id))}
            for s in servers
        ]
    }


def poll(ctx: AdminContext, what: str = "all") -> dict[str, Any]:
    """One poller cycle, synchronously (e.g. to bring a newly enabled server online at once)."""
    if what not in POLL_WHATS:
        raise AdminError(f"Unknown poll target '{what}' (choose: {' '.join(POLL_WHATS)})")
    return Poller(ctx.store, ctx.client, ctx.settings).cycle(what).as_dict()
