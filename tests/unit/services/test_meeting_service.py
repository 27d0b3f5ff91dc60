"""MeetingService over the fakes: placement, failover, join, end, lookups and getMeetings."""

from __future__ import annotations

import pytest

from scalelite_common.errors import InternalError, MeetingNotFoundError, NoAvailableServerError, UpstreamError
from scalelite_common.services.context import RequestContext
from scalelite_common.services.meetings import CreateRequest, MeetingService
from tests.fakes.bbb import FakeBBB
from tests.fakes.store import InMemoryStore
from tests.unit.services.conftest import add_server


def create(service: MeetingService, ctx: RequestContext, meeting_id: str, **params: str) -> str:
    reply = service.create(CreateRequest(ctx=ctx, params=[("meetingID", meeting_id), *params.items()]))
    return reply.returncode


def test_create_places_on_the_least_loaded_server_and_reserves_load(
    service: MeetingService, store: InMemoryStore, bbb: FakeBBB, ctx: RequestContext
) -> None:
    add_server(store, "busy", load=40.0)
    quiet = add_server(store, "quiet", load=5.0)
    assert create(service, ctx, "m1", name="M") == "SUCCESS"
    mapping = store.get_meeting(ctx.tenant_id, "m1")
    assert mapping is not None and mapping.server_id == "quiet"
    assert "m1" in bbb.server(quiet.url).meetings
    server = store.get_server("quiet")
    assert server is not None and server.load_adjust == ctx.settings.load_min_user_count  # the create reservation
    assert mapping.lock_owner == ""  # released once BBB answered


def test_a_second_create_goes_to_the_mapped_server_without_a_new_reservation(
    service: MeetingService, store: InMemoryStore, bbb: FakeBBB, ctx: RequestContext
) -> None:
    add_server(store, "a", load=1.0)
    add_server(store, "b", load=2.0)
    create(service, ctx, "m1")
    store.update_server("a", {"load": 50.0})  # a is busier now: the meeting must still stay there
    create(service, ctx, "m1")
    mapping = store.get_meeting(ctx.tenant_id, "m1")
    assert mapping is not None and mapping.server_id == "a"
    assert [c[0] for c in bbb.calls if c[1] == "create"] == [store.get_server("a").url] * 2  # type: ignore[union-attr]
    assert store.get_server("a").load_adjust == ctx.settings.load_min_user_count  # type: ignore[union-attr]


def test_create_fails_over_when_a_server_cannot_be_reached(
    service: MeetingService, store: InMemoryStore, bbb: FakeBBB, ctx: RequestContext
) -> None:
    dead = add_server(store, "dead", load=0.0)
    add_server(store, "alive", load=10.0)
    bbb.server(dead.url).down = True
    assert create(service, ctx, "m1") == "SUCCESS"
    mapping = store.get_meeting(ctx.tenant_id, "m1")
    assert mapping is not None and mapping.server_id == "alive"
    assert store.get_server("dead").load_adjust == 0  # type: ignore[union-attr]  # its reservation was undone


def test_a_refused_create_is_not_failed_over(
    service: MeetingService, store: InMemoryStore, bbb: FakeBBB, ctx: RequestContext
) -> None:
    first = add_server(store, "first", load=0.0)
    add_server(store, "second", load=10.0)
    bbb.server(first.url).down, bbb.server(first.url).status = True, 414
    with pytest.raises(InternalError):
        create(service, ctx, "m1")
    assert store.get_meeting(ctx.tenant_id, "m1") is None
    assert [c[0] for c in bbb.calls if c[1] == "create"] == [first.url]


def test_create_without_an_available_server(service: MeetingService, store: InMemoryStore, ctx: RequestContext) -> None:
    add_server(store, "offline", online=False)
    with pytest.raises(NoAvailableServerError):
        create(service, ctx, "m1")


def test_create_keeps_the_callback_urls_and_strips_them_from_the_forwarded_create(
    service: MeetingService, store: InMemoryStore, bbb: FakeBBB, ctx: RequestContext
) -> None:
    server = add_server(store, "a")
    create(service, ctx, "m1", **{"meta_bbb-recording-ready-url": "https://lms.example/ready"})
    data = store.get_callbacks(ctx.tenant_id, "m1")
    assert data is not None and data.recording_ready_url == "https://lms.example/ready"
    assert "bbb-recording-ready-url" not in bbb.server(server.url).meetings["m1"].metadata


def test_join_redirects_to_the_meetings_server_and_counts_beyond_the_reservation(
    service: MeetingService, store: InMemoryStore, ctx: RequestContext
) -> None:
    server = add_server(store, "a")
    create(service, ctx, "m1")
    reserved = ctx.settings.load_min_user_count
    for _ in range(reserved):
        redirect = service.join(ctx, [("meetingID", "m1"), ("fullName", "Ada")])
    assert redirect.location.startswith(server.url + "join?")
    assert store.get_server("a").load_adjust == reserved  # type: ignore[union-attr]  # inside the reservation
    service.join(ctx, [("meetingID", "m1"), ("fullName", "Bob")])
    assert store.get_server("a").load_adjust == reserved + 1  # type: ignore[union-attr]


def test_join_of_an_unknown_meeting(service: MeetingService, ctx: RequestContext) -> None:
    with pytest.raises(MeetingNotFoundError):
        service.join(ctx, [("meetingID", "nope"), ("fullName", "Ada")])


def test_end_forgets_the_meeting_only_when_bbb_ended_it(
    service: MeetingService, store: InMemoryStore, bbb: FakeBBB, ctx: RequestContext
) -> None:
    add_server(store, "a")
    create(service, ctx, "m1", moderatorPW="mod")
    with pytest.raises(UpstreamError) as refused:
        service.end(ctx, [("meetingID", "m1"), ("password", "wrong")])
    assert refused.value.message_key == "invalidPassword"
    assert store.get_meeting(ctx.tenant_id, "m1") is not None  # still running, still mapped

    assert service.end(ctx, [("meetingID", "m1"), ("password", "mod")]).returncode == "SUCCESS"
    assert store.get_meeting(ctx.tenant_id, "m1") is None
    with pytest.raises(MeetingNotFoundError):
        service.end(ctx, [("meetingID", "m1"), ("password", "mod")])


def test_is_meeting_running_of_an_unknown_meeting_asks_no_server(
    service: MeetingService, store: InMemoryStore, bbb: FakeBBB, ctx: RequestContext
) -> None:
    add_server(store, "a")
    assert service.is_meeting_running(ctx, [("meetingID", "nope")]) is None
    assert bbb.calls == []
    create(service, ctx, "m1")
    reply = service.is_meeting_running(ctx, [("meetingID", "m1")])
    assert reply is not None and reply.root.findtext("running") == "true"


def test_get_meetings_merges_servers_skips_unreachable_ones_and_filters_by_tenant(
    service: MeetingService, store: InMemoryStore, bbb: FakeBBB, ctx: RequestContext
) -> None:
    a, b, down = add_server(store, "a"), add_server(store, "b", load=1.0), add_server(store, "down", load=2.0)
    create(service, ctx, "m1")
    store.update_server("a", {"load": 100.0})
    create(service, ctx, "m2")
    bbb.server(down.url).down = True
    bbb.server(b.url).meetings["m2"].metadata["tenant-id"] = "other"  # another tenant's meeting
    entries = service.get_meetings(ctx)
    assert [e.findtext("meetingID") for e in entries] == ["m1"]
    assert {c[0] for c in bbb.calls if c[1] == "getMeetings"} == {a.url, b.url, down.url}


def test_create_keeps_the_meeting_instances_origin_for_its_recordings(
    service: MeetingService, store: InMemoryStore, bbb: FakeBBB, ctx: RequestContext
) -> None:
    server = add_server(store, "a")
    create(service, ctx, "m1")
    internal = bbb.server(server.url).meetings["m1"].internal_id
    origin = store.get_origin(internal)
    assert origin is not None and (origin.server_id, origin.tenant_id, origin.meeting_id) == ("a", "default", "m1")
    assert origin.expires_at - origin.created_at == ctx.settings.recording_origin_ttl
