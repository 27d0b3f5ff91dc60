"""The BBB simulator answers like BBB: checksum rules, calls, XML, faults, control endpoints, scale."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import TypedDict
from urllib.parse import urlencode

import pytest
from defusedxml import ElementTree

from bbbsim import BBBSimulator, Meeting, start_simulators, stop_simulators

SECRET = "639259d4-9dd8-4b25-bf01-95f9567eaf4b"


@pytest.fixture
def sim() -> Iterator[BBBSimulator]:
    s = BBBSimulator(SECRET, poll_interval=0.05).start()
    yield s
    s.stop()


def get(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Upload(TypedDict):
    data: bytes
    headers: dict[str, str]


def call(
    sim: BBBSimulator,
    name: str,
    query: str,
    algorithm: str = "sha1",
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> ElementTree:
    checksum = hashlib.new(algorithm, f"{name}{query}{sim.secret}".encode()).hexdigest()
    sep = "&" if query else ""
    status, body = get(f"{sim.url}{name}?{query}{sep}checksum={checksum}", data=data, headers=headers)
    assert status in (200, 302)
    return ElementTree.fromstring(body) if body else None


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha384", "sha512"])
def test_documented_create_vector_for_every_algorithm(sim: BBBSimulator, algorithm: str) -> None:
    doc = call(sim, "create", "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444", algorithm)
    assert doc.findtext("returncode") == "SUCCESS"
    assert sim.meetings["abc123"].name == "Test Meeting"


def test_raw_query_is_hashed_as_sent(sim: BBBSimulator) -> None:
    assert call(sim, "create", "name=A%20B&meetingID=m1").findtext("returncode") == "SUCCESS"
    signed_plus = hashlib.sha1(f"createname=A+B&meetingID=m2{SECRET}".encode()).hexdigest()
    _, body = get(f"{sim.url}create?name=A%20B&meetingID=m2&checksum={signed_plus}")
    assert ElementTree.fromstring(body).findtext("messageKey") == "checksumError"


def test_algorithm_restriction_and_bad_lengths() -> None:
    with BBBSimulator(SECRET, supported_algorithms=("sha256",), poll_interval=0.05) as s:
        assert call(s, "getMeetings", "").findtext("messageKey") == "checksumError"
        assert call(s, "getMeetings", "", "sha256").findtext("returncode") == "SUCCESS"
        _, body = get(f"{s.url}getMeetings?checksum=abc")
        assert ElementTree.fromstring(body).findtext("messageKey") == "checksumError"


def test_index_needs_no_checksum(sim: BBBSimulator) -> None:
    _, body = get(sim.url)
    doc = ElementTree.fromstring(body)
    assert (doc.findtext("version"), doc.findtext("bbbVersion")) == ("2.0", "3.0.19")


def test_meeting_lifecycle(sim: BBBSimulator) -> None:
    call(sim, "create", urlencode({"meetingID": "m", "name": "Room", "moderatorPW": "mp", "meta_Origin": "x"}))
    assert sim.meetings["m"].metadata == {"origin": "x"}
    dup = call(sim, "create", urlencode({"meetingID": "m", "name": "Room"}))
    assert dup.findtext("messageKey") == "duplicateWarning"
    clash = call(sim, "create", urlencode({"meetingID": "m", "name": "Room", "moderatorPW": "other"}))
    assert clash.findtext("messageKey") == "idNotUnique"
    assert call(sim, "isMeetingRunning", "meetingID=m").findtext("running") == "false"
    query = urlencode({"meetingID": "m", "fullName": "Ada", "password": "mp", "userdata-bbbsim_video": "true"})
    checksum = hashlib.sha1(f"join{query}{SECRET}".encode()).hexdigest()
    status, _ = get(f"{sim.url}join?{query}&checksum={checksum}")
    assert status == 302
    info = call(sim, "getMeetingInfo", "meetingID=m")
    assert (info.findtext("participantCount"), info.findtext("moderatorCount"), info.findtext("videoCount")) == (
        "1",
        "1",
        "1",
    )
    assert call(sim, "isMeetingRunning", "meetingID=m").findtext("running") == "true"
    assert len(call(sim, "getMeetings", "").findall("meetings/meeting")) == 1
    assert call(sim, "sendChatMessage", "meetingID=m&message=hi").findtext("returncode") == "SUCCESS"
    doc = call(sim, "insertDocument", "meetingID=m", data=b"<modules/>", headers={"Content-Type": "application/xml"})
    assert doc.findtext("returncode") == "SUCCESS"
    assert call(sim, "end", "meetingID=m").findtext("messageKey") == "sentEndMeetingRequest"
    assert call(sim, "getMeetingInfo", "meetingID=m").findtext("messageKey") == "notFound"
    assert call(sim, "getMeetings", "").findtext("messageKey") == "noMeetings"
    assert [r.call for r in sim.requests][:2] == ["create", "create"]


def test_chat_needs_a_joined_attendee(sim: BBBSimulator) -> None:
    call(sim, "create", urlencode({"meetingID": "m", "name": "Room"}))
    doc = call(sim, "sendChatMessage", "meetingID=m&message=hi")
    assert (doc.findtext("returncode"), doc.findtext("messageKey")) == ("FAILED", "notFound")
    assert call(sim, "sendChatMessage", "meetingID=x&message=hi").findtext("messageKey") == "notFound"
    sim.add_attendee("m", "Ada")
    assert call(sim, "sendChatMessage", "meetingID=m&message=hi").findtext("returncode") == "SUCCESS"


def test_insert_document_with_presentation_disabled(sim: BBBSimulator) -> None:
    call(sim, "create", urlencode({"meetingID": "m", "name": "Room", "disabledFeatures": "chat, presentation"}))
    call(sim, "create", urlencode({"meetingID": "n", "name": "Room", "disabledFeatures": "chat,polls"}))
    xml: Upload = {"data": b"<modules/>", "headers": {"Content-Type": "application/xml"}}
    doc = call(sim, "insertDocument", "meetingID=m", **xml)
    assert (doc.findtext("returncode"), doc.findtext("messageKey")) == ("FAILED", "presentationDisabled")
    assert call(sim, "insertDocument", "meetingID=n", **xml).findtext("returncode") == "SUCCESS"


def test_content_type_rules(sim: BBBSimulator) -> None:
    doc = call(sim, "insertDocument", "meetingID=m", data=b"a=1", headers={"Content-Type": "application/json"})
    assert doc.findtext("messageKey") == "unsupportedContentType"


def test_faults(sim: BBBSimulator) -> None:
    sim.add_meeting("m")
    sim.set_fault("failed", calls=["getMeetingInfo"], message_key="boom")
    assert call(sim, "getMeetingInfo", "meetingID=m").findtext("messageKey") == "boom"
    assert call(sim, "getMeetings", "").findtext("returncode") == "SUCCESS"
    sim.set_fault("malformed")
    _, body = get(sim.url + "getMeetings?checksum=x")
    with pytest.raises(Exception):
        ElementTree.fromstring(body)
    sim.set_fault("hang")
    started = time.monotonic()
    with pytest.raises(OSError):
        urllib.request.urlopen(sim.url + "getMeetings", timeout=0.5)
    assert time.monotonic() - started < 2
    sim.set_fault("down")
    with pytest.raises(OSError):
        urllib.request.urlopen(sim.url, timeout=2)
    sim.set_fault(None)
    assert get(sim.url)[0] == 200


def test_control_endpoints(sim: BBBSimulator) -> None:
    sim.add_meeting("m", participants=3)
    _, body = get(sim.base_url + "/_bbbsim/state")
    assert json.loads(body)["meetings"][0]["participants"] == 3
    get(sim.base_url + "/_bbbsim/latency", data=json.dumps({"seconds": 0.2}).encode())
    assert sim.latency == 0.2
    get(sim.base_url + "/_bbbsim/fault", data=json.dumps({"fault": "failed"}).encode())
    assert sim.fault == "failed"
    get(sim.base_url + "/_bbbsim/reset", data=b"{}")
    # A fresh tuple: mypy still narrows sim.fault to str from the `== "failed"` assert above.
    state: tuple[str | None, dict[str, Meeting], float] = (sim.fault, sim.meetings, sim.latency)
    assert state == (None, {}, 0.0)


def test_two_hundred_simulators_start_and_stop_quickly() -> None:
    started = time.monotonic()
    sims = start_simulators(200, secret=SECRET)
    try:
        assert len({s.port for s in sims}) == 200
        assert get(sims[-1].url)[0] == 200
    finally:
        stop_simulators(sims)
    assert time.monotonic() - started < 10
