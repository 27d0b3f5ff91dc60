"""Every admin command by name (`COMMANDS`) with its arguments; `dispatch` checks and coerces them, then runs it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scalelite_common.errors import AdminError
from scalelite_common.services.admin.context import AdminContext
from scalelite_common.services.admin.meetings import meetings_end, meetings_info, meetings_list
from scalelite_common.services.admin.playback import (
    playback_activate,
    playback_commit,
    playback_install_from_server,
    playback_prepare,
    playback_status,
    playback_upload_urls,
)
from scalelite_common.services.admin.recordings import (
    recordings_check,
    recordings_delete,
    recordings_failed,
    recordings_info,
    recordings_list,
    recordings_publish,
    recordings_upload_url,
)
from scalelite_common.services.admin.servers import (
    poll,
    servers_add,
    servers_cordon,
    servers_disable,
    servers_enable,
    servers_get,
    servers_list,
    servers_panic,
    servers_remove,
    servers_update,
    status,
)
from scalelite_common.services.admin.sync import servers_sync, servers_yaml
from scalelite_common.services.admin.tenants import (
    recordings_add_to_tenant,
    tenant_settings_add,
    tenant_settings_list,
    tenant_settings_remove,
    tenants_add,
    tenants_get,
    tenants_list,
    tenants_remove,
    tenants_update,
)
from scalelite_common.values import parse_bool


@dataclass(frozen=True)
class _Param:
    kind: str  # str | bool | number | ids | list
    required: bool = False


@dataclass(frozen=True)
class _Command:
    run: Callable[..., dict[str, Any]]
    params: Mapping[str, _Param] = field(default_factory=dict)


_ID = {"id": _Param("str", required=True)}
COMMANDS: dict[str, _Command] = {
    "servers.list": _Command(servers_list),
    "servers.get": _Command(servers_get, _ID),
    "servers.add": _Command(
        servers_add,
        {
            "url": _Param("str", True),
            "secret": _Param("str", True),
            "load_multiplier": _Param("number"),
            "tag": _Param("str"),
            "id": _Param("str"),
        },
    ),
    "servers.update": _Command(
        servers_update,
        {
            **_ID,
            "url": _Param("str"),
            "secret": _Param("str"),
            "load_multiplier": _Param("number"),
            "tag": _Param("str"),
        },
    ),
    "servers.remove": _Command(servers_remove, _ID),
    "servers.enable": _Command(servers_enable, _ID),
    "servers.cordon": _Command(servers_cordon, _ID),
    "servers.disable": _Command(servers_disable, {**_ID, "force": _Param("bool")}),
    "servers.panic": _Command(servers_panic, {**_ID, "keep_state": _Param("bool"), "skip_end_calls": _Param("bool")}),
    "servers.sync": _Command(
        servers_sync, {"yaml": _Param("str", True), "mode": _Param("str"), "dry_run": _Param("bool")}
    ),
    "servers.yaml": _Command(servers_yaml, {"verbose": _Param("bool")}),
    "status": _Command(status),
    "poll": _Command(poll, {"what": _Param("str")}),
    "meetings.list": _Command(meetings_list, {"meeting_ids": _Param("ids")}),
    "meetings.info": _Command(meetings_info, {"meeting_id": _Param("str", True), "tenant_id": _Param("str")}),
    "meetings.end": _Command(meetings_end, {"meeting_ids": _Param("ids")}),
    "recordings.list": _Command(
        recordings_list, {"meeting_id": _Param("str"), "state": _Param("str"), "tenant_id": _Param("str")}
    ),
    "recordings.info": _Command(recordings_info, {"record_id": _Param("str", True)}),
    "recordings.publish": _Command(recordings_publish, {"record_ids": _Param("ids", True), "publish": _Param("bool")}),
    "recordings.delete": _Command(recordings_delete, {"record_ids": _Param("ids", True)}),
    "recordings.failed": _Command(recordings_failed),
    "recordings.check": _Command(recordings_check, {"tenant_id": _Param("str"), "fix": _Param("bool")}),
    "recordings.upload_url": _Command(recordings_upload_url, {"name": _Param("str")}),
    "tenants.list": _Command(tenants_list),
    "tenants.get": _Command(tenants_get, _ID),
    "tenants.add": _Command(
        tenants_add,
        {
            "name": _Param("str", True),
            "secrets": _Param("str", True),
            "max_meetings": _Param("number"),
            "max_attendees": _Param("number"),
        },
    ),
    "tenants.update": _Command(
        tenants_update,
        {
            **_ID,
            "name": _Param("str"),
            "secrets": _Param("str"),
            "max_meetings": _Param("number"),
            "max_attendees": _Param("number"),
        },
    ),
    "tenants.remove": _Command(tenants_remove, {**_ID, "force": _Param("bool")}),
    "tenant_settings.list": _Command(tenant_settings_list, {"tenant_id": _Param("str")}),
    "tenant_settings.add": _Command(
        tenant_settings_add,
        {
            "tenant_id": _Param("str", True),
            "param": _Param("str", True),
            "value": _Param("str", True),
            "mode": _Param("str"),
        },
    ),
    "tenant_settings.remove": _Command(tenant_settings_remove, _ID),
    "recordings.add_to_tenant": _Command(recordings_add_to_tenant, {"tenant_id": _Param("str", True)}),
    "playback.status": _Command(playback_status),
    "playback.prepare": _Command(playback_prepare, {"files": _Param("list", True), "version": _Param("str")}),
    "playback.upload_urls": _Command(
        playback_upload_urls, {"version": _Param("str", True), "paths": _Param("list", True)}
    ),
    "playback.commit": _Command(
        playback_commit, {"version": _Param("str", True), "files": _Param("list", True), "source": _Param("str")}
    ),
    "playback.activate": _Command(playback_activate, {"version": _Param("str", True)}),
    "playback.install_from_server": _Command(
        playback_install_from_server, {"server_id": _Param("str", True), "version": _Param("str")}
    ),
}


def _coerce(command: str, name: str, kind: str, value: Any) -> Any:
    if kind == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    elif kind == "number":
        return value  # validated (with its own message) by the command
    elif kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and (flag := parse_bool(value)) is not None:
            return flag
    elif kind == "list":
        if isinstance(value, list):
            return value  # its items are checked by the command
    elif kind == "ids":
        if isinstance(value, str):
            return [part for part in value.split(":") if part] or None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [v for v in value if v] or None
    raise AdminError(f"{command}: argument '{name}' must be {_KIND_TEXT[kind]}")


_KIND_TEXT = {"str": "text", "number": "a number", "bool": "true or false", "ids": "a list of ids", "list": "a list"}


def dispatch(command: str, args: Mapping[str, Any] | None, ctx: AdminContext) -> dict[str, Any]:
    spec = COMMANDS.get(command)
    if spec is None:
        raise AdminError(f"Unknown command: {command!r} (known: {', '.join(sorted(COMMANDS))})")
    args = dict(args or {})
    unknown = sorted(set(args) - set(spec.params))
    if unknown:
        raise AdminError(f"{command}: unknown argument(s): {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, param in spec.params.items():
        value = args.get(name)
        if value is None:
            if param.required:
                raise AdminError(f"{command}: missing argument '{name}'")
            continue
        kwargs[name] = _coerce(command, name, param.kind, value)
    return spec.run(ctx, **kwargs)
