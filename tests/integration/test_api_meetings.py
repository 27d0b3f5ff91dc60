"""Every meetings endpoint through the real API handler (Mangum + FastAPI) over moto and simulated BBB servers."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bbbsim import BBBSimulator
from scalelite_common.domain.entities import ServerState
from tests.conftest import reset_caches
from tests.helpers import sign, signed
from tests.integration.api_support import Reply, bbb, call_api, follow_join, query_of, register

pytestmark = pytest.mark.usefixtures("aws")


def create(meeting_id: str, **extra: str) -> Reply:
    return bbb("create", {"meetingID": meeting_id, "name": f"Room {meeting_id}", **extra})


# ------------------------------------------------------------------ index, errors, verbs, content types
def test_index_needs_no_checksum(env: pytest.MonkeyPatch) -> None:
    env.setenv("BUILD_NUMBER", "42")
    for path in ("/bigbluebutton/api", "/bigbluebutton/api/"):
        reply = call_api("GET", path)
        assert reply.status == 200
        assert (reply.text("returncode"), reply.text("version"), reply.text("build")) == ("SUCCESS", "2.0", "42")


@pytest.mark.parametrize(
    "call", ["create", "join", "end", "isMeetingRunning", "getMeetingInfo", "getMeetings", "sendChatMessage"]
)
def test_bad_checksum(call: str) -> None:
    reply = call_api("GET", f"/bigbluebutton/api/{call}", "meetingID=x&checksum=" + "0" * 40)
    assert reply.status == 200
    assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "checksumError")
    assert reply.text("message") == "You did not pass the checksum security check"


def test_sha384_accepted_unlike_scalelite() -> None:
    reply = call_api(
        "GET", "/bigbluebutton/api/isMeetingRunning", sign("isMeetingRunning", "meetingID=x", algorithm="sha384")
    )
    assert (reply.text("returncode"), reply.text("running")) == ("SUCCESS", "false")


def test_algorithm_restriction(env: pytest.MonkeyPatch) -> None:
    env.setenv("LOADBALANCER_CHECKSUM_ALGORITHM", "SHA256")
    reply = call_api("GET", "/bigbluebutton/api/isMeetingRunning", sign("isMeetingRunning", "meetingID=x"))
    assert reply.text("messageKey") == "checksumError"


def test_secondary_secret(env: pytest.MonkeyPatch) -> None:
    env.setenv("LOADBALANCER_SECRETS", "other:rotated")
    reply = call_api(
        "GET", "/bigbluebutton/api/isMeetingRunning", sign("isMeetingRunning", "meetingID=x", secret="rotated")
    )
    assert reply.text("returncode") == "SUCCESS"


@pytest.mark.parametrize("call", ["create", "join", "end", "getMeetingInfo", "insertDocument", "sendChatMessage"])
def test_missing_meeting_id(call: str) -> None:
    method = "POST" if call == "insertDocument" else "GET"
    reply = call_api(
        method,
        f"/bigbluebutton/api/{call}",
        sign(call, "name=x"),
        body="<modules/>" if method == "POST" else None,
        headers={"content-type": "application/xml"},
    )
    assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "missingParamMeetingID")
    assert reply.text("message") == "You must specify a meeting ID for the meeting."


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/bigbluebutton/api/join"),
        ("GET", "/bigbluebutton/api/insertDocument"),
        ("POST", "/bigbluebutton/api/sendChatMessage"),
        ("GET", "/bigbluebutton/api/getJoinUrl"),
        ("GET", "/bigbluebutton/api/foo/bar"),
        ("DELETE", "/bigbluebutton/api/create"),
    ],
)
def test_unsupported_requests(method: str, path: str) -> None:
    reply = call_api(method, path, "meetingID=x")
    assert reply.status == 200
    assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "unsupportedRequest")
    assert reply.text("message") == "This request is not supported."


@pytest.mark.parametrize(
    ("call", "ctype"),
    [
        ("create", "application/json"),
        ("getMeetingInfo", "application/xml"),
        ("insertDocument", "application/x-www-form-urlencoded"),
        ("end", ""),
    ],
)
def test_unsupported_content_type_wins_over_checksum(call: str, ctype: str) -> None:
    reply = call_api(
        "POST",
        f"/bigbluebutton/api/{call}",
        "meetingID=x&checksum=bad",
        body="x=1",
        headers={"content-type": ctype} if ctype else None,
    )
    assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "unsupportedContentType")
    assert reply.text("message") == "POST request Content-Type is missing or unsupported"


def test_no_servers() -> None:
    reply = create("m1")
    assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "internalError")
    assert reply.text("message") == "Could not find any available servers."


# ------------------------------------------------------------------------------------ create and join
def test_create_places_on_least_loaded_and_reserves(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "busy", load=40)
    register(store, sims[1], "idle", load=10)
    reply = create("m1", moderatorPW="mp", attendeePW="ap")
    assert reply.text("returncode") == "SUCCESS"
    assert "m1" in sims[1].meetings and "m1" not in sims[0].meetings
    meeting = store.get_meeting("default", "m1")
    assert meeting.server_id == "idle" and meeting.moderator_pw == "mp"
    assert store.get_server("idle").load_adjust == 15  # LOAD_MIN_USER_COUNT reserved at create
    forwarded = sims[1].calls("create")[-1].params
    assert forwarded["voiceBridge"] == [meeting.voice_bridge] and len(meeting.voice_bridge) == 9


def test_size_hint_sizes_the_reservation(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a", multiplier=2.0)
    create("big", **{"meta_bbb-meeting-size-hint": "80"})
    assert store.get_server("a").load_adjust == 160


def test_repeated_create_goes_to_the_same_server_without_new_load(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    register(store, sims[1], "b")
    create("m1")
    first = store.get_meeting("default", "m1").server_id
    total = sum(s.load_adjust for s in store.list_servers())
    reply = create("m1")
    assert reply.text("returncode") == "SUCCESS" and reply.text("messageKey") == "duplicateWarning"
    assert store.get_meeting("default", "m1").server_id == first
    assert sum(s.load_adjust for s in store.list_servers()) == total


def test_generated_moderator_pw_is_forced_on_new_meetings(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1")
    stored = store.get_meeting("default", "m1").moderator_pw
    assert len(stored) == 8
    assert sims[0].calls("create")[-1].params["moderatorPW"] == [stored]


def test_join_redirects_to_signed_url_and_counts_users_beyond_reservation(
    store: Any, sims: list[BBBSimulator], env: pytest.MonkeyPatch
) -> None:
    env.setenv("LOAD_MIN_USER_COUNT", "2")
    register(store, sims[0], "a")
    create("m1", moderatorPW="mp")
    for i in range(3):
        reply = bbb("join", {"meetingID": "m1", "fullName": f"U{i}", "role": "VIEWER"})
        assert reply.status == 302
        location = reply.headers["location"]
        assert location.startswith(sims[0].url + "join?")
        assert "checksum" in query_of(location)
        assert follow_join(location) == 200
    assert len(sims[0].meetings["m1"].attendees) == 3
    assert store.get_server("a").load_adjust == 3  # 2 reserved + 1 beyond the reservation


def test_join_unknown_meeting() -> None:
    reply = bbb("join", {"meetingID": "nope", "fullName": "x", "role": "VIEWER"})
    assert (reply.status, reply.text("messageKey")) == (200, "notFound")


@pytest.mark.parametrize("change", [{"state": ServerState.DISABLED}, {"online": False}])
def test_join_refused_when_server_disabled_or_offline(
    store: Any, sims: list[BBBSimulator], change: dict[str, Any]
) -> None:
    register(store, sims[0], "a")
    create("m1")
    store.update_server("a", change)
    reply = bbb("join", {"meetingID": "m1", "fullName": "x", "role": "VIEWER"})
    assert (reply.status, reply.text("messageKey")) == (200, "serverUnavailable")
    assert reply.text("message") == "The server for this meeting is disabled/offline."


def test_join_allowed_on_cordoned_server(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1")
    store.update_server("a", {"state": ServerState.CORDONED})
    assert bbb("join", {"meetingID": "m1", "fullName": "x", "role": "VIEWER"}).status == 302


def test_join_params_shaping(store: Any, sims: list[BBBSimulator], env: pytest.MonkeyPatch) -> None:
    env.setenv("JOIN_EXCLUDE_PARAMS", "avatarURL")
    env.setenv("DEFAULT_JOIN_PARAMS", "userdata-bbb_auto_join_audio=true,userdata-x=default")
    env.setenv("OVERRIDE_JOIN_PARAMS", "userdata-bbb_listen_only_mode=false")
    register(store, sims[0], "a")
    create("m1")
    reply = bbb(
        "join",
        {
            "meetingID": "m1",
            "fullName": "x",
            "role": "VIEWER",
            "avatarURL": "http://a",
            "userdata-x": "mine",
            "userdata-bbb_listen_only_mode": "true",
        },
    )
    q = query_of(reply.headers["location"])
    assert "avatarURL" not in q
    assert q["userdata-bbb_auto_join_audio"] == "true" and q["userdata-x"] == "mine"
    assert q["userdata-bbb_listen_only_mode"] == "false"


# ------------------------------------------------------------------------------------------- tags
def test_server_tag_forwarded_and_required_tags(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "plain")
    register(store, sims[1], "gpu", tag="gpu")
    assert create("t1", **{"meta_server-tag": "gpu"}).text("returncode") == "SUCCESS"
    assert sims[1].calls("create")[-1].params["meta_server-tag"] == ["gpu"]
    assert create("t2", **{"meta_server-tag": "missing"}).text("returncode") == "SUCCESS"
    assert "meta_server-tag" not in sims[0].calls("create")[-1].params  # untagged fallback gets no tag
    reply = create("t3", **{"meta_server-tag": "missing;other!"})
    assert reply.text("messageKey") == "serverTagUnavailable"
    assert reply.text("message") == "There is no available server with the required tag=missing;other."


# --------------------------------------------------------------------------------------- lookups
def test_lookup_calls_forward_to_the_meetings_server(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1", moderatorPW="mp")
    follow_join(bbb("join", {"meetingID": "m1", "fullName": "x", "role": "MODERATOR"}).headers["location"])
    assert bbb("isMeetingRunning", {"meetingID": "m1"}).text("running") == "true"
    info = bbb("getMeetingInfo", {"meetingID": "m1"})
    assert (info.text("returncode"), info.text("meetingID"), info.text("participantCount")) == ("SUCCESS", "m1", "1")
    chat = bbb("sendChatMessage", {"meetingID": "m1", "message": "hello"})
    assert chat.text("returncode") == "SUCCESS"
    assert sims[0].calls("sendChatMessage")[-1].params["message"] == ["hello"]


def test_unknown_meeting_lookups() -> None:
    assert bbb("isMeetingRunning", {"meetingID": "x"}).text("running") == "false"
    reply = bbb("getMeetingInfo", {"meetingID": "x"})
    assert reply.text("messageKey") == "notFound"
    assert reply.text("message") == (
        "We could not find a meeting with that meeting ID - perhaps the meeting is not yet running?"
    )
    assert bbb("end", {"meetingID": "x"}).text("messageKey") == "notFound"


def test_end_that_bbb_refuses_keeps_the_mapping(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    register(store, sims[1], "b", load=50)
    create("m1", moderatorPW="mp")
    reply = bbb("end", {"meetingID": "m1", "password": "wrong"})
    assert reply.text("messageKey") == "invalidPassword"
    assert "m1" in sims[0].meetings  # BBB kept it running ...
    assert store.get_meeting("default", "m1") is not None  # ... so the balancer keeps its mapping
    assert create("m1", moderatorPW="mp").text("returncode") == "SUCCESS"
    assert "m1" not in sims[1].meetings  # no twin meeting on another server
    assert bbb("end", {"meetingID": "m1", "password": "mp"}).text("messageKey") == "sentEndMeetingRequest"
    assert store.get_meeting("default", "m1") is None
    assert bbb("end", {"meetingID": "m1"}).text("messageKey") == "notFound"


def test_end_of_a_meeting_bbb_no_longer_has_forgets_it(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1")
    del sims[0].meetings["m1"]
    assert bbb("end", {"meetingID": "m1"}).text("messageKey") == "notFound"
    assert store.get_meeting("default", "m1") is None


def test_upstream_failed_passes_through(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1")
    sims[0].set_fault("failed", calls=["getMeetingInfo"])
    reply = bbb("getMeetingInfo", {"meetingID": "m1"})
    assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "internalError")


def test_transport_failure_on_lookup(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1")
    sims[0].set_fault("malformed")
    reply = bbb("getMeetingInfo", {"meetingID": "m1"})
    assert (reply.text("messageKey"), reply.text("message")) == ("internalError", "Unable to access meeting on server.")


def test_insert_document(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1")
    doc = '<modules><module name="presentation"><document url="https://x/a.pdf"/></module></modules>'
    reply = call_api(
        "POST",
        "/bigbluebutton/api/insertDocument",
        signed("insertDocument", {"meetingID": "m1"}),
        body=doc,
        headers={"content-type": "text/xml"},
    )
    assert reply.text("returncode") == "SUCCESS"
    assert sims[0].calls("insertDocument")[-1].body == doc.encode()


def test_create_with_xml_body_forwards_the_slides(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    doc = '<modules><module name="presentation"><document url="https://x/a.pdf"/></module></modules>'
    reply = call_api(
        "POST",
        "/bigbluebutton/api/create",
        signed("create", {"meetingID": "m1", "name": "R"}),
        body=doc,
        headers={"content-type": "text/xml"},
    )
    assert reply.text("returncode") == "SUCCESS"
    last = sims[0].calls("create")[-1]
    assert last.method == "POST" and last.body == doc.encode()


def test_form_post_params(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1")
    reply = call_api(
        "POST",
        "/bigbluebutton/api/getMeetingInfo",
        sign("getMeetingInfo", ""),
        body="meetingID=m1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert reply.text("returncode") == "SUCCESS"


# ------------------------------------------------------------------------------------- getMeetings
def test_get_meetings_aggregates_and_skips_unreachable(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    register(store, sims[1], "b")
    register(store, sims[2], "c")
    sims[0].add_meeting("on-a")
    sims[1].add_meeting("on-b")
    sims[1].add_meeting("other-tenant", metadata={"tenant-id": "t1"})
    sims[2].add_meeting("on-c")
    sims[2].set_fault("hang")
    started = time.monotonic()
    reply = bbb("getMeetings")
    assert time.monotonic() - started < 5
    ids = sorted(m.findtext("meetingID") for m in reply.xml.findall("meetings/meeting"))
    assert reply.text("returncode") == "SUCCESS" and ids == ["on-a", "on-b"]


def test_get_meetings_empty_and_disabled(store: Any, sims: list[BBBSimulator], env: pytest.MonkeyPatch) -> None:
    reply = bbb("getMeetings")
    assert (reply.text("messageKey"), reply.text("message")) == ("noMeetings", "no meetings were found on this server")
    env.setenv("GET_MEETINGS_API_DISABLED", "true")
    reset_caches()
    register(store, sims[0], "a")
    sims[0].add_meeting("hidden")
    reply = call_api("GET", "/bigbluebutton/api/getMeetings")  # no checksum needed when disabled
    assert reply.text("messageKey") == "noMeetings"


# --------------------------------------------------------------------------------------- failover
def test_failover_to_next_server_releases_reservation(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "dead", load=0)
    register(store, sims[1], "alive", load=50)
    sims[0].set_fault("down")
    reply = create("m1")
    assert reply.text("returncode") == "SUCCESS"
    assert store.get_meeting("default", "m1").server_id == "alive"
    assert store.get_server("dead").load_adjust == 0
    assert store.get_server("alive").load_adjust == 15


def test_mapping_on_unavailable_server_is_placed_anew(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1")
    register(store, sims[1], "b", load=100)
    store.update_server("a", {"online": False, "load": None})
    assert create("m1").text("returncode") == "SUCCESS"
    assert store.get_meeting("default", "m1").server_id == "b"


def test_cordoned_server_meeting_reused_only_while_running(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("running")
    create("idle")
    follow_join(bbb("join", {"meetingID": "running", "fullName": "x", "role": "VIEWER"}).headers["location"])
    register(store, sims[1], "b", load=100)
    store.update_server("a", {"state": ServerState.CORDONED})
    create("running")
    create("idle")
    assert store.get_meeting("default", "running").server_id == "a"
    assert store.get_meeting("default", "idle").server_id == "b"


def test_upstream_failed_create_leaves_no_mapping(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    sims[0].set_fault("failed", calls=["create"])
    assert create("m1").text("returncode") == "FAILED"
    assert store.get_meeting("default", "m1") is None
    assert store.get_server("a").load_adjust == 0


def test_expired_mapping_is_not_used(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1")
    from scalelite_common.db.models import MeetingItem

    item = MeetingItem.get("default#m1")
    item.update(actions=[MeetingItem.expires_at.set(int(time.time()) - 10)])
    sims[0].remove_meeting("m1")  # it ended on BBB long ago; only the stale mapping remained
    assert bbb("getMeetingInfo", {"meetingID": "m1"}).text("messageKey") == "notFound"
    assert create("m1").text("returncode") == "SUCCESS"


# ------------------------------------------------------------------------------- parameter shaping
def test_create_param_shaping(store: Any, sims: list[BBBSimulator], env: pytest.MonkeyPatch) -> None:
    env.setenv("CREATE_EXCLUDE_PARAMS", "logo")
    env.setenv("DEFAULT_CREATE_PARAMS", "record=false,welcome=hi")
    env.setenv("OVERRIDE_CREATE_PARAMS", "muteOnStart=true")
    env.setenv("MAX_MEETING_DURATION", "60")
    env.setenv("URL_HOST", "lb.example.com")
    register(store, sims[0], "a")
    create(
        "m1",
        logo="x",
        record="true",
        muteOnStart="false",
        duration="600",
        **{"meta_bbb-recording-ready-url": "https://lms/cb", "meta_analytics-callback-url": "https://lms/an"},
    )
    p = sims[0].calls("create")[-1].params
    assert "logo" not in p and p["record"] == ["true"] and p["welcome"] == ["hi"] and p["muteOnStart"] == ["true"]
    assert p["duration"] == ["60"]
    assert "meta_bbb-recording-ready-url" not in p
    assert p["meta_analytics-callback-url"] == ["https://lb.example.com/bigbluebutton/api/analytics_callback"]
    kept = store.get_callbacks("default", "m1")
    assert (kept.recording_ready_url, kept.analytics_callback_url) == ("https://lms/cb", "https://lms/an")


def test_external_voice_bridge(store: Any, sims: list[BBBSimulator], env: pytest.MonkeyPatch) -> None:
    env.setenv("USE_EXTERNAL_VOICE_BRIDGE", "true")
    register(store, sims[0], "a")
    create("m1", voiceBridge="71234")
    create("m2", voiceBridge="71234")
    assert store.get_meeting("default", "m1").voice_bridge == "71234"
    assert store.get_meeting("default", "m2").voice_bridge != "71234"


# ------------------------------------------------------------------------------------- concurrency
def test_parallel_creates_of_one_meeting_end_on_one_server(store: Any, sims: list[BBBSimulator]) -> None:
    for i, sim in enumerate(sims):
        register(store, sim, f"s{i}")

    def one(_: int) -> str:
        return create("class-1").text("returncode")

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(50)))
    assert results == ["SUCCESS"] * 50
    holders = [sim for sim in sims if "class-1" in sim.meetings]
    assert len(holders) == 1
    assert sum(s.load_adjust for s in store.list_servers()) == 15


def _holders(sims: list[BBBSimulator], meeting_id: str) -> list[str]:
    return [sim.url for sim in sims if meeting_id in sim.meetings]


def test_creates_racing_ends_leave_mapping_and_bbb_agreeing(store: Any, sims: list[BBBSimulator]) -> None:
    """200 create/end pairs for 20 meetingIDs, all in flight together (issue 8 item 16). Whatever the interleaving,
    afterwards a meetingID is mapped exactly when one BBB server, the mapped one, has it."""
    servers = {register(store, sim, f"s{i}").id: sim for i, sim in enumerate(sims)}
    for sim in sims:
        sim.latency = 0.002  # widen the windows between the balancer's reads, its BBB call and its writes
    ids = [f"race-{i}" for i in range(20)]
    jobs = [(kind, ids[i % len(ids)]) for i in range(200) for kind in ("create", "end")]
    random.Random(8).shuffle(jobs)

    def one(job: tuple[str, str]) -> str:
        kind, meeting_id = job
        if kind == "create":
            reply = create(meeting_id, moderatorPW="mod-pw", attendeePW="att-pw")
        else:
            reply = bbb("end", {"meetingID": meeting_id, "password": "mod-pw"})
        return reply.text("returncode") or reply.text("messageKey")

    with ThreadPoolExecutor(max_workers=24) as pool:
        outcomes = list(pool.map(one, jobs))
    creates = [o for (kind, _), o in zip(jobs, outcomes, strict=True) if kind == "create"]
    assert creates == ["SUCCESS"] * 200
    for meeting_id in ids:
        mapping = store.get_meeting("default", meeting_id)
        holders = _holders(sims, meeting_id)
        if mapping is None:
            assert holders == [], meeting_id
        else:
            assert holders == [servers[mapping.server_id].url], meeting_id
            assert mapping.lock_owner == ""  # every create and end released its lock
    # And each meetingID still works as one meeting: create joins the mapped one, end forgets it.
    for meeting_id in ids:
        assert create(meeting_id, moderatorPW="mod-pw").text("returncode") == "SUCCESS"
        assert len(_holders(sims, meeting_id)) == 1
        assert bbb("end", {"meetingID": meeting_id, "password": "mod-pw"}).text("returncode") == "SUCCESS"
        assert store.get_meeting("default", meeting_id) is None and _holders(sims, meeting_id) == []


def test_end_waits_for_a_create_holding_the_meeting(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1", moderatorPW="mp")
    now = time.time()
    assert store.lock_meeting("default", "m1", "a-create", now=now, until=now + 30) is not None
    with ThreadPoolExecutor(max_workers=1) as pool:
        ending = pool.submit(bbb, "end", {"meetingID": "m1", "password": "mp"})
        time.sleep(0.3)
        assert not ending.done() and "m1" in sims[0].meetings  # nothing forwarded while the create holds it
        assert store.unlock_meeting("default", "m1", "a-create") is True
        assert ending.result(timeout=10).text("returncode") == "SUCCESS"
    assert "m1" not in sims[0].meetings and store.get_meeting("default", "m1") is None


def test_a_stale_lock_of_a_dead_invocation_is_taken_over(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1", moderatorPW="mp")
    now = time.time()
    store.lock_meeting("default", "m1", "died", now=now - 60, until=now - 30)
    assert create("m1", moderatorPW="mp").text("returncode") == "SUCCESS"
    assert store.get_meeting("default", "m1").lock_owner == ""
    assert bbb("end", {"meetingID": "m1", "password": "mp"}).text("returncode") == "SUCCESS"
    assert store.get_meeting("default", "m1") is None


def test_a_meeting_busy_beyond_the_wait_answers_a_clear_error(
    store: Any, sims: list[BBBSimulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    from scalelite_common.services import meetings

    monkeypatch.setattr(meetings, "MEETING_LOCK_WAIT", 0.2)
    register(store, sims[0], "a")
    create("m1", moderatorPW="mp")
    now = time.time()
    store.lock_meeting("default", "m1", "slow", now=now, until=now + 30)
    reply = bbb("end", {"meetingID": "m1", "password": "mp"})
    assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "internalError")
    assert "try again" in reply.text("message")
    assert "m1" in sims[0].meetings and store.get_meeting("default", "m1") is not None


def test_a_create_bbb_refuses_for_its_size_keeps_the_mapping(store: Any, sims: list[BBBSimulator]) -> None:
    """HTTP 414 (the simulator's http.server, like BBB's nginx, refuses a request line over 64 KiB) says nothing
    about the server: the meeting stays where it runs instead of being re-placed as a twin elsewhere. (With slides
    in an XML body the parameters cannot move into a form body, so the URL stays too long.)"""
    register(store, sims[0], "a")
    register(store, sims[1], "b", load=100)
    create("m1", moderatorPW="mp")
    query = signed("create", {"meetingID": "m1", "name": "Room m1", "moderatorPW": "mp", "welcome": "w" * 70_000})
    slides = b'<modules><module name="presentation"><document url="https://x.example/a.pdf"/></module></modules>'
    reply = call_api(
        "POST", "/bigbluebutton/api/create", query, body=slides, headers={"content-type": "application/xml"}
    )
    assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "internalError")
    assert store.get_meeting("default", "m1").server_id == "a"
    assert "m1" not in sims[1].meetings
    assert store.get_server("b").load_adjust == 0


def test_a_meeting_placed_anew_keeps_its_moderator_password(store: Any, sims: list[BBBSimulator]) -> None:
    """The LMS may hold the generated moderatorPW from the first create; a re-placement must not change it."""
    register(store, sims[0], "a")
    create("m1")
    first = store.get_meeting("default", "m1").moderator_pw
    register(store, sims[1], "b", load=100)
    store.update_server("a", {"online": False, "load": None})
    assert create("m1").text("returncode") == "SUCCESS"
    assert store.get_meeting("default", "m1").server_id == "b"
    assert sims[1].meetings["m1"].moderator_pw == first


@pytest.mark.parametrize("voice_bridge", ["７１２３４", "71a34", "-7123"])
def test_external_voice_bridge_must_be_digits(
    store: Any, sims: list[BBBSimulator], env: pytest.MonkeyPatch, voice_bridge: str
) -> None:
    env.setenv("USE_EXTERNAL_VOICE_BRIDGE", "true")
    register(store, sims[0], "a")
    reply = create("m1", voiceBridge=voice_bridge)
    assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "validationError")
    assert reply.text("message") == "Voice bridge must be an integer."
    assert store.get_meeting("default", "m1") is None and sims[0].meetings == {}


def test_callback_data_outlives_the_meeting(store: Any, sims: list[BBBSimulator], env: pytest.MonkeyPatch) -> None:
    """Kept by tenant and meetingID with its own TTL (issue 9 item 6): end, the sweep and panic forget the mapping,
    but the recording-ready callback fires only after the recording is processed, long after the end."""
    env.setenv("CALLBACK_DATA_TTL", "7200")
    register(store, sims[0], "a")
    before = int(time.time())
    create("m1", moderatorPW="mp", **{"meta_bbb-recording-ready-url": "https://lms/ready"})
    assert bbb("end", {"meetingID": "m1", "password": "mp"}).text("returncode") == "SUCCESS"
    assert store.get_meeting("default", "m1") is None
    kept = store.get_callbacks("default", "m1")
    assert kept.recording_ready_url == "https://lms/ready" and kept.analytics_callback_url == ""
    assert before + 7200 <= kept.expires_at <= int(time.time()) + 7200
    assert store.get_callbacks("other-tenant", "m1") is None

    # A create of the running meeting that names new URLs replaces them; one that names none keeps them.
    create("m2", moderatorPW="mp")
    assert store.get_callbacks("default", "m2") is None
    create("m2", moderatorPW="mp", **{"meta_canvas-recording-ready-url": "https://canvas/ready"})
    assert store.get_callbacks("default", "m2").recording_ready_url == "https://canvas/ready"
    create("m2", moderatorPW="mp")
    assert store.get_callbacks("default", "m2").recording_ready_url == "https://canvas/ready"
