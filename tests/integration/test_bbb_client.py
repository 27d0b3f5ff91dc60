"""The BBB client against the simulator: what goes on the wire for short and for very long parameter lists."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bbbsim import BBBSimulator
from scalelite_common.bbb.client import MAX_URL, BBBClient, BBBTransportError, Target

SECRET = "2d7e5c3a-0f0c-4b7e-9d55-6c1c8f0e1a77"


@pytest.fixture
def sim() -> Iterator[BBBSimulator]:
    s = BBBSimulator(SECRET).start()
    yield s
    s.stop()


@pytest.fixture
def client() -> BBBClient:
    return BBBClient(connect_timeout=2, response_timeout=5)


def test_a_normal_create_is_a_signed_get(sim: BBBSimulator, client: BBBClient) -> None:
    client.call(Target(sim.url, SECRET), "create", [("meetingID", "m"), ("name", "Room"), ("welcome", "hi")])
    sent = [r for r in sim.requests if r.call == "create"][-1]
    assert (sent.method, sent.body, sent.params["welcome"]) == ("GET", b"", ["hi"])


def test_a_create_too_long_for_a_url_moves_its_longest_parameters_into_a_form_body(
    sim: BBBSimulator, client: BBBClient
) -> None:
    welcome = "Welcome to <b>the course</b> – " + "x" * 9000
    params = [
        ("meetingID", "long"),
        ("name", "Room"),
        ("welcome", welcome),
        ("meta_bbb-context", "c" * 3000),
        ("meta_bbb-context", "second value"),  # a name moves with all its values: BBB refuses it in both places
        ("record", "true"),
    ]
    client.call(Target(sim.url, SECRET), "create", params)  # SUCCESS: the simulator checked the checksum
    sent = [r for r in sim.requests if r.call == "create"][-1]
    assert sent.method == "POST" and sent.content_type == "application/x-www-form-urlencoded"
    assert len(sim.url) + len("create?") + len(sent.raw_query) <= MAX_URL
    assert sent.params["meetingID"] == ["long"] and sent.params["record"] == ["true"]  # short ones stay in the URL
    assert "welcome" not in sent.params
    meeting = sim.meetings["long"]
    assert meeting.name == "Room"


def test_the_meeting_id_always_stays_in_the_query(sim: BBBSimulator, client: BBBClient) -> None:
    """BBB 2.5-2.7.7 signs a canonical form of every parameter when the query string is empty."""
    params = [("meetingID", "m2"), ("name", "N" * 7000)]
    client.call(Target(sim.url, SECRET), "create", params)
    sent = [r for r in sim.requests if r.call == "create"][-1]
    assert sent.method == "POST" and sent.params["meetingID"] == ["m2"] and "name" not in sent.params


def test_a_call_that_takes_no_form_body_keeps_its_long_url(sim: BBBSimulator, client: BBBClient) -> None:
    """join is GET only on current BBB (POST was removed in 2.6.18): it is never moved, and a server that refuses
    the URL is a transport failure as before."""
    with pytest.raises(BBBTransportError):
        client.request(Target(sim.url, SECRET), "join", [("meetingID", "m"), ("fullName", "F" * 70_000)])
    assert not [r for r in sim.requests if r.call == "join" and r.method == "POST"]
