"""BBB meeting calls through the load balancer: placement, forwarding, failover.

Every call takes the request's context (tenant, effective settings) and returns domain values: BBB's own answer
when the balancer relays it (a `BBBResponse`), a `Redirect` for join, the tenant's meeting entries for getMeetings.
Rendering is the presenters' job (`scalelite_common.presenters.bbb_xml`).

DynamoDB round trips on the normal path (see docs/data-model.md): create of a mapped meeting 3 (lock, servers,
unlock), of a new one 4 (lock attempt, servers, one transaction, unlock), join 2, end 3 (lock, server, delete),
isMeetingRunning 2, getMeetingInfo 2, getMeetings 1. A tenant with limits adds one Query to a new meeting's create
and to every join (`_check_limits`).
"""

from __future__ import annotations

import hashlib
import random
import secrets
import string
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field

from scalelite_common.bbb import params as P
from scalelite_common.bbb import replies, xml
from scalelite_common.bbb.client import BBBResponse, BBBTransportError, Target
from scalelite_common.concurrency import fan_out
from scalelite_common.config import Settings
from scalelite_common.domain.balancing import TagRequest, candidates
from scalelite_common.domain.entities import CallbackData, Meeting, RecordingOrigin, Server, ServerState
from scalelite_common.errors import (
    BBBError,
    InternalError,
    MeetingIDNotUniqueError,
    MeetingNotFoundError,
    MissingMeetingIDError,
    NoAvailableServerError,
    PlacementConflict,
    ServerGone,
    ServerUnavailableError,
    TenantLimitReachedError,
    UpstreamError,
    ValidationError,
)
from scalelite_common.observability import emit, logger, traced
from scalelite_common.services.context import RequestContext
from scalelite_common.services.ports import BBBGateway, Store

SERVER_TAG_PARAM = "meta_server-tag"
SIZE_HINT_PARAM = "meta_bbb-meeting-size-hint"
RECORDING_READY_PARAMS = (
    "meta_bn-recording-ready-url",
    "meta_bbb-recording-ready-url",
    "meta_canvas-recording-ready-url",
)
ANALYTICS_PARAM = "meta_analytics-callback-url"
TENANT_ID_PARAM = "meta_tenant-id"
TENANT_NAME_PARAM = "meta_tenant-name"
_PASSWORD_ALPHABET = string.ascii_letters + string.digits
# A create or end holds its meetingID's lock for at most the API function's timeout (template: 30 s); a lock older
# than that belongs to a dead invocation. A waiter gives up a little earlier, inside its own timeout.
MEETING_LOCK_SECONDS = 30.0
MEETING_LOCK_WAIT = 25.0


@dataclass
class CreateRequest:
    ctx: RequestContext
    params: P.Params
    xml_body: bytes | None = None  # pre-uploaded slides (<modules>), forwarded as a POST body


@dataclass
class Redirect:
    location: str


@dataclass
class _Hold:
    """One request's claim on a meetingID's lock (see MeetingService._lock)."""

    tenant_id: str
    meeting_id: str
    owner: str = field(default_factory=lambda: secrets.token_hex(8))
    held: bool = False  # the mapping exists and its lock is ours: release it when done
    origin: RecordingOrigin | None = None  # a new BBB meeting instance's origin, stored with the release


def _meeting_id(params: Sequence[tuple[str, str]]) -> str:
    meeting_id = P.first(params, "meetingID")
    if meeting_id is None or meeting_id.strip() == "":
        raise MissingMeetingIDError()
    return meeting_id


def _target(server: Server) -> Target:
    return Target(url=server.url, secret=server.secret, offline=not server.online)


def _random_password() -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(8))


def voice_bridge_candidates(meeting_id: str, length: int, count: int = 10) -> list[str]:
    """Deterministic per meetingID (a re-created meeting tends to get its old number back), first digit 1–9."""
    rng = random.Random(hashlib.sha256(meeting_id.encode()).digest())
    out: list[str] = []
    while len(out) < count:
        number = str(rng.randint(10 ** (length - 1), 10**length - 1))
        if number != "99999" and number not in out:
            out.append(number)
    return out


MAX_SIZE_HINT = 10_000  # no BBB server hosts more; a larger hint would take a server out of placement


def _positive(value: str | None) -> int | None:
    """A plain positive integer as BBB reads one (ASCII digits, any length), else None."""
    text = (value or "").strip().lstrip("0")
    if not text or not text.isascii() or not text.isdigit():
        return None
    # int() refuses over 4,300 digits; past 18 digits a value exceeds every cap we apply anyway.
    return int(text) if len(text) <= 18 else 10**18


def _size_hint(value: str | None, max_participants: str | None = None) -> int | None:
    """A positive hint, capped by `maxParticipants` (when positive) and MAX_SIZE_HINT; junk is ignored."""
    hint = _positive(value)
    if hint is None:
        return None
    return min(hint, _positive(max_participants) or MAX_SIZE_HINT, MAX_SIZE_HINT)


class MeetingService:
    def __init__(self, store: Store, client: BBBGateway, settings: Settings) -> None:
        self.store = store
        self.client = client
        self.settings = settings

    # ------------------------------------------------------------------ create
    @traced
    def create(self, req: CreateRequest) -> BBBResponse:
        """Under the meetingID's lock (see `_lock`): forward to the mapped server while it can serve the meeting, else
        place the meeting anew (the new mapping held the same way until BBB answered)."""
        meeting_id = _meeting_id(req.params)
        s = req.ctx.settings
        request = P.single(req.params)
        tag_value = s.override_create_params.get(SERVER_TAG_PARAM, request.get(SERVER_TAG_PARAM))
        if tag_value is None:
            tag_value = s.default_create_params.get(SERVER_TAG_PARAM)
        tag = TagRequest.parse(tag_value)
        if s.use_external_voice_bridge and request.get("voiceBridge", "").strip():
            voice_bridge = request["voiceBridge"].strip()
            if not (voice_bridge.isascii() and voice_bridge.isdigit()):
                raise ValidationError("Voice bridge must be an integer.")
        hold = _Hold(req.ctx.tenant_id, meeting_id)
        try:
            existing = self._lock(hold, create=True, wait=False)
            if existing is None:
                self._check_limits(req.ctx, meeting_id)  # a new meeting (a running one is not counted again)
            while True:
                servers = self.store.list_servers()
                moderator_pw = ""
                if existing is not None:
                    server = next((x for x in servers if x.id == existing.server_id), None)
                    if self._reusable(existing, server):
                        assert server is not None
                        try:
                            reply = self._forward_create(req, existing, server, hold, new=False)
                            self._keep_callbacks(self._callbacks(req, meeting_id, time.time()))
                            return reply
                        except BBBTransportError as exc:
                            if exc.refused:
                                raise InternalError("Unable to create meeting on server.") from exc
                            # Its server cannot be reached: place the meeting anew instead of failing the call.
                            logger.warning("meeting server unreachable; re-placing", meeting_id=meeting_id)
                    self._forget(existing, hold)
                    servers = [x for x in servers if x.id != existing.server_id] or servers
                    moderator_pw = existing.moderator_pw  # what the LMS already knows, if it let us choose it
                placed = self._create_new(req, meeting_id, tag, servers, hold, moderator_pw)
                if placed is not None:
                    return placed
                # The meetingID is mapped and held by another create or end: wait for it, then use its mapping.
                existing = self._lock(hold, create=True, wait=True)
        finally:
            self._unlock(hold)

    def _check_limits(self, ctx: RequestContext, meeting_id: str | None = None) -> None:
        """The tenant's limits (multitenancy; none: no read): with `meeting_id`, a create of a new meeting (refused
        at max_meetings other meetings, or at max_attendees); without, a join (refused at max_attendees). One Query
        of the tenant's meetings, read then checked: concurrent requests may pass together (a soft limit,
        docs/tenants.md)."""
        creating = meeting_id is not None
        if not ctx.max_attendees and not (creating and ctx.max_meetings):
            return
        usage = self.store.tenant_usage(ctx.tenant_id, now=time.time(), exclude_meeting_id=meeting_id)
        if creating and ctx.max_meetings and usage.meetings >= ctx.max_meetings:
            raise TenantLimitReachedError(ctx.max_meetings, "meetings")
        if ctx.max_attendees and usage.attendees >= ctx.max_attendees:
            raise TenantLimitReachedError(ctx.max_attendees, "attendees")

    def _lock(self, hold: _Hold, *, create: bool, wait: bool) -> Meeting | None:
        """Take the meetingID's lock: the mapping, or None when there is no live mapping (with `wait=False`, also
        when another request holds it: the caller's placement then finds out). A create or end holds it across its
        BBB call, which keeps the mapping and BBB in agreement whatever the interleaving; a holder that dies leaves
        a lock that goes stale after MEETING_LOCK_SECONDS."""
        deadline = time.monotonic() + MEETING_LOCK_WAIT
        delay = 0.005
        while True:
            now = time.time()
            meeting = self.store.lock_meeting(
                hold.tenant_id, hold.meeting_id, hold.owner, now=now, until=now + MEETING_LOCK_SECONDS, touch=create
            )
            if meeting is not None:
                hold.held = True
                return meeting
            if not wait or self.store.get_meeting(hold.tenant_id, hold.meeting_id, now=now) is None:
                return None
            if time.monotonic() + delay > deadline:
                raise InternalError("Another request is changing this meeting; try again.")
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.1)

    def _unlock(self, hold: _Hold) -> None:
        """Release the lock, with the origin of the BBB meeting instance a create reached (only a create that held
        the mapping forwards, so an origin always has a lock to ride on)."""
        origin, hold.origin = hold.origin, None
        if not hold.held:
            return
        try:
            self.store.unlock_meeting(hold.tenant_id, hold.meeting_id, hold.owner, origin=origin)
            hold.held = False
        except Exception:  # the answer stands; the lock goes stale by itself
            logger.exception("could not release a meeting lock", meeting_id=hold.meeting_id)
            if origin is not None:
                logger.error("the meeting's origin was not stored; its recordings will be refused")

    def _reusable(self, meeting: Meeting, server: Server | None) -> bool:
        """A mapping is kept only while its server can serve it; a cordoned server only while the meeting runs."""
        if server is None or not server.online or server.state is ServerState.DISABLED:
            return False
        if server.state is ServerState.CORDONED:
            try:
                resp = self.client.call(_target(server), "isMeetingRunning", [("meetingID", meeting.meeting_id)])
            except (BBBTransportError, BBBError):
                return False
            return xml.text(resp.root, "running") == "true"
        return True

    def _forget(self, meeting: Meeting, hold: _Hold, *, voice_bridge: bool = True) -> bool:
        """Delete the mapping `hold` holds (and free its voice bridge, unless told not to)."""
        if not self.store.release_meeting(meeting, owner=hold.owner, voice_bridge=voice_bridge):
            return False
        hold.held = False
        return True

    def _create_new(
        self,
        req: CreateRequest,
        meeting_id: str,
        tag: TagRequest,
        servers: list[Server],
        hold: _Hold,
        moderator_pw: str = "",
    ) -> BBBResponse | None:
        """Place the meeting (its mapping held by `hold`) and forward the create, failing over to the next server on
        a transport error. None when the meetingID is mapped already (another request placed or holds it)."""
        s = req.ctx.settings
        request = P.single(req.params)
        now = time.time()
        users = _size_hint(request.get(SIZE_HINT_PARAM), request.get("maxParticipants")) or s.load_min_user_count
        ordered = candidates(servers, tag)
        moderator_pw = request.get("moderatorPW") or moderator_pw or _random_password()
        vb_choices = voice_bridge_candidates(meeting_id, s.voice_bridge_len)
        if s.use_external_voice_bridge and request.get("voiceBridge", "").strip():
            vb_choices.insert(0, request["voiceBridge"].strip())
        callbacks = self._callbacks(req, meeting_id, now)
        attempts = 0
        conflicts = 0
        failures: list[str] = []
        while ordered and attempts < s.create_failover_attempts:
            server = ordered[0]
            meeting = Meeting(
                tenant_id=req.ctx.tenant_id,
                meeting_id=meeting_id,
                server_id=server.id,
                moderator_pw=moderator_pw,
                voice_bridge=vb_choices[0] if vb_choices else "",
                created_at=int(now),
                expires_at=int(now) + s.default_meeting_ttl,
                reservation=users * server.load_multiplier,
                reserved_users=users,
                load_multiplier=server.load_multiplier,
                lock_owner=hold.owner,
                lock_until=now + MEETING_LOCK_SECONDS,
            )
            try:
                # After a few lost races, settle for "still available" so a create always makes progress.
                self.store.place_meeting(meeting, server, now=now, exact=conflicts < 8, callbacks=callbacks)
                hold.held = True
            except PlacementConflict as exc:
                reasons = exc.reasons
                if "meeting_id" in reasons:
                    # Another tenant's live meeting: refused without touching it (BBB would otherwise merge them).
                    raise MeetingIDNotUniqueError() from exc
                if "meeting" in reasons:
                    return None
                if "voice_bridge" in reasons:
                    vb_choices.pop(0)
                    if not vb_choices:
                        raise InternalError("Could not allocate a voice bridge.") from exc
                    continue
                # The server changed since we read it (another create reserved on it, or it went away):
                # re-read and choose again, so concurrent creates spread instead of piling on one server.
                conflicts += 1
                if conflicts > 12:
                    raise InternalError("Could not place the meeting: too much contention.") from exc
                fresh = [x for x in self.store.list_servers() if x.id not in failures]
                ordered = candidates(fresh, tag)
                continue
            try:
                return self._forward_create(req, meeting, server, hold, new=True)
            except BBBTransportError as exc:
                self._release(meeting, server, hold)
                if exc.refused:
                    # The server answered, and would answer any server the same: no failover (a twin is worse).
                    logger.warning("create refused over HTTP", server=server.id, error=str(exc))
                    raise InternalError("Unable to create meeting on server.") from exc
                attempts += 1
                failures.append(server.id)
                emit("CreateFailovers")
                logger.warning("create failed at transport level; failing over", server=server.id, error=str(exc))
                ordered = [x for x in ordered if x.id not in failures]
            except BBBError:
                self._release(meeting, server, hold)  # BBB refused it: no stale mapping, no phantom load
                raise
        if failures:
            raise InternalError("Unable to create meeting on server.")
        raise NoAvailableServerError()

    def _release(self, meeting: Meeting, server: Server, hold: _Hold) -> None:
        try:
            if self._forget(meeting, hold):
                self.store.add_load(server.id, -meeting.reservation)
        except Exception:
            logger.exception("could not release a failed placement", server=server.id)

    def _keep_callbacks(self, callbacks: CallbackData) -> None:
        """A create of a running meeting that names callbacks replaces the stored ones (and restarts their TTL);
        one that names none leaves them. One PutItem, only when there is something to keep."""
        if not callbacks:
            return
        try:
            self.store.put_callbacks(callbacks)
        except Exception:  # BBB has the meeting: answer its SUCCESS, the old callback data stays
            logger.exception("could not store callback data", meeting_id=callbacks.meeting_id)

    def _callbacks(self, req: CreateRequest, meeting_id: str, now: float) -> CallbackData:
        """The LMS's callback URLs from the create (empty when it sent none): the first recording-ready name
        Scalelite knows, and the analytics callback."""
        request = P.single(req.params)
        ready = next((request[name] for name in RECORDING_READY_PARAMS if request.get(name)), "")
        return CallbackData(
            tenant_id=req.ctx.tenant_id,
            meeting_id=meeting_id,
            recording_ready_url=ready,
            analytics_callback_url=request.get(ANALYTICS_PARAM, ""),
            created_at=int(now),
            expires_at=int(now) + req.ctx.settings.callback_data_ttl,
        )

    def _create_params(self, req: CreateRequest, meeting: Meeting, server: Server, *, new: bool) -> dict[str, str]:
        s = req.ctx.settings
        shaped = P.shape(
            req.params,
            exclude=s.create_exclude_params,
            defaults={k: v for k, v in s.default_create_params.items() if k != SERVER_TAG_PARAM},
            overrides={k: v for k, v in s.override_create_params.items() if k != SERVER_TAG_PARAM},
        )
        if req.ctx.rules is not None:
            req.ctx.rules.apply(shaped)  # the tenant's caps and appends (multitenancy)
        if (new or not shaped.get("moderatorPW")) and meeting.moderator_pw:
            shaped["moderatorPW"] = meeting.moderator_pw
        if meeting.voice_bridge:
            shaped["voiceBridge"] = meeting.voice_bridge
        shaped.pop(SERVER_TAG_PARAM, None)
        if req.ctx.metadata_tenant:
            # Only the balancer says which tenant a meeting belongs to (the request's values are overwritten); BBB's
            # getMeetings and the recording's metadata.xml then carry the tenant (getMeetings filters on it).
            shaped[TENANT_ID_PARAM] = req.ctx.metadata_tenant
            shaped[TENANT_NAME_PARAM] = req.ctx.tenant_name
        if server.tag:
            shaped[SERVER_TAG_PARAM] = server.tag  # the server's tag, never the request's (no `!`)
        if s.max_meeting_duration > 0:
            try:
                duration = int(shaped.get("duration", "0") or "0")
            except ValueError:
                duration = 0
            if duration <= 0 or duration > s.max_meeting_duration:
                shaped["duration"] = str(s.max_meeting_duration)
        # The backend must not call the front end with its own secret: the LB relays recording-ready itself.
        for name in RECORDING_READY_PARAMS:
            shaped.pop(name, None)
        if shaped.get(ANALYTICS_PARAM):
            # Built from configuration only: a request header must never choose where BBB sends analytics.
            if s.url_host:
                # On the tenant's host (multitenancy): the relay finds the meeting within the host's tenant.
                host = f"{req.ctx.tenant_name}.{s.url_host}" if req.ctx.tenant_name else s.url_host
                shaped[ANALYTICS_PARAM] = f"https://{host}/bigbluebutton/api/analytics_callback"
            else:
                shaped.pop(ANALYTICS_PARAM)
                logger.warning("analytics callback dropped: URL_HOST is not set", meeting_id=meeting.meeting_id)
        return shaped

    def _forward_create(
        self, req: CreateRequest, meeting: Meeting, server: Server, hold: _Hold, *, new: bool
    ) -> BBBResponse:
        forwarded = list(self._create_params(req, meeting, server, new=new).items())
        reply = self.client.call(_target(server), "create", forwarded, body=req.xml_body)
        hold.origin = self._origin(req.ctx, meeting, server, reply)
        return reply

    def _origin(
        self, ctx: RequestContext, meeting: Meeting, server: Server, reply: BBBResponse
    ) -> RecordingOrigin | None:
        """Where this meeting instance runs (keyed by BBB's internal meeting id, its recordings' id), so its
        recordings are accepted from that server only, with this tenant: stored when the lock is released (no
        round trip of its own), unless the mapping already noted this instance (a repeated create)."""
        internal = xml.text(reply.root, "internalMeetingID")
        if not internal or internal == meeting.internal_meeting_id:
            return None
        now = int(time.time())
        return RecordingOrigin(
            internal_meeting_id=internal,
            tenant_id=ctx.tenant_id,
            meeting_id=meeting.meeting_id,
            server_id=server.id,
            created_at=now,
            expires_at=now + ctx.settings.recording_origin_ttl,
        )

    # ------------------------------------------------------------------- join
    @traced
    def join(self, ctx: RequestContext, params: P.Params) -> Redirect:
        meeting_id = _meeting_id(params)
        self._check_limits(ctx)
        now = time.time()
        meeting = self.store.count_join(ctx.tenant_id, meeting_id, now=now)
        if meeting is None:
            raise MeetingNotFoundError()
        # Joins inside the create-time reservation are already counted; each one beyond it adds a user.
        extra = meeting.load_multiplier if meeting.joins > meeting.reserved_users else 0.0
        try:
            server = self.store.add_load(meeting.server_id, extra, require_joinable=True)
        except ServerGone as exc:
            raise ServerUnavailableError() from exc
        if not server.online or server.state is ServerState.DISABLED:
            raise ServerUnavailableError()
        s = ctx.settings
        shaped = P.shape(
            params, exclude=s.join_exclude_params, defaults=s.default_join_params, overrides=s.override_join_params
        )
        if ctx.rules is not None:
            ctx.rules.apply(shaped)
        return Redirect(self.client.signed_url(_target(server), "join", list(shaped.items())))

    # ------------------------------------------------------- meeting lookups
    def _meeting_and_server(self, ctx: RequestContext, params: P.Params) -> tuple[Meeting, Server] | None:
        meeting_id = _meeting_id(params)
        meeting = self.store.get_meeting(ctx.tenant_id, meeting_id)
        if meeting is None:
            return None
        server = self.store.get_server(meeting.server_id)
        if server is None:
            return None
        return meeting, server

    @traced
    def is_meeting_running(self, ctx: RequestContext, params: P.Params) -> BBBResponse | None:
        """The meeting's server's answer; None when the balancer knows no such meeting (it is not running)."""
        found = self._meeting_and_server(ctx, params)
        if found is None:
            return None
        meeting, server = found
        return self._forward(
            server, "isMeetingRunning", [("meetingID", meeting.meeting_id)], "Unable to access meeting on server."
        )

    @traced
    def get_meeting_info(self, ctx: RequestContext, params: P.Params) -> BBBResponse:
        found = self._meeting_and_server(ctx, params)
        if found is None:
            raise MeetingNotFoundError()
        meeting, server = found
        return self._forward(
            server, "getMeetingInfo", [("meetingID", meeting.meeting_id)], "Unable to access meeting on server."
        )

    @traced
    def end(self, ctx: RequestContext, params: P.Params) -> BBBResponse:
        """Under the meetingID's lock (a create racing it waits, see `_lock`). The mapping is forgotten only once BBB
        confirms the end (SUCCESS, or notFound: already gone); a refused end (wrong password) leaves the meeting
        running and mapped, so the next create joins it, not a twin. The voice bridge item is left to its TTL (a
        fourth round trip otherwise; the number comes back to this meetingID first, see voice_bridge_candidates)."""
        hold = _Hold(ctx.tenant_id, _meeting_id(params))
        try:
            meeting = self._lock(hold, create=False, wait=True)
            if meeting is None:
                raise MeetingNotFoundError()
            server = self.store.get_server(meeting.server_id)
            if server is None:
                self._forget(meeting, hold, voice_bridge=False)
                raise MeetingNotFoundError()
            password = P.first(params, "password")
            forwarded = [("meetingID", meeting.meeting_id), ("password", password or "")]
            try:
                reply = self._forward(server, "end", forwarded, "Unable to access meeting on server.")
            except UpstreamError as exc:
                if exc.message_key == "notFound":
                    self._forget(meeting, hold, voice_bridge=False)
                raise
            self._forget(meeting, hold, voice_bridge=False)
            return reply
        finally:
            self._unlock(hold)

    @traced
    def insert_document(self, ctx: RequestContext, params: P.Params, body: bytes) -> BBBResponse:
        found = self._meeting_and_server(ctx, params)
        if found is None:
            raise MeetingNotFoundError()
        meeting, server = found
        return self._forward(
            server,
            "insertDocument",
            [("meetingID", meeting.meeting_id)],
            "Unable to insert document on server.",
            body=body,
        )

    @traced
    def send_chat_message(self, ctx: RequestContext, params: P.Params) -> BBBResponse:
        found = self._meeting_and_server(ctx, params)
        if found is None:
            raise MeetingNotFoundError()
        meeting, server = found
        forwarded = [("meetingID", meeting.meeting_id)]
        forwarded += [(k, v) for k, v in P.single(params).items() if k in ("message", "userName")]
        return self._forward(server, "sendChatMessage", forwarded, "Unable to access meeting on server.")

    def _forward(
        self, server: Server, call: str, params: P.Params, transport_message: str, *, body: bytes | None = None
    ) -> BBBResponse:
        try:
            return self.client.call(_target(server), call, params, body=body)
        except BBBTransportError as exc:
            logger.warning("BBB call failed", call=call, server=server.id, error=str(exc))
            raise InternalError(transport_message) from exc

    # ------------------------------------------------------------ getMeetings
    @traced
    def get_meetings(self, ctx: RequestContext) -> list[ET.Element]:
        """The tenant's `<meeting>` entries from every online enabled/cordoned server, asked concurrently;
        unreachable ones are skipped (Scalelite #498)."""
        servers = [s for s in self.store.list_servers() if s.online and s.state is not ServerState.DISABLED]
        entries: list[ET.Element] = []
        budget = self.settings.connect_timeout + self.settings.response_timeout + 1
        answers = fan_out(servers, lambda s: self.client.call(_target(s), "getMeetings"), workers=32, timeout=budget)
        for server, answer in zip(servers, answers, strict=True):
            if isinstance(answer, BaseException):
                logger.warning(
                    "getMeetings: server skipped", server=server.id, error=str(answer) or type(answer).__name__
                )
                continue
            entries.extend(replies.meeting_entries(answer.root, ctx.metadata_tenant))
        return entries
