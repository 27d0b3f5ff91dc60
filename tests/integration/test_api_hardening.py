"""Issue 8: wire fidelity and the attacks a fuzzer and third-party clients found, each through the real handler
with the attack request itself."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from bbbsim import BBBSimulator
from tests.helpers import sign, signed
from tests.integration.api_support import bbb, call_api, query_of, register

pytestmark = pytest.mark.usefixtures("aws")

FORM = {"content-type": "application/x-www-form-urlencoded"}


def create(meeting_id: str, **extra: str) -> Any:
    return bbb("create", {"meetingID": meeting_id, "name": f"Room {meeting_id}", **extra})


# ------------------------------------------------------------------ 11: unsigned body never overrides signed query
def test_get_body_is_never_read_so_an_attendee_url_stays_an_attendee(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1")
    query = signed("join", {"meetingID": "m1", "fullName": "Student", "role": "VIEWER"})
    reply = call_api("GET", "/bigbluebutton/api/join", query, body="role=MODERATOR&fullName=Teacher", headers=FORM)
    assert reply.status == 302
    forwarded = query_of(reply.headers["location"])
    assert forwarded["role"] == "VIEWER" and forwarded["fullName"] == "Student"


def test_post_body_repeating_a_signed_parameter_fails_the_checksum(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    query = signed("create", {"meetingID": "signed", "name": "Room"})
    reply = call_api("POST", "/bigbluebutton/api/create", query, body="meetingID=other&moderatorPW=evil", headers=FORM)
    assert reply.text("messageKey") == "checksumError"
    assert sims[0].meetings == {} and store.get_meeting("default", "signed") is None
    assert store.get_meeting("default", "other") is None


def test_post_with_every_parameter_in_the_body_is_signed_over_the_empty_query(
    store: Any, sims: list[BBBSimulator]
) -> None:
    register(store, sims[0], "a")
    create("m1")
    body = urlencode({"meetingID": "m1"}) + "&" + sign("getMeetingInfo", "")
    reply = call_api("POST", "/bigbluebutton/api/getMeetingInfo", "", body=body, headers=FORM)
    assert reply.text("returncode") == "SUCCESS" and reply.text("meetingID") == "m1"
    # The same body with a checksum computed over the body's parameters is not BBB's rule.
    wrong = sign("getMeetingInfo", urlencode({"meetingID": "m1"})).split("&")[-1]
    reply = call_api("POST", "/bigbluebutton/api/getMeetingInfo", "", body=f"meetingID=m1&{wrong}", headers=FORM)
    assert reply.text("messageKey") == "checksumError"


def test_multipart_body_carries_a_valid_checksum(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1")
    checksum = sign("getMeetingInfo", "").split("=", 1)[1]
    boundary = "XyZ"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in (("meetingID", "m1"), ("checksum", checksum))
    )
    reply = call_api(
        "POST",
        "/bigbluebutton/api/getMeetingInfo",
        "",
        body=parts + f"--{boundary}--\r\n",
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert reply.text("returncode") == "SUCCESS", reply.body


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data\r\n\r\nx"),  # truncated
        ("multipart/form-data", b"no boundary at all"),
        ("application/x-www-form-urlencoded", bytes(range(256))),
    ],
)
def test_odd_bodies_get_a_bbb_answer_not_internal_error(
    store: Any, sims: list[BBBSimulator], content_type: str, body: bytes
) -> None:
    register(store, sims[0], "a")
    create("m1")
    signed_query = signed("getMeetingInfo", {"meetingID": "m1"})
    reply = call_api(
        "POST", "/bigbluebutton/api/getMeetingInfo", signed_query, body=body, headers={"content-type": content_type}
    )
    assert reply.text("returncode") == "SUCCESS", reply.body  # the signed query alone carries the call
    unsigned = call_api(
        "POST", "/bigbluebutton/api/getMeetingInfo", "", body=body, headers={"content-type": content_type}
    )
    assert unsigned.text("messageKey") == "checksumError"


# ------------------------------------------------------------------ 12: no URL handed to BBB built from Host
def test_analytics_callback_url_comes_from_url_host_never_the_host_header(
    store: Any, sims: list[BBBSimulator], env: pytest.MonkeyPatch
) -> None:
    register(store, sims[0], "a")
    env.setenv("URL_HOST", "lb.example.com")
    query = signed("create", {"meetingID": "m1", "name": "R", "meta_analytics-callback-url": "https://lms/an"})
    call_api("GET", "/bigbluebutton/api/create", query, headers={"host": "attacker.example"})
    forwarded = sims[0].calls("create")[-1].params
    assert forwarded["meta_analytics-callback-url"] == ["https://lb.example.com/bigbluebutton/api/analytics_callback"]


def test_without_url_host_the_analytics_callback_is_not_handed_to_bbb(
    store: Any, sims: list[BBBSimulator], env: pytest.MonkeyPatch
) -> None:
    register(store, sims[0], "a")
    env.delenv("URL_HOST", raising=False)
    query = signed("create", {"meetingID": "m1", "name": "R", "meta_analytics-callback-url": "https://lms/an"})
    call_api("GET", "/bigbluebutton/api/create", query, headers={"host": "attacker.example"})
    forwarded = sims[0].calls("create")[-1].params
    assert "meta_analytics-callback-url" not in forwarded
    kept = store.get_callbacks("default", "m1")
    assert (kept.analytics_callback_url, kept.recording_ready_url) == ("https://lms/an", "")


# ------------------------------------------------------------------ 13, 14: odd meetingIDs, size hints
def test_duplicate_meeting_id_maps_the_value_it_forwards(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    reply = bbb("create", [("meetingID", "one"), ("meetingID", "two"), ("name", "R")])
    assert reply.text("returncode") == "SUCCESS"
    assert list(sims[0].meetings) == ["one"] and store.get_meeting("default", "one") is not None
    assert bbb("getMeetingInfo", [("meetingID", "one")]).text("returncode") == "SUCCESS"


def test_meeting_id_whitespace_is_trimmed_as_bbb_does(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    register(store, sims[1], "b")
    assert create(" room \t").text("returncode") == "SUCCESS"
    assert create("room").text("returncode") == "SUCCESS"
    hosting = [sim for sim in sims[:2] if sim.meetings]
    assert len(hosting) == 1 and list(hosting[0].meetings) == ["room"]


@pytest.mark.parametrize(
    ("hint", "extra", "reserved"),
    [
        ("9" * 40, {}, 10_000),
        ("1000000000000000", {}, 10_000),
        ("junk", {}, 15),
        ("-4", {}, 15),
        ("5" * 5000, {}, 10_000),
        ("500", {"maxParticipants": "40"}, 40),
        ("30", {}, 30),
    ],
)
def test_size_hint_is_clamped(
    store: Any, sims: list[BBBSimulator], hint: str, extra: dict[str, str], reserved: int
) -> None:
    register(store, sims[0], "a")
    reply = create("m1", **{"meta_bbb-meeting-size-hint": hint, **extra})
    assert reply.text("returncode") == "SUCCESS", reply.body
    assert store.get_meeting("default", "m1").reserved_users == reserved


# ------------------------------------------------------------------ 1-4: what BBB clients see on the wire
def test_xml_answers_carry_bbb_content_type(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    for reply in (
        call_api("GET", "/bigbluebutton/api"),
        create("m1"),
        bbb("getMeetingInfo", {"meetingID": "nope"}),  # an error
        call_api("GET", "/bigbluebutton/api/nosuchcall"),
        call_api("GET", "/nowhere"),
    ):
        assert reply.headers["content-type"] == "text/xml;charset=utf-8", reply.headers


def test_repeated_slashes_are_accepted(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    query = signed("create", {"meetingID": "m1", "name": "R"})
    assert call_api("GET", "/bigbluebutton/api//create", query).text("returncode") == "SUCCESS"
    assert call_api("GET", "//bigbluebutton//api/").text("version") == "2.0"


def test_join_redirect_is_a_bare_302(store: Any, sims: list[BBBSimulator]) -> None:
    register(store, sims[0], "a")
    create("m1")
    reply = bbb("join", {"meetingID": "m1", "fullName": "U", "role": "VIEWER"})
    assert reply.status == 302 and reply.body == ""
    assert reply.headers["content-type"] == "text/html;charset=utf-8"
    assert reply.headers["location"].startswith(sims[0].url)


def test_recording_calls_answer_as_scalelite_with_no_recordings(store: Any) -> None:
    reply = bbb("getRecordings", {"meetingID": "m1"})
    assert reply.text("returncode") == "SUCCESS" and reply.text("messageKey") == "noRecordings"
    assert reply.xml.find("recordings") is not None
    assert bbb("publishRecordings", {"recordID": "r1", "publish": "true"}).text("messageKey") == "notFound"
    assert bbb("publishRecordings", {"recordID": "r1"}).text("messageKey") == "missingParamPublish"
    assert bbb("publishRecordings", {"publish": "true"}).text("messageKey") == "missingParamRecordID"
    assert bbb("updateRecordings", {"recordID": "r1", "meta_a": "b"}).text("messageKey") == "notFound"
    assert bbb("deleteRecordings", {"recordID": "r1"}).text("messageKey") == "notFound"
    assert bbb("deleteRecordings", {}).text("messageKey") == "missingParamRecordID"
    unsigned = call_api("GET", "/bigbluebutton/api/getRecordings", "meetingID=m1&checksum=00")
    assert unsigned.text("messageKey") == "checksumError"
