"""InMemoryStore: the `Store` port in memory, with DynamoStore's conditions and conflicts."""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from scalelite_common.config import DEFAULT_TENANT
from scalelite_common.domain.entities import (
    CallbackData,
    Meeting,
    Recording,
    RecordingOrigin,
    RecordingState,
    Server,
    ServerState,
)
from scalelite_common.domain.tenants import (
    Tenant,
    TenantSetting,
    TenantUsage,
    meeting_id_claim,
    meeting_id_claim_key,
)
from scalelite_common.errors import (
    PlacementConflict,
    ServerExists,
    ServerGone,
    StoreConflict,
    TenantGone,
    TenantNameTaken,
)
from scalelite_common.services.ports import PollWrite, RecordingPage

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
        self.recordings: dict[str, Recording] = {}
        self.counts: dict[str, dict[str, int]] = {}
        self.origins: dict[str, RecordingOrigin] = {}
        self.tokens: dict[str, int] = {}
        self.pending: dict[tuple[str, str, str], int] = {}  # (server, record, key) → expires_at
        self.attempts: dict[str, int] = {}
        self.tenants: dict[str, Tenant] = {}
        self.tenant_settings: dict[str, TenantSetting] = {}
        self.usage_queries = 0  # tenant_usage calls (the limit checks' one extra read)

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

    def record_polls(self, polls: Sequence[PollWrite]) -> list[bool]:
        stored = []
        with self._lock:
            for poll in polls:
                server = self.servers.get(poll.server_id)
                if server is not None:
                    self._set(server, poll.changes)
                    if poll.adjust_seen:
                        server.load_adjust -= poll.adjust_seen
                stored.append(server is not None)
        return stored

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
            id_claim = meeting_id_claim(meeting.tenant_id, meeting.meeting_id)
            # The default tenant claims nothing but may not take an id a tenant's live meeting claimed; a tenant may
            # not take one a live default mapping has.
            claim = self.voice_bridges.get(id_claim or meeting_id_claim_key(meeting.meeting_id))
            if claim is not None and claim[1] >= int(now) and claim[0] != key:
                reasons.add("meeting_id")
            default = self.meetings.get(_key(DEFAULT_TENANT, meeting.meeting_id)) if id_claim else None
            if default is not None and not default.expires_at < int(now):
                reasons.add("meeting_id")
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
            if id_claim is not None:
                self.voice_bridges[id_claim] = (key, meeting.expires_at)
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

    def unlock_meeting(
        self, tenant_id: str, meeting_id: str, owner: str, *, origin: RecordingOrigin | None = None
    ) -> bool:
        with self._lock:
            if origin is not None:
                self.origins[origin.internal_meeting_id] = origin
            meeting = self.meetings.get(_key(tenant_id, meeting_id))
            if meeting is None or meeting.lock_owner != owner:
                return False
            meeting.lock_owner, meeting.lock_until = "", 0.0
            if origin is not None:
                meeting.internal_meeting_id = origin.internal_meeting_id
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
            numbers = [meeting_id_claim(meeting.tenant_id, meeting.meeting_id)]
            if voice_bridge:
                numbers.append(meeting.voice_bridge)
            for number in numbers:
                claim = self.voice_bridges.get(number) if number else None
                if number and claim is not None and claim[0] == key:
                    del self.voice_bridges[number]
            return True

    def extend_meeting(self, meeting: Meeting, expires_at: int) -> bool:
        with self._lock:
            key = _key(meeting.tenant_id, meeting.meeting_id)
            stored = self.meetings.get(key)
            if stored is None:
                return False
            stored.expires_at = expires_at
            for number in (meeting.voice_bridge, meeting_id_claim(meeting.tenant_id, meeting.meeting_id)):
                claim = self.voice_bridges.get(number) if number else None
                if number and claim is not None and claim[0] == key:
                    self.voice_bridges[number] = (key, expires_at)
            return True

    def meetings_on_server(self, server_id: str) -> list[Meeting]:
        with self._lock:
            return [dataclasses.replace(m) for m in self.meetings.values() if m.server_id == server_id]

    def all_meetings(self) -> Iterator[Meeting]:
        with self._lock:
            meetings = [dataclasses.replace(m) for m in self.meetings.values()]
        yield from meetings

    def tenant_usage(self, tenant_id: str, *, now: float, exclude_meeting_id: str | None = None) -> TenantUsage:
        with self._lock:
            self.usage_queries += 1
            # As the sparse tenant index: the default tenant's meetings are not in it.
            live = [
                m for m in self.meetings.values() if m.tenant_id == tenant_id != DEFAULT_TENANT and m.expires_at >= now
            ]
            return TenantUsage(
                meetings=sum(1 for m in live if m.meeting_id != exclude_meeting_id),
                attendees=sum(m.attendees for m in live),
            )

    def record_attendance(self, meeting: Meeting, participants: int, polled_joins: int) -> bool:
        with self._lock:
            stored = self.meetings.get(_key(meeting.tenant_id, meeting.meeting_id))
            if stored is None or (stored.server_id, stored.created_at) != (meeting.server_id, meeting.created_at):
                return False
            stored.participants, stored.polled_joins = participants, polled_joins
            return True

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

    # --------------------------------------------------------------- recordings
    @staticmethod
    def _copy(recording: Recording) -> Recording:
        return copy.deepcopy(recording)

    def get_recording(self, record_id: str) -> Recording | None:
        with self._lock:
            found = self.recordings.get(record_id)
            return self._copy(found) if found else None

    def get_recordings(self, record_ids: Sequence[str]) -> list[Recording]:
        with self._lock:
            wanted = dict.fromkeys(record_ids)
            return [self._copy(self.recordings[r]) for r in wanted if r in self.recordings]

    def save_recording(self, recording: Recording, *, previous: Recording | None) -> Recording:
        with self._lock:
            stored = self.recordings.get(recording.record_id)
            if (previous is None) != (stored is None) or (previous and stored and previous.version != stored.version):
                raise StoreConflict(f"recording {recording.record_id} changed meanwhile")
            saved = dataclasses.replace(self._copy(recording), version=(previous.version if previous else 0) + 1)
            if previous is not None:
                counts = self.counts.setdefault(previous.tenant_id, {})
                counts[previous.state.value] = counts.get(previous.state.value, 0) - 1
            counts = self.counts.setdefault(saved.tenant_id, {})
            counts[saved.state.value] = counts.get(saved.state.value, 0) + 1
            self.recordings[saved.record_id] = saved
            return self._copy(saved)

    @staticmethod
    def _newest_first(recordings: list[Recording]) -> list[Recording]:
        return sorted(recordings, key=lambda r: (r.start_time, r.record_id), reverse=True)

    def meeting_recordings(self, tenant_id: str, meeting_id: str) -> list[Recording]:
        with self._lock:
            found = [r for r in self.recordings.values() if (r.tenant_id, r.meeting_id) == (tenant_id, meeting_id)]
            return [self._copy(r) for r in self._newest_first(found)]

    def recordings_with_prefix(self, tenant_id: str, prefix: str) -> list[Recording]:
        with self._lock:
            found = [r for r in self.recordings.values() if r.tenant_id == tenant_id and r.record_id.startswith(prefix)]
            return [self._copy(r) for r in sorted(found, key=lambda r: r.record_id)]

    def tenant_recordings(self, tenant_id: str, *, limit: int, cursor: str | None = None) -> RecordingPage:
        with self._lock:
            ordered = self._newest_first([r for r in self.recordings.values() if r.tenant_id == tenant_id])
            start = int(json.loads(cursor)) if cursor else 0
            items = [self._copy(r) for r in ordered[start : start + limit]]
            more = start + limit < len(ordered)
            return RecordingPage(items=items, cursor=json.dumps(start + limit) if more else None)

    def recording_counts(self, tenant_id: str) -> dict[str, int]:
        with self._lock:
            counts = self.counts.get(tenant_id, {})
            return {s.value: max(0, counts.get(s.value, 0)) for s in RecordingState}

    # ------------------------------------------------------------------ uploads
    def put_origin(self, origin: RecordingOrigin) -> None:
        with self._lock:
            self.origins[origin.internal_meeting_id] = origin

    def get_origin(self, internal_meeting_id: str, *, now: float | None = None) -> RecordingOrigin | None:
        with self._lock:
            origin = self.origins.get(internal_meeting_id)
            if origin is None or (origin.expires_at and origin.expires_at < (now or time.time())):
                return None
            return origin

    def claim_token(self, jti: str, *, expires_at: int) -> bool:
        with self._lock:
            if jti in self.tokens:
                return False
            self.tokens[jti] = expires_at
            return True

    def add_pending_upload(self, server_id: str, record_id: str, key: str, *, expires_at: int) -> None:
        with self._lock:
            self.pending[(server_id, record_id, key)] = expires_at

    def remove_pending_upload(self, server_id: str, record_id: str, key: str) -> None:
        with self._lock:
            self.pending.pop((server_id, record_id, key), None)

    def pending_uploads(self, server_id: str, *, now: float | None = None) -> list[tuple[str, str]]:
        moment = now or time.time()
        with self._lock:
            return sorted(
                (record_id, key)
                for (server, record_id, key), expires in self.pending.items()
                if server == server_id and not (expires and expires < moment)
            )

    def count_import_attempt(self, key: str, *, expires_at: int) -> int:
        with self._lock:
            self.attempts[key] = self.attempts.get(key, 0) + 1
            return self.attempts[key]

    # ------------------------------------------------------------------ tenants
    def list_tenants(self) -> list[Tenant]:
        with self._lock:
            return sorted(self.tenants.values(), key=lambda t: t.name)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        with self._lock:
            return self.tenants.get(tenant_id)

    def tenant_by_name(self, name: str) -> Tenant | None:
        with self._lock:
            return next((t for t in self.tenants.values() if t.name == name), None)

    def add_tenant(self, tenant: Tenant) -> None:
        with self._lock:
            if tenant.id in self.tenants or self.tenant_by_name(tenant.name) is not None:
                raise TenantNameTaken(tenant.name)
            self.tenants[tenant.id] = tenant

    def update_tenant(self, tenant: Tenant, *, previous: Tenant) -> None:
        with self._lock:
            stored = self.tenants.get(previous.id)
            if stored is None or stored.name != previous.name:  # DynamoStore's condition: the claim it moves
                raise TenantGone(previous.id)
            holder = self.tenant_by_name(tenant.name)
            if holder is not None and holder.id != tenant.id:
                raise TenantNameTaken(tenant.name)
            self.tenants[tenant.id] = tenant

    def delete_tenant(self, tenant: Tenant) -> None:
        with self._lock:
            if self.tenants.pop(tenant.id, None) is None:
                raise TenantGone(tenant.id)

    def list_settings(self, tenant_id: str | None = None) -> list[TenantSetting]:
        with self._lock:
            found = [x for x in self.tenant_settings.values() if tenant_id is None or x.tenant_id == tenant_id]
            return sorted(found, key=lambda x: x.id)

    def add_setting(self, setting: TenantSetting) -> None:
        with self._lock:
            self.tenant_settings[setting.id] = setting

    def delete_setting(self, setting_id: str) -> TenantSetting | None:
        with self._lock:
            return self.tenant_settings.pop(setting_id, None)
