"""Protected recordings through the API (Lambda handler + moto): getRecordings' token URLs, the token route's 307 and
cookie, its refusals (all the same 404 page), the text-track href, and the cookie checked by the very CloudFront
Function the distribution runs (cloudfront/functions/recording.js, through Node)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest

from scalelite_common.domain.entities import PlaybackFormat, Recording, RecordingState
from tests.conftest import FakeLambdaContext
from tests.helpers import http_event, signed
from tests.integration.api_support import ensure_event_loop
from tests.integration.conftest import fresh_settings

KEY = "integration-playback-key-0123456789abcdefABCDEF"
RID = "0123456789abcdef0123456789abcdef01234567-1700000000000"
OTHER = "fedcba9876543210fedcba9876543210fedcba98-1700000000001"
BASE = "http://lb.example.com"  # the event's scheme (the local gateway's X-Forwarded-Proto) and Host
NOT_FOUND = "The recording URL is invalid. This recording may have been either protected or deleted."


def call(method: str, path: str, query: str = "", headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The raw Lambda answer (API Gateway v2 puts Set-Cookie in `cookies`)."""
    from scalelite_api.handler import handler

    ensure_event_loop()
    result: dict[str, Any] = handler(http_event(method, path, query, headers=headers), FakeLambdaContext())
    result["headers"] = {k.lower(): v for k, v in result.get("headers", {}).items()}
    return result


def add(store: Any, record_id: str = RID, *, protected: bool = True, published: bool = True) -> Recording:
    recording = Recording(
        record_id=record_id,
        tenant_id="default",
        meeting_id="m",
        name="Class",
        state=RecordingState.PUBLISHED if published else RecordingState.UNPUBLISHED,
        published=published,
        protected=protected,
        start_time=1_700_000_000_000,
        end_time=1_700_000_060_000,
        formats={
            "presentation": PlaybackFormat("presentation", f"/playback/presentation/2.3/{record_id}", 1),
            "video": PlaybackFormat("video", f"/playback/video/{record_id}/", 1),
        },
    )
    saved: Recording = store.save_recording(recording, previous=None)
    return saved


@pytest.fixture
def protection(env: pytest.MonkeyPatch, store: Any) -> Any:
    env.setenv("PROTECTED_RECORDINGS_ENABLED", "true")
    env.setenv("PLAYBACK_COOKIE_SECRET", KEY)
    fresh_settings()
    return store


def listed_urls(record_id: str = RID) -> dict[str, str]:
    from defusedxml import ElementTree

    page = call("GET", "/bigbluebutton/api/getRecordings", signed("getRecordings", {"recordID": record_id}))
    formats = ElementTree.fromstring(page["body"].encode()).findall("recordings/recording/playback/format")
    return {str(f.findtext("type")): str(f.findtext("url")) for f in formats}


def token_of(url: str) -> str:
    return url.split("?token=", 1)[1]


def assert_not_found(result: dict[str, Any]) -> None:
    assert result["statusCode"] == 404, result
    assert result["headers"]["content-type"].startswith("text/html")
    assert NOT_FOUND in result["body"] and "<title>Recording Not Found</title>" in result["body"]
    assert not result.get("cookies")


def test_get_recordings_hands_out_one_time_token_urls(protection: Any) -> None:
    add(protection)
    first, second = listed_urls(), listed_urls()
    assert set(first) == {"presentation", "video"}
    for fmt, url in first.items():
        assert url.startswith(f"{BASE}/recording/{RID}/{fmt}?token=")
        claims = jwt.decode(token_of(url), KEY, algorithms=["HS256"])
        assert claims["sub"] == f"/{fmt}/{RID}" and claims["tid"] == "default"
    assert first["presentation"] != second["presentation"]  # a fresh token per listing


def test_the_token_sets_the_cookie_and_redirects_once(protection: Any) -> None:
    add(protection)
    url = listed_urls()["presentation"]
    parts = urlsplit(url)
    result = call("GET", parts.path, parts.query)
    assert result["statusCode"] == 307, result
    assert result["headers"]["location"] == f"{BASE}/playback/presentation/2.3/{RID}"
    assert result["headers"]["cache-control"] == "no-store"
    [cookie] = result["cookies"]
    name, _, rest = cookie.partition("=")
    value, *attributes = [part.strip() for part in rest.split(";")]
    assert name == f"recording_presentation_{RID}"
    assert attributes[0] == f"Path=/presentation/{RID}"
    max_age = int(attributes[1].removeprefix("Max-Age="))
    assert 6 * 3600 - 5 <= max_age <= 6 * 3600 + 1
    assert attributes[2:] == ["Secure", "HttpOnly", "SameSite=None"]
    exp = int(value.split(".")[0])
    assert abs(exp - (time.time() + max_age)) < 5

    assert_not_found(call("GET", parts.path, parts.query))  # second use


def test_refusals_are_all_the_same_404(protection: Any) -> None:
    add(protection)
    add(protection, OTHER)
    urls = listed_urls()
    token = token_of(urls["presentation"])
    forged = jwt.encode(
        {"sub": f"/presentation/{RID}", "tid": "default", "jti": "0" * 32, "iat": 1, "exp": int(time.time()) + 60},
        "forged-key-0123456789abcdef0123456789abcdef",
        algorithm="HS256",
    )
    expired = jwt.encode(
        {"sub": f"/presentation/{RID}", "tid": "default", "jti": "1" * 32, "iat": 1, "exp": int(time.time()) - 1},
        KEY,
        algorithm="HS256",
    )
    other_tenant = jwt.encode(
        {"sub": f"/presentation/{RID}", "tid": "t2", "jti": "2" * 32, "iat": 1, "exp": int(time.time()) + 60},
        KEY,
        algorithm="HS256",
    )
    for path, query in [
        (f"/recording/{RID}/video", f"token={token}"),  # wrong format
        (f"/recording/{OTHER}/presentation", f"token={token}"),  # wrong recording
        (f"/recording/{RID}/presentation", f"token={forged}"),
        (f"/recording/{RID}/presentation", f"token={expired}"),
        (f"/recording/{RID}/presentation", f"token={other_tenant}"),
        (f"/recording/{RID}/presentation", ""),
        (f"/recording/{RID}/podcast", f"token={token}"),  # a format it does not have
        ("/recording/not-a-record-id/presentation", f"token={token}"),
    ]:
        assert_not_found(call("GET", path, query))
    head = call("HEAD", f"/recording/{RID}/presentation", "")
    assert head["statusCode"] == 404
    assert call("GET", f"/recording/{RID}/presentation", f"token={token}")["statusCode"] == 307  # still unspent


def test_unpublished_is_refused_and_unprotected_redirects_without_cookie(protection: Any) -> None:
    add(protection, published=False)
    add(protection, OTHER, protected=False)
    hidden = listed_urls(RID)
    assert hidden["presentation"] == f"{BASE}/playback/presentation/2.3/{RID}"  # no token: unpublished
    assert_not_found(call("GET", f"/recording/{RID}/presentation", ""))
    plain = listed_urls(OTHER)
    assert plain["video"] == f"{BASE}/playback/video/{OTHER}/"
    result = call("GET", f"/recording/{OTHER}/video", "")
    assert result["statusCode"] == 307 and result["headers"]["location"] == plain["video"]
    assert not result.get("cookies")


def test_without_protection_getrecordings_lists_plain_urls(env: pytest.MonkeyPatch, store: Any) -> None:
    env.setenv("PROTECTED_RECORDINGS_ENABLED", "false")
    fresh_settings()
    add(store)
    assert listed_urls()["presentation"] == f"{BASE}/playback/presentation/2.3/{RID}"
    result = call("GET", f"/recording/{RID}/presentation", "")
    assert result["statusCode"] == 307 and not result.get("cookies")


def test_urls_use_the_viewers_host_from_x_forwarded_host(protection: Any) -> None:
    add(protection, protected=False)
    query = signed("getRecordings", {"recordID": RID})
    result = call("GET", "/bigbluebutton/api/getRecordings", query, headers={"x-forwarded-host": "sl.example.org"})
    assert f"http://sl.example.org/playback/presentation/2.3/{RID}" in result["body"]
    redirect = call("GET", f"/recording/{RID}/presentation", "", headers={"x-forwarded-host": "sl.example.org"})
    assert redirect["headers"]["location"] == f"http://sl.example.org/playback/presentation/2.3/{RID}"


def test_the_not_found_page_and_the_text_track_href(protection: Any) -> None:
    page = call("GET", "/errors/recording-not-found.html")
    assert page["statusCode"] == 200 and page["headers"]["content-type"].startswith("text/html")
    assert NOT_FOUND in page["body"]
    gone = call("GET", f"/recording/textTrack/{RID}/en.vtt")  # the old route: Scalelite's catch-all answer now
    assert "unsupportedRequest" in gone["body"]

    import io

    from scalelite_common.services import wiring

    add(protection)
    objects = wiring.container().objects
    key = f"protected/presentation/{RID}/captions.json"
    entry = [{"kind": "captions", "label": "English", "locale": "en", "localeName": "English"}]
    objects.put("test-recordings", key, io.BytesIO(json.dumps(entry).encode()), content_type="application/json")
    answer = call(
        "GET", "/bigbluebutton/api/getRecordingTextTracks", signed("getRecordingTextTracks", {"recordID": RID})
    )
    [track] = json.loads(answer["body"])["response"]["tracks"]
    assert track["href"] == f"{BASE}/presentation/{RID}/caption_en.vtt"


def test_the_cookie_opens_the_recording_at_the_edge_function(protection: Any) -> None:
    """The cookie the API sets is the one recording.js accepts (same key, same bytes), for that recording only."""
    node = pytest.importorskip("scalelite_local.cloudfront")
    try:
        functions = node.NodeFunctions().start()
    except node.FunctionError as exc:
        pytest.skip(str(exc))
    add(protection)
    parts = urlsplit(listed_urls()["presentation"])
    [cookie] = call("GET", parts.path, parts.query)["cookies"]
    name, _, rest = cookie.partition("=")
    value = rest.split(";")[0]
    script = node.FUNCTIONS / "recording.js"

    def edge(uri: str, cookies: dict[str, str]) -> Any:
        event = {
            "version": "1.0",
            "context": {"eventType": "viewer-request"},
            "viewer": {"ip": "198.51.100.1"},
            "request": {
                "method": "GET",
                "uri": uri,
                "querystring": {},
                "headers": {"host": {"value": "lb.example.com"}},
                "cookies": {k: {"value": v} for k, v in cookies.items()},
            },
        }
        return functions.call(script, event, {"__PLAYBACK_COOKIE_SECRET__": KEY})

    try:
        file = f"/presentation/{RID}/metadata.xml"
        assert edge(file, {name: value})["uri"] == "/protected" + file
        assert edge(file, {})["uri"] == "/published" + file
        other = f"/presentation/{OTHER}/metadata.xml"
        assert edge(other, {f"recording_presentation_{OTHER}": value})["uri"] == "/published" + other
    finally:
        functions.close()
