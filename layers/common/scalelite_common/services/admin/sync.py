"""`servers.sync` (make the server list match a YAML document) and `servers.yaml` (the list in that format)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from scalelite_common.domain.entities import Server, ServerState
from scalelite_common.errors import AdminConflict, AdminError, ServerExists, ServerGone
from scalelite_common.services.admin.context import AdminContext
from scalelite_common.services.admin.servers import update_server
from scalelite_common.services.admin.validation import validate_id, validate_multiplier, validate_tag, validate_url
from scalelite_common.services.polling import clear_meetings

SYNC_MODES = ("keep", "cordon", "force")
SYNC_PARAMS = frozenset({"url", "secret", "enabled", "load_multiplier", "tag"})
SYNC_IGNORED = frozenset({"load", "state", "online", "bbb_version"})  # written by `servers.yaml --verbose`
REDACTED = "*****"  # secrets never appear in a sync plan


@dataclass
class _Desired:
    url: str
    secret: str
    enabled: bool
    load_multiplier: float
    tag: str | None


@dataclass
class _SyncPlan:
    changes: list[dict[str, Any]] = field(default_factory=list)
    create: list[Server] = field(default_factory=list)
    update: dict[str, dict[str, Any]] = field(default_factory=dict)
    remove: list[Server] = field(default_factory=list)  # empty ones: delete
    cordon: list[Server] = field(default_factory=list)  # not empty: cordon (and in force mode end + delete)


def parse_sync_document(text: str) -> dict[str, _Desired]:
    """Scalelite's servers:sync YAML: `servers:` maps id → {secret, url?, enabled?, load_multiplier?, tag?}.
    Every problem of the whole document is reported at once."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise AdminError(f"Malformed YAML{where}: {problem}") from None
    if not isinstance(doc, dict):
        raise AdminError("Invalid YAML document: expected a mapping with a 'servers' key")
    servers = doc.get("servers")
    if not isinstance(servers, dict):
        raise AdminError("Invalid YAML document: 'servers' must map server ids to their parameters")
    errors: list[str] = []
    desired: dict[str, _Desired] = {}
    for raw_id, params in servers.items():
        sid = str(raw_id)
        try:
            validate_id(sid)
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise AdminError(f"Server id={sid} parameters must be a mapping")
            bad = sorted(str(k) for k in params if k not in SYNC_PARAMS | SYNC_IGNORED)
            if bad:
                raise AdminError(f"Server id={sid} has bad parameters: {', '.join(bad)}")
            secret = params.get("secret")
            if not isinstance(secret, str) or not secret.strip():
                raise AdminError(f"Server id={sid} has no secret")
            url = params.get("url")
            url = f"https://{sid}/bigbluebutton/api" if url is None else url
            try:
                url = validate_url(url)
            except AdminError:
                raise AdminError(f"Server id={sid} has invalid url={url}") from None
            enabled = params.get("enabled", True)
            if not isinstance(enabled, bool):
                raise AdminError(f"Server id={sid} has invalid enabled={enabled!r} (true or false)")
            multiplier = params.get("load_multiplier")
            try:
                multiplier = 1.0 if multiplier is None else validate_multiplier(multiplier)
            except AdminError:
                raise AdminError(f"Server id={sid} has invalid load_multiplier={multiplier}") from None
            try:
                tag = validate_tag(params.get("tag"))
            except AdminError as exc:
                raise AdminError(f"Server id={sid}: {exc.message}") from None
            desired[sid] = _Desired(url.strip(), secret.strip(), enabled, multiplier, tag)
        except AdminError as exc:
            errors.append(exc.message)
    if errors:
        raise AdminError("; ".join(errors))
    return desired


def _plan_sync(ctx: AdminContext, desired: dict[str, _Desired], mode: str) -> _SyncPlan:
    plan = _SyncPlan()
    current = {s.id: s for s in ctx.store.list_servers()}
    for sid, want in desired.items():
        server = current.get(sid)
        if server is None:
            state = ServerState.ENABLED if want.enabled else ServerState.DISABLED
            plan.create.append(
                Server(
                    id=sid,
                    url=want.url,
                    secret=want.secret,
                    state=state,
                    load_multiplier=want.load_multiplier,
                    tag=want.tag,
                )
            )
            plan.changes.append(
                {
                    "id": sid,
                    "action": "create",
                    "url": want.url,
                    "state": state.value,
                    "load_multiplier": want.load_multiplier,
                    "tag": want.tag or "",
                }
            )
            continue
        fields: dict[str, Any] = {}
        shown: dict[str, Any] = {}
        if server.url != want.url:
            fields["url"] = shown["url"] = want.url
            fields["bbb_version"] = None
        if server.secret != want.secret:
            fields["secret"] = want.secret
            shown["secret"] = REDACTED
        if server.load_multiplier != want.load_multiplier:
            fields["load_multiplier"] = shown["load_multiplier"] = want.load_multiplier
        if (server.tag or None) != want.tag:
            fields["tag"] = want.tag
            shown["tag"] = want.tag or ""
        if shown:
            plan.changes.append({"id": sid, "action": "update", **shown})
        if want.enabled and server.state is not ServerState.ENABLED:
            fields["state"] = ServerState.ENABLED
            plan.changes.append({"id": sid, "action": "enable"})
        elif not want.enabled and server.state is ServerState.ENABLED:
            fields["state"] = ServerState.CORDONED
            plan.changes.append({"id": sid, "action": "cordon"})
        if fields:
            plan.update[sid] = fields
    for sid, server in sorted(current.items()):
        if sid in desired:
            continue
        if mode == "keep":
            plan.changes.append({"id": sid, "action": "keep"})
            continue
        meetings = [m.meeting_id for m in ctx.store.meetings_on_server(sid)]
        if not meetings:
            plan.remove.append(server)
            plan.changes.append({"id": sid, "action": "remove"})
            continue
        plan.cordon.append(server)
        if server.state is ServerState.ENABLED:
            plan.changes.append({"id": sid, "action": "cordon", "reason": "not empty"})
        if mode == "force":
            plan.changes.append({"id": sid, "action": "end_meetings", "meetings": sorted(meetings)})
            plan.changes.append({"id": sid, "action": "remove"})
        else:
            plan.changes.append({"id": sid, "action": "keep", "reason": f"{len(meetings)} meeting(s) still running"})
    return plan


def servers_sync(ctx: AdminContext, yaml: str, mode: str = "cordon", dry_run: bool = False) -> dict[str, Any]:
    """Make the server list match a YAML document (Scalelite's servers:sync). Servers it lists are created
    (enabled unless `enabled: false`) or updated; the others are kept (`keep`), removed when empty and cordoned
    otherwise (`cordon`), or have their meetings ended and are removed (`force`). `dry_run` only plans."""
    if mode not in SYNC_MODES:
        raise AdminError(f"Unknown sync mode '{mode}' (choose: {' '.join(SYNC_MODES)})")
    desired = parse_sync_document(yaml)
    plan = _plan_sync(ctx, desired, mode)
    if dry_run:
        return {"changes": plan.changes, "applied": False}
    done: list[str] = []  # what is applied so far, named in the error if a later step fails
    try:
        _apply_sync(ctx, plan, mode, done)
    except AdminError as exc:
        applied = "; ".join(done) if done else "nothing"
        message = f"{exc.message} (applied before this: {applied}; run the sync again to finish)"
        raise type(exc)(message) from exc  # the same kind of refusal
    return {"changes": plan.changes, "applied": True}


def _apply_sync(ctx: AdminContext, plan: _SyncPlan, mode: str, done: list[str]) -> None:
    """Apply a validated plan in order (creates, updates, removals, cordons), naming each step in `done`. Only a
    concurrent change (another admin, a create) can make a step fail here: validation happened before."""
    for server in plan.create:
        try:
            ctx.store.add_server(server)
        except ServerExists:
            raise AdminConflict(f"Server id={server.id} was created by someone else during the sync") from None
        done.append(f"created {server.id}")
    for sid, fields in plan.update.items():
        update_server(ctx, sid, fields)
        done.append(f"updated {sid}")
    for server in plan.remove:
        with contextlib.suppress(ServerGone):  # removed meanwhile: the goal is reached
            ctx.store.delete_server(server.id)
        done.append(f"removed {server.id}")
    for server in plan.cordon:
        if server.state is ServerState.ENABLED:
            server = update_server(ctx, server.id, {"state": ServerState.CORDONED})
            done.append(f"cordoned {server.id}")
        if mode != "force":
            continue
        clear_meetings(ctx.store, ctx.client, server, short_timeouts=not server.online)
        done.append(f"ended the meetings on {server.id}")
        if ctx.store.meetings_on_server(server.id):
            raise AdminError(f"[{server.id}] Server still not empty: new meetings arrived while ending them")
        with contextlib.suppress(ServerGone):
            ctx.store.delete_server(server.id)
        done.append(f"removed {server.id}")


def servers_yaml(ctx: AdminContext, verbose: bool = False) -> dict[str, Any]:
    """The server list in the servers:sync format (`verbose` adds state, load, bbb_version, online)."""
    servers: dict[str, dict[str, Any]] = {}
    for server in sorted(ctx.store.list_servers(), key=lambda s: s.id):
        entry: dict[str, Any] = {
            "url": server.url,
            "secret": server.secret,
            "load_multiplier": server.load_multiplier,
            "enabled": server.state is ServerState.ENABLED,
        }
        if server.tag:
            entry["tag"] = server.tag
        if verbose:
            load = server.effective_load
            entry.update(
                state=server.state.value,
                load=None if load is None else round(load, 3),
                bbb_version=server.bbb_version or "",
                online=server.online,
            )
        servers[server.id] = entry
    return {"yaml": _dump_yaml({"servers": servers})}


def _dump_yaml(doc: Any) -> str:
    text: str = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return text
