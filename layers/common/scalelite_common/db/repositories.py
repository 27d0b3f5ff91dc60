"""DynamoDB implementation of the store the services use. Maps items ⇄ domain entities, PynamoDB errors ⇄ domain
errors. Every method is one DynamoDB round trip unless its docstring says otherwise."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from scalelite_common.config import DEFAULT_TENANT
from scalelite_common.db.models import (
    CallbackItem,
    MeetingItem,
    ServerItem,
    VoiceBridgeItem,
    bind,
    cancelled_by_condition,
    share_connection,
)
from scalelite_common.db.recordings import RecordingsMixin, origin_item
from scalelite_common.db.tenants import TenantsMixin
from scalelite_common.domain.entities import CallbackData, Meeting, RecordingOrigin, Server, ServerState
from scalelite_common.domain.tenants import TenantUsage, meeting_id_claim, meeting_id_claim_key
from scalelite_common.errors import PlacementConflict, ServerExists, ServerGone, StoreConflict
from scalelite_common.observability import logger
from scalelite_common.services.ports import POLL_WRITE_BATCH, PollWrite

__all__ = [
    "DynamoStore",
    "PlacementConflict",
    "ServerExists",
    "ServerGone",
    "StoreConflict",
    "meeting_pk",
]

if TYPE_CHECKING:
    from scalelite_common.config import Settings


def _conditional_failed(exc: Exception) -> bool:
    cause = getattr(exc, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


def meeting_pk(tenant_id: str, meeting_id: str) -> str:
    return f"{tenant_id}#{meeting_id}"


def _server(item: ServerItem) -> Server:
    return Server(
        id=item.id,
        url=item.url,
        secret=item.secret,
        state=ServerState(item.state) if item.state in ServerState._value2member_map_ else ServerState.DISABLED,
        online=bool(item.online),
        load=None if item.load is None else float(item.load),
        load_adjust=float(item.load_adjust or 0),
        load_multiplier=float(item.load_multiplier or 1),
        tag=item.tag or None,
        healthy_counter=int(item.healthy_counter or 0),
        unhealthy_counter=int(item.unhealthy_counter or 0),
        meetings=int(item.meetings or 0),
        users=int(item.users or 0),
        largest_meeting=int(item.largest_meeting or 0),
        videos=int(item.videos or 0),
        bbb_version=item.bbb_version or "",
        last_error=item.last_error or "",
    )


def _server_item(server: Server) -> ServerItem:
    return ServerItem(
        server.id,
        url=server.url,
        secret=server.secret,
        state=server.state.value,
        online=server.online,
        load=server.load,
        load_adjust=server.load_adjust,
        load_multiplier=server.load_multiplier,
        tag=server.tag,
        healthy_counter=server.healthy_counter,
        unhealthy_counter=server.unhealthy_counter,
        meetings=server.meetings,
        users=server.users,
        largest_meeting=server.largest_meeting,
        videos=server.videos,
        bbb_version=server.bbb_version or None,
        last_error=server.last_error or None,
    )


def _server_actions(changes: Mapping[str, Any]) -> list[Any]:
    """SET each attribute (REMOVE for None); states are stored by value, an empty `last_error` is not stored."""
    actions = []
    for name, value in changes.items():
        attr = getattr(ServerItem, name)
        if isinstance(value, ServerState):
            value = value.value
        elif name == "last_error" and not value:
            value = None
        actions.append(attr.remove() if value is None else attr.set(value))
    return actions


def _poll_actions(poll: PollWrite) -> list[Any]:
    actions = _server_actions(poll.changes)
    if poll.adjust_seen:
        actions.append(ServerItem.load_adjust.add(-poll.adjust_seen))
    return actions


def _meeting(item: MeetingItem) -> Meeting:
    return Meeting(
        tenant_id=item.tenant_id,
        meeting_id=item.meeting_id,
        server_id=item.server_id,
        moderator_pw=item.moderator_pw or "",
        voice_bridge=item.voice_bridge or "",
        created_at=int(item.created_at or 0),
        expires_at=int(item.expires_at or 0),
        reservation=float(item.reservation or 0),
        reserved_users=int(item.reserved_users or 0),
        load_multiplier=float(item.load_multiplier or 1),
        joins=int(item.joins or 0),
        lock_owner=item.lock_owner or "",
        lock_until=float(item.lock_until or 0),
        touched_at=float(item.touched_at or 0),
        participants=int(item.participants or 0),
        polled_joins=int(item.polled_joins or 0),
        internal_meeting_id=item.internal_meeting_id or "",
    )


def _meeting_item(meeting: Meeting) -> MeetingItem:
    return MeetingItem(
        meeting_pk(meeting.tenant_id, meeting.meeting_id),
        tenant_id=meeting.tenant_id,
        meeting_id=meeting.meeting_id,
        server_id=meeting.server_id,
        moderator_pw=meeting.moderator_pw or None,
        voice_bridge=meeting.voice_bridge or None,
        created_at=meeting.created_at,
        expires_at=meeting.expires_at,
        reservation=meeting.reservation,
        reserved_users=meeting.reserved_users,
        load_multiplier=meeting.load_multiplier,
        joins=meeting.joins,
        lock_owner=meeting.lock_owner or None,
        lock_until=meeting.lock_until or None,
        touched_at=meeting.touched_at or None,
        participants=meeting.participants or None,
        polled_joins=meeting.polled_joins or None,
        scoped_tenant=None if meeting.tenant_id == DEFAULT_TENANT else meeting.tenant_id,
        internal_meeting_id=meeting.internal_meeting_id or None,
    )


def _callback_item(data: CallbackData) -> CallbackItem:
    return CallbackItem(
        meeting_pk(data.tenant_id, data.meeting_id),
        tenant_id=data.tenant_id,
        meeting_id=data.meeting_id,
        recording_ready_url=data.recording_ready_url or None,
        analytics_callback_url=data.analytics_callback_url or None,
        created_at=data.created_at,
        expires_at=data.expires_at,
    )


class DynamoStore(RecordingsMixin, TenantsMixin):
    def __init__(self, settings: Settings) -> None:
        pool = max(10, settings.poller_threads)  # botocore's default is 10
        bind(
            servers_table=settings.servers_table,
            meetings_table=settings.meetings_table,
            voice_bridges_table=settings.voice_bridges_table,
            callbacks_table=settings.callbacks_table,
            recordings_table=settings.recordings_table,
            uploads_table=settings.uploads_table,
            tenants_table=settings.tenants_table,
            region=settings.aws_region,
            host=settings.aws_endpoint_url,
            max_pool_connections=pool,
        )
        self._connection = Connection(
            region=settings.aws_region, host=settings.aws_endpoint_url, max_pool_connections=pool
        )
        share_connection(self._connection)

    def connect(self) -> None:
        """Build the DynamoDB client now rather than on the first call (credentials resolved, no request sent):
        `scalelite_common.lifecycle.prime_clients`, Lambda only."""
        _ = self._connection.client

    # ---------------------------------------------------------------- servers
    def list_servers(self) -> list[Server]:
        return [_server(item) for item in ServerItem.scan(consistent_read=True)]

    def get_server(self, server_id: str) -> Server | None:
        try:
            return _server(ServerItem.get(server_id, consistent_read=True))
        except DoesNotExist:
            return None

    def add_server(self, server: Server) -> None:
        try:
            _server_item(server).save(condition=ServerItem.id.does_not_exist())
        except PutError as exc:
            if _conditional_failed(exc):
                raise ServerExists(server.id) from exc
            raise

    def update_server(self, server_id: str, changes: Mapping[str, Any]) -> Server:
        """SET the given attributes (None removes); the server must exist. Returns the updated server."""
        item = ServerItem(server_id)
        try:
            item.update(actions=_server_actions(changes), condition=ServerItem.id.exists())
        except UpdateError as exc:
            if _conditional_failed(exc):
                raise ServerGone(server_id) from exc
            raise
        return _server(item)

    def delete_server(self, server_id: str) -> None:
        try:
            ServerItem(server_id).delete(condition=ServerItem.id.exists())
        except DeleteError as exc:
            if _conditional_failed(exc):
                raise ServerGone(server_id) from exc
            raise

    def add_load(self, server_id: str, amount: float, *, require_joinable: bool = False) -> Server:
        """Atomically add to the server's between-polls load. With `require_joinable` the server must be online
        and not disabled (join); the updated server comes back, so join needs no separate read."""
        condition = ServerItem.id.exists()
        if require_joinable:
            condition &= (ServerItem.online == True) & (ServerItem.state != ServerState.DISABLED.value)  # noqa: E712
        item = ServerItem(server_id)
        try:
            item.update(actions=[ServerItem.load_adjust.add(amount)], condition=condition)
        except UpdateError as exc:
            if _conditional_failed(exc):
                raise ServerGone(server_id) from exc
            raise
        return _server(item)

    def record_polls(self, polls: Sequence[PollWrite]) -> list[bool]:
        """One TransactWriteItems per POLL_WRITE_BATCH results: a request costs the caller ≈ 1.3 ms of CPU in
        botocore whatever its size, so a batch of 25 costs each result ≈ 0.2 ms instead. Atomicity is not the point:
        a transaction cancelled by a removed server (its condition) or by a concurrent transaction on one of the
        servers (a create reserving load) is settled item by item, so one never holds back the others."""
        stored: list[bool] = []
        for start in range(0, len(polls), POLL_WRITE_BATCH):
            stored += self._record_poll_batch(polls[start : start + POLL_WRITE_BATCH])
        return stored

    def _record_poll_batch(self, polls: Sequence[PollWrite]) -> list[bool]:
        if len(polls) == 1:
            return [self._record_poll(polls[0])]
        try:
            # The token makes botocore's retry of a transaction DynamoDB applied but did not confirm a no-op: the
            # load_adjust subtraction must happen once.
            with TransactWrite(connection=self._connection, client_request_token=str(uuid.uuid4())) as tx:
                for poll in polls:
                    tx.update(ServerItem(poll.server_id), actions=_poll_actions(poll), condition=ServerItem.id.exists())
        except TransactWriteError as exc:
            removed = cancelled_by_condition(exc) or [False] * len(polls)
            # Not attempted, or in conflict with another transaction: each on its own.
            return [not gone and self._record_poll(poll) for poll, gone in zip(polls, removed, strict=False)]
        return [True] * len(polls)

    def _record_poll(self, poll: PollWrite) -> bool:
        try:
            ServerItem(poll.server_id).update(actions=_poll_actions(poll), condition=ServerItem.id.exists())
        except UpdateError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    # --------------------------------------------------------------- meetings
    def get_meeting(self, tenant_id: str, meeting_id: str, *, now: float | None = None) -> Meeting | None:
        try:
            item = MeetingItem.get(meeting_pk(tenant_id, meeting_id), consistent_read=True)
        except DoesNotExist:
            return None
        # TTL deletion is lazy (up to days in AWS, never in moto): an expired mapping does not exist.
        if item.expires_at and item.expires_at < (now or time.time()):
            return None
        return _meeting(item)

    def place_meeting(
        self,
        meeting: Meeting,
        server: Server,
        *,
        now: float,
        exact: bool = True,
        callbacks: CallbackData | None = None,
    ) -> None:
        """One transaction: reserve load on the server (only if it is still available and, with `exact`, nobody
        else reserved since we read it), store the mapping (only if absent or expired), claim the voice bridge, and
        store the callback data when there is some."""
        pk = meeting_pk(meeting.tenant_id, meeting.meeting_id)
        meeting_condition = MeetingItem.pk.does_not_exist() | (MeetingItem.expires_at < int(now))
        vb_condition = (
            VoiceBridgeItem.voice_bridge.does_not_exist()
            | (VoiceBridgeItem.expires_at < int(now))
            | (VoiceBridgeItem.meeting_pk == pk)
        )
        server_condition = (
            ServerItem.id.exists()
            & (ServerItem.state == ServerState.ENABLED.value)
            & (ServerItem.online == True)  # noqa: E712
            & ServerItem.load.exists()
        )
        if exact and server.load_adjust:
            server_condition &= ServerItem.load_adjust == server.load_adjust
        elif exact:
            server_condition &= ServerItem.load_adjust.does_not_exist() | (ServerItem.load_adjust == 0)
        id_claim = meeting_id_claim(meeting.tenant_id, meeting.meeting_id)
        unclaimed = VoiceBridgeItem.voice_bridge.does_not_exist() | (VoiceBridgeItem.expires_at < int(now))
        # PynamoDB sends condition checks, then puts, then updates, and the cancellation reasons come in that order:
        # each list names its items as they are added.
        checks: list[str] = []
        puts: list[str] = []
        try:
            with TransactWrite(connection=self._connection) as tx:
                # One meetingID namespace across tenants (BBB would merge two meetings of one id). The default tenant
                # claims nothing (no cost without multitenancy), so each side checks the other: a default create
                # that no tenant's claim holds the id (multitenancy switched off while tenant meetings run), a
                # tenant create that no live default mapping has it (switched on while default meetings run).
                if id_claim is None:
                    tx.condition_check(VoiceBridgeItem, meeting_id_claim_key(meeting.meeting_id), condition=unclaimed)
                else:
                    default_pk = meeting_pk(DEFAULT_TENANT, meeting.meeting_id)
                    tx.condition_check(MeetingItem, default_pk, condition=meeting_condition)
                checks.append("meeting_id")
                tx.save(_meeting_item(meeting), condition=meeting_condition)
                puts.append("meeting")
                if id_claim is not None:
                    claim = VoiceBridgeItem(id_claim, meeting_pk=pk, expires_at=meeting.expires_at)
                    tx.save(claim, condition=vb_condition)
                    puts.append("meeting_id")
                if meeting.voice_bridge:
                    vb = VoiceBridgeItem(meeting.voice_bridge, meeting_pk=pk, expires_at=meeting.expires_at)
                    tx.save(vb, condition=vb_condition)
                    puts.append("voice_bridge")
                if callbacks:
                    tx.save(_callback_item(callbacks))
                    puts.append("callbacks")
                tx.update(
                    ServerItem(server.id),
                    actions=[ServerItem.load_adjust.add(meeting.reservation)],
                    condition=server_condition,
                )
        except TransactWriteError as exc:
            names = [*checks, *puts, "server"]
            reasons = {name for name, failed in zip(names, cancelled_by_condition(exc), strict=False) if failed}
            if not reasons:
                raise
            raise PlacementConflict(reasons) from exc

    # ---------------------------------------------------------- callback data
    def put_callbacks(self, callbacks: CallbackData) -> None:
        _callback_item(callbacks).save()

    def get_callbacks(self, tenant_id: str, meeting_id: str, *, now: float | None = None) -> CallbackData | None:
        try:
            item = CallbackItem.get(meeting_pk(tenant_id, meeting_id))
        except DoesNotExist:
            return None
        if item.expires_at and item.expires_at < (now or time.time()):
            return None
        return CallbackData(
            tenant_id=item.tenant_id,
            meeting_id=item.meeting_id,
            recording_ready_url=item.recording_ready_url or "",
            analytics_callback_url=item.analytics_callback_url or "",
            created_at=int(item.created_at or 0),
            expires_at=int(item.expires_at or 0),
        )

    def count_join(self, tenant_id: str, meeting_id: str, *, now: float) -> Meeting | None:
        """ADD joins 1 on a live mapping and return it (ALL_NEW); None if there is no live mapping."""
        item = MeetingItem(meeting_pk(tenant_id, meeting_id))
        try:
            item.update(
                actions=[MeetingItem.joins.add(1)],
                condition=MeetingItem.pk.exists() & (MeetingItem.expires_at >= int(now)),
            )
        except UpdateError as exc:
            if _conditional_failed(exc):
                return None
            raise
        return _meeting(item)

    def _delete_if_on(
        self,
        meeting: Meeting,
        server_id: str,
        *,
        owner: str | None = None,
        idle: bool = False,
        now: float | None = None,
    ) -> bool:
        """Delete the mapping only if it still points at `server_id` (a concurrent re-placement wins); with `owner`,
        only while that lock holder holds it; with `idle`, only if no create or end holds it and no create reached it
        since `meeting` was read (the poller's sweep must not forget a meeting a create just brought back)."""
        condition = MeetingItem.server_id == server_id
        if owner is not None:
            condition &= MeetingItem.lock_owner == owner
        if idle:
            condition &= MeetingItem.lock_owner.does_not_exist() | (MeetingItem.lock_until < (now or time.time()))
            if meeting.touched_at:
                condition &= MeetingItem.touched_at == meeting.touched_at
            else:
                condition &= MeetingItem.touched_at.does_not_exist()
        try:
            MeetingItem(meeting_pk(meeting.tenant_id, meeting.meeting_id)).delete(condition=condition)
        except DeleteError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def release_meeting(
        self,
        meeting: Meeting,
        *,
        owner: str | None = None,
        idle: bool = False,
        now: float | None = None,
        voice_bridge: bool = True,
    ) -> bool:
        """Forget a meeting: delete its mapping on the conditions of `_delete_if_on` (still on
        `meeting.server_id`, held by `owner`, idle), then free its voice bridge unless told not to (the claim is
        deleted only while it still names this meeting). False, and nothing changed, when the mapping moved on."""
        if not self._delete_if_on(meeting, meeting.server_id, owner=owner, idle=idle, now=now):
            return False
        if voice_bridge:
            self._release_voice_bridge(meeting.voice_bridge, meeting.tenant_id, meeting.meeting_id)
        # The meetingID is free for every tenant again once its mapping is gone (a crash before this line leaves
        # the claim until its TTL, the mapping's).
        self._release_voice_bridge(
            meeting_id_claim(meeting.tenant_id, meeting.meeting_id) or "", meeting.tenant_id, meeting.meeting_id
        )
        return True

    def lock_meeting(
        self, tenant_id: str, meeting_id: str, owner: str, *, now: float, until: float, touch: bool = False
    ) -> Meeting | None:
        """Take the live mapping's lock for `owner` (free, or stale past its `lock_until`) and return the mapping
        (ALL_NEW); `touch` records this moment as the mapping's last create. None when it was not taken: there is no
        live mapping, or another holder has it (telling which would cost a read; callers that care read)."""
        item = MeetingItem(meeting_pk(tenant_id, meeting_id))
        actions: list[Action] = [MeetingItem.lock_owner.set(owner), MeetingItem.lock_until.set(until)]
        if touch:
            actions.append(MeetingItem.touched_at.set(now))
        free = MeetingItem.lock_owner.does_not_exist() | (MeetingItem.lock_until < now)
        live = MeetingItem.pk.exists() & (MeetingItem.expires_at >= int(now))
        try:
            item.update(actions=actions, condition=live & free)
        except UpdateError as exc:
            if _conditional_failed(exc):
                return None
            raise
        return _meeting(item)

    def unlock_meeting(
        self, tenant_id: str, meeting_id: str, owner: str, *, origin: RecordingOrigin | None = None
    ) -> bool:
        """Release `owner`'s lock; False if it holds none (the mapping is gone, or its lock went stale and was
        taken over). With `origin` (a create reached a new BBB meeting instance), store it in the same round trip
        (one transaction) and note its internal id on the mapping; the origin is stored whatever the lock."""
        item = MeetingItem(meeting_pk(tenant_id, meeting_id))
        actions: list[Action] = [MeetingItem.lock_owner.remove(), MeetingItem.lock_until.remove()]
        if origin is None:
            try:
                item.update(actions=actions, condition=MeetingItem.lock_owner == owner)
            except UpdateError as exc:
                if _conditional_failed(exc):
                    return False
                raise
            return True
        actions.append(MeetingItem.internal_meeting_id.set(origin.internal_meeting_id))
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.update(item, actions=actions, condition=MeetingItem.lock_owner == owner)
                tx.save(origin_item(origin))
        except TransactWriteError as exc:
            # PynamoDB sends the put before the update: the mapping's reason is the last one.
            if cancelled_by_condition(exc)[-1:] != [True]:
                raise
            self.put_origin(origin)  # the lock was lost (stale, taken over): the meeting still ran on BBB
            return False
        return True

    def extend_meeting(self, meeting: Meeting, expires_at: int) -> bool:
        """Push the mapping's TTL to `expires_at`, and its voice bridge claim's with it (else a meeting running past
        DEFAULT_MEETING_TTL would lose its dial-in number to a new meeting). Two round trips when it has a number;
        False if the mapping is gone."""
        try:
            MeetingItem(meeting_pk(meeting.tenant_id, meeting.meeting_id)).update(
                actions=[MeetingItem.expires_at.set(expires_at)], condition=MeetingItem.pk.exists()
            )
        except UpdateError as exc:
            if _conditional_failed(exc):
                return False
            raise
        pk = meeting_pk(meeting.tenant_id, meeting.meeting_id)
        for number in (meeting.voice_bridge, meeting_id_claim(meeting.tenant_id, meeting.meeting_id)):
            if not number:
                continue
            try:
                # Only our own claim; one another meeting took after ours expired is theirs.
                VoiceBridgeItem(number).update(
                    actions=[VoiceBridgeItem.expires_at.set(expires_at)], condition=VoiceBridgeItem.meeting_pk == pk
                )
            except UpdateError as exc:
                if not _conditional_failed(exc):
                    raise
                logger.warning("claim no longer held by its meeting", meeting_id=meeting.meeting_id)
        return True

    def meetings_on_server(self, server_id: str) -> list[Meeting]:
        return [_meeting(item) for item in MeetingItem.server_index.query(server_id)]

    def all_meetings(self) -> Iterator[Meeting]:
        for item in MeetingItem.scan():
            yield _meeting(item)

    def tenant_usage(self, tenant_id: str, *, now: float, exclude_meeting_id: str | None = None) -> TenantUsage:
        """One Query of the sparse tenant index (paged past 1 MB only, i.e. thousands of meetings)."""
        meetings = attendees = 0
        for item in MeetingItem.tenant_index.query(tenant_id, filter_condition=MeetingItem.expires_at >= int(now)):
            # The index holds only the counted attributes: read those, not a whole Meeting.
            meetings += item.meeting_id != exclude_meeting_id
            counted = Meeting(
                tenant_id,
                item.meeting_id or "",
                "",
                joins=int(item.joins or 0),
                participants=int(item.participants or 0),
                polled_joins=int(item.polled_joins or 0),
            )
            attendees += counted.attendees
        return TenantUsage(meetings=meetings, attendees=attendees)

    def record_attendance(self, meeting: Meeting, participants: int, polled_joins: int) -> bool:
        try:
            MeetingItem(meeting_pk(meeting.tenant_id, meeting.meeting_id)).update(
                actions=[MeetingItem.participants.set(participants), MeetingItem.polled_joins.set(polled_joins)],
                # The same instance only: not one re-created meanwhile (its own count starts afresh).
                condition=(MeetingItem.server_id == meeting.server_id) & (MeetingItem.created_at == meeting.created_at),
            )
        except UpdateError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def _release_voice_bridge(self, voice_bridge: str, tenant_id: str, meeting_id: str) -> None:
        if not voice_bridge:
            return
        try:
            VoiceBridgeItem(voice_bridge).delete(
                condition=VoiceBridgeItem.meeting_pk == meeting_pk(tenant_id, meeting_id)
            )
        except DeleteError as exc:
            if not _conditional_failed(exc):
                raise

    def voice_bridge_owner(self, voice_bridge: str) -> str | None:
        try:
            item = VoiceBridgeItem.get(voice_bridge)
        except DoesNotExist:
            return None
        if item.expires_at and item.expires_at < time.time():
            return None
        return item.meeting_pk

    # ------------------------------------------------------ poller additions
    def disable_if_cordoned(self, server_id: str) -> bool:
        """A drained cordoned server becomes disabled (load removed) only if it is still cordoned: an operator who
        re-enabled it while the poll ran wins. False if it is no longer cordoned or was removed."""
        try:
            ServerItem(server_id).update(
                actions=[ServerItem.state.set(ServerState.DISABLED.value), ServerItem.load.remove()],
                condition=ServerItem.state == ServerState.CORDONED.value,
            )
        except UpdateError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True
