"""The ports: what the services need from the outside world, in one place.

Adapters: `scalelite_common.db.repositories.DynamoStore` implements every repository (its transactions span
tables, so one adapter serves all three), `scalelite_common.bbb.client.BBBClient` the BBB gateway. In-memory fakes
of each live in `tests/fakes/` (services are unit-tested with those only); `tests/integration/test_store_contract.py`
runs the same checks against the fake and DynamoDB (moto), so the fake cannot drift from the adapter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from scalelite_common.bbb.client import BBBResponse, Target
from scalelite_common.domain.entities import CallbackData, Meeting, Recording, RecordingOrigin, Server
from scalelite_common.domain.load import MeetingSample
from scalelite_common.domain.tenants import Tenant, TenantSetting, TenantUsage

# Poll results per write (one TransactWriteItems; DynamoDB allows 100). Small batches fill fast from the poller's
# workers, and moto's transactions slow down with their size (per item: ≈ 2.5 ms at 25, 5.4 ms at 100 here).
POLL_WRITE_BATCH = 25


@dataclass(frozen=True)
class PollWrite:
    """One server's poll result to store: the attributes that changed (None removes) and the `load_adjust` read
    before polling (subtracted, so reservations made while the poll ran survive it)."""

    server_id: str
    changes: Mapping[str, Any]
    adjust_seen: float | None = None


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

    def record_polls(self, polls: Sequence[PollWrite]) -> list[bool]:
        """Store poll results, each subtracting the `load_adjust` read before polling; for each, False if the server
        is gone (nothing written for it). Few round trips for many servers: the poller's main write."""

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
        callback data; a meeting of a tenant other than the default one also claims its meetingID across tenants
        (they share one namespace, as in Scalelite; release_meeting frees it, extend_meeting extends it). Raises
        PlacementConflict naming what failed: "meeting", "meeting_id", "voice_bridge", "server"."""

    def lock_meeting(
        self, tenant_id: str, meeting_id: str, owner: str, *, now: float, until: float, touch: bool = False
    ) -> Meeting | None:
        """Take the live mapping's lock (free or stale); None when there is no live mapping or another holds it."""

    def unlock_meeting(
        self, tenant_id: str, meeting_id: str, owner: str, *, origin: RecordingOrigin | None = None
    ) -> bool:
        """Release `owner`'s lock (False: it held none); with `origin`, also store it (whatever the lock) and note
        its internal meeting id on the mapping, in one round trip."""

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
    def tenant_usage(self, tenant_id: str, *, now: float, exclude_meeting_id: str | None = None) -> TenantUsage:
        """The tenant's live meetings (other than `exclude_meeting_id`) and attendees (`Meeting.attendees`, over all
        of them): one Query of the tenant index (eventually consistent: a limit is soft)."""

    def record_attendance(self, meeting: Meeting, participants: int, polled_joins: int) -> bool:
        """The poller's count of the meeting's users and the `joins` it read with it; False if the mapping is gone,
        moved to another server or re-created (another `created_at`)."""


class CallbackRepository(Protocol):
    def put_callbacks(self, callbacks: CallbackData) -> None: ...
    def get_callbacks(self, tenant_id: str, meeting_id: str, *, now: float | None = None) -> CallbackData | None: ...


@dataclass(frozen=True)
class RecordingPage:
    items: list[Recording]
    cursor: str | None = None  # where the next page starts; None: no more


class RecordingRepository(Protocol):
    def get_recording(self, record_id: str) -> Recording | None: ...
    def get_recordings(self, record_ids: Sequence[str]) -> list[Recording]:
        """The stored ones among `record_ids`, in that order (one BatchGet per 100)."""

    def save_recording(self, recording: Recording, *, previous: Recording | None) -> Recording:
        """Store `recording` (its version one past `previous`'s) and move the tenant's state counters with it, in
        one transaction; raises StoreConflict when the stored item is no longer `previous` (a concurrent change)."""

    def meeting_recordings(self, tenant_id: str, meeting_id: str) -> list[Recording]:
        """Every recording of one meetingID, newest first (one Query)."""

    def recordings_with_prefix(self, tenant_id: str, prefix: str) -> list[Recording]:
        """The tenant's recordings whose recordID starts with `prefix` (one Query per 1 MB)."""

    def tenant_recordings(self, tenant_id: str, *, limit: int, cursor: str | None = None) -> RecordingPage:
        """The tenant's recordings newest first, about `limit` per page (a Query; no Scan)."""

    def recording_counts(self, tenant_id: str) -> dict[str, int]:
        """How many of the tenant's recordings are in each state (one GetItem)."""


class UploadRepository(Protocol):
    def put_origin(self, origin: RecordingOrigin) -> None: ...
    def get_origin(self, internal_meeting_id: str, *, now: float | None = None) -> RecordingOrigin | None: ...
    def claim_token(self, jti: str, *, expires_at: int) -> bool:
        """Record a used one-time token (an upload JWT's jti; a playback token's as `playback#<jti>`) until
        `expires_at` (DynamoDB TTL); False when it was used before (a replay). One conditional write."""

    def add_pending_upload(self, server_id: str, record_id: str, key: str, *, expires_at: int) -> None: ...
    def remove_pending_upload(self, server_id: str, record_id: str, key: str) -> None: ...
    def pending_uploads(self, server_id: str, *, now: float | None = None) -> list[tuple[str, str]]:
        """(record_id, spool key) of the upload URLs handed to `server_id` and not imported yet."""

    def count_import_attempt(self, key: str, *, expires_at: int) -> int:
        """Count one more import attempt of a spool object; the count so far, this one included."""


class TenantRepository(Protocol):
    """Tenants and their settings (multitenancy). Names are unique: add and rename claim the name atomically."""

    def list_tenants(self) -> list[Tenant]: ...
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def tenant_by_name(self, name: str) -> Tenant | None: ...
    def add_tenant(self, tenant: Tenant) -> None:
        """Raises TenantNameTaken (the name, or the id, exists)."""

    def update_tenant(self, tenant: Tenant, *, previous: Tenant) -> None:
        """Store `tenant` over `previous` (a rename moves the name claim); raises TenantNameTaken, TenantGone."""

    def delete_tenant(self, tenant: Tenant) -> None:
        """Delete the tenant and its name claim (not its settings); raises TenantGone."""

    def list_settings(self, tenant_id: str | None = None) -> list[TenantSetting]: ...
    def add_setting(self, setting: TenantSetting) -> None: ...
    def delete_setting(self, setting_id: str) -> TenantSetting | None:
        """The deleted setting, or None when there was none."""


class Store(
    ServerRepository,
    MeetingRepository,
    CallbackRepository,
    RecordingRepository,
    UploadRepository,
    TenantRepository,
    Protocol,
):
    """All repositories: what the composition root hands to every service."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int = 0
    etag: str = ""
    last_modified: float = 0.0  # epoch seconds
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PresignedUpload:
    url: str
    method: str
    headers: dict[str, str]
    expires: int  # epoch seconds


class ObjectStore(Protocol):
    """S3 (buckets by name). Bodies are streamed both ways: nothing holds a whole object in memory."""

    def open(self, bucket: str, key: str, *, etag: str | None = None) -> IO[bytes]:
        """A streaming body; with `etag`, only that version (raises ObjectChanged otherwise)."""

    def head(self, bucket: str, key: str) -> StoredObject | None: ...
    def put(
        self,
        bucket: str,
        key: str,
        body: IO[bytes],
        *,
        content_type: str,
        content_disposition: str | None = None,
        metadata: Mapping[str, str] | None = None,
        cache_control: str | None = None,
    ) -> None: ...
    def list(self, bucket: str, prefix: str) -> Iterator[StoredObject]:
        """Every object under `prefix`, all pages."""

    def list_folders(self, bucket: str, prefix: str) -> Sequence[str]:
        """The "folders" directly under `prefix` (S3 common prefixes with delimiter `/`), each ending in `/`."""

    def delete(self, bucket: str, keys: Sequence[str]) -> None:
        """Delete `keys` (any number: batched 1,000 per request)."""

    def copy(self, bucket: str, source: str, target: str, *, metadata: Mapping[str, str] | None = None) -> None:
        """Server-side copy (large objects in parts); `metadata` replaces the source's."""

    def presign_put(
        self, bucket: str, key: str, *, expires_in: int, content_type: str, cache_control: str | None = None
    ) -> PresignedUpload:
        """A presigned PUT; its `headers` (Content-Type, and Cache-Control when given) must be sent with it."""


@dataclass(frozen=True)
class RecordingReady:
    """A recording-ready callback to deliver: POST `signed_parameters` to `url` (see services/callbacks.py)."""

    url: str
    tenant_id: str
    meeting_id: str
    record_id: str


@dataclass(frozen=True)
class AnalyticsCallback:
    """BBB's analytics of a meeting to relay: POST `payload` (BBB's JSON with `customer` added) as JSON to `url`
    (see services/callbacks.py)."""

    url: str
    tenant_id: str
    meeting_id: str
    payload: dict[str, Any]


class Notifier(Protocol):
    """The durable outbound queue of callbacks to LMSs (SQS in AWS)."""

    def recording_ready(self, callback: RecordingReady) -> None: ...
    def analytics(self, callback: AnalyticsCallback) -> None:
        """Raises ValueError when the message would exceed the queue's message size."""


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


class HttpPoster(Protocol):
    """Outbound HTTP to LMSs (callbacks): `scalelite_common.callbacks_http.UrllibPoster`."""

    def post_form(self, url: str, fields: Mapping[str, str]) -> int:
        """POST `fields` as application/x-www-form-urlencoded to an http(s) `url`, never following a redirect; the
        answer's HTTP status. Raises OSError (ConnectionError, TimeoutError) when no answer came."""

    def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST `body` as application/json with `headers` added, under the same rules as `post_form`."""


class EdgeCache(Protocol):
    """The CDN in front of the recordings bucket (CloudFront in AWS): cached copies of files that must go."""

    def invalidate(self, paths: Sequence[str]) -> None:
        """Drop every cached object under `paths` (viewer paths; a trailing `*` matches a folder). Best effort: the
        caller has already changed the files, and the cache expires on its own."""


class PlayerSource(Protocol):
    """Outbound HTTP GET of a BBB server's playback files (`scalelite_common.bbb.player.HttpPlayerSource`)."""

    def get(self, url: str, *, max_bytes: int) -> bytes:
        """The body of a 200 answer (no redirect followed). Raises `bbb.player.PlayerFetchError` for anything else:
        another status (its `status`), a transport failure, or a body larger than `max_bytes`."""
