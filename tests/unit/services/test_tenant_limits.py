"""Per-tenant limits (multitenancy) over the fakes: max_meetings on create, max_attendees on create and join
(attendees = the users the poller last saw plus the joins since), 0 = unlimited, one tenant's limits never
affecting another's, and multitenancy off ignoring them; at most one extra read per call, none without limits."""

from __future__ import annotations

import pytest

from scalelite_common.config import Settings
from scalelite_common.domain.entities import Meeting
from scalelite_common.domain.tenants import Tenant
from scalelite_common.errors import MeetingNotFoundError, TenantLimitReachedError
from scalelite_common.services import context
from scalelite_common.services.context import RequestContext
from scalelite_common.services.meetings import CreateRequest, MeetingService
from scalelite_common.services.polling import Poller
from scalelite_common.services.tenants import TenantDirectory
from tests.fakes.bbb import FakeBBB
from tests.fakes.store import InMemoryStore
from tests.unit.services.conftest import add_server

URL_HOST = "lb.example.com"
SERVER_URL = "https://a.example.com/bigbluebutton/api/"


@pytest.fixture
def mt_settings() -> Settings:
    return Settings.from_env({"LOADBALANCER_SECRET": "lb-secret", "URL_HOST": URL_HOST, "MULTITENANCY_ENABLED": "true"})


@pytest.fixture
def service(store: InMemoryStore, bbb: FakeBBB, mt_settings: Settings) -> MeetingService:
    add_server(store, "a")
    return MeetingService(store, bbb, mt_settings)


def _tenant(store: InMemoryStore, settings: Settings, name: str, **limits: int) -> RequestContext:
    store.add_tenant(Tenant(id=f"id-{name}", name=name, secrets=(f"{name}-secret",), **limits))
    return context.resolve(settings, f"{name}.{URL_HOST}", tenants=TenantDirectory(store))


def _create(service: MeetingService, ctx: RequestContext, meeting_id: str) -> str:
    return service.create(CreateRequest(ctx=ctx, params=[("meetingID", meeting_id), ("moderatorPW", "mp")])).returncode


def _join(service: MeetingService, ctx: RequestContext, meeting_id: str) -> str:
    return service.join(ctx, [("meetingID", meeting_id), ("fullName", "x"), ("role", "VIEWER")]).location


def test_create_is_refused_beyond_max_meetings(
    service: MeetingService, store: InMemoryStore, bbb: FakeBBB, mt_settings: Settings
) -> None:
    ctx = _tenant(store, mt_settings, "t1", max_meetings=2)
    assert ctx.max_meetings == 2
    assert _create(service, ctx, "m1") == "SUCCESS"
    assert _create(service, ctx, "m2") == "SUCCESS"  # at the limit: allowed
    creates = len([c for c in bbb.calls if c[1] == "create"])
    with pytest.raises(TenantLimitReachedError) as refused:
        _create(service, ctx, "m3")
    assert refused.value.message_key == "tenantLimitReached"
    assert refused.value.message == "The tenant has reached its maximum of 2 concurrent meetings."
    # Nothing placed, nothing reserved, BBB never asked.
    assert store.get_meeting(ctx.tenant_id, "m3") is None
    assert len([c for c in bbb.calls if c[1] == "create"]) == creates
    # A create of a meeting the tenant runs already is not a new one; it is answered as before, without a read.
    queries = store.usage_queries
    assert _create(service, ctx, "m1") == "SUCCESS"
    assert store.usage_queries == queries
    # Ending one frees a place.
    service.end(ctx, [("meetingID", "m2"), ("password", "mp")])
    assert _create(service, ctx, "m3") == "SUCCESS"
    assert store.usage_queries == queries + 1  # one read per new meeting


def test_a_meeting_being_created_is_not_counted_against_itself(
    service: MeetingService, store: InMemoryStore, mt_settings: Settings
) -> None:
    """A create that finds its meetingID's lock taken (another create is placing it) is not a new meeting either:
    the usage read leaves that meetingID out."""
    ctx = _tenant(store, mt_settings, "t1", max_meetings=1)
    assert _create(service, ctx, "m1") == "SUCCESS"
    assert store.lock_meeting(ctx.tenant_id, "m1", "other", now=0.0, until=1e12) is not None
    assert store.tenant_usage(ctx.tenant_id, now=0.0, exclude_meeting_id="m1").meetings == 0
    service._check_limits(ctx, "m1")  # passes: m1 itself is not another meeting
    with pytest.raises(TenantLimitReachedError):
        service._check_limits(ctx, "m2")


def test_join_is_refused_beyond_max_attendees_until_the_poller_sees_users_leave(
    service: MeetingService, store: InMemoryStore, bbb: FakeBBB, mt_settings: Settings
) -> None:
    ctx = _tenant(store, mt_settings, "t1", max_attendees=3)
    poller = Poller(store, bbb, mt_settings)
    assert _create(service, ctx, "m1") == "SUCCESS"
    assert _create(service, ctx, "m2") == "SUCCESS"
    _join(service, ctx, "m1")
    _join(service, ctx, "m2")
    queries = store.usage_queries
    _join(service, ctx, "m1")  # the third attendee: at the limit
    assert store.usage_queries == queries + 1  # one read per join
    with pytest.raises(TenantLimitReachedError) as refused:
        _join(service, ctx, "m2")
    assert refused.value.message_key == "tenantLimitReached"
    assert refused.value.message == "The tenant has reached its maximum of 3 concurrent attendees."
    meeting = store.get_meeting(ctx.tenant_id, "m2")
    assert meeting is not None and meeting.joins == 1  # a refused join is not counted

    # A create of a new meeting is refused too: its users could not join.
    with pytest.raises(TenantLimitReachedError, match="3 concurrent attendees"):
        _create(service, ctx, "m3")

    # The poller sees two of them on BBB (one left): its count replaces the joins it has seen.
    bbb.server(SERVER_URL).meetings["m1"].participants = 1
    bbb.server(SERVER_URL).meetings["m2"].participants = 1
    poller.cycle("all")
    polled = store.get_meeting(ctx.tenant_id, "m1")
    assert polled is not None and (polled.participants, polled.polled_joins, polled.attendees) == (1, 2, 1)
    assert store.tenant_usage(ctx.tenant_id, now=0.0).attendees == 2
    _join(service, ctx, "m2")  # 2 polled + this one = 3
    with pytest.raises(TenantLimitReachedError):
        _join(service, ctx, "m1")  # 2 polled + 1 joined since = 3: full


def test_zero_is_unlimited_and_costs_no_read(
    service: MeetingService, store: InMemoryStore, mt_settings: Settings
) -> None:
    ctx = _tenant(store, mt_settings, "t1", max_meetings=0, max_attendees=0)
    for n in range(5):
        assert _create(service, ctx, f"m{n}") == "SUCCESS"
        _join(service, ctx, f"m{n}")
        _join(service, ctx, f"m{n}")
    assert store.usage_queries == 0


def test_a_meeting_limit_alone_costs_joins_no_read(
    service: MeetingService, store: InMemoryStore, mt_settings: Settings
) -> None:
    ctx = _tenant(store, mt_settings, "t1", max_meetings=5)
    _create(service, ctx, "m1")
    queries = store.usage_queries
    for _ in range(3):
        _join(service, ctx, "m1")
    assert store.usage_queries == queries


def test_one_tenants_limits_do_not_affect_another(
    service: MeetingService, store: InMemoryStore, mt_settings: Settings
) -> None:
    one = _tenant(store, mt_settings, "t1", max_meetings=1, max_attendees=1)
    two = _tenant(store, mt_settings, "t2", max_meetings=2, max_attendees=2)
    three = _tenant(store, mt_settings, "t3")
    _create(service, one, "a1")
    _join(service, one, "a1")
    with pytest.raises(TenantLimitReachedError):
        _create(service, one, "a2")
    with pytest.raises(TenantLimitReachedError):
        _join(service, one, "a1")
    # t2 counts only its own meetings and attendees.
    assert _create(service, two, "b1") == "SUCCESS"
    assert _create(service, two, "b2") == "SUCCESS"
    _join(service, two, "b1")
    _join(service, two, "b2")
    with pytest.raises(TenantLimitReachedError, match="2 concurrent meetings"):
        _create(service, two, "b3")
    # t3 has no limits.
    for n in range(4):
        assert _create(service, three, f"c{n}") == "SUCCESS"
        _join(service, three, f"c{n}")
    assert store.tenant_usage(one.tenant_id, now=0.0).meetings == 1


def test_a_join_of_an_unknown_meeting_under_the_limit_is_not_found(
    service: MeetingService, store: InMemoryStore, mt_settings: Settings
) -> None:
    ctx = _tenant(store, mt_settings, "t1", max_attendees=5)
    with pytest.raises(MeetingNotFoundError):
        _join(service, ctx, "nope")


def test_without_multitenancy_limits_are_ignored(
    store: InMemoryStore, bbb: FakeBBB, settings: Settings, mt_settings: Settings
) -> None:
    add_server(store, "a")
    store.add_tenant(Tenant(id="id-t1", name="t1", secrets=("s",), max_meetings=1, max_attendees=1))
    ctx = context.resolve(settings, f"t1.{URL_HOST}", tenants=TenantDirectory(store))
    assert (ctx.max_meetings, ctx.max_attendees) == (0, 0)
    service = MeetingService(store, bbb, settings)
    for n in range(3):
        assert _create(service, ctx, f"m{n}") == "SUCCESS"
        _join(service, ctx, f"m{n}")
        _join(service, ctx, f"m{n}")
    assert store.usage_queries == 0
    # The poller stores no participant counts for the default tenant's meetings (no write, nothing reads them).
    bbb.server(SERVER_URL).meetings["m0"].participants = 2
    Poller(store, bbb, settings).cycle("all")
    meeting = store.get_meeting(ctx.tenant_id, "m0")
    assert meeting is not None and (meeting.participants, meeting.polled_joins) == (0, 0)


def test_the_poller_writes_a_tenant_meetings_count_only_when_it_changed(
    service: MeetingService, store: InMemoryStore, bbb: FakeBBB, mt_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = _tenant(store, mt_settings, "t1", max_attendees=10)
    _create(service, ctx, "m1")
    writes: list[tuple[str, int, int]] = []
    record = store.record_attendance

    def counted(meeting: Meeting, participants: int, polled_joins: int) -> bool:
        writes.append((meeting.meeting_id, participants, polled_joins))
        return record(meeting, participants, polled_joins)

    monkeypatch.setattr(store, "record_attendance", counted)
    poller = Poller(store, bbb, mt_settings)
    poller.cycle("all")
    assert writes == []  # nobody joined, BBB lists nobody: nothing to write
    _join(service, ctx, "m1")
    bbb.server(SERVER_URL).meetings["m1"].participants = 1
    poller.cycle("all")
    poller.cycle("all")
    assert writes == [("m1", 1, 1)]  # once, not on every cycle
