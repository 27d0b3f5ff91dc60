"""Servers and meeting mappings rendered as the admin JSON (CONVENTIONS.md "Server JSON")."""

from __future__ import annotations

from typing import Any

from scalelite_common.domain.entities import Meeting, Recording, Server
from scalelite_common.domain.tenants import Tenant


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


def mapping_json(meeting: Meeting, server: Server | None) -> dict[str, Any]:
    """What the balancer knows of a meeting (the `meetings.list`/`meetings.info` entries before BBB's answer)."""
    return {
        "meeting_id": meeting.meeting_id,
        "tenant_id": meeting.tenant_id,
        "server_id": meeting.server_id,
        "server_url": server.url if server else "",
        "voice_bridge": meeting.voice_bridge,
        "created_at": meeting.created_at,
        "expires_at": meeting.expires_at,
    }


def recording_json(recording: Recording, *, detail: bool = False) -> dict[str, Any]:
    """A recording as `scalelite recordings list/info --json` show it (the pinned fields first)."""
    out: dict[str, Any] = {
        "record_id": recording.record_id,
        "meeting_id": recording.meeting_id,
        "name": recording.name,
        "state": recording.state.value,
        "published": recording.published,
        "protected": recording.protected,
        "formats": sorted(recording.formats),
        "tenant_id": recording.tenant_id,
        "start_time": recording.start_time,
        "end_time": recording.end_time,
    }
    if detail:
        out.update(
            participants=recording.participants,
            server_id=recording.server_id,
            metadata=dict(recording.metadata),
            playback={
                name: {"url": f.url, "length": f.length, "size": f.size, "thumbnails": len(f.thumbnails)}
                for name, f in sorted(recording.formats.items())
            },
        )
    return out


def tenant_json(tenant: Tenant) -> dict[str, Any]:
    """A tenant as the CLI and the admin API show it; secrets colon-separated, as Scalelite shows them."""
    return {
        "id": tenant.id,
        "name": tenant.name,
        "secrets": ":".join(tenant.secrets),
        "max_meetings": tenant.max_meetings,
        "max_attendees": tenant.max_attendees,
    }
