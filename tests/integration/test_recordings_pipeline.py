"""Recordings through the real handlers on moto: a meeting created through the balancer, its BBB server asks for
an upload URL (JWT with its own secret), PUTs the archive to S3 (moto), the S3 event runs the importer, and the
BBB API lists, publishes, updates and deletes the recording."""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import boto3
import jwt
import pytest

from scalelite_importer.handler import handler as importer
from tests.conftest import FakeLambdaContext
from tests.helpers import load_event, signed
from tests.integration.api_support import bbb, call_api, register
from tests.recordings_support import archive_bytes

SPOOL, BUCKET = "test-spool", "test-recordings"


def upload_token(server: Any, record_id: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": server.url, "sub": record_id, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(payload, server.secret, algorithm="HS256")


def ask_upload(server: Any, record_id: str, **claims: Any) -> Any:
    body = json.dumps({"record_id": record_id, "formats": ["presentation", "video"], "size": 1000})
    return call_api(
        "POST",
        "/scalelite/api/recordingUpload",
        body=body,
        headers={
            "authorization": f"Bearer {upload_token(server, record_id, **claims)}",
            "content-type": "application/json",
        },
    )


def s3_event(key: str, etag: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("importer/object_created.json"))
    event["Records"][0]["s3"]["bucket"]["name"] = SPOOL
    event["Records"][0]["s3"]["object"].update(key=key, eTag=etag.strip('"'))
    return event


@pytest.fixture
def servers(store: Any, simulators: Any) -> list[Any]:
    """Two registered, enabled simulated BBB servers; the second busier, so meetings go to the first."""
    return [register(store, simulators(), "bbb1", load=0.0), register(store, simulators(), "bbb2", load=50.0)]


@pytest.fixture
def hosted(store: Any, servers: list[Any]) -> tuple[Any, str]:
    """A meeting created through the balancer: its recordID is the internal meeting id BBB returned."""
    created = bbb("create", {"meetingID": "class-1", "name": "Class 1", "record": "true"})
    assert created.text("returncode") == "SUCCESS", created.body
    assert store.get_meeting("default", "class-1").server_id == "bbb1"
    return servers[0], created.text("internalMeetingID")


def put_archive(grant: dict[str, Any], data: bytes) -> str:
    """What post_publish.py does with the grant; in-process moto takes the presigned PUT through boto3."""
    assert grant["method"] == "PUT" and grant["headers"] == {"Content-Type": "application/x-tar"}
    assert urlsplit(grant["url"]).path.endswith(grant["key"])
    s3 = boto3.client("s3", region_name="us-east-1")
    return str(s3.put_object(Bucket=SPOOL, Key=grant["key"], Body=data, ContentType="application/x-tar")["ETag"])


def test_upload_import_and_the_recordings_api(store: Any, hosted: tuple[Any, str]) -> None:
    server, record_id = hosted
    answer = ask_upload(server, record_id)
    assert answer.status == 200, answer.body
    grant = json.loads(answer.body)
    etag = put_archive(grant, archive_bytes(record_id, meeting_id="class-1"))
    result = importer(s3_event(grant["key"], etag), FakeLambdaContext())
    assert [r["status"] for r in result["results"]] == ["imported"], result

    listed = bbb("getRecordings", {"meetingID": "class-1"})
    assert listed.text("recordings/recording/recordID") == record_id
    assert listed.text("recordings/recording/published") == "true"
    urls = [n.text for n in listed.xml.findall("recordings/recording/playback/format/url")]
    assert f"http://lb.example.com/playback/presentation/2.3/{record_id}" in urls  # the host the LMS called
    assert listed.xml.find("recordings/recording/metadata/bbb-origin").text == "Moodle"

    assert bbb("publishRecordings", {"recordID": record_id, "publish": "false"}).text("published") == "false"
    s3 = boto3.client("s3", region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert keys and all(k.startswith("unpublished/") for k in keys)
    assert bbb("getRecordings", {"recordID": record_id}).text("recordings/recording/state") == "unpublished"

    assert bbb("updateRecordings", {"recordID": record_id, "meta_gl-listed": "true"}).text("updated") == "true"
    page = bbb("getRecordings", {"limit": "1"})
    assert page.text("recordings/recording/metadata/gl-listed") == "true" and page.text("totalElements") == "1"

    assert bbb("deleteRecordings", {"recordID": record_id}).text("deleted") == "true"
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    assert bbb("getRecordings", {"recordID": record_id}).text("messageKey") == "noRecordings"
    assert bbb("getRecordings", {"recordID": record_id, "state": "any"}).text("recordings/recording/state") == "deleted"


def test_uploads_are_refused_to_other_servers_replays_and_bad_tokens(
    hosted: tuple[Any, str], servers: list[Any]
) -> None:
    server, record_id = hosted
    refused = ask_upload(servers[1], record_id)  # 401 with its own message: the API never answers 403
    assert refused.status == 401 and json.loads(refused.body)["error"].startswith("Upload refused: ")
    forged = call_api(
        "POST",
        "/scalelite/api/recordingUpload",
        body=json.dumps({"record_id": record_id, "formats": ["presentation"], "size": 1}),
        headers={
            "authorization": "Bearer "
            + jwt.encode(
                {"iss": server.url, "sub": record_id, "exp": int(time.time()) + 60, "jti": uuid.uuid4().hex},
                "wrong-secret",
                algorithm="HS256",
            )
        },
    )
    assert forged.status == 401 and "not valid" in json.loads(forged.body)["error"]
    assert call_api("POST", "/scalelite/api/recordingUpload", body="{}").status == 401  # no token
    jti = uuid.uuid4().hex
    assert ask_upload(server, record_id, jti=jti).status == 200
    assert ask_upload(server, record_id, jti=jti).status == 401  # replayed


def test_a_rejected_archive_goes_to_failed_with_its_reason(store: Any, hosted: tuple[Any, str]) -> None:
    server, record_id = hosted
    grant = json.loads(ask_upload(server, record_id).body)
    etag = put_archive(grant, b"this is not a tar archive" * 40)
    result = importer(s3_event(grant["key"], etag), FakeLambdaContext())
    assert result["results"][0]["status"] == "failed"
    s3 = boto3.client("s3", region_name="us-east-1")
    head = s3.head_object(Bucket=SPOOL, Key=f"failed/{grant['key']}")
    assert "not a tar archive" in head["Metadata"]["reason"]
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=SPOOL)["Contents"]] == [f"failed/{grant['key']}"]


def test_text_tracks_round_trip(store: Any, hosted: tuple[Any, str]) -> None:
    server, record_id = hosted
    grant = json.loads(ask_upload(server, record_id).body)
    importer(s3_event(grant["key"], put_archive(grant, archive_bytes(record_id))), FakeLambdaContext())
    none = call_api(
        "GET", "/bigbluebutton/api/getRecordingTextTracks", signed("getRecordingTextTracks", {"recordID": record_id})
    )
    assert json.loads(none.body)["response"]["messageKey"] == "noCaptionsFound"

    srt = b"1\n00:00:01,000 --> 00:00:02,500\nHello\n"
    boundary = "xBoUnDaRy"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="en.srt"\r\n'
            f"Content-Type: application/x-subrip\r\n\r\n"
        ).encode()
        + srt
        + f"\r\n--{boundary}--\r\n".encode()
    )
    query = signed(
        "putRecordingTextTrack", {"recordID": record_id, "kind": "subtitles", "lang": "en-US", "label": "English"}
    )
    put = call_api(
        "POST",
        "/bigbluebutton/api/putRecordingTextTrack",
        query,
        body=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert put.headers["content-type"].startswith("application/json")
    assert json.loads(put.body)["response"]["messageKey"] == "upload_text_track_success", put.body

    listed = call_api(
        "GET", "/bigbluebutton/api/getRecordingTextTracks", signed("getRecordingTextTracks", {"recordID": record_id})
    )
    tracks = json.loads(listed.body)["response"]["tracks"]
    assert [(t["kind"], t["lang"], t["label"]) for t in tracks] == [("subtitles", "en-US", "English")]
    # The edge serves the href from the bucket (`/presentation/…` → `published/presentation/…`, docs/playback.md).
    href = urlsplit(tracks[0]["href"]).path
    assert href == f"/presentation/{record_id}/caption_en-US.vtt"
    s3 = boto3.client("s3", region_name="us-east-1")
    vtt = s3.get_object(Bucket=BUCKET, Key="published" + href)["Body"].read().decode()
    assert vtt.startswith("WEBVTT") and "00:00:01.000 --> 00:00:02.500" in vtt
    captions = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"published/presentation/{record_id}/captions.json")["Body"].read()
    )
    assert captions == [{"kind": "subtitles", "label": "English", "locale": "en-US", "localeName": "English"}]

    bad = call_api(
        "POST",
        "/bigbluebutton/api/putRecordingTextTrack",
        signed("putRecordingTextTrack", {"recordID": record_id, "kind": "subtitles", "lang": "not a lang"}),
        body=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert json.loads(bad.body)["response"]["messageKey"] == "invalidLang"
