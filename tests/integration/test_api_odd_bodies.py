"""Issue 8 item 15: odd bodies, content types, methods and checksums through the real handler (API Gateway v2 event
→ Mangum → app), each answered as BBB answers it: never `internalError`, never anything but BBB XML (join's 302
aside), HTTP 200 with a proper messageKey for every BBB error, and a valid body-only POST accepted.

Deterministic: a grid over every call name and verb, a grid over every content type × body for each content-type
rule, every POST call signed in its body, a seeded random sample of the whole product (call × verb × content type
× body × where the checksum travels × base64 or not), and a list of nasty cases with exact answers. The oracle is
bbb-api.md §1.4: unknown call or verb, then content type, then checksum, then the call itself."""

from __future__ import annotations

import base64
import itertools
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from bbbsim import BBBSimulator
from scalelite_api.routes.bigbluebutton import CALLS
from tests.conftest import FakeLambdaContext
from tests.helpers import http_event, sign, signed
from tests.integration.api_support import bbb, ensure_event_loop
from tests.integration.conftest import add_server as register

pytestmark = pytest.mark.usefixtures("aws")

SEED = 20240815
BOUNDARY = "XyZ-b0undary"
XML_CONTENT_TYPE = "text/xml;charset=utf-8"
FORM = "application/x-www-form-urlencoded"
MP = f"multipart/form-data; boundary={BOUNDARY}"

# The parameters each call is signed with, and what it answers once content type and checksum pass (the fixture
# creates meeting `m1`; `nope` never exists). Chosen so that the grids never wait on a BBB server, yet each answer
# is one only a request that passed both checks gets. `SUCCESS:<messageKey>` / `FAILED:<messageKey>` / `302`.
PARAMS: dict[str, list[tuple[str, str]]] = {
    "create": [("name", "Fuzz room")],
    "join": [("meetingID", "m1"), ("fullName", "U"), ("role", "VIEWER")],
    "end": [("meetingID", "nope"), ("password", "pw")],
    "isMeetingRunning": [("meetingID", "nope")],
    "getMeetingInfo": [("meetingID", "nope")],
    "getMeetings": [],
    "insertDocument": [("meetingID", "nope")],
    "sendChatMessage": [("meetingID", "nope"), ("message", "hi")],
    "getRecordings": [("meetingID", "m1")],
    "publishRecordings": [("recordID", "r1"), ("publish", "true")],
    "updateRecordings": [("recordID", "r1")],
    "deleteRecordings": [("recordID", "r1")],
    "getRecordingTextTracks": [("recordID", "r1")],
    "putRecordingTextTrack": [("recordID", "r1"), ("kind", "subtitles"), ("lang", "en")],
}
OUTCOME: dict[str, str] = {
    "create": "FAILED:missingParamMeetingID",
    "join": "302",
    "end": "FAILED:notFound",
    "isMeetingRunning": "SUCCESS:",
    "getMeetingInfo": "FAILED:notFound",
    "getMeetings": "SUCCESS:",
    "insertDocument": "FAILED:notFound",
    "sendChatMessage": "FAILED:notFound",
    "getRecordings": "SUCCESS:noRecordings",
    "publishRecordings": "FAILED:notFound",
    "updateRecordings": "FAILED:notFound",
    "deleteRecordings": "FAILED:notFound",
    "getRecordingTextTracks": "FAILED:noRecordings",  # JSON, as BBB answers the text-track calls
    "putRecordingTextTrack": "FAILED:noRecordings",
}
# No BBB call we serve.
UNKNOWN_CALLS = ("nosuchcall", "CREATE", "create.xml", "getJoinUrl", "%00", "%ff%fe")
CALL_NAMES = (*CALLS, *UNKNOWN_CALLS)
METHODS = ("GET", "POST", "PUT")
ALL_METHODS = (*METHODS, "HEAD", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO")

CONTENT_TYPES: tuple[str | None, ...] = (
    None,
    "",
    "   ",
    FORM,
    f"{FORM}; charset=UTF-8",
    "Application/X-WWW-Form-URLEncoded;CHARSET=latin-1",
    f"{FORM}; charset=no-such-charset",
    f"{FORM}; charset=utf-16",
    f"{FORM}; charset=utf-7",
    f'{FORM}; charset="idna"',
    f"{FORM}; charset=a\x00b",
    f"{FORM}; charset={'x' * 5000}",
    MP,
    f'Multipart/Form-Data; BOUNDARY="{BOUNDARY}"; charset=utf-8',
    f"multipart/form-data; charset=no-such-charset; boundary={BOUNDARY}",
    f"multipart/form-data; boundary={BOUNDARY}; charset=utf-16",
    f"multipart/form-data; charset=\x00; boundary={BOUNDARY}",
    "multipart/form-data; boundary=charset-in-the-boundary",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=other",
    'multipart/form-data; boundary="unterminated',
    "multipart/form-data;;;boundary",
    f"multipart/mixed; boundary={BOUNDARY}",
    "text/xml",
    "text/xml; charset=utf-8",
    "application/xml",
    "APPLICATION/XML; charset=ISO-8859-1",
    "application/json",
    "application/octet-stream",
    "text/plain",
    "garbage",
    ";;;",
    f"{FORM}, text/xml",
    "\u00e9/\u00e8; boundary=\u00e9",
)


def multipart(parts: Iterable[tuple[str, bytes | str, str | None]], boundary: str = BOUNDARY) -> bytes:
    """A multipart/form-data body of (name, value, filename) parts; a part with a filename is a file part."""
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        data = value.encode() if isinstance(value, str) else value
        kind = b"Content-Type: application/octet-stream\r\n" if filename is not None else b""
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode() + kind + b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


_rng = random.Random(SEED)
# Bodies carrying no parameter any call is signed with (so they never clash with a signed query).
BODIES: dict[str, bytes] = {
    "empty": b"",
    "random-64": _rng.randbytes(64),
    "random-4k": _rng.randbytes(4096),
    "invalid-utf8": b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc",
    "nuls": b"\x00" * 256,
    "nul-form": b"meta_x=\x00\x00&\x00=\x00",
    "form": b"meta_fuzz=1&meta_other=%C3%A9",
    "form-odd": b"&&==&=&%%%%&a=%ZZ&b=%C3&%00=%ff&+=+",
    "form-invalid-utf8-values": b"meta_a=\xff\xfe&meta_b=%ff%fe",
    "huge-field-name": b"meta_" + b"n" * 200_000 + b"=1",
    "huge-multipart-field-name": multipart([("meta_" + "n" * 100_000, "1", None)]),
    "multipart": multipart([("meta_fuzz", "1", None), ("meta_x", "\u00e9\x00", None)]),
    "multipart-invalid-utf8": multipart([("meta_a", b"\xff\xfe\x00", None), ("meta_\xff", "x", None)]),
    "multipart-file": multipart([("meta_a", "1", None), ("presentation", _rng.randbytes(512), "slides.pdf")]),
    "multipart-truncated": multipart([("meta_fuzz", "1", None)])[:-20],
    "multipart-no-name": f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
    "multipart-garbage-headers": f"--{BOUNDARY}\r\n\x00\xff: ::\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode("latin-1"),
    "multipart-only-boundary": f"--{BOUNDARY}--".encode(),
    "xml": b'<?xml version="1.0" encoding="UTF-8"?><modules><module name="presentation"></module></modules>',
    "xml-broken": b"<modules><module name=",
    "xml-entities": b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;&a;</x>',
    "json": b'{"meta_fuzz": "1", "nested": {"a": [1, 2]}}',
    "crlf-only": b"\r\n\r\n",
}
# Where the checksum travels: the query (signed as usual), the body only (everything in the body, signed over the
# empty query), a wrong one, none, or the signed query repeated in the body.
AUTHS = ("query", "body", "wrong", "missing", "both")


@dataclass(frozen=True)
class Case:
    call: str
    method: str
    content_type: str | None
    body_name: str
    auth: str
    force_base64: bool = False  # API Gateway base64-encodes what it deems binary; do it for every type too

    def label(self) -> str:
        b64 = " b64" if self.force_base64 else ""
        return f"{self.method} {self.call} ct={self.content_type!r} body={self.body_name} auth={self.auth}{b64}"


def media(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def body_and_query(case: Case) -> tuple[bytes, str]:
    params = PARAMS.get(case.call, [("meetingID", "m1")])
    call_sig = case.call if case.call in CALLS else "getMeetingInfo"
    body = BODIES[case.body_name]
    if case.auth == "query":
        return body, signed(call_sig, params)
    if case.auth == "wrong":
        return body, signed(call_sig, params, secret="not-the-secret")
    if case.auth == "missing":
        return body, urlencode(params)
    good = sign(call_sig, "").split("=", 1)[1]
    fields = [*params, ("checksum", good)] if case.auth == "body" else parse_qsl(signed(call_sig, params))
    if media(case.content_type) == "multipart/form-data":
        body = multipart(((k, v, None) for k, v in fields), BOUNDARY if BOUNDARY in (case.content_type or "") else "x")
    else:
        body = urlencode(fields).encode()
    return body, ("" if case.auth == "body" else signed(call_sig, params))


def oracle(case: Case, body: bytes) -> str:
    call = CALLS.get(case.call)
    if call is None or case.method not in call.methods:
        return "FAILED:unsupportedRequest"
    if case.method == "POST" and body and call.content_types and media(case.content_type) not in call.content_types:
        return "FAILED:unsupportedContentType"
    # A body is read only where BBB reads one: a POST of a form it can parse (any declared charset).
    readable = case.method == "POST" and (
        media(case.content_type) == FORM
        or (media(case.content_type) == "multipart/form-data" and BOUNDARY in (case.content_type or ""))
    )
    # `both`, read: a name in both the query and the body fails the checksum check.
    if not {"query": True, "body": readable, "both": not readable}.get(case.auth, False):
        return "FAILED:checksumError"
    return OUTCOME[case.call]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def invoke(
    method: str, call: str, content_type: str | None, body: bytes, query: str, *, force_base64: bool = False
) -> Answer:
    from scalelite_api.handler import handler

    headers = {} if content_type is None else {"content-type": content_type}
    event = http_event(method, f"/bigbluebutton/api/{call}", query, body=body, headers=headers)
    if force_base64 and body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    ensure_event_loop()
    result: dict[str, Any] = handler(event, FakeLambdaContext())
    raw = result.get("body") or ""
    data = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
    return Answer(int(result["statusCode"]), {k.lower(): str(v) for k, v in result.get("headers", {}).items()}, data)


def outcome(answer: Answer) -> str:
    """`302`, `SUCCESS:<key>` or `FAILED:<key>`; AssertionError for anything that is not a proper BBB answer."""
    from defusedxml import ElementTree

    if answer.status == 302:
        assert answer.headers.get("location", "").startswith("http"), answer.headers
        assert answer.body == b"", answer.body
        return "302"
    assert answer.status == 200, f"HTTP {answer.status}"
    if answer.headers.get("content-type") == "application/json":  # the text-track calls answer in JSON
        response = json.loads(answer.body)["response"]
        assert response["returncode"] in ("SUCCESS", "FAILED") and response.get("message"), answer.body[:200]
        return f"{response['returncode']}:{response.get('messageKey', '')}"
    assert answer.headers.get("content-type") == XML_CONTENT_TYPE, answer.headers
    root = ElementTree.fromstring(answer.body)
    returncode, key = root.findtext("returncode"), root.findtext("messageKey") or ""
    assert root.tag == "response" and returncode in ("SUCCESS", "FAILED"), answer.body[:200]
    if returncode == "FAILED":
        assert key and key != "internalError" and root.findtext("message"), answer.body[:300]
    return f"{returncode}:{key}"


def run(cases: Iterable[Case]) -> int:
    failures: list[str] = []
    count = 0
    for case in cases:
        count += 1
        body, query = body_and_query(case)
        try:
            got = outcome(
                invoke(case.method, case.call, case.content_type, body, query, force_base64=case.force_base64)
            )
        except AssertionError as exc:
            got = f"not a BBB answer: {exc}"
        if got != (want := oracle(case, body)):
            failures.append(f"{case.label()}: got {got}, want {want}")
    assert not failures, f"{len(failures)}/{count} cases answered wrong:\n" + "\n".join(failures[:40])
    return count


@pytest.fixture
def lb(store: Any, sims: list[BBBSimulator]) -> BBBSimulator:
    register(store, sims[0], "a")
    assert bbb("create", {"meetingID": "m1", "name": "Room"}).text("returncode") == "SUCCESS"
    return sims[0]


# ------------------------------------------------------------------ grids
def test_every_call_name_verb_and_checksum_without_a_body(lb: BBBSimulator) -> None:
    cases = [
        Case(call, method, None, "empty", auth)
        for call, method, auth in itertools.product(CALL_NAMES, ALL_METHODS, ("query", "wrong", "missing"))
    ]
    assert run(cases) == len(CALL_NAMES) * len(ALL_METHODS) * 3


def test_every_content_type_and_body_on_a_signed_post(lb: BBBSimulator) -> None:
    """One call per content-type rule: forms (getMeetingInfo), forms + XML (create), XML only (insertDocument)."""
    grid = itertools.product(("getMeetingInfo", "create", "insertDocument"), CONTENT_TYPES, BODIES)
    cases = [
        Case(call, "POST", content_type, body_name, "query", force_base64=i % 3 == 0)
        for i, (call, content_type, body_name) in enumerate(grid)
    ]
    assert run(cases) == 3 * len(CONTENT_TYPES) * len(BODIES)


def test_a_body_only_post_signed_over_the_empty_query_is_accepted_by_every_post_call(lb: BBBSimulator) -> None:
    form_types = [ct for ct in CONTENT_TYPES if media(ct) in (FORM, "multipart/form-data")]
    post_calls = [name for name, spec in CALLS.items() if "POST" in spec.methods]
    cases = [
        Case(call, "POST", content_type, "empty", auth, force_base64=b64)
        for call, content_type, auth, b64 in itertools.product(post_calls, form_types, ("body", "both"), (False, True))
    ]
    assert run(cases) == len(cases)


def test_seeded_random_sample_of_everything(lb: BBBSimulator) -> None:
    rng = random.Random(SEED + 1)
    cases = [
        Case(
            rng.choice(CALL_NAMES),
            rng.choice(METHODS),
            rng.choice(CONTENT_TYPES),
            rng.choice(list(BODIES)),
            rng.choice(AUTHS),
            force_base64=rng.random() < 0.3,
        )
        for _ in range(800)
    ]
    assert run(cases) == 800


# ------------------------------------------------------------------ nasty cases, exact answers
GMI = sign("getMeetingInfo", "").split("=", 1)[1]  # getMeetingInfo signed over the empty query
CREATE = sign("create", "").split("=", 1)[1]
M1_QUERY = signed("getMeetingInfo", {"meetingID": "m1"})
_file = random.Random(SEED).randbytes(2048)


def _mp(*fields: tuple[str, bytes | str] | tuple[str, bytes | str, str]) -> bytes:
    return multipart((f[0], f[1], f[2] if len(f) == 3 else None) for f in fields)


# (label, method, call, content type, body, query, expected)
NASTY: list[tuple[str, str, str, str | None, bytes, str, str]] = [
    (
        "multipart body-only: params + checksum",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("meetingID", "m1"), ("checksum", GMI)),
        "",
        "SUCCESS:",
    ),
    (
        "multipart body-only: values sanitised as BBB does",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("meetingID", " m1\x00 "), ("checksum", f" {GMI}\r\n")),
        "",
        "SUCCESS:",
    ),
    (
        "multipart body-only: checksum in upper case",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("meetingID", "m1"), ("checksum", GMI.upper())),
        "",
        "SUCCESS:",
    ),
    (
        "multipart body-only: file parts around the fields",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("f", _file, "x.bin"), ("meetingID", "m1"), ("checksum", GMI), ("g", b"\x00\xff", "y.bin")),
        "",
        "SUCCESS:",
    ),
    (
        "multipart body-only: a field over 1 MB",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("meta_big", "x" * 1_500_000), ("meetingID", "m1"), ("checksum", GMI)),
        "",
        "SUCCESS:",
    ),
    (
        "multipart body-only: 1,500 fields",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(*[(f"meta_{i}", "x") for i in range(1500)], ("meetingID", "m1"), ("checksum", GMI)),
        "",
        "SUCCESS:",
    ),
    (
        "multipart body-only: create (of the running m1: every case runs twice)",
        "POST",
        "create",
        MP,
        _mp(("meetingID", "m1"), ("name", "Room"), ("checksum", CREATE)),
        "",
        "SUCCESS:duplicateWarning",
    ),
    (
        "multipart body-only: checksum as a file part is no parameter",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("meetingID", "m1"), ("checksum", GMI, "c.txt")),
        "",
        "FAILED:checksumError",
    ),
    (
        "multipart body-only: checksum of non-ASCII text",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("meetingID", "m1"), ("checksum", "\u00e9" * 40)),
        "",
        "FAILED:checksumError",
    ),
    (
        "multipart body-only: checksum of invalid UTF-8",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("meetingID", "m1"), ("checksum", b"\xff" * 40)),
        "",
        "FAILED:checksumError",
    ),
    (
        "multipart body-only: no meetingID",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("checksum", GMI)),
        "",
        "FAILED:missingParamMeetingID",
    ),
    (
        "multipart body-only: meetingID of 257 characters",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("meetingID", "m" * 257), ("checksum", GMI)),
        "",
        "FAILED:validationError",
    ),
    (
        "multipart body-only: create, meetingID of 3,000 characters",
        "POST",
        "create",
        MP,
        _mp(("meetingID", "m" * 3000), ("name", "R"), ("checksum", CREATE)),
        "",
        "FAILED:validationError",
    ),
    (
        "multipart repeating a signed query parameter",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("meetingID", "other")),
        M1_QUERY,
        "FAILED:checksumError",
    ),
    (
        "multipart repeating the query's checksum",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("checksum", GMI)),
        M1_QUERY,
        "FAILED:checksumError",
    ),
    (
        "query params, checksum (over the query) in the body",
        "POST",
        "getMeetingInfo",
        MP,
        _mp(("checksum", M1_QUERY.rsplit("=", 1)[1])),
        "meetingID=m1",
        "SUCCESS:",
    ),
    (
        "urlencoded body-only: checksum of invalid UTF-8",
        "POST",
        "getMeetingInfo",
        FORM,
        b"meetingID=m1&checksum=" + b"\xff" * 40,
        "",
        "FAILED:checksumError",
    ),
    (
        "urlencoded body-only: checksum percent-encoding invalid UTF-8",
        "POST",
        "getMeetingInfo",
        FORM,
        b"meetingID=m1&checksum=" + b"%ff" * 40,
        "",
        "FAILED:checksumError",
    ),
    (
        "urlencoded body-only: blank meetingID",
        "POST",
        "getMeetingInfo",
        FORM,
        f"meetingID=%00%20&checksum={GMI}".encode(),
        "",
        "FAILED:missingParamMeetingID",
    ),
    (
        "urlencoded body-only: meetingID of 129 emoji (258 UTF-16 units)",
        "POST",
        "getMeetingInfo",
        FORM,
        urlencode({"meetingID": "\U0001f600" * 129, "checksum": GMI}).encode(),
        "",
        "FAILED:validationError",
    ),
    (
        "urlencoded body-only: meetingID of 256 characters",
        "POST",
        "getMeetingInfo",
        FORM,
        urlencode({"meetingID": "\u00e9" * 256, "checksum": GMI}).encode(),
        "",
        "FAILED:notFound",
    ),
    (
        "urlencoded body-only: create, meetingID of 100,000 characters",
        "POST",
        "create",
        FORM,
        urlencode({"meetingID": "m" * 100_000, "name": "R", "checksum": CREATE}).encode(),
        "",
        "FAILED:validationError",
    ),
    (
        "urlencoded body of 5 MB next to a signed query",
        "POST",
        "getMeetingInfo",
        FORM,
        b"meta_big=" + b"y" * 5_000_000,
        M1_QUERY,
        "SUCCESS:",
    ),
    (
        "query checksum percent-encoding a lone surrogate",
        "GET",
        "getMeetingInfo",
        None,
        b"",
        "meetingID=m1&checksum=" + "%ed%a0%80" * 40,
        "FAILED:checksumError",
    ),
    (
        "query checksum of raw non-ASCII",
        "GET",
        "getMeetingInfo",
        None,
        b"",
        "meetingID=m1&checksum=" + "\u00ff" * 40,
        "FAILED:checksumError",
    ),
    (
        "signed query, meetingID of 3,000 characters",
        "GET",
        "join",
        None,
        b"",
        signed("join", {"meetingID": "m" * 3000, "fullName": "U"}),
        "FAILED:validationError",
    ),
    (
        "create with a binary XML body",
        "POST",
        "create",
        "application/xml",
        _file,
        signed("create", {"meetingID": "m1", "name": "Room"}),
        "SUCCESS:duplicateWarning",
    ),
    (
        "insertDocument with a binary body",
        "POST",
        "insertDocument",
        "text/xml",
        _file,
        signed("insertDocument", {"meetingID": "m1"}),
        "SUCCESS:",
    ),
    (
        "join POST with a valid multipart body (join is GET only)",
        "POST",
        "join",
        MP,
        _mp(("meetingID", "m1"), ("checksum", GMI)),
        "",
        "FAILED:unsupportedRequest",
    ),
    (
        "GET with a signed multipart body (a GET body is never read)",
        "GET",
        "getMeetingInfo",
        MP,
        _mp(("meetingID", "m1"), ("checksum", GMI)),
        "",
        "FAILED:checksumError",
    ),
]


def test_nasty_cases(lb: BBBSimulator) -> None:
    failures = []
    for label, method, call, content_type, body, query, expected in NASTY:
        for force_base64 in (False, True):
            try:
                got = outcome(invoke(method, call, content_type, body, query, force_base64=force_base64))
            except AssertionError as exc:
                got = f"not a BBB answer: {exc}"
            if got != expected:
                failures.append(f"{label}{' (b64)' if force_base64 else ''}: got {got}, want {expected}")
    assert not failures, "\n".join(failures)


def test_a_form_body_is_decoded_in_its_declared_charset(lb: BBBSimulator) -> None:
    """As Tomcat decodes a form by the Content-Type's charset; what the LB forwards is what the client meant."""
    tail = f"&checksum={CREATE}".encode()
    name = "Caf\u00e9 \u00e9"
    for meeting_id, content_type, body in (
        ("latin", f"{FORM}; charset=ISO-8859-1", b"meetingID=latin&name=Caf%E9+\xe9" + tail),
        ("utf8", FORM, b"meetingID=utf8&name=Caf%C3%A9+\xc3\xa9" + tail),
        (
            "mp-latin",
            f"{MP}; charset=latin-1",
            _mp(("meetingID", "mp-latin"), ("name", name.encode("latin-1")), ("checksum", CREATE)),
        ),
    ):
        assert outcome(invoke("POST", "create", content_type, body, "")) == "SUCCESS:", meeting_id
        assert lb.meetings[meeting_id].name == name, meeting_id


def test_a_create_with_a_long_body_parameter_reaches_bbb(lb: BBBSimulator) -> None:
    """Forwarded as a GET, its URL would be too long for the BBB server (HTTP 414): the client moves the long
    parameter into a form body (bbb/client.py)."""
    body = urlencode({"meetingID": "long", "name": "R", "welcome": "w" * 70_000, "checksum": CREATE}).encode()
    assert outcome(invoke("POST", "create", FORM, body, "")) == "SUCCESS:"
    (forwarded,) = [r for r in lb.requests if r.call == "create" and r.params.get("meetingID") == ["long"]]
    assert forwarded.method == "POST" and len(forwarded.raw_query) < 6144
    assert forwarded.body.startswith(b"welcome=www") and forwarded.body_size == len("welcome=") + 70_000
