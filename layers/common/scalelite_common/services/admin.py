"""Administration: Scalelite's rake tasks (§7) as commands, shared by the AdminFunction (and so the `scalelite`
CLI) and the admin JSON API (`/scalelite/api`).

One function per command of the CONVENTIONS.md table; `dispatch` validates a command's arguments and runs it.
Every command validates all of its input before its first write, so a rejected command changes nothing.
Errors the operator must see are `AdminError` (400), `NotFoundAdminError` (404) or `AdminError(status=409)`
(the command would destroy something: repeat it with `force`).
"""

from __future__ import annotations

import contextlib
import math
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import yaml
from aws_lambda_powertools.metrics import MetricUnit

from scalelite_common.bbb import xml
from scalelite_common.bbb.client import BBBClient, BBBTransportError, Target
from scalelite_common.concurrency import fan_out
from scalelite_common.config import DEFAULT_TENANT, ConfigError, Settings
from scalelite_common.domain.entities import Meeting, Server, ServerState
from scalelite_common.errors import AdminError, BBBError, NotFoundAdminError, ServerExists, ServerGone
from scalelite_common.observability import logger, metrics
from scalelite_common.services.polling import POLL_WHATS, Poller, PollStore, clear_meetings
from scalelite_common.values import parse_bool

SYNC_MODES = ("keep", "cordon", "force")
SERVER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
SYNC_PARAMS = frozenset({"url", "secret", "enabled", "load_multiplier", "tag"})
SYNC_IGNORED = frozenset({"load", "state", "online", "bbb_version"})  # written by `servers.yaml --verbose`
LOAD_MULTIPLIER_ERROR = "Load-multiplier must be a non-zero number"
CONFLICT = 409
REDACTED = "*****"  # secrets never appear in a sync plan


class AdminStore(PollStore, Protocol):
    """What the admin commands need from storage (DynamoStore implements it)."""

    def get_server(self, server_id: str) -> Server | None: ...
    def add_server(self, server: Server) -> None: ...
    def delete_server(self, server_id: str) -> None: ...
    def get_meeting(self, tenant_id: str, meeting_id: str, *, now: float | None = None) -> Meeting | None: ...


@dataclass(frozen=True)
class AdminContext:
    store: AdminStore
    client: BBBClient
    settings: Settings


# ----------------------------------------------------------------------------------------- server JSON
def server_json(server: Server) -> dict[str, Any]:
    """Scalelite's admin-API server object (CONVENTIONS.md) plus the poller's statistics."""
    load = server.effective_load  # Scalelite's load also includes the creates/joins since the last poll
    return {
        "id": server.id,
        "url": server.url,
        "secret": server.secret,
        "state": server.state.value,
        "online": "online" if server.online else "offline",
        "load": "unavailable" if load is None else round(load, 3),
        "load_multiplier": server.load_multiplier,
        "tag": server.tag or "",
        "bbb_version": server.bbb_version or "",
        "last_error": server.last_error or "",
        "meetings": server.meetings,
        "users": server.users,
        "largest_meeting": server.largest_meeting,
        "videos": server.videos,
    }


# ------------------------------------------------------------------------------------------- validation
def validate_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise AdminError("Server needs a URL and a secret")
    text: str = url.strip()
    if not text.lower().startswith(("http://", "https://")):
        raise AdminError("Server URL must start with http:// or https://")
    try:
        host = urlsplit(text).hostname
    except ValueError:
        host = None
    if not host:
        raise AdminError(f"Server URL has no host name: {text}")
    return text


def validate_secret(secret: Any) -> str:
    if not isinstance(secret, str) or not secret.strip():
        raise AdminError("Server needs a URL and a secret")
    return secret.strip()


def validate_multiplier(value: Any) -> float:
    """A positive number (`0`, text and negatives are refused: Scalelite silently turned them into 1.0)."""
    if isinstance(value, bool):
        raise AdminError(f"{LOAD_MULTIPLIER_ERROR} (got {value!r})")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AdminError(f"{LOAD_MULTIPLIER_ERROR} (got {value!r})") from None
    if not math.isfinite(number) or number == 0:
        raise AdminError(f"{LOAD_MULTIPLIER_ERROR} (got {value!r})")
    if number < 0:
        raise AdminError(f"{LOAD_MULTIPLIER_ERROR} greater than 0 (got {value!r})")
    return number


def validate_tag(value: Any) -> str | None:
    """`""` (or None) means untagged. `;` and a trailing `!` are request syntax (tag lists, required tags)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise AdminError(f"Tag must be text (got {value!r})")
    tag = value.strip()
    if ";" in tag or tag.endswith("!"):
        raise AdminError(f"Tag must not contain ';' or end with '!' (got {tag!r})")
    return tag or None


def validate_id(value: Any) -> str:
    if not isinstance(value, str) or not SERVER_ID.match(value):
        raise AdminError(f"Server id={value} contains invalid characters (allowed: letters, digits, _ . -)")
    return value


def _server(ctx: AdminContext, server_id: str) -> Server:
    server = ctx.store.get_server(server_id)
    if server is None:
        raise NotFoundAdminError(f"No server found with id: {server_id}")
    return server


def _update(ctx: AdminContext, server_id: str, changes: Mapping[str, Any]) -> Server:
    try:
        return ctx.store.update_server(server_id, changes)
    except ServerGone:
        raise NotFoundAdminError(f"No server found with id: {server_id}") from None


# -------------------------------------------------------------------------------------------- servers
def servers_list(ctx: AdminContext) -> dict[str, Any]:
    servers = sorted(ctx.store.list_servers(), key=lambda s: s.id)
    return {"servers": [server_json(s) for s in servers]}


def servers_get(ctx: AdminContext, id: str) -> dict[str, Any]:
    return server_json(_server(ctx, id))


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
        raise AdminError(f"Server already exists with id '{server_id}'", status=CONFLICT) from None
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
    return server_json(_update(ctx, id, changes))


def servers_remove(ctx: AdminContext, id: str) -> dict[str, Any]:
    """Meeting mappings left on it are dropped by the next create of each meeting (or expire)."""
    try:
        ctx.store.delete_server(id)
    except ServerGone:
        raise NotFoundAdminError(f"No server found with id: {id}") from None
    return {"removed": id}


def servers_enable(ctx: AdminContext, id: str) -> dict[str, Any]:
    return server_json(_update(ctx, id, {"state": ServerState.ENABLED}))


def servers_cordon(ctx: AdminContext, id: str) -> dict[str, Any]:
    return server_json(_update(ctx, id, {"state": ServerState.CORDONED}))


def servers_disable(ctx: AdminContext, id: str, force: bool = False) -> dict[str, Any]:
    """A server with users on it is only disabled with `force`, which also ends and forgets its meetings
    (Scalelite asks `yes` on stdin for this)."""
    server = _server(ctx, id)
    loaded = (server.effective_load or 0) > 0
    if loaded and not force:
        raise AdminError(
            f"Server id={id} has load {round(server.effective_load or 0, 3)}: disabling it ends all its meetings."
            " Repeat with force to do so.",
            status=CONFLICT,
        )
    updated = _update(ctx, id, {"state": ServerState.DISABLED, "load": None})
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
    server = _server(ctx, id)
    if not keep_state:
        server = _update(ctx, id, {"state": ServerState.DISABLED, "load": None})
    cleared = clear_meetings(
        ctx.store, ctx.client, server, end_calls=not skip_end_calls, short_timeouts=not server.online
    )
    return {"server": server_json(server), "meetings_cleared": cleared.meeting_ids, "end_errors": cleared.end_errors}


# ------------------------------------------------------------------------------------------ sync / yaml
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
        raise AdminError(
            f"{exc.message} (applied before this: {applied}; run the sync again to finish)", status=exc.status
        ) from exc
    return {"changes": plan.changes, "applied": True}


def _apply_sync(ctx: AdminContext, plan: _SyncPlan, mode: str, done: list[str]) -> None:
    """Apply a validated plan in order (creates, updates, removals, cordons), naming each step in `done`. Only a
    concurrent change (another admin, a create) can make a step fail here: validation happened before."""
    for server in plan.create:
        try:
            ctx.store.add_server(server)
        except ServerExists:
            raise AdminError(
                f"Server id={server.id} was created by someone else during the sync", status=CONFLICT
            ) from None
        done.append(f"created {server.id}")
    for sid, fields in plan.update.items():
        _update(ctx, sid, fields)
        done.append(f"updated {sid}")
    for server in plan.remove:
        with contextlib.suppress(ServerGone):  # removed meanwhile: the goal is reached
            ctx.store.delete_server(server.id)
        done.append(f"removed {server.id}")
    for server in plan.cordon:
        if server.state is ServerState.ENABLED:
            server = _update(ctx, server.id, {"state": ServerState.CORDONED})
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


# ------------------------------------------------------------------------------------------ status / poll
def status(ctx: AdminContext) -> dict[str, Any]:
    """Every server with its poller statistics (as of the last poll), sorted by hostname like `rake status`."""
    servers = sorted(ctx.store.list_servers(), key=lambda s: (s.hostname, s.id))
    return {"servers": [{"hostname": s.hostname, **server_json(s)} for s in servers]}


def poll(ctx: AdminContext, what: str = "all") -> dict[str, Any]:
    """One poller cycle, synchronously (e.g. to bring a newly enabled server online at once)."""
    if what not in POLL_WHATS:
        raise AdminError(f"Unknown poll target '{what}' (choose: {' '.join(POLL_WHATS)})")
    return Poller(ctx.store, ctx.client, ctx.settings).cycle(what).as_dict()


# ------------------------------------------------------------------------------------------------ meetings
def _live_mappings(ctx: AdminContext, meeting_ids: list[str] | None) -> Iterator[Meeting]:
    now = time.time()
    wanted = set(meeting_ids) if meeting_ids else None
    for meeting in ctx.store.all_meetings():
        if meeting.expires_at and meeting.expires_at < now:
            continue
        if wanted is None or meeting.meeting_id in wanted:
            yield meeting


def _fan_out[T](ctx: AdminContext, items: list[T], fn: Callable[[T], Any]) -> list[Any]:
    """`fn` over `items` concurrently within POLLER_WAIT_TIMEOUT (`concurrency.fan_out`)."""
    return fan_out(items, fn, workers=ctx.settings.poller_threads, timeout=ctx.settings.poller_wait_timeout)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, BBBError):
        return f"{exc.message_key}: {exc.message}"
    return str(exc) or type(exc).__name__


def meetings_list(ctx: AdminContext, meeting_ids: list[str] | None = None) -> dict[str, Any]:
    """Every meeting mapping (or the given meetingIDs) with what its server says about it: one getMeetings per
    server instead of Scalelite's getMeetingInfo per meeting."""
    mappings = sorted(_live_mappings(ctx, meeting_ids), key=lambda m: (m.server_id, m.meeting_id))
    servers = {s.id: s for s in ctx.store.list_servers()}
    wanted = sorted({m.server_id for m in mappings if m.server_id in servers})

    def listing(server_id: str) -> dict[str, ET.Element]:
        server = servers[server_id]
        resp = ctx.client.call(Target(url=server.url, secret=server.secret, offline=not server.online), "getMeetings")
        return {xml.text(node, "meetingID"): node for node in resp.root.findall("meetings/meeting")}

    answers = dict(zip(wanted, _fan_out(ctx, wanted, listing), strict=True))
    out = []
    for meeting in mappings:
        server = servers.get(meeting.server_id)
        entry: dict[str, Any] = {
            "meeting_id": meeting.meeting_id,
            "tenant_id": meeting.tenant_id,
            "server_id": meeting.server_id,
            "server_url": server.url if server else "",
            "created_at": meeting.created_at,
            "expires_at": meeting.expires_at,
            "running": None,
            "name": "",
            "participants": None,
        }
        answer = answers.get(meeting.server_id)
        if server is None:
            entry["error"] = "server no longer exists"
        elif isinstance(answer, BaseException):
            entry["error"] = _error_text(answer)
        elif isinstance(answer, dict):
            node = answer.get(meeting.meeting_id)
            entry["running"] = node is not None and xml.text(node, "running") == "true"
            if node is not None:
                entry["name"] = xml.text(node, "meetingName")
                entry["participants"] = _count(xml.text(node, "participantCount"))
        out.append(entry)
    found = {m.meeting_id for m in mappings}
    result: dict[str, Any] = {"meetings": out}
    if meeting_ids:
        result["not_found"] = [mid for mid in meeting_ids if mid not in found]
    return result


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def meetings_info(ctx: AdminContext, meeting_id: str, tenant_id: str | None = None) -> dict[str, Any]:
    """getMeetingInfo of one meeting from its server, plus where it is mapped."""
    meeting = ctx.store.get_meeting(tenant_id or DEFAULT_TENANT, meeting_id)
    if meeting is None:
        raise NotFoundAdminError(f"No meeting found with id: {meeting_id}")
    server = ctx.store.get_server(meeting.server_id)
    info: dict[str, Any] = {
        "meeting_id": meeting.meeting_id,
        "tenant_id": meeting.tenant_id,
        "server_id": meeting.server_id,
        "server_url": server.url if server else "",
        "voice_bridge": meeting.voice_bridge,
        "created_at": meeting.created_at,
        "expires_at": meeting.expires_at,
    }
    if server is None:
        info.update(running=False, error="server no longer exists")
        return info
    target = Target(url=server.url, secret=server.secret, offline=not server.online)
    try:
        root = ctx.client.call(target, "getMeetingInfo", [("meetingID", meeting.meeting_id)]).root
    except BBBTransportError as exc:
        raise AdminError(f"Could not reach server id={server.id}: {exc}", status=502) from None
    except BBBError as exc:
        info.update(running=False, error=_error_text(exc))
        return info
    metadata = root.find("metadata")
    info.update(
        running=xml.text(root, "running") == "true",
        meeting_name=xml.text(root, "meetingName"),
        internal_meeting_id=xml.text(root, "internalMeetingID"),
        create_time=xml.text(root, "createTime"),
        create_date=xml.text(root, "createDate"),
        recording=xml.text(root, "recording") == "true",
        participant_count=_count(xml.text(root, "participantCount")),
        moderator_count=_count(xml.text(root, "moderatorCount")),
        video_count=_count(xml.text(root, "videoCount")),
        is_breakout=xml.text(root, "isBreakout") == "true",
        metadata={child.tag: (child.text or "").strip() for child in metadata} if metadata is not None else {},
    )
    return info


def meetings_end(ctx: AdminContext, meeting_ids: list[str] | None = None) -> dict[str, Any]:
    """Forget the mappings (all, or the given meetingIDs) and send `end` for each (best effort, concurrently)."""
    servers = {s.id: s for s in ctx.store.list_servers()}
    targets = list(_live_mappings(ctx, meeting_ids))
    removed: list[Meeting] = []
    for meeting in targets:
        if ctx.store.release_meeting(meeting):  # not if re-placed since it was read: that one is live
            removed.append(meeting)

    def end(meeting: Meeting) -> None:
        server = servers.get(meeting.server_id)
        if server is None:
            raise AdminError("server no longer exists")
        params = [("meetingID", meeting.meeting_id)]
        if meeting.moderator_pw:
            params.append(("password", meeting.moderator_pw))
        ctx.client.call(Target(url=server.url, secret=server.secret, offline=not server.online), "end", params)

    errors: dict[str, str] = {}
    for meeting, outcome in zip(removed, _fan_out(ctx, removed, end), strict=True):
        if isinstance(outcome, BBBError) and outcome.message_key == "notFound":
            continue  # had ended already
        if isinstance(outcome, BaseException):
            errors[meeting.meeting_id] = _error_text(outcome)
    found = {m.meeting_id for m in targets}
    result: dict[str, Any] = {"ended": [m.meeting_id for m in removed], "errors": errors}
    if meeting_ids:
        result["not_found"] = [mid for mid in meeting_ids if mid not in found]
    return result


# ------------------------------------------------------------------------------------------------ dispatch
@dataclass(frozen=True)
class _Param:
    kind: str  # str | bool | number | ids
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
    elif kind == "ids":
        if isinstance(value, str):
            return [part for part in value.split(":") if part] or None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [v for v in value if v] or None
    raise AdminError(f"{command}: argument '{name}' must be {_KIND_TEXT[kind]}")


_KIND_TEXT = {"str": "text", "number": "a number", "bool": "true or false", "ids": "a list of meeting ids"}


def dispatch(
    command: str, args: Mapping[str, Any] | None, *, store: AdminStore, client: BBBClient, settings: Settings
) -> dict[str, Any]:
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
    return spec.run(AdminContext(store=store, client=client, settings=settings), **kwargs)


def handle_event(event: Any, *, request_id: str = "") -> dict[str, Any]:
    """The AdminFunction's work: `{"command", "args"}` in, `{"ok": true, "result"}` or `{"ok": false, "error",
    "status"}` out. Bad input is answered, never raised; anything unexpected is logged with its traceback and
    answered with a generic message."""
    if not isinstance(event, dict) or not isinstance(event.get("command"), str):
        return _failure(AdminError('The event must be {"command": "<name>", "args": {...}}'))
    command = event["command"]
    args = event.get("args")
    if args is not None and not isinstance(args, dict):
        return _failure(AdminError(f"{command}: 'args' must be an object"))
    logger.append_keys(admin_command=command)
    try:
        from scalelite_common.config import get_settings
        from scalelite_common.services import wiring

        settings = get_settings()
        result = dispatch(
            command, args, store=wiring.store(settings), client=wiring.bbb_client(settings), settings=settings
        )
    except AdminError as exc:
        logger.info("admin command refused", error=exc.message, status=exc.status)
        return _failure(exc)
    except ConfigError as exc:
        logger.error("configuration error", error=str(exc))
        return _failure(AdminError(f"Configuration error: {exc}", status=500))
    except Exception:
        logger.exception("admin command failed")
        suffix = f" (request id {request_id})" if request_id else ""
        return _failure(AdminError(f"Internal error: see the AdminFunction logs{suffix}", status=500))
    logger.info("admin command done")
    metrics.add_metric(name="AdminCommands", unit=MetricUnit.Count, value=1)
    return {"ok": True, "result": result}


def _failure(exc: AdminError) -> dict[str, Any]:
    metrics.add_metric(name="AdminCommandsFailed", unit=MetricUnit.Count, value=1)
    return {"ok": False, "error": exc.message, "status": exc.status}
