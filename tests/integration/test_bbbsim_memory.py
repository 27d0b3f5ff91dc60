"""The BBB simulator's memory is bounded by what is live, not by what it served: a request history of at most
`history` requests, bodies recorded cut to `max_recorded_body` (with the whole body's size and digest), uploaded
documents kept as a `Document` (size, SHA-256, first bytes), ended meetings dropped."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Iterator

import pytest

from bbbsim import BBBSimulator, Document
from bbbsim.server import HISTORY

SECRET = "bbbsim-memory-secret"
KEEP = 1024


@pytest.fixture
def sim() -> Iterator[BBBSimulator]:
    s = BBBSimulator(SECRET, poll_interval=0.05, history=5, max_recorded_body=KEEP).start()
    yield s
    s.stop()


def call(sim: BBBSimulator, name: str, query: str, body: bytes | None = None) -> bytes:
    checksum = hashlib.sha1(f"{name}{query}{sim.secret}".encode()).hexdigest()
    headers = {"Content-Type": "application/xml"} if body is not None else {}
    request = urllib.request.Request(f"{sim.url}{name}?{query}&checksum={checksum}", body, headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        reply: bytes = response.read()
    assert b"<returncode>SUCCESS</returncode>" in reply, reply
    return reply


def slides(size: int) -> bytes:
    head = b'<?xml version="1.0" encoding="UTF-8"?><modules><module name="presentation"><document name="a.pdf">'
    tail = b"</document></module></modules>"
    return head + os.urandom(size).hex().encode()[: size - len(head) - len(tail)] + tail


def test_the_history_keeps_only_the_last_requests(sim: BBBSimulator) -> None:
    for i in range(12):
        call(sim, "getMeetings", f"n={i}")
    assert [r.raw_query.split("&")[0] for r in sim.requests] == [f"n={i}" for i in range(7, 12)]
    assert len(sim.calls("getMeetings")) == 5


def test_the_default_history_is_bounded() -> None:
    assert BBBSimulator(SECRET).requests.maxlen == HISTORY


def test_a_large_body_is_recorded_cut_with_its_size_and_digest(sim: BBBSimulator) -> None:
    call(sim, "create", "meetingID=m&name=M")
    document = slides(200_000)
    call(sim, "insertDocument", "meetingID=m", document)
    (recorded,) = sim.calls("insertDocument")
    assert recorded.body == document[:KEEP]
    assert recorded.body_size == len(document)
    assert recorded.body_sha256 == hashlib.sha256(document).hexdigest()
    assert recorded.truncated


def test_a_small_body_is_recorded_whole_and_no_body_as_nothing(sim: BBBSimulator) -> None:
    call(sim, "create", "meetingID=m&name=M")
    call(sim, "insertDocument", "meetingID=m", b"<modules/>")
    (recorded,) = sim.calls("insertDocument")
    assert (recorded.body, recorded.body_size, recorded.truncated) == (b"<modules/>", 10, False)
    (created,) = sim.calls("create")
    assert (created.body, created.body_size, created.body_sha256, created.truncated) == (b"", 0, "", False)


def test_creates_modules_body_is_kept_as_a_document_that_matches_it(sim: BBBSimulator) -> None:
    document = slides(300_000)
    call(sim, "create", "meetingID=m&name=M", document)
    modules = sim.meetings["m"].modules
    assert isinstance(modules, Document)
    assert modules.matches(document)
    assert not modules.matches(document[:-1] + b"!")  # same size, other bytes
    assert not modules.matches(document + b" ")
    assert (modules.size, modules.head) == (len(document), document[:KEEP])
    assert sim.requests[-1].body_size == len(document)


def test_an_ended_meeting_is_forgotten(sim: BBBSimulator) -> None:
    call(sim, "create", "meetingID=m&name=M", slides(50_000))
    call(sim, "end", "meetingID=m")
    assert "m" not in sim.meetings
