"""Domain entities, named as Scalelite names them. Plain dataclasses: no AWS, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit


class ServerState(StrEnum):
    ENABLED = "enabled"
    CORDONED = "cordoned"
    DISABLED = "disabled"


@dataclass
class Server:
    id: str
    url: str
    secret: str
    state: ServerState = ServerState.DISABLED  # new servers start disabled, as in Scalelite
    online: bool = False
    load: float | None = None  # set by the poller while online; None = not available for placement
    load_adjust: float = 0.0  # reservations/joins since the last poll (atomic ADD), folded in by the poller
    load_multiplier: float = 1.0
    tag: str | None = None
    healthy_counter: int = 0
    unhealthy_counter: int = 0
    meetings: int = 0
    users: int = 0
    largest_meeting: int = 0
    videos: int = 0
    bbb_version: str = ""
    last_error: str = ""  # why the last poll failed (e.g. "checksumError: …", "HTTP 404"); "" after a success

    @property
    def effective_load(self) -> float | None:
        return None if self.load is None else self.load + self.load_adjust

    @property
    def available(self) -> bool:
        """Eligible for new meetings: enabled, online and polled (Scalelite's `server_load` set)."""
        return self.state is ServerState.ENABLED and self.online and self.load is not None

    @property
    def hostname(self) -> str:
        return urlsplit(self.url).hostname or self.url


@dataclass
class Meeting:
    tenant_id: str
    meeting_id: str
    server_id: str
    moderator_pw: str = ""
    voice_bridge: str = ""
    created_at: int = 0  # epoch seconds
    expires_at: int = 0  # epoch seconds (DynamoDB TTL)
    reservation: float = 0.0  # load reserved on the server at create (reserved_users × load_multiplier)
    reserved_users: int = 0  # joins up to this many are already covered by the reservation
    load_multiplier: float = 1.0  # the server's multiplier at placement, so a join needs no server read
    joins: int = 0
    # Serialises create and end of one meetingID (see MeetingService): who holds the mapping and until when.
    lock_owner: str = ""
    lock_until: float = 0.0  # epoch seconds; a lock past this is stale (its holder died)
    touched_at: float = 0.0  # epoch seconds of the last create forwarded for this mapping (0: only the first)
    # Tenant attendee limits (multitenancy): the participants BBB listed at the last poll, and `joins` as it was
    # then, so the joins since that poll are `joins - polled_joins`.
    participants: int = 0
    polled_joins: int = 0
    # BBB's id of the meeting instance the last create reached (its recordings' id): its origin is stored already.
    internal_meeting_id: str = ""

    @property
    def attendees(self) -> int:
        """Users as last polled plus the joins counted since (a join not yet in BBB's list)."""
        return self.participants + max(0, self.joins - self.polled_joins)

    @property
    def last_create(self) -> float:
        """When a create last reached (or is about to reach) BBB for this mapping."""
        return max(float(self.created_at), self.touched_at)


@dataclass(frozen=True)
class CallbackData:
    """The LMS's callback URLs for a meeting, captured at create. Its own lifetime: it outlives the meeting mapping
    (which end, the sweep and panic delete) until recording-ready and analytics callbacks have fired."""

    tenant_id: str
    meeting_id: str
    recording_ready_url: str = ""
    analytics_callback_url: str = ""
    created_at: int = 0  # epoch seconds of the create that wrote it
    expires_at: int = 0  # epoch seconds (DynamoDB TTL)

    def __bool__(self) -> bool:
        return bool(self.recording_ready_url or self.analytics_callback_url)


class RecordingState(StrEnum):
    PROCESSING = "processing"
    PROCESSED = "processed"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"
    DELETED = "deleted"


@dataclass(frozen=True)
class Thumbnail:
    """A preview image of a playback format. `url` is host-less (path and query), as Scalelite stores it."""

    url: str
    width: str = ""
    height: str = ""
    alt: str = ""


@dataclass
class PlaybackFormat:
    """One published format of a recording (`presentation`, `video`, …), from that format's metadata.xml."""

    format: str
    url: str  # host-less playback path (+ query); getRecordings prefixes the request's scheme and host
    length: int = 0  # minutes (duration ms / 60000, rounded, as Scalelite)
    processing_time: int | None = None  # ms
    size: int | None = None  # bytes of the published format
    thumbnails: list[Thumbnail] = field(default_factory=list)


@dataclass
class Recording:
    """A recording as the balancer stores it: merged from each format's metadata.xml, plus what was changed
    through the API (which a re-import keeps: see `services/recordings.py`)."""

    record_id: str  # = the internal meeting id BBB gave the meeting (segmented: `<sha1>-<ts>-<ts>`)
    tenant_id: str
    meeting_id: str  # external (the LMS's) meetingID
    name: str = ""
    state: RecordingState = RecordingState.PUBLISHED
    published: bool = True
    protected: bool = False
    start_time: int = 0  # epoch ms
    end_time: int = 0  # epoch ms
    participants: int | None = None
    raw_size: int | None = None
    is_breakout: bool = False
    internal_meeting_id: str = ""  # from `<meeting id=…>`; "" when metadata.xml has no <meeting>
    metadata: dict[str, str] = field(default_factory=dict)  # every `<meta>` child but meetingId/meetingName/isBreakout
    formats: dict[str, PlaybackFormat] = field(default_factory=dict)
    # What the API changed, so a re-import keeps it:
    publish_updated: bool = False  # published/state set by publishRecordings
    protect_updated: bool = False  # protected set by updateRecordings `protect`
    metadata_updates: dict[str, str | None] = field(default_factory=dict)  # updateRecordings edits (None: removed)
    imported: dict[str, str] = field(default_factory=dict)  # format → fingerprint of the archive it came from
    server_id: str = ""  # the BBB server it was uploaded from
    ready_notified: bool = False  # the recording-ready callback was queued (once per recording)
    updated_at: int = 0  # epoch seconds
    version: int = 0  # optimistic lock: every stored change increments it


@dataclass(frozen=True)
class RecordingOrigin:
    """Where a meeting instance ran: kept at create, keyed by the internal meeting id BBB returned (= the
    recordID of its recordings), so an upload is accepted only from that server and the tenant comes from here."""

    internal_meeting_id: str
    tenant_id: str
    meeting_id: str
    server_id: str
    created_at: int = 0
    expires_at: int = 0  # epoch seconds (DynamoDB TTL)
