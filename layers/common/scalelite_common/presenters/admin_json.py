"""A Server rendered as the admin JSON (CONVENTIONS.md "Server JSON")."""

from __future__ import annotations

from typing import Any

from scalelite_common.domain.entities import Server


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
