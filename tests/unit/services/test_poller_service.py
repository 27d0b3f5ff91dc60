"""Poller over the fakes: health and load from getMeetings, the meetings sweep, panic of a server gone offline."""

from __future__ import annotations

from scalelite_common.domain.entities import ServerState
from scalelite_common.services.context import RequestContext
from scalelite_common.services.meetings import CreateRequest, MeetingService
from scalelite_common.services.polling import Poller
from tests.fakes.bbb import FakeBBB
from tests.fakes.store import InMemoryStore
from tests.unit.services.conftest import add_server


def test_a_poll_brings_a_server_online_and_stores_its_load(poller: Poller, store: InMemoryStore, bbb: FakeBBB) -> None:
    server = add_server(store, "a", online=False)
    summary = poller.cycle("all")
    polled = store.get_server("a")
    assert polled is not None and polled.online and polled.load == 0.0 and polled.last_error == ""
    assert summary.came_online == ["a"]
    assert polled.bbb_version == bbb.server(server.url).version


def test_a_server_that_keeps_failing_goes_offline_and_loses_its_meetings(
    poller: Poller, service: MeetingService, store: InMemoryStore, bbb: FakeBBB, ctx: RequestContext
) -> None:
    server = add_server(store, "a")
    service.create(CreateRequest(ctx=ctx, params=[("meetingID", "m1")]))
    bbb.server(server.url).down = True
    for _ in range(ctx.settings.server_unhealthy_threshold):
        poller.cycle("all")
    polled = store.get_server("a")
    assert polled is not None and not polled.online and polled.load is None
    assert polled.last_error  # the reason, in plain words
    assert store.get_meeting(ctx.tenant_id, "m1") is None  # panicked: the next create places it anew


def test_the_sweep_forgets_ended_meetings_and_keeps_running_ones(
    poller: Poller, service: MeetingService, store: InMemoryStore, bbb: FakeBBB, ctx: RequestContext
) -> None:
    server = add_server(store, "a")
    for meeting_id in ("running", "ended"):
        service.create(CreateRequest(ctx=ctx, params=[("meetingID", meeting_id)]))
    for meeting_id in ("running", "ended"):  # both old enough that BBB must list them
        mapping = store.meetings[f"{ctx.tenant_id}#{meeting_id}"]
        mapping.created_at -= 3600
    del bbb.server(server.url).meetings["ended"]
    before = store.get_meeting(ctx.tenant_id, "running")
    poller.cycle("all")
    assert store.get_meeting(ctx.tenant_id, "ended") is None
    after = store.get_meeting(ctx.tenant_id, "running")
    assert before is not None and after is not None and after.expires_at >= before.expires_at


def test_a_drained_cordoned_server_becomes_disabled(poller: Poller, store: InMemoryStore) -> None:
    add_server(store, "a")
    store.update_server("a", {"state": ServerState.CORDONED})
    poller.cycle("all")
    polled = store.get_server("a")
    assert polled is not None and polled.state is ServerState.DISABLED
