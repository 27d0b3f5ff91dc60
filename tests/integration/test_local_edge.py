"""The local edge routes like the CloudFront distribution of template.yaml: the same behaviours, the same
CloudFront Functions (run by Node), recording files from the (moto) recordings bucket, the custom 404 page and
the security headers. Only the edge runs, in front of moto and a stand-in API behind the real gateway."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from scalelite_local.aws import MotoServer, client
from scalelite_local.cloudfront import NodeFunctions
from scalelite_local.edge import Distribution, Edge, EdgeServer, distribution, pattern_regex
from scalelite_local.gateway import GatewayServer
from scalelite_local.invoker import Invoker
from scalelite_local.template import TEMPLATE, Template, load
from tests import raw_http
from tests.raw_http import Answer

SECRET = "k" * 20 + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"  # 64 characters, like PlaybackCookieSecret
RID = "a" * 40 + "-1700000000000"
OTHER = "b" * 40 + "-1700000000001"
PROTECTED = "c" * 40 + "-1700000000002"
NOT_FOUND_PAGE = b"<html><title>Recording Not Found</title><body>The recording URL is invalid.</body></html>"
BUCKET = "recordingsbucket"
API_TEMPLATE = Template(
    {"Resources": {"ApiFunction": {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "stub.h"}}}}
)
FORMATS = ("presentation", "video", "screenshare", "podcast", "notes", "capture")


def api_stub(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The API as the edge needs it: the error page, an echo of what arrived, 404 for everything else."""
    path = event["rawPath"]
    if path == "/errors/recording-not-found.html":
        return {
            "statusCode": 200,
            "headers": {"content-type": "text/html; charset=utf-8"},
            "body": NOT_FOUND_PAGE.decode(),
        }
    if path.startswith(("/bigbluebutton/api", "/scalelite/api")):
        echo = {k: event.get(k) for k in ("rawPath", "rawQueryString", "headers", "cookies", "body")}
        status = 403 if path.endswith("/forbidden") else 200
        return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(echo)}
    return {"statusCode": 404, "headers": {"content-type": "application/json"}, "body": '{"message":"Not Found"}'}


@dataclass
class Running:
    edge: EdgeServer
    s3: Any
    node: NodeFunctions
    routing: Distribution


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    moto = MotoServer("127.0.0.1", 0)
    moto.start()
    invoker = Invoker(API_TEMPLATE, 8, {"ApiFunction": api_stub})
    gateway = GatewayServer(("127.0.0.1", 0), invoker)
    node = NodeFunctions().start()
    s3 = client("s3", moto.endpoint)
    s3.create_bucket(Bucket=BUCKET)
    routing = distribution(Template(load(TEMPLATE)))
    edge = EdgeServer(
        ("127.0.0.1", 0),
        Edge(routing, api=("127.0.0.1", gateway.port), s3=s3, functions=node, cookie_secret=SECRET),
    )
    gateway.start("test-gateway")
    edge.start("test-edge")
    try:
        yield Running(edge, s3, node, routing)
    finally:
        edge.close()
        gateway.close()
        invoker.close()
        node.close()
        moto.stop()


def request(
    running: Running, target: str, method: str = "GET", headers: list[tuple[str, str]] | None = None, body: bytes = b""
) -> Answer:
    """`target` sent exactly as given; Host is the viewer's (default: the edge's address)."""
    return raw_http.send(running.edge.port, method, target, headers, body)


def put(running: Running, key: str, body: bytes, **extra: str) -> None:
    running.s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)


def cookie(format: str, record_id: str, exp: int, key: str = SECRET) -> str:
    """The contract's playback cookie: `<exp>.<hex HMAC-SHA256(key, "/<format>/<id>:<exp>")>`."""
    sig = hmac.new(key.encode(), f"/{format}/{record_id}:{exp}".encode(), hashlib.sha256).hexdigest()
    return f"recording_{format}_{record_id}={exp}.{sig}"


def assert_not_found_page(answer: Answer) -> None:
    assert answer.status == 404, (answer.status, answer.body[:200])
    assert b"Recording Not Found" in answer.body


# -------------------------------------------------------------------------------------------- the routing table
def test_the_routing_table_of_the_template_is_the_contracts(running: Running) -> None:
    table = [(b.path_pattern, b.origin, b.function.name if b.function else None) for b in running.routing.behaviours]
    assert table == [
        ("/playback/*", "recordings", "playback.js"),
        *((f"/{f}/*", "recordings", "recording.js") for f in FORMATS),
        ("/errors/*", "api", None),
        (None, "api", "api.js"),
    ]
    assert running.routing.origins["recordings"].bucket == BUCKET
    assert running.routing.origins["api"].bucket is None
    rule = running.routing.error_responses[403]
    assert (rule.response_code, rule.page_path) == (404, "/errors/recording-not-found.html")
    for behaviour in running.routing.behaviours:
        headers = {name: value for name, value, _ in behaviour.headers_policy.headers}
        assert headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
        assert headers["x-content-type-options"] == "nosniff"
    methods = {b.path_pattern: b.methods for b in running.routing.behaviours}
    assert methods["/presentation/*"] == {"GET", "HEAD"} and "POST" in methods[None]


def test_path_patterns_have_cloudfronts_semantics() -> None:
    assert pattern_regex("/playback/*").fullmatch("/playback/presentation/2.3/x")
    assert pattern_regex("/playback/*").fullmatch("/playback/")
    assert not pattern_regex("/playback/*").fullmatch("/playback")
    assert not pattern_regex("/playback/*").fullmatch("/Playback/x")  # case-sensitive
    assert not pattern_regex("/playback/*").fullmatch("/x/playback/y")
    assert pattern_regex("playback/*").fullmatch("/playback/x")  # the leading slash is optional
    assert pattern_regex("/a?c").fullmatch("/abc") and not pattern_regex("/a?c").fullmatch("/abbc")
    assert pattern_regex("/a.c").fullmatch("/a.c") and not pattern_regex("/a.c").fullmatch("/abc")


# ------------------------------------------------------------------------------------------------- redirects
@pytest.mark.parametrize(
    ("target", "status", "location"),
    [
        ("/playback/presentation/playback.html?meetingId=" + RID, 301, "/playback/presentation/2.3/" + RID),
        ("/playback/presentation/2.0/playback.html?meetingId=" + RID, 301, "/playback/presentation/2.3/" + RID),
        (f"/playback/video/{RID}/?t=1&x=%20", 307, f"/video/{RID}/?t=1&x=%20"),
        (f"/recording/screenshare/{RID}/video.webm?a=1", 307, f"/screenshare/{RID}/video.webm?a=1"),
    ],
)
def test_redirects(running: Running, target: str, status: int, location: str) -> None:
    answer = request(running, target)
    assert (answer.status, answer.headers["location"]) == (status, location)
    assert answer.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_legacy_player_link_without_meeting_id_is_the_not_found_page(running: Running) -> None:
    assert_not_found_page(request(running, "/playback/presentation/playback.html"))


# ------------------------------------------------------------------------------------------------ the player
def test_the_player_is_a_single_page_app_and_its_files_are_served_as_they_are(running: Running) -> None:
    put(running, "playback/presentation/2.3/index.html", b"<html>player</html>", ContentType="text/html",
        CacheControl="max-age=60")  # fmt: skip
    put(running, "playback/presentation/2.3/static/js/main.js", b"js()", ContentType="application/javascript")
    for path in (f"/playback/presentation/2.3/{RID}", "/playback/presentation/2.3/", "/playback/presentation/2.3",
                 f"/playback/presentation/2.3/{RID}/anything"):  # fmt: skip
        answer = request(running, path)
        assert (answer.status, answer.body) == (200, b"<html>player</html>"), path
        assert answer.headers["content-type"] == "text/html" and answer.headers["cache-control"] == "max-age=60"
    asset = request(running, "/playback/presentation/2.3/static/js/main.js")
    assert (asset.status, asset.body, asset.headers["content-type"]) == (200, b"js()", "application/javascript")
    assert_not_found_page(request(running, "/playback/presentation/2.3/static/js/missing.js"))


# ------------------------------------------------------------------------------------------- recording files
def test_a_published_file_is_served_with_its_stored_headers(running: Running) -> None:
    data = bytes(range(256)) * 40
    put(running, f"published/video/{RID}/video.mp4", data, ContentType="video/mp4",
        ContentDisposition='inline; filename="video.mp4"')  # fmt: skip
    answer = request(running, f"/video/{RID}/video.mp4")
    assert (answer.status, answer.body) == (200, data)
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["content-disposition"] == 'inline; filename="video.mp4"'
    assert int(answer.headers["content-length"]) == len(data)
    assert answer.headers["etag"] and answer.headers["last-modified"] and answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["strict-transport-security"].startswith("max-age=63072000")

    head = request(running, f"/video/{RID}/video.mp4", "HEAD")
    assert (head.status, head.body, head.headers["content-length"]) == (200, b"", str(len(data)))
    assert head.headers["content-type"] == "video/mp4"

    ranged = request(running, f"/video/{RID}/video.mp4", headers=[("Range", "bytes=100-199")])
    assert (ranged.status, ranged.body) == (206, data[100:200])
    assert ranged.headers["content-range"] == f"bytes 100-199/{len(data)}"
    assert request(running, f"/video/{RID}/video.mp4", headers=[("Range", "bytes=999999-")]).status == 416
    etag = answer.headers["etag"]
    assert request(running, f"/video/{RID}/video.mp4", headers=[("If-None-Match", etag)]).status == 304


def test_a_missing_file_is_the_recording_not_found_page(running: Running) -> None:
    for target in (f"/presentation/{OTHER}/metadata.xml", f"/video/{OTHER}/video.mp4", f"/notes/{OTHER}/notes.pdf"):
        answer = request(running, target)
        assert_not_found_page(answer)
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert answer.headers["x-content-type-options"] == "nosniff"
    head = request(running, f"/presentation/{OTHER}/metadata.xml", "HEAD")  # the player probes media with HEAD
    assert (head.status, head.body) == (404, b"")


def test_other_prefixes_of_the_bucket_are_never_reachable(running: Running) -> None:
    secret = b"<recording>unpublished</recording>"
    put(running, f"unpublished/presentation/{RID}/metadata.xml", secret)
    put(running, "player/1.0/index.html", secret)
    put(running, f"protected/presentation/{RID}/metadata.xml", secret)
    for target in (
        f"/unpublished/presentation/{RID}/metadata.xml",
        "/player/1.0/index.html",
        f"/protected/presentation/{RID}/metadata.xml",
        f"/published/presentation/{RID}/metadata.xml",
        f"/presentation/{RID}/../../unpublished/presentation/{RID}/metadata.xml",
        f"/presentation/{RID}/%2e%2e/%2e%2e/unpublished/presentation/{RID}/metadata.xml",
        f"/presentation/{RID}/..%2f..%2funpublished/presentation/{RID}/metadata.xml",
        "/playback/../player/1.0/index.html",
        "/playback/%2e%2e/player/1.0/index.html",
    ):
        answer = request(running, target)
        assert answer.status == 404, (target, answer.status)
        assert secret not in answer.body, target


def test_methods_other_than_get_and_head_are_refused_on_recording_files(running: Running) -> None:
    put(running, f"published/presentation/{RID}/metadata.xml", b"<recording/>")
    answer = request(running, f"/presentation/{RID}/metadata.xml", "POST", body=b"x")
    assert answer.status == 403 and b"not configured to allow the HTTP request method" in answer.body


# ----------------------------------------------------------------------------------------------------- the API
def test_the_api_sees_the_viewers_host_and_the_raw_query_string(running: Running) -> None:
    target = "/bigbluebutton/api/join?fullName=A%20B+C&meetingID=m%2F1&x=1&x=2&empty=&flag&checksum=0f"
    answer = request(
        running,
        target,
        headers=[
            ("Host", "lms.example.org"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Dup", "1"),
            ("X-Dup", "2"),
            ("Cookie", "a=1; b=2"),
        ],  # fmt: skip
    )
    assert answer.status == 200
    echo = answer.json()
    assert echo["rawQueryString"] == target.split("?", 1)[1]
    assert echo["rawPath"] == "/bigbluebutton/api/join"
    assert echo["headers"]["x-forwarded-host"] == "lms.example.org"
    assert echo["headers"]["host"] == f"127.0.0.1:{running.edge.edge.api[1]}"  # the origin's own host
    assert echo["headers"]["x-dup"] == "1,2" and echo["cookies"] == ["a=1", "b=2"]
    assert answer.headers["apigw-requestid"] and answer.headers["strict-transport-security"]

    plain = request(running, "/scalelite/api/x", headers=[("Host", "bbb.example.com:8443")]).json()
    assert plain["headers"]["x-forwarded-host"] == "bbb.example.com:8443" and plain["rawQueryString"] == ""


def test_a_body_reaches_the_api_and_its_answer_comes_back(running: Running) -> None:
    answer = request(running, "/bigbluebutton/api/create", "POST", [("Content-Type", "text/xml")], b"<modules/>")
    assert answer.status == 200 and answer.json()["body"] == "<modules/>"
    chunked = (
        b"POST /bigbluebutton/api/create HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n"
    )
    status, _, body = exchange(running, chunked).partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 200") and b'"body": "hello"' in body


def test_an_api_403_becomes_the_not_found_page_as_cloudfront_rewrites_it(running: Running) -> None:
    assert_not_found_page(request(running, "/bigbluebutton/api/forbidden"))


def test_unknown_api_paths_are_the_apis_own_answer(running: Running) -> None:
    answer = request(running, "/nothing-here")
    assert (answer.status, answer.json()) == (404, {"message": "Not Found"})


# ------------------------------------------------------------------------------------------ protected files
def test_a_protected_file_needs_a_valid_cookie_for_that_recording(running: Running) -> None:
    body = b"<recording>protected</recording>"
    put(running, f"protected/presentation/{PROTECTED}/metadata.xml", body, ContentType="text/xml")
    put(running, f"protected/presentation/{OTHER}/metadata.xml", b"other", ContentType="text/xml")
    target = f"/presentation/{PROTECTED}/metadata.xml"
    later = int(time.time()) + 600
    assert_not_found_page(request(running, target))
    ok = request(running, target, headers=[("Cookie", "x=1; " + cookie("presentation", PROTECTED, later))])
    assert (ok.status, ok.body, ok.headers["content-type"]) == (200, body, "text/xml")
    refused = {
        "another recording's cookie": cookie("presentation", OTHER, later),
        "another format's cookie": cookie("video", PROTECTED, later).replace(
            "recording_video_", "recording_presentation_"
        ),
        "an expired cookie": cookie("presentation", PROTECTED, int(time.time()) - 1),
        "another key": cookie("presentation", PROTECTED, later, key="x" * 64),
        "a cookie without signature": f"recording_presentation_{PROTECTED}={later}",
    }
    for why, value in refused.items():
        answer = request(running, target, headers=[("Cookie", value)])
        assert answer.status == 404 and body not in answer.body, why
    # The cookie opens only its own recording: the other one's file stays shut with it.
    assert_not_found_page(
        request(
            running,
            f"/presentation/{OTHER}/metadata.xml",
            headers=[("Cookie", cookie("presentation", PROTECTED, later))],
        )
    )


# ---------------------------------------------------------------------------------------- node and raw HTTP
def test_node_is_started_again_when_it_dies(running: Running) -> None:
    put(running, "playback/presentation/2.3/index.html", b"<html>player</html>", ContentType="text/html")
    child = running.node._child
    assert child is not None
    child.kill()
    child.wait()
    starts = running.node.starts
    deadline = time.monotonic() + 10
    while (answer := request(running, f"/playback/presentation/2.3/{RID}")).status != 200:
        assert time.monotonic() < deadline, answer  # at most the call that met the dying child fails (503)
    assert answer.body == b"<html>player</html>" and running.node.starts == starts + 1


def exchange(running: Running, raw: bytes) -> bytes:
    return raw_http.exchange(running.edge.port, raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"POST /bigbluebutton/api/create HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nabcde",
        b"POST /bigbluebutton/api/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_malformed_http_is_refused_like_the_gateway_does(running: Running, raw: bytes) -> None:
    head, _, body = exchange(running, raw).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and json.loads(body) == {"message": "Bad Request"}
