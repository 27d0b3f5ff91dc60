"""The ports: what the services need from the outside world, in one place.

Adapters: `scalelite_common.db.repositories.DynamoStore` implements every repository (its transactions span
tables, so one adapter serves all three), `scalelite_common.bbb.client.BBBClient` the BBB gateway. In-memory fakes
of each live in `tests/fakes/` (services are unit-tested with those only); `tests/integration/test_store_contract.py`
runs the same checks against the fake and DynamoDB (moto), so the fake cannot drift from the adapter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from scalelite_common.bbb.client import BBBResponse, Target
from scalelite_common.domain.entities import CallbackData, Meeting, Server
from scalelite_common.domain.load import MeetingSample


class ServerRepository(Protocol):
    def list_servers(self) -> list[Server]: ...
    def get_server(self, server_id: str) -> Server | None: ...
    def add_server(self, server: Server) -> None:
        """Raises ServerExists."""

    def update_server(self, server_id: str, changes: Mapping[str, Any]) -> Server:
        """SET the given attributes (None removes); raises ServerGone."""

    def delete_server(self, server_id: str) -> None:
        """Raises ServerGone."""

    def add_load(self, server_id: str, amount: float, *, require_joinable: bool = False) -> Server:
        """Atomically add to the between-polls load; raises ServerGone (with `require_joinable`, also when the
        server is offline or disabled)."""

    def record_poll(self, server_id: str, changes: Mapping[str, Any], *, adjust_seen: float | None) -> Server | None:
        """Store a poll result, subtracting the `load_adjust` read before polling; None if the server is gone."""

    def disable_if_cordoned(self, server_id: str) -> bool: ...


class MeetingRepository(Protocol):
    def get_meeting(self, tenant_id: str, meeting_id: str, *, now: float | None = None) -> Meeting | None:
        """The live (unexpired) mapping, or None."""

    def place_meeting(
        self,
        meeting: Meeting,
        server: Server,
        *,
        now: float,
        exact: bool = True,
        callbacks: CallbackData | None = None,
    ) -> None:
        """All or nothing: reserve `meeting.reservation` on the server (still available; with `exact`, its
        load_adjust unchanged since read), store the mapping (absent or expired), claim the voice bridge, store the
        callback data. Raises PlacementConflict naming what failed: "meeting", "voice_bridge", "server"."""

    def lock_meeting(
        self, tenant_id: str, meeting_id: str, owner: str, *, now: float, until: float, touch: bool = False
    ) -> Meeting | None:
        """Take the live mapping's lock (free or stale); None when there is no live mapping or another holds it."""

    def unlock_meeting(self, tenant_id: str, meeting_id: str, owner: str) -> bool: ...
    def count_join(self, tenant_id: str, meeting_id: str, *, now: float) -> Meeting | None:
        """Count a join on the live mapping (returned updated), or None."""

    def release_meeting(
        self,
        meeting: Meeting,
        *,
        owner: str | None = None,
        idle: bool = False,
        now: float | None = None,
        voice_bridge: bool = True,
    ) -> bool:
        """Delete the mapping if it still points at `meeting.server_id` (with `owner`: held by it; with `idle`:
        unlocked and not touched by a create since read), then free its voice bridge unless told not to. False, and
        nothing changed, when the mapping moved on."""

    def extend_meeting(self, meeting: Meeting, expires_at: int) -> bool:
        """Push the mapping's TTL and its own voice-bridge claim's; False if the mapping is gone."""

    def meetings_on_server(self, server_id: str) -> list[Meeting]: ...
    def all_meetings(self) -> Iterator[Meeting]: ...


class CallbackRepository(Protocol):
    def put_callbacks(self, callbacks: CallbackData) -> None: ...
    def get_callbacks(self, tenant_id: str, meeting_id: str, *, now: float | None = None) -> CallbackData | None: ...


class Store(ServerRepository, MeetingRepository, CallbackRepository, Protocol):
    """All repositories: what the composition root hands to every service."""


class BBBGateway(Protocol):
    """Signed calls to one BBB server. Raises BBBTransportError when the server cannot be used (its `reason` in
    plain words) and, from `call`, UpstreamError for BBB's own FAILED answers."""

    def call(
        self, target: Target, call_name: str, params: Sequence[tuple[str, str]] = (), *, body: bytes | None = None
    ) -> BBBResponse: ...
    def signed_url(self, target: Target, call_name: str, params: Sequence[tuple[str, str]]) -> str: ...
    def get_meetings(self, target: Target) -> list[MeetingSample]:
        """The server's meetings for the poller; raises PollFailure for a non-SUCCESS answer."""

    def bbb_version(self, target: Target) -> str | None: ...
