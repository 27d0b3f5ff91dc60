"""The poller against simulated BBB servers and moto: load, health hysteresis, panic, cordon drain, the meetings
sweep (TTL extension, ended meetings, Scalelite #320 grace), versions, the deadline and the scheduled handler."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from scalelite_common.bbb.client import BBBClient, BBBResponse, Target
from scalelite_common.domain.entities import ServerState
from scalelite_common.services.polling import Poller
from tests.conftest import FakeLambdaContext
from tests.helpers import load_event
from tests.integration.conftest import SimFactory, add_mapping, add_server, fresh_settings

pytestmark = pytest.mark.usefixtures("aws")
HOUR_AGO_MS = int((time.time() - 3600) * 1000)


def test_poll_computes_load_stats_and_version(
    store: Any, simulators: SimFactory, make_poller: Callable[..., Poller]
) -> None:
    sim = simulators()
    sim.add_meeting("old", participants=10, moderators=2, videos=3, create_time_ms=HOUR_AGO_MS)
    sim.add_meeting("young", participants=1, moderators=1, create_time_ms=int(time.time() * 1000))
    sim.add_meeting(
        "hinted", participants=0, create_time_ms=int(time.time() * 1000), metadata={"bbb-meeting-size-hint": "40"}
    )
    sim.add_meeting("breakout", participants=5, moderators=1, create_time_ms=HOUR_AGO_MS, is_breakout=True)
    add_server(store, sim, "bbb1", online=False, load=None, multiplier=2.0)

    summary = make_poller().cycle("all")

    server = store.get_server("bbb1")
    assert server.online and summary.came_online == ["bbb1"]
    # old 12 + young max(2, ~15) + hinted max(0, ~40) + breakout 0, × 2; the reservations have barely decayed
    assert server.load == pytest.approx((12 + 15 + 40) * 2.0, rel=0.01)
    assert (server.meetings, server.users, server.largest_meeting, server.videos) == (4, 16, 10, 3)
    assert server.bbb_version  # read from the API root
    assert summary.versions_updated == 1
    assert summary.online == 1 and summary.failed == []


def test_disabled_server_is_polled_but_has_no_load(
    store: Any, simulators: SimFactory, make_poller: Callable[..., Poller]
) -> None:
    sim = simulators()
    sim.add_meeting("m", participants=3, create_time_ms=HOUR_AGO_MS)
    add_server(store, sim, "bbb1", state=ServerState.DISABLED, online=False, load=None)
    make_poller().cycle("servers")
    server = store.get_server("bbb1")
    assert server.online and server.load is None and server.users == 3
    assert not server.available


def test_health_hysteresis_panic_and_recovery(
    env: pytest.MonkeyPatch, store: Any, simulators: SimFactory, make_poller: Callable[..., Poller]
) -> None:
    env.setenv("SERVER_UNHEALTHY_THRESHOLD", "2")
    env.setenv("SERVER_HEALTHY_THRESHOLD", "2")
    sim = simulators()
    sim.add_meeting("m1", participants=4, create_time_ms=HOUR_AGO_MS)
    add_server(store, sim, "bbb1")
    add_mapping(store, "bbb1", "m1", voice_bridge="123456789")
    poller = make_poller()
    poller.cycle("all")
    assert store.get_server("bbb1").users == 4

    sim.set_fault("down")
    poller = make_poller()  # new connection pool: bbbsim's "down" closes its listener, not open keep-alives
    first = poller.cycle("all")
    server = store.get_server("bbb1")
    assert server.online and server.unhealthy_counter == 1 and first.failed == ["bbb1"]  # N−1 failures: still online
    assert store.get_meeting("default", "m1") is not None

    second = poller.cycle("all")
    server = store.get_server("bbb1")
    assert not server.online and second.panicked == ["bbb1"]
    assert server.load is None and (server.meetings, server.users, server.largest_meeting, server.videos) == (
        0,
        0,
        0,
        0,
    )
    assert server.state is ServerState.ENABLED  # the admin state is not touched
    assert store.get_meeting("default", "m1") is None  # the next create places it anew
    assert store.voice_bridge_owner("123456789") is None

    sim.set_fault(None)
    poller.cycle("all")
    server = store.get_server("bbb1")
    assert not server.online and server.healthy_counter == 1  # one success is not enough with threshold 2
    assert server.users == 0  # stats stay as they were while below the threshold
    poller.cycle("all")
    server = store.get_server("bbb1")
    assert server.online and server.load is not None and server.healthy_counter == 0 and server.users == 4


@pytest.mark.parametrize("fault", ["failed", "malformed", "down"])
def test_failures_of_every_kind_take_a_server_offline(
    fault: str, store: Any, simulators: SimFactory, make_poller: Callable[..., Poller]
) -> None:
    sim = simulators()
    add_server(store, sim, "bbb1")
    sim.set_fault(fault)
    poller = make_poller()
    poller.cycle("servers")
    summary = poller.cycle("servers")
    assert summary.panicked == ["bbb1"]
    assert not store.get_server("bbb1").online


def test_panicked_meeting_is_placed_anew_on_the_next_create(
    store: Any, simulators: SimFactory, make_poller: Callable[..., Poller]
) -> None:
    from scalelite_common.config import get_settings
    from scalelite_common.services import context, wiring
    from scalelite_common.services.meetings import CreateRequest

    sim_a, sim_b = simulators(), simulators()
    add_server(store, sim_a, "a")
    add_server(store, sim_b, "b", load=50.0)  # busier: the first create goes to a
    service = wiring.meeting_service()
    ctx = context.resolve(get_settings())
    service.create(CreateRequest(ctx=ctx, params=[("meetingID", "class-1"), ("name", "Class")]))
    assert store.get_meeting("default", "class-1").server_id == "a"

    sim_a.set_fault("down")
    poller = make_poller()
    poller.cycle("all")
    poller.cycle("all")
    assert store.get_meeting("default", "class-1") is None

    service.create(CreateRequest(ctx=ctx, params=[("meetingID", "class-1"), ("name", "Class")]))
    assert store.get_meeting("default", "class-1").server_id == "b"


def test_cordoned_server_drains_to_disabled(
    store: Any, simulators: SimFactory, make_poller: Callable[..., Poller]
) -> None:
    busy, empty, young = simulators(), simulators(), simulators()
    busy.add_meeting("m", participants=3, create_time_ms=HOUR_AGO_MS)
    empty.add_meeting("idle", participants=0, create_time_ms=HOUR_AGO_MS)  # a meeting, but no attendees
    young.add_meeting("new", participants=0, create_time_ms=int(time.time() * 1000))  # still reserved
    for sim, sid in ((busy, "busy"), (empty, "empty"), (young, "young")):
        add_server(store, sim, sid, state=ServerState.CORDONED)

    summary = make_poller().cycle("servers")

    assert summary.disabled == ["empty"]
    assert store.get_server("empty").state is ServerState.DISABLED and store.get_server("empty").load is None
    assert store.get_server("busy").state is ServerState.CORDONED and store.get_server("busy").load == 3
    assert store.get_server("young").state is ServerState.CORDONED
    assert not store.get_server("busy").available  # cordoned: a load, but no new meetings


def test_drain_does_not_override_an_operator(store: Any, simulators: SimFactory) -> None:
    add_server(store, simulators(), "bbb1", state=ServerState.ENABLED)
    assert store.disable_if_cordoned("bbb1") is False
    assert store.get_server("bbb1").state is ServerState.ENABLED
    assert store.disable_if_cordoned("gone") is False


def test_meetings_sweep(store: Any, simulators: SimFactory, make_poller: Callable[..., Poller]) -> None:
    up, down = simulators(), simulators()
    up.add_meeting("running", participants=2, create_time_ms=HOUR_AGO_MS)
    add_server(store, up, "up")
    add_server(store, down, "down")
    add_mapping(store, "up", "running", ttl=3700)  # expires in 100 s: a long meeting (Scalelite #1205)
    add_mapping(store, "up", "ended", voice_bridge="111222333")
    add_mapping(store, "up", "just-created", age=5)  # BBB may not list it yet (Scalelite #320)
    add_mapping(store, "down", "unknown-fate")
    add_mapping(store, "gone", "orphan")
    down.set_fault("down")

    before = time.time()
    summary = make_poller().cycle("all")

    running = store.get_meeting("default", "running")
    assert running is not None and running.expires_at >= int(before) + 86400
    assert store.get_meeting("default", "ended") is None
    assert store.voice_bridge_owner("111222333") is None
    assert store.get_meeting("default", "just-created") is not None
    assert store.get_meeting("default", "unknown-fate") is not None  # server unreachable: left to the TTL
    assert store.get_meeting("default", "orphan") is not None  # server gone: left to the TTL
    assert (summary.meetings_running, summary.meetings_extended, summary.meetings_ended) == (1, 1, 1)

    # A fresh TTL is not rewritten on every poll.
    assert make_poller().cycle("meetings").meetings_extended == 0


def test_a_long_meeting_keeps_its_voice_bridge(
    store: Any, simulators: SimFactory, make_poller: Callable[..., Poller]
) -> None:
    """The sweep pushes the voice bridge claim forward with the meeting's TTL (issue 9 item 7): otherwise a meeting
    running past DEFAULT_MEETING_TTL loses its dial-in number to the next create that draws it."""
    from scalelite_common.db.models import VoiceBridgeItem

    sim = simulators()
    sim.add_meeting("long", participants=2, create_time_ms=HOUR_AGO_MS)
    add_server(store, sim, "up")
    add_mapping(store, "up", "long", ttl=3700, voice_bridge="71234")  # both expire in 100 s
    VoiceBridgeItem("55555", meeting_pk="default#someone-else", expires_at=int(time.time()) + 50).save()
    add_mapping(store, "up", "lost-it", ttl=3700)
    from scalelite_common.db.models import MeetingItem

    # A mapping whose number was taken by another meeting after its claim lapsed (before this fix).
    MeetingItem.get("default#lost-it").update(actions=[MeetingItem.voice_bridge.set("55555")])
    sim.add_meeting("lost-it", participants=1, create_time_ms=HOUR_AGO_MS)

    before = time.time()
    assert make_poller().cycle("meetings").meetings_extended == 2

    meeting = store.get_meeting("default", "long")
    assert meeting.expires_at >= int(before) + 86400
    assert VoiceBridgeItem.get("71234").expires_at == meeting.expires_at
    assert VoiceBridgeItem.get("55555").meeting_pk == "default#someone-else"  # not ours: left alone
    assert VoiceBridgeItem.get("55555").expires_at < before + 60


def test_sweep_leaves_meetings_a_create_or_end_is_working_on(
    store: Any, simulators: SimFactory, make_poller: Callable[..., Poller]
) -> None:
    """A mapping BBB does not list is swept only while nobody holds it and no create reached it lately: a create in
    flight (its lock), or one that just re-created the meeting on BBB, must not lose its mapping (issue 8 item 16)."""
    sim = simulators()
    add_server(store, sim, "up")
    add_mapping(store, "up", "locked")
    add_mapping(store, "up", "stale-lock")
    add_mapping(store, "up", "re-created")
    add_mapping(store, "up", "idle")
    now = time.time()
    store.lock_meeting("default", "locked", "a-create", now=now, until=now + 30, touch=False)
    store.lock_meeting("default", "stale-lock", "dead", now=now - 60, until=now - 30, touch=False)
    store.lock_meeting("default", "re-created", "a-create", now=now - 1, until=now + 29, touch=True)
    store.unlock_meeting("default", "re-created", "a-create")

    summary = make_poller().cycle("meetings")

    assert store.get_meeting("default", "locked") is not None
    assert store.get_meeting("default", "re-created") is not None  # within the grace of its last create
    assert store.get_meeting("default", "stale-lock") is None
    assert store.get_meeting("default", "idle") is None
    assert summary.meetings_ended == 2


def test_idle_delete_refuses_a_mapping_touched_since_it_was_read(store: Any, simulators: SimFactory) -> None:
    add_server(store, simulators(), "up")
    read = add_mapping(store, "up", "m1")
    now = time.time()
    store.lock_meeting("default", "m1", "a-create", now=now, until=now + 30, touch=True)
    store.unlock_meeting("default", "m1", "a-create")
    assert store.release_meeting(read, idle=True) is False
    fresh = store.get_meeting("default", "m1")
    assert store.release_meeting(fresh, idle=True) is True


def test_poll_subtracts_only_the_reservations_it_saw(store: Any, simulators: SimFactory) -> None:
    """A create placed while the poll is running keeps its reservation; the ones before it are folded in."""
    from scalelite_common.config import get_settings

    sim = simulators()
    add_server(store, sim, "bbb1", load=0.0)
    store.add_load("bbb1", 15)

    class MidPollCreate(BBBClient):
        def request(self, target: Target, call_name: str, *args: Any, **kw: Any) -> BBBResponse:
            if call_name == "getMeetings":
                store.add_load("bbb1", 7)  # placed between our read and the getMeetings answer
            return super().request(target, call_name, *args, **kw)

    settings = get_settings()
    client = MidPollCreate(connect_timeout=1, response_timeout=2)
    Poller(store, client, settings).cycle("servers")
    assert store.get_server("bbb1").load_adjust == 7


class WriteSpy:
    """The store, with every poll write (each result's changes, as `record_polls` gets them) recorded in `written`."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.written: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def record_polls(self, polls: Any) -> Any:
        self.written += [dict(poll.changes) for poll in polls]
        return self.store.record_polls(polls)


def test_poll_writes_only_what_changed(store: Any, simulators: SimFactory) -> None:
    """A steady server costs no write; a busy one a write of just the figures that moved."""
    from scalelite_common.config import get_settings
    from scalelite_common.services import wiring

    sim = simulators()
    sim.add_meeting("m", participants=3, moderators=1, videos=1, create_time_ms=HOUR_AGO_MS)
    add_server(store, sim, "bbb1", load=0.0)
    settings = get_settings()
    spy = WriteSpy(store)
    written = spy.written
    poller = Poller(spy, wiring.bbb_client(settings), settings)
    poller.cycle("servers")
    assert written and {"users", "meetings", "load"} <= set(written[-1])
    written.clear()

    poller.cycle("servers")
    assert written == []  # nothing changed: nothing written

    sim.add_attendee("m", "Ada", "VIEWER")
    poller.cycle("servers")
    assert written == [{"users": 4, "largest_meeting": 4, "load": 5.0}]
    assert store.get_server("bbb1").users == 4


def test_dynamodb_connection_pool_covers_the_poller_threads(env: pytest.MonkeyPatch) -> None:
    """Every poller thread may write at once: a smaller pool would discard connections (a TLS handshake each)."""
    from scalelite_common.db.models import ServerItem
    from scalelite_common.services import wiring

    env.setenv("POLLER_THREADS", "100")
    wiring.store()
    client = ServerItem._get_connection().connection.client
    # botocore-stubs' Config declares its options only as __init__ parameters; botocore sets them as attributes.
    assert client.meta.config.max_pool_connections == 100  # type: ignore[attr-defined]


def test_versions_only(store: Any, simulators: SimFactory, make_poller: Callable[..., Poller]) -> None:
    sim = simulators()
    add_server(store, sim, "bbb1", online=False, load=None)
    summary = make_poller().cycle("versions")
    server = store.get_server("bbb1")
    assert server.bbb_version and summary.versions_updated == 1
    assert not server.online  # versions do not change health


def test_deadline_is_respected_with_a_hanging_server(
    env: pytest.MonkeyPatch, store: Any, simulators: SimFactory
) -> None:
    from scalelite_poller.handler import handler

    env.setenv("RESPONSE_TIMEOUT", "8")  # the client alone would wait 8 s
    env.setenv("POLLER_WAIT_TIMEOUT", "30")
    fresh_settings()
    hung, fine = simulators(), simulators()
    add_server(store, hung, "hung")
    add_server(store, fine, "fine", online=False, load=None)
    hung.set_fault("hang")

    started = time.monotonic()
    result = handler(load_event("poller/scheduled.json"), FakeLambdaContext(remaining_ms=6000))
    elapsed = time.monotonic() - started

    # 6 s left − 1.5 s margin: answers are awaited 4.5 s (not the client's 8 s), then the results are stored
    # (the upper bound leaves room for a loaded CI machine; what matters is that it is below the client's 8 s).
    assert 4.0 < elapsed < 7.5, elapsed
    assert result["timed_out"] == ["hung"] and result["failed"] == ["hung"]
    assert result["came_online"] == ["fine"]
    assert store.get_server("hung").unhealthy_counter == 1
    assert store.get_server("fine").online


def test_handler_runs_one_cycle_and_emits_metrics(
    store: Any, simulators: SimFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from scalelite_poller.handler import handler

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # tests silence EMF; this one reads it

    sim = simulators()
    sim.add_meeting("m", participants=5, create_time_ms=HOUR_AGO_MS)
    add_server(store, sim, "bbb1")
    result = handler(load_event("poller/scheduled.json"), FakeLambdaContext(remaining_ms=55_000))
    assert result["cycles"] == 1 and result["servers"] == 1 and result["online"] == 1
    assert result["total_load"] == 5
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for doc in emf for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"ServersOnline", "ServersOffline", "TotalLoad"} <= names


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


@pytest.mark.parametrize(
    ("interval", "remaining_ms", "cycles"),
    [
        ("60", 55_000, 1),
        ("20", 59_000, 3),  # 0, 20, 40 s
        ("20", 30_000, 2),  # the third would start after the Lambda's end
        ("15", 59_000, 4),
        ("120", 59_000, 1),  # longer than the schedule period: one cycle per tick
    ],
)
def test_short_intervals_poll_several_times(
    env: pytest.MonkeyPatch, store: Any, interval: str, remaining_ms: int, cycles: int
) -> None:
    from scalelite_common.services import wiring

    env.setenv("POLL_INTERVAL", interval)
    clock = FakeClock()
    settings = fresh_settings()
    poller = Poller(store, wiring.bbb_client(settings), settings, monotonic=clock.monotonic, sleep=clock.sleep)
    result = poller.run_scheduled(remaining_ms)
    assert result["cycles"] == cycles
    assert clock.sleeps == [float(interval)] * (cycles - 1)


def test_servers_never_asked_before_the_deadline_keep_their_health(
    env: pytest.MonkeyPatch, store: Any, simulators: SimFactory, make_poller: Callable[..., Poller]
) -> None:
    env.setenv("POLLER_THREADS", "1")  # the only thread is stuck on the first server
    env.setenv("RESPONSE_TIMEOUT", "5")
    for sid in ("a", "b"):
        sim = simulators()
        sim.set_fault("hang")
        add_server(store, sim, sid)
    poller = make_poller()
    summary = poller.cycle("servers", stop_at=time.monotonic() + 1.0)
    assert len(summary.timed_out) == 1 and len(summary.skipped) == 1
    assert summary.online == 2  # one failure is below the threshold; the other was not judged
    asked, unasked = summary.timed_out[0], summary.skipped[0]
    assert store.get_server(asked).unhealthy_counter == 1
    assert store.get_server(unasked).unhealthy_counter == 0


def test_last_error_says_why_a_server_is_offline(
    store: Any, simulators: SimFactory, make_poller: Callable[..., Poller]
) -> None:
    """A wrong secret, a dead host and a wrong path each leave their own reason; a good poll clears it."""
    from scalelite_common.presenters.admin_json import server_json

    sim = simulators()
    add_server(store, sim, "bbb1")
    store.update_server("bbb1", {"secret": "not-the-secret"})
    make_poller().cycle("servers")
    server = store.get_server("bbb1")
    assert server.last_error.startswith("checksumError: ")
    assert server_json(server)["last_error"] == server.last_error

    store.update_server("bbb1", {"secret": sim.secret, "url": sim.url.rstrip("/") + "/wrong/path"})
    make_poller().cycle("servers")
    assert store.get_server("bbb1").last_error == "HTTP 404"

    store.update_server("bbb1", {"url": sim.url})
    sim.set_fault("down")
    make_poller().cycle("servers")  # a new connection pool: "down" closes the listener, not open keep-alives
    assert store.get_server("bbb1").last_error == "connection refused"

    sim.set_fault(None)
    make_poller().cycle("servers")
    server = store.get_server("bbb1")
    assert server.last_error == "" and server_json(server)["last_error"] == ""


def test_last_error_is_written_only_when_it_changes(store: Any, simulators: SimFactory) -> None:
    from scalelite_common.config import get_settings
    from scalelite_common.services import wiring

    sim = simulators()
    add_server(store, sim, "bbb1", online=False, load=None, unhealthy_counter=5)
    store.update_server("bbb1", {"secret": "not-the-secret"})
    settings = get_settings()
    spy = WriteSpy(store)
    written = spy.written
    poller = Poller(spy, wiring.bbb_client(settings), settings)
    poller.cycle("servers")
    assert [w.get("last_error", "") for w in written][-1].startswith("checksumError")
    written.clear()
    poller.cycle("servers")
    assert all("last_error" not in w for w in written)  # the same failure again: not rewritten

    store.update_server("bbb1", {"secret": sim.secret})
    poller.cycle("servers")
    assert written[-1]["last_error"] == ""
    assert store.get_server("bbb1").last_error == ""
