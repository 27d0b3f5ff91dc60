"""Text output: tables of servers, status, meetings and player versions, nested mappings, sync changes; secrets
masked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def _load(value: Any) -> str:
    """Load with one decimal (the JSON keeps three); `unavailable` as it is."""
    return value if isinstance(value, str) else f"{value:.1f}" if isinstance(value, int | float) else str(value)


MASKED = "********"  # fixed length: the table tells nothing about the secret


def _secret(value: Any, show: bool) -> str:
    return str(value) if show or not value else MASKED


def _status_text(server: dict[str, Any]) -> str:
    """`online`/`offline`, and why an offline server is offline (the poller's last_error)."""
    error = server.get("last_error") or ""
    return f"{server['online']} ({error})" if error and server["online"] != "online" else str(server["online"])


def _hosts(servers: Sequence[dict[str, Any]]) -> list[str]:
    """The servers' hosts: `host` alone unless two servers share it or a port is not the scheme's default, then
    `host:port` for every row (a local stack runs every simulated server on 127.0.0.1)."""
    parts = []
    for s in servers:
        url = urlsplit(str(s.get("url") or ""))
        try:
            port = url.port
        except ValueError:
            port = None
        host = str(s.get("hostname") or url.hostname or s.get("url") or "")
        default = {"http": 80, "https": 443}.get(url.scheme)
        parts.append((host, port or default, port is not None and port != default))
    names = [host for host, _, _ in parts]
    with_port = len(set(names)) < len(names) or any(odd for _, _, odd in parts)
    return [f"{host}:{port}" if with_port and port else host for host, port, _ in parts]


def render_servers(servers: list[dict[str, Any]], *, show_secrets: bool = False) -> str:
    if not servers:
        return "No servers are configured"
    rows = [
        [
            s["id"],
            s["url"],
            _secret(s.get("secret"), show_secrets),
            s["state"],
            _status_text(s),
            _load(s["load"]),
            f"{s['load_multiplier']:g}",
            s["tag"],
            s["bbb_version"],
        ]
        for s in servers
    ]
    return table(["ID", "URL", "SECRET", "STATE", "STATUS", "LOAD", "MULTIPLIER", "TAG", "BBB VERSION"], rows)


def render_status(servers: list[dict[str, Any]]) -> str:
    rows = [
        [
            s["id"],
            host,
            s["state"],
            _status_text(s),
            s["meetings"],
            s["users"],
            s["largest_meeting"],
            s["videos"],
            _load(s["load"]),
            s["bbb_version"],
            s["tag"],
            s.get("pending_uploads", 0),
        ]
        for s, host in zip(servers, _hosts(servers), strict=True)
    ]
    headers = [
        "ID",
        "HOSTNAME",
        "STATE",
        "STATUS",
        "MEETINGS",
        "USERS",
        "LARGEST MEETING",
        "VIDEOS",
        "LOAD",
        "BBB VERSION",
        "TAG",
        "UPLOADS PENDING",
    ]
    return table(headers, rows)


def render_mapping(data: dict[str, Any], indent: str = "") -> str:
    lines = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:" + ("" if value else " -"))
            if value:
                lines.append(render_mapping(value, indent + "  "))
        elif isinstance(value, list):
            lines.append(f"{indent}{key}: {', '.join(str(v) for v in value) if value else '-'}")
        else:
            lines.append(f"{indent}{key}: {'' if value is None else value}")
    return "\n".join(lines)


def render_changes(changes: list[dict[str, Any]]) -> str:
    lines = []
    for change in changes:
        details = ", ".join(f"{k}={v}" for k, v in change.items() if k not in ("id", "action"))
        lines.append(f"[{change['id']}] {change['action']}" + (f" ({details})" if details else ""))
    return "\n".join(lines) or "No changes"


def render_meetings(meetings: list[dict[str, Any]]) -> str:
    if not meetings:
        return "No meetings"
    rows = [
        [
            m["meeting_id"],
            m["server_id"],
            m["server_url"],
            m.get("name", ""),
            "" if m.get("participants") is None else m["participants"],
            "?" if m.get("running") is None else "yes" if m["running"] else "no",
            m.get("error", ""),
        ]
        for m in meetings
    ]
    return table(["MEETING ID", "SERVER ID", "SERVER URL", "NAME", "USERS", "RUNNING", "ERROR"], rows)


def render_recordings(recordings: list[dict[str, Any]]) -> str:
    if not recordings:
        return "No recordings"
    rows = [
        [
            r["record_id"],
            r["meeting_id"],
            r["name"],
            r["state"],
            "yes" if r["protected"] else "no",
            ",".join(r["formats"]) or "-",
        ]
        for r in recordings
    ]
    return table(["RECORD ID", "MEETING ID", "NAME", "STATE", "PROTECTED", "FORMATS"], rows)


def render_playback_status(status: dict[str, Any]) -> str:
    """The live player, then every installed version (newest first)."""
    live = status.get("live")
    lines = (
        [f"Live: {live['version']} (installed {live['installed_at']} from {live['source']}, {live['files']} files)"]
        if live
        else ["No player is installed: `scalelite playback install DIR` or `--from-server SERVER_ID`"]
    )
    versions = status.get("versions") or []
    if versions:
        rows = [
            [
                v["version"],
                "*" if v.get("live") else "",
                v.get("uploaded_at") or "incomplete upload",
                v.get("files", 0),
                v.get("source") or "",
            ]
            for v in versions
        ]
        lines += ["", table(["VERSION", "LIVE", "UPLOADED", "FILES", "SOURCE"], rows)]
    return "\n".join(lines)
