"""Playback through the local edge, which routes like the CloudFront distribution (same behaviours, same
CloudFront Functions run by Node): a recording uploaded and imported as in "Recordings I" plays (player page,
metadata.xml, a slide), the legacy redirects, 404 for unpublished/deleted/unknown recordings and 200 again after
re-publishing, and protected recordings: one-time token URL → cookie → files, nothing without the cookie, a cookie
opens only its own recording, an expired cookie is refused."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from defusedxml import ElementTree

from scalelite_local.stack import LocalStack
from tests.e2e.conftest import CLI, E2E_SECRET
from tests.e2e.test_local_recordings import post_publish, wait_for
from tests.helpers import sign
from tests.recordings_support import write_tree

pytestmark = pytest.mark.e2e
NOT_FOUND = b"Recording Not Found"


class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def cookie(self) -> tuple[str, str, str]:
        """(name, value, attributes) of the one Set-Cookie."""
        (raw,) = self.headers.get_all("Set-Cookie") or []
        pair, _, attributes = raw.partition(";")
        name, _, value = pair.partition("=")
        return name.strip(), value.strip(), attributes


def fetch(stack: LocalStack, target: str, *, method: str = "GET", cookies: dict[str, str] | None = None) -> Reply:
    """One request to the edge, redirects not followed (what a browser sees hop by hop)."""
    parts = urlsplit(stack.gateway_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    headers = {"Host": f"lb.example.test:{parts.port}"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    try:
        conn.request(method, target, headers=headers)
        resp = conn.getresponse()
        return Reply(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def api(stack: LocalStack, call: str, params: dict[str, str]) -> ElementTree.Element:
    reply = fetch(stack, f"/bigbluebutton/api/{call}?{sign(call, urlencode(params), secret=E2E_SECRET)}")
    assert reply.status == 200, reply.body
    return ElementTree.fromstring(reply.body)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def record(stack: LocalStack, tmp_path: Path, meeting_id: str) -> str:
    """A meeting with a recording, uploaded by its BBB server and imported; its recordID."""
    created = api(stack, "create", {"meetingID": meeting_id, "name": meeting_id, "record": "true"})
    assert created.findtext("returncode") == "SUCCESS"
    record_id = created.findtext("internalMeetingID") or ""
    server_url = stack.admin("meetings.info", meeting_id=meeting_id)["server_url"]
    sim = next(s for s in stack.simulators if s.url.rstrip("/") == server_url.rstrip("/"))
    published = tmp_path / meeting_id / "published"
    write_tree(published, record_id, meeting_id=meeting_id)
    sent = post_publish(stack, record_id, published, tmp_path / meeting_id / "state", sim)
    assert sent.returncode == 0, sent.stderr
    wait_for(
        lambda: (
            api(stack, "getRecordings", {"recordID": record_id}).findtext("recordings/recording/recordID") == record_id
        )
    )
    return record_id


def format_url(stack: LocalStack, record_id: str, fmt: str) -> str:
    doc = api(stack, "getRecordings", {"recordID": record_id})
    (url,) = [
        f.findtext("url") or ""
        for f in doc.findall("recordings/recording/playback/format")
        if f.findtext("type") == fmt
    ]
    return url


def forged_cookie(fmt: str, record_id: str, exp: int) -> str:
    """A cookie value signed with the stack's real key (the contract in docs/playback.md), expiring at `exp`."""
    key = os.environ["PLAYBACK_COOKIE_SECRET"].encode()
    sig = hmac.new(key, f"/{fmt}/{record_id}:{exp}".encode(), hashlib.sha256).hexdigest()
    return f"{exp}.{sig}"


@pytest.fixture(scope="module")
def player(cli: CLI, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A built player installed with `scalelite playback install DIR`; its version."""
    root = tmp_path_factory.mktemp("player")
    (root / "static" / "js").mkdir(parents=True)
    (root / "index.html").write_text('<!doctype html><script src="./static/js/main.js"></script><p>e2e player</p>')
    (root / "static" / "js" / "main.js").write_text("console.log('player');")
    installed = cli("playback", "install", str(root), "--json").json()
    return str(installed["version"])


def test_redirects_follow_scalelite(stack: LocalStack) -> None:
    for target, status, location in [
        ("/playback/presentation/playback.html?meetingId=abc-1", 301, "/playback/presentation/2.3/abc-1"),
        ("/playback/presentation/2.0/playback.html?meetingId=abc-1", 301, "/playback/presentation/2.3/abc-1"),
        ("/playback/video/abc-1/", 307, "/video/abc-1/"),
        ("/recording/screenshare/abc-1/", 307, "/screenshare/abc-1/"),
    ]:
        reply = fetch(stack, target)
        assert (reply.status, path_of(reply.headers["Location"])) == (status, location), target


def test_a_recording_plays_through_the_edge(stack: LocalStack, cli: CLI, player: str, tmp_path: Path) -> None:
    record_id = record(stack, tmp_path, "e2e-play")
    # The import protects it (PROTECTED_RECORDINGS_ENABLED in the e2e stack); make it public first.
    assert api(stack, "updateRecordings", {"recordID": record_id, "protect": "false"}).findtext("updated") == "true"
    url = format_url(stack, record_id, "presentation")
    assert path_of(url) == f"/playback/presentation/2.3/{record_id}"

    page = fetch(stack, path_of(url))
    assert page.status == 200 and b"e2e player" in page.body  # the single-page app's index.html
    assert fetch(stack, "/playback/presentation/2.3/static/js/main.js").body == b"console.log('player');"
    assert cli("playback", "status", "--json").json()["live"]["version"] == player

    metadata = fetch(stack, f"/presentation/{record_id}/metadata.xml")
    assert metadata.status == 200
    assert ElementTree.fromstring(metadata.body).findtext("id") == record_id
    slide = fetch(stack, f"/presentation/{record_id}/presentation/d1/slide-1.png")
    assert (slide.status, slide.body) == (200, b"\x89PNG slide")
    assert fetch(stack, f"/presentation/{record_id}/shapes.svg", method="HEAD").status == 200
    assert fetch(stack, f"/video/{record_id}/video-0.m4v", method="HEAD").status in (200, 404)

    unknown = fetch(stack, f"/presentation/{'f' * 40}-1700000000000/metadata.xml")
    assert unknown.status == 404 and NOT_FOUND in unknown.body

    assert api(stack, "publishRecordings", {"recordID": record_id, "publish": "false"}).findtext("published") == "false"
    hidden = fetch(stack, f"/presentation/{record_id}/metadata.xml")
    assert hidden.status == 404 and NOT_FOUND in hidden.body
    assert api(stack, "publishRecordings", {"recordID": record_id, "publish": "true"}).findtext("published") == "true"
    assert fetch(stack, f"/presentation/{record_id}/metadata.xml").status == 200

    assert api(stack, "deleteRecordings", {"recordID": record_id}).findtext("deleted") == "true"
    assert fetch(stack, f"/presentation/{record_id}/metadata.xml").status == 404


def test_a_protected_recording_needs_its_own_cookie(stack: LocalStack, player: str, tmp_path: Path) -> None:
    record_id = record(stack, tmp_path, "e2e-protected")
    other_id = record(stack, tmp_path, "e2e-protected-2")
    metadata = f"/presentation/{record_id}/metadata.xml"

    refused = fetch(stack, metadata)
    assert refused.status == 404 and NOT_FOUND in refused.body  # without a cookie nothing is served

    token_url = format_url(stack, record_id, "presentation")
    assert path_of(token_url).startswith(f"/recording/{record_id}/presentation?token=")
    followed = fetch(stack, path_of(token_url))
    assert followed.status == 307
    assert path_of(followed.headers["Location"]) == f"/playback/presentation/2.3/{record_id}"
    name, value, attributes = followed.cookie()
    assert name == f"recording_presentation_{record_id}"
    assert f"Path=/presentation/{record_id}" in attributes and "HttpOnly" in attributes

    assert fetch(stack, metadata, cookies={name: value}).status == 200
    slide = fetch(stack, f"/presentation/{record_id}/presentation/d1/slide-1.png", cookies={name: value})
    assert slide.status == 200

    again = fetch(stack, path_of(token_url))
    assert again.status == 404 and again.headers.get("Set-Cookie") is None  # a token opens once

    # The cookie of one recording opens no other, even renamed to the other's cookie name.
    other = f"/presentation/{other_id}/metadata.xml"
    assert fetch(stack, other, cookies={name: value}).status == 404
    assert fetch(stack, other, cookies={f"recording_presentation_{other_id}": value}).status == 404

    expired = forged_cookie("presentation", record_id, int(time.time()) - 5)
    assert fetch(stack, metadata, cookies={name: expired}).status == 404
    fresh = forged_cookie("presentation", record_id, int(time.time()) + 600)
    assert fetch(stack, metadata, cookies={name: fresh}).status == 200  # same key as the edge: the check is real

    assert api(stack, "updateRecordings", {"recordID": record_id, "protect": "false"}).findtext("updated") == "true"
    assert fetch(stack, metadata).status == 200  # unprotected: direct links work without a cookie
