"""InMemoryStore: the `Store` port in memory, with DynamoStore's conditions and conflicts."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from scalelite_common.domain.entities import CallbackData, Meeting, Server, ServerState
from scalelite_common.errors import PlacementConflict, ServerExists, ServerGone

_SERVER_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Server) if f.default is not dataclasses.MISSING}


def _key(tenant_id: str, meeting_id: str) -> str:
    return f"{tenant_id}#{meeting_id}"


class InMemoryStore:
    """Values are copied in and out, as a database would: a caller's object never aliases the stored one."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.servers: dict[str, Server] = {}
        self.meetings: dict[str, Meeting] = {}
        self.voice_bridges: dict[str, tuple[str, int]] = {}  # number → (meeting key, expires_at)
        self.callbacks: dict[str, CallbackData] = {}

    # ------------------------------------------------------------------ servers
    def list_servers(self) -> list[Server]:
        with self._lock:
            return [dataclasses.replace(s) for s in self.servers.values()]

    def get_server(self, server_id: str) -> Server | None:
        with self._lock:
            server = self.servers.get(server_id)
            return dataclasses.replace(server) if server else None

    def add_server(self, server: Server) -> None:
        with self._lock:
            if server.id in self.servers:
                raise ServerExists(server.id)
            self.servers[server.id] = dataclasses.replace(server)

    def _set(self, server: Server, changes: Mapping[str, Any]) -> None:
        for name, value in changes.items():
            if not hasattr(server, name):
                raise AttributeError(name)
            if name == "last_error" and not value:
                value = None
            if value is None:
                value = _SERVER_DEFAULTS.get(name)
            elif name == "state":
                value = ServerState(value)
            setattr(server, name, value)

    def update_server(self, server_id: str, changes: Mapping[str, Any]) -> Server:
        with self._lock:
            server = self.servers.get(server_id)
            if server is None:
                raise ServerGone(server_id)
            self._set(server, changes)
            return dataclasses.replace(server)

    def delete_server(self, server_id: str) -> None:
        with self._lock:
            if self.servers.pop(server_id, None) is None:
                raise ServerGone(server_id)

    def add_load(self, server_id: str, amount: float, *, require_joinable: bool = False) -> Server:
        with self._lock:
            server = self.servers.get(server_id)
            if server is None or (require_joinable and (not server.online or server.state is ServerState.DISABLED)):
                raise ServerGone(server_id)
            server.load_adjust += amount
            return dataclasses.replace(server)

    def record_poll(self, server_id: str, changes: Mapping[str, Any], *, adjust_seen: float | None) -> Server | None:
        with self._lock:
            server = self.servers.get(server_id)
            if server is None:
                return None
            self._set(server, changes)
            if adjust_seen:
                server.load_adjust -= adjust_seen
            return dataclasses.replace(server)

    def disable_if_cordoned(self, server_id: str) -> bool:
        with self._lock:
            server = self.servers.get(server_id)
            if server is None or server.state is not ServerState.CORDONED:
                return False
            server.state, server.load = ServerState.DISABLED, None
            return True

    # ----------------------------------------------------------------- meetings
    def _live(self, key: str, now: float) -> Meeting | None:
        meeting = self.meetings.get(key)
        return meeting if meeting is not None and meeting.expires_at >= int(now) else None

    def get_meeting(self, tenant_id: str, meeting_id: str, *, now: float | None = None) -> Meeting | None:
        with self._lock:
            meeting = self.meetings.get(_key(tenant_id, meeting_id))
            if meeting is None or (meeting.expires_at and meeting.expires_at < (now or time.time())):
                return None
            return dataclasses.replace(meeting)

    def place_meeting(
        self,
        meeting: Meeting,
        server: Server,
        *,
        now: float,
        exact: bool = True,
        callbacks: CallbackData | None = None,
    ) -> None:
        with self._lock:
            key = _key(meeting.tenant_id, meeting.meeting_id)
            reasons = set()
            held = self.meetings.get(key)
            if held is not None and not held.expires_at < int(now):
                reasons.add("meeting")
            if meeting.voice_bridge:
                claim = self.voice_bridges.get(meeting.voice_bridge)
                if claim is not None and claim[1] >= int(now) and claim[0] != key:
                    reasons.add("voice_bridge")
            stored = self.servers.get(server.id)
            if (
                stored is None
                or stored.state is not ServerState.ENABLED
                or not stored.online
                or stored.load is None
                or (exact and stored.load_adjust != server.load_adjust)
            ):
                reasons.add("server")
            if reasons:
                raise PlacementConflict(reasons)
            assert stored is not None
            self.meetings[key] = dataclasses.replace(meeting)
            if meeting.voice_bridge:
                self.voice_bridges[meeting.voice_bridge] = (key, meeting.expires_at)
            stored.load_adjust += meeting.reservation
            if callbacks:
                self.callbacks[key] = callbacks

    def lock_meeting(
        self, tenant_id: str, meeting_id: str, owner: str, *, now: float, until: float, touch: bool = False
    ) -> Meeting | None:
        with self._lock:
            meeting = self._live(_key(tenant_id, meeting_id), now)
            if meeting is None or (meeting.lock_owner and meeting.lock_until >= now):
                return None
            meeting.lock_owner, meeting.lock_until = owner, until
            if touch:
                meeting.touched_at = now
            return dataclasses.replace(meeting)

    def unlock_meeting(self, tenant_id: str, meeting_id: str, owner: str) -> bool:
        with self._lock:
            meeting = self.meetings.get(_key(tenant_id, meeting_id))
            if meeting is None or meeting.lock_owner != owner:
                return False
            meeting.lock_owner, meeting.lock_until = "", 0.0
            return True

    def count_join(self, tenant_id: str, meeting_id: str, *, now: float) -> Meeting | None:
        with self._lock:
            meeting = self._live(_key(tenant_id, meeting_id), now)
            if meeting is None:
                return None
            meeting.joins += 1
            return dataclasses.replace(meeting)

    def release_meeting(
        self,
        meeting: Meeting,
        *,
        owner: str | None = None,
        idle: bool = False,
        now: float | None = None,
        voice_bridge: bool = True,
    ) -> bool:
        with self._lock:
            key = _key(meeting.tenant_id, meeting.meeting_id)
            stored = self.meetings.get(key)
            if stored is None or stored.server_id != meeting.server_id:
                return False
            if owner is not None and stored.lock_owner != owner:
                return False
            if idle and (
                (stored.lock_owner and stored.lock_until >= (now or time.time()))
                or stored.touched_at != meeting.touched_at
            ):
                return False
            del self.meetings[key]
            if voice_bridge and meeting.voice_bridge:
                claim = self.voice_bridges.get(meeting.voice_bridge)
                if claim is not None and claim[0] == key:
                    del self.voice_bridges[meeting.voice_bridge]
            return True

    def extend_meeting(self, meeting: Meeting, expires_at: int) -> bool:
        with self._lock:
            key = _key(meeting.tenant_id, meeting.meeting_id)
            stored = self.meetings.get(key)
            if stored is None:
                return False
            stored.expires_at = expires_at
            claim = self.voice_bridges.get(meeting.voice_bridge) if meeting.voice_bridge else None
            if claim is not None and claim[0] == key:
                self.voice_bridges[meeting.voice_bridge] = (key, expires_at)
            return True

    def meetings_on_server(self, server_id: str) -> list[Meeting]:
        with self._lock:
            return [dataclasses.replace(m) for m in self.meetings.values() if m.server_id == server_id]

    def all_meetings(self) -> Iterator[Meeting]:
        with self._lock:
            meetings = [dataclasses.replace(m) for m in self.meetings.values()]
        yield from meetings

    def voice_bridge_owner(self, voice_bridge: str) -> str | None:
        with self._lock:
            claim = self.voice_bridges.get(voice_bridge)
            return claim[0] if claim is not None and claim[1] >= time.time() else None

    # ------------------------------------------------------------ callback data
    def put_callbacks(self, callbacks: CallbackData) -> None:
        with self._lock:
            self.callbacks[_key(callbacks.tenant_id, callbacks.meeting_id)] = callbacks

    def get_callbacks(self, tenant_id: str, meeting_id: str, *, now: float | None = None) -> CallbackData | None:
        with self._lock:
            data = self.callbacks.get(_key(tenant_id, meeting_id))
            if data is None or (data.expires_at and data.expires_at < (now or time.time())):
                return None
            return data
