"""Poller over the fakes: health and load from getMeetings, the meetings sweep, panic of a server gone offline."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from scalelite_common.domain.entities import ServerState
from scalelite_common.services.context import RequestContext
from scalelite_common.services.meetings import CreateRequest, MeetingService
from scalelite_common.services.polling import Poller, WriteBatcher
from scalelite_common.services.ports import PollWrite
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


class CountingStore(InMemoryStore):
    """The fake store, recording each `record_polls` call's server ids; `fail` makes them raise."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []
        self.fail: Exception | None = None

    def record_polls(self, polls: Sequence[PollWrite]) -> list[bool]:
        self.calls.append([poll.server_id for poll in polls])
        if self.fail is not None:
            raise self.fail
        return super().record_polls(polls)


def _write_together(batcher: WriteBatcher, ids: list[str]) -> dict[str, bool | BaseException]:
    """Every id's write from its own thread, all released at once; each thread's outcome or exception."""
    start = threading.Barrier(len(ids))
    outcomes: dict[str, bool | BaseException] = {}

    def work(sid: str) -> None:
        start.wait()
        try:
            outcomes[sid] = batcher.write(PollWrite(sid, {"users": 7}))
        except Exception as exc:
            outcomes[sid] = exc

    threads = [threading.Thread(target=work, args=(sid,)) for sid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_concurrent_poll_results_share_writes_and_each_gets_its_own_outcome() -> None:
    store = CountingStore()
    ids = [f"s{i:02d}" for i in range(25)]
    for sid in ids:
        if sid != "s13":  # removed while it was polled
            add_server(store, sid)
    # A long linger: only full batches are written, so 25 results take exactly 5 writes.
    outcomes = _write_together(WriteBatcher(store, size=5, linger=30.0), ids)
    assert sorted(len(call) for call in store.calls) == [5] * 5
    assert sorted(sid for call in store.calls for sid in call) == ids
    assert outcomes == {sid: sid != "s13" for sid in ids}
    assert all(server.users == 7 for server in store.list_servers())


def test_a_lone_poll_result_is_written_once_its_linger_is_over() -> None:
    store = CountingStore()
    add_server(store, "a")
    assert WriteBatcher(store, size=25, linger=0.01).write(PollWrite("a", {"users": 3}))
    assert store.calls == [["a"]]
    polled = store.get_server("a")
    assert polled is not None and polled.users == 3


def test_a_failed_write_reaches_every_result_of_its_batch() -> None:
    store = CountingStore()
    ids = ["a", "b", "c"]
    for sid in ids:
        add_server(store, sid)
    store.fail = RuntimeError("DynamoDB is down")
    outcomes = _write_together(WriteBatcher(store, size=3, linger=30.0), ids)
    assert store.calls and all(isinstance(outcomes[sid], RuntimeError) for sid in ids)
