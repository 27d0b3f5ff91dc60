"""The recording calls' XML answers (bbb-api.md §2.8–2.11) and the text-track JSON (§2.12–2.13), parsed back."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from scalelite_common.domain.entities import PlaybackFormat, Recording, RecordingState, Thumbnail
from scalelite_common.presenters import bbb_json, bbb_recordings
from scalelite_common.presenters.bbb_xml import no_recordings

BASE = "https://lb.example.com"


def parse(body: bytes) -> ET.Element:
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(body)


def children(node: ET.Element) -> list[str]:
    return [child.tag for child in node]


def text(node: ET.Element, path: str) -> str | None:
    found = node.find(path)
    assert found is not None, path
    return found.text


def full_recording(**changes: object) -> Recording:
    thumbs = [Thumbnail("/presentation/rid-1/presentation/p1/thumbnails/thumb-1.png", "176", "136", "Welcome")]
    recording = Recording(
        record_id="rid-1",
        tenant_id="t",
        meeting_id="room & co",
        name="Fred's <Room>",
        state=RecordingState.PUBLISHED,
        published=True,
        protected=False,
        start_time=1530718721124,
        end_time=1530718810456,
        participants=3,
        raw_size=977816,
        metadata={"gl-listed": "false", "empty": "", "bbb-context": "Course 1"},
        formats={
            "video": PlaybackFormat("video", "/playback/video/rid-1/", length=2, size=999),
            "presentation": PlaybackFormat(
                "presentation", "/playback/presentation/2.3/rid-1", length=1, processing_time=7177, thumbnails=thumbs
            ),
        },
    )
    for key, value in changes.items():
        setattr(recording, key, value)
    return recording


def only_recording(body: bytes) -> ET.Element:
    root = parse(body)
    found = root.findall("recordings/recording")
    assert len(found) == 1
    return found[0]


# --- getRecordings ---------------------------------------------------------------------------------------------


def test_recording_fields_in_order() -> None:
    root = parse(bbb_recordings.recordings([full_recording()], base_url=BASE, protected_enabled=True))
    assert children(root) == ["returncode", "recordings"]
    assert text(root, "returncode") == "SUCCESS"
    node = only_recording(bbb_recordings.recordings([full_recording()], base_url=BASE, protected_enabled=True))
    assert children(node) == [
        "recordID",
        "meetingID",
        "internalMeetingID",
        "name",
        "isBreakout",
        "published",
        "protected",
        "state",
        "startTime",
        "endTime",
        "participants",
        "rawSize",
        "metadata",
        "playback",
    ]
    assert text(node, "recordID") == "rid-1"
    assert text(node, "meetingID") == "room & co"
    assert text(node, "internalMeetingID") == "rid-1"
    assert text(node, "name") == "Fred's <Room>"
    assert text(node, "isBreakout") == "false"
    assert text(node, "published") == "true"
    assert text(node, "protected") == "false"
    assert text(node, "state") == "published"
    assert text(node, "startTime") == "1530718721124"
    assert text(node, "endTime") == "1530718810456"
    assert text(node, "participants") == "3"
    assert text(node, "rawSize") == "977816"


def test_internal_meeting_id_when_known() -> None:
    node = only_recording(
        bbb_recordings.recordings(
            [full_recording(internal_meeting_id="internal-9")], base_url=BASE, protected_enabled=False
        )
    )
    assert text(node, "internalMeetingID") == "internal-9"


def test_optional_fields_left_out() -> None:
    r = full_recording(participants=None, raw_size=None, formats={}, metadata={})
    node = only_recording(bbb_recordings.recordings([r], base_url=BASE, protected_enabled=False))
    assert node.find("participants") is None
    assert node.find("rawSize") is None
    assert children(node)[-2:] == ["metadata", "playback"]
    assert len(node.findall("metadata/*")) == 0
    assert len(node.findall("playback/*")) == 0


def test_no_protected_element_when_the_feature_is_off() -> None:
    body = bbb_recordings.recordings([full_recording(protected=True)], base_url=BASE, protected_enabled=False)
    node = only_recording(body)
    assert node.find("protected") is None
    # protection means nothing while off: plain URLs and previews
    assert text(node, "playback/format[type='presentation']/url") == BASE + "/playback/presentation/2.3/rid-1"
    assert node.find("playback/format/preview") is not None


def test_metadata_every_key_and_empty_values() -> None:
    body = bbb_recordings.recordings([full_recording()], base_url=BASE, protected_enabled=False)
    metadata = only_recording(body).find("metadata")
    assert metadata is not None
    assert children(metadata) == ["gl-listed", "empty", "bbb-context"]
    assert text(metadata, "gl-listed") == "false"
    assert text(metadata, "bbb-context") == "Course 1"
    assert not text(metadata, "empty")  # ElementTree writes no CDATA: an empty element
    assert b"<empty />" in body


def test_metadata_keys_that_are_not_element_names_are_left_out() -> None:
    r = full_recording(metadata={"1bad": "x", "has space": "y", "ns:key": "z", "good_key.v2": "ok"})
    body = bbb_recordings.recordings([r], base_url=BASE, protected_enabled=False)
    metadata = only_recording(body).find("metadata")
    assert metadata is not None
    assert children(metadata) == ["good_key.v2"]


def test_characters_xml_cannot_carry_are_dropped() -> None:
    r = full_recording(name="a\x00b\x1fc\td", metadata={"k": "v\x07"})
    node = only_recording(bbb_recordings.recordings([r], base_url=BASE, protected_enabled=False))
    assert text(node, "name") == "abc\td"
    assert text(node, "metadata/k") == "v"


def test_formats_sorted_by_name_with_their_fields() -> None:
    body = bbb_recordings.recordings([full_recording()], base_url=BASE, protected_enabled=False)
    formats = only_recording(body).findall("playback/format")
    assert [text(f, "type") for f in formats] == ["presentation", "video"]
    presentation, video = formats
    assert children(presentation) == ["type", "url", "length", "processingTime", "preview"]
    assert text(presentation, "url") == "https://lb.example.com/playback/presentation/2.3/rid-1"
    assert text(presentation, "length") == "1"
    assert text(presentation, "processingTime") == "7177"
    assert children(video) == ["type", "url", "length", "size"]
    assert text(video, "url") == "https://lb.example.com/playback/video/rid-1/"
    assert text(video, "size") == "999"


def test_preview_images() -> None:
    body = bbb_recordings.recordings([full_recording()], base_url=BASE + "/", protected_enabled=False)
    images = only_recording(body).findall("playback/format/preview/images/image")
    assert len(images) == 1
    assert images[0].attrib == {"alt": "Welcome", "height": "136", "width": "176"}
    assert images[0].text == BASE + "/presentation/rid-1/presentation/p1/thumbnails/thumb-1.png"


def test_absolute_stored_url_is_kept() -> None:
    r = full_recording(formats={"podcast": PlaybackFormat("podcast", "https://cdn.example.com/p.ogg")})
    node = only_recording(bbb_recordings.recordings([r], base_url=BASE, protected_enabled=False))
    assert text(node, "playback/format/url") == "https://cdn.example.com/p.ogg"


def test_protected_recording_has_no_preview_and_signed_urls() -> None:
    calls: list[tuple[str, str]] = []

    def sign(recording: Recording, fmt: PlaybackFormat) -> str:
        calls.append((recording.record_id, fmt.format))
        return f"{BASE}/recording/{recording.record_id}/{fmt.format}?token=abc"

    body = bbb_recordings.recordings(
        [full_recording(protected=True)], base_url=BASE, protected_enabled=True, protected_url=sign
    )
    node = only_recording(body)
    assert text(node, "protected") == "true"
    assert node.find(".//preview") is None
    assert [text(f, "url") for f in node.findall("playback/format")] == [
        BASE + "/recording/rid-1/presentation?token=abc",
        BASE + "/recording/rid-1/video?token=abc",
    ]
    assert calls == [("rid-1", "presentation"), ("rid-1", "video")]


def test_protected_recording_without_signer_gets_plain_urls() -> None:
    body = bbb_recordings.recordings([full_recording(protected=True)], base_url=BASE, protected_enabled=True)
    node = only_recording(body)
    assert text(node, "playback/format/url") == BASE + "/playback/presentation/2.3/rid-1"
    assert node.find(".//preview") is None


def test_unprotected_recording_never_calls_the_signer() -> None:
    def refuse(recording: Recording, fmt: PlaybackFormat) -> str:
        raise AssertionError("signed an unprotected recording")

    body = bbb_recordings.recordings([full_recording()], base_url=BASE, protected_enabled=True, protected_url=refuse)
    assert only_recording(body).find(".//preview") is not None


def test_several_recordings_keep_the_given_order() -> None:
    items = [full_recording(record_id="b"), full_recording(record_id="a")]
    root = parse(bbb_recordings.recordings(items, base_url=BASE, protected_enabled=False))
    assert [r.findtext("recordID") for r in root.findall("recordings/recording")] == ["b", "a"]


def test_total_elements_is_the_last_child() -> None:
    root = parse(bbb_recordings.recordings([full_recording()], base_url=BASE, protected_enabled=False, total=42))
    assert children(root) == ["returncode", "recordings", "totalElements"]
    assert text(root, "totalElements") == "42"


def test_no_total_elements_unless_paginated() -> None:
    root = parse(bbb_recordings.recordings([full_recording()], base_url=BASE, protected_enabled=False))
    assert root.find("totalElements") is None


def test_empty_is_bbbs_no_recordings_answer() -> None:
    assert bbb_recordings.recordings([], base_url=BASE, protected_enabled=True) == no_recordings()
    root = parse(no_recordings())
    assert children(root) == ["returncode", "recordings", "messageKey", "message"]
    assert text(root, "messageKey") == "noRecordings"


def test_empty_page_keeps_no_recordings_and_adds_the_total() -> None:
    root = parse(bbb_recordings.recordings([], base_url=BASE, protected_enabled=False, total=7))
    assert children(root) == ["returncode", "recordings", "messageKey", "message", "totalElements"]
    assert text(root, "returncode") == "SUCCESS"
    assert text(root, "messageKey") == "noRecordings"
    assert text(root, "totalElements") == "7"
    assert len(root.findall("recordings/*")) == 0


# --- publish / delete / update ------------------------------------------------------------------------------------


def test_published_echoes_the_value() -> None:
    for value, word in ((True, "true"), (False, "false")):
        root = parse(bbb_recordings.published(value))
        assert children(root) == ["returncode", "published"]
        assert (text(root, "returncode"), text(root, "published")) == ("SUCCESS", word)


def test_deleted() -> None:
    root = parse(bbb_recordings.deleted())
    assert children(root) == ["returncode", "deleted"]
    assert text(root, "deleted") == "true"


def test_updated() -> None:
    for value, word in ((True, "true"), (False, "false")):
        root = parse(bbb_recordings.updated(value))
        assert children(root) == ["returncode", "updated"]
        assert text(root, "updated") == word


# --- text tracks (JSON) ------------------------------------------------------------------------------------------


def test_text_tracks() -> None:
    track = bbb_json.TextTrack(
        href="https://lb.example.com/textTrack/tok/rid-1/subtitles_en-US.vtt",
        kind="subtitles",
        label="English",
        lang="en-US",
        source="upload",
    )
    body = bbb_json.text_tracks([track])
    assert json.loads(body) == {
        "response": {
            "returncode": "SUCCESS",
            "tracks": [
                {
                    "href": "https://lb.example.com/textTrack/tok/rid-1/subtitles_en-US.vtt",
                    "kind": "subtitles",
                    "label": "English",
                    "lang": "en-US",
                    "source": "upload",
                }
            ],
        }
    }
    assert list(json.loads(body)["response"]["tracks"][0]) == ["href", "kind", "label", "lang", "source"]


def test_text_tracks_empty_and_unicode() -> None:
    assert json.loads(bbb_json.text_tracks([])) == {"response": {"returncode": "SUCCESS", "tracks": []}}
    body = bbb_json.text_tracks([bbb_json.TextTrack("h", "captions", "Français", "fr", "live")])
    assert "Français".encode() in body


def test_text_track_error() -> None:
    body = bbb_json.text_track_error("noRecordings", "No recording found for rid-1")
    assert json.loads(body) == {
        "response": {"returncode": "FAILED", "messageKey": "noRecordings", "message": "No recording found for rid-1"}
    }


def test_text_track_uploaded() -> None:
    response = json.loads(bbb_json.text_track_uploaded("rid-1"))["response"]
    assert response == {
        "messageKey": "upload_text_track_success",
        "message": "Text track uploaded successfully",
        "recordId": "rid-1",
        "returncode": "SUCCESS",
    }
    assert list(response) == ["messageKey", "message", "recordId", "returncode"]
