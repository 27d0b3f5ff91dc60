"""Meeting commands: list the mappings with what their servers say, one meeting's info, end meetings."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

from scalelite_common.bbb import xml
from scalelite_common.bbb.client import BBBTransportError, Target
from scalelite_common.concurrency import fan_out
from scalelite_common.config import DEFAULT_TENANT
from scalelite_common.domain.entities import Meeting
from scalelite_common.errors import AdminError, AdminNotFound, AdminUpstreamError, BBBError
from scalelite_common.presenters.admin_json import mapping_json
from scalelite_common.services.admin.context import AdminContext


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
        entry = mapping_json(meeting, server) | {"running": None, "name": "", "participants": None}
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
        raise AdminNotFound(f"No meeting found with id: {meeting_id}")
    server = ctx.store.get_server(meeting.server_id)
    info = mapping_json(meeting, server)
    if server is None:
        info.update(running=False, error="server no longer exists")
        return info
    target = Target(url=server.url, secret=server.secret, offline=not server.online)
    try:
        root = ctx.client.call(target, "getMeetingInfo", [("meetingID", meeting.meeting_id)]).root
    except BBBTransportError as exc:
        raise AdminUpstreamError(f"Could not reach server id={server.id}: {exc}") from None
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
    targets = list(_live_mappings(ctx, meeting_ids))
    removed, errors = end_meetings(ctx, targets)
    found = {m.meeting_id for m in targets}
    result: dict[str, Any] = {"ended": [m.meeting_id for m in removed], "errors": errors}
    if meeting_ids:
        result["not_found"] = [mid for mid in meeting_ids if mid not in found]
    return result


def end_meetings(ctx: AdminContext, targets: list[Meeting]) -> tuple[list[Meeting], dict[str, str]]:
    """Forget these mappings and send `end` for each: the ones forgotten, and the end errors by meetingID."""
    servers = {s.id: s for s in ctx.store.list_servers()}
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
    return removed, errors
