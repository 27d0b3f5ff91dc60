"""metadata.xml parsing (bbb-api.md §3.1, Scalelite §5.3): the fields read, the fallbacks, and every refusal."""

from __future__ import annotations

import pytest

from scalelite_common.bbb.metadata import FORMAT, RECORD_ID, MetadataError, parse_metadata, path_only
from scalelite_common.domain.entities import PlaybackFormat, RecordingState, Thumbnail

RID = "834c9292041b9047ebe2061075cf2984b80e6a2d-1741369843904"
PRES = "d2d9a672040fbde2a47a10bf6c37b6a4b5ae187f-1741369843912"

SAMPLE = f"""<?xml version="1.0"?>
<recording>
  <id>{RID}</id>
  <state>published</state>
  <published>true</published>
  <start_time>1741369843904</start_time>
  <end_time>1741375480408</end_time>
  <participants>20</participants>
  <meeting id="{RID}" externalId="ff2b-10225-18174[0]" name="Regroupement n°1 &amp; co" breakout="false"/>
  <breakout/>
  <breakoutRooms/>
  <meta>
    <isBreakout>false</isBreakout>
    <meetingId>ff2b-10225-18174[0]</meetingId>
    <meetingName>Regroupement n°1 &amp; co</meetingName>
    <bbb-origin>Moodle</bbb-origin>
    <bbb-recording-name> Séance 1 </bbb-recording-name>
    <gl-listed/>
  </meta>
  <playback>
    <format>presentation</format>
    <link>https://bbb3.example/playback/presentation/2.3/{RID}</link>
    <processing_time>652354</processing_time>
    <duration>4684838</duration>
    <extensions>
      <preview>
        <images>
          <image width="176" height="136" alt="Welcome to">https://bbb3.example/presentation/{RID}/presentation/{PRES}/thumbnails/thumb-1.png</image>
          <image width="176" height="136" alt="" duration="12">https://bbb3.example/presentation/{RID}/presentation/{PRES}/thumbnails/thumb-2.png</image>
        </images>
      </preview>
    </extensions>
    <size>59181388</size>
  </playback>
  <raw_size>95830302</raw_size>
</recording>
"""


def without(*fragments: str) -> bytes:
    text = SAMPLE
    for fragment in fragments:
        assert fragment in text
        text = text.replace(fragment, "")
    return text.encode()


def reason_of(body: bytes) -> str:
    with pytest.raises(MetadataError) as info:
        parse_metadata(body)
    assert str(info.value) == info.value.reason
    return info.value.reason


def test_sample_every_field() -> None:
    fmt = parse_metadata(SAMPLE.encode())
    assert fmt.record_id == RID
    assert fmt.format == "presentation"
    assert fmt.state is RecordingState.PUBLISHED
    assert fmt.published is True
    assert (fmt.start_time, fmt.end_time) == (1741369843904, 1741375480408)
    assert fmt.participants == 20
    assert fmt.raw_size == 95830302
    assert fmt.name == "Regroupement n°1 & co"
    assert fmt.meeting_id == "ff2b-10225-18174[0]"
    assert fmt.internal_meeting_id == RID
    assert fmt.is_breakout is False
    assert fmt.metadata == {"bbb-origin": "Moodle", "bbb-recording-name": " Séance 1 ", "gl-listed": ""}
    assert fmt.playback == PlaybackFormat(
        format="presentation",
        url=f"/playback/presentation/2.3/{RID}",
        length=78,
        processing_time=652354,
        size=59181388,
        thumbnails=[
            Thumbnail(f"/presentation/{RID}/presentation/{PRES}/thumbnails/thumb-1.png", "176", "136", "Welcome to"),
            Thumbnail(f"/presentation/{RID}/presentation/{PRES}/thumbnails/thumb-2.png", "176", "136", ""),
        ],
    )


def test_without_meeting_element_falls_back_to_meta() -> None:
    body = SAMPLE.replace(
        f'<meeting id="{RID}" externalId="ff2b-10225-18174[0]" name="Regroupement n°1 &amp; co" breakout="false"/>', ""
    ).replace("<isBreakout>false</isBreakout>", "<isBreakout>true</isBreakout>")
    fmt = parse_metadata(body.encode())
    assert fmt.meeting_id == "ff2b-10225-18174[0]"
    assert fmt.name == "Regroupement n°1 & co"
    assert fmt.internal_meeting_id == ""
    assert fmt.is_breakout is True


def test_breakout_attribute() -> None:
    fmt = parse_metadata(SAMPLE.replace('breakout="false"', 'breakout="true"').encode())
    assert fmt.is_breakout is True


def test_optional_fields_absent() -> None:
    body = without(
        "<participants>20</participants>",
        "<raw_size>95830302</raw_size>",
        "<size>59181388</size>",
        "<processing_time>652354</processing_time>",
        "<duration>4684838</duration>",
        "<meta>",
        "</meta>",
    )
    fmt = parse_metadata(body.replace(b"<isBreakout>false</isBreakout>", b""))
    assert fmt.participants is None and fmt.raw_size is None
    assert fmt.playback.size is None and fmt.playback.processing_time is None
    assert fmt.playback.length == 0


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("published", RecordingState.PUBLISHED),
        ("available", RecordingState.PUBLISHED),  # the old screenshare bug
        ("unpublished", RecordingState.UNPUBLISHED),
        ("processed", RecordingState.PROCESSED),
        ("processing", RecordingState.PROCESSING),
        ("deleted", RecordingState.DELETED),
        ("Published", RecordingState.PUBLISHED),
    ],
)
def test_states(state: str, expected: RecordingState) -> None:
    assert parse_metadata(SAMPLE.replace("<state>published</state>", f"<state>{state}</state>").encode()).state is (
        expected
    )


def test_unknown_state_is_refused() -> None:
    assert reason_of(SAMPLE.replace("<state>published</state>", "<state>rotten</state>").encode()) == (
        "unknown <state>: 'rotten'"
    )


@pytest.mark.parametrize(("text", "expected"), [("false", False), ("FALSE", False), ("true", True), ("", True)])
def test_published_flag(text: str, expected: bool) -> None:
    body = SAMPLE.replace("<published>true</published>", f"<published>{text}</published>")
    assert parse_metadata(body.encode()).published is expected


def test_published_absent_means_true() -> None:
    assert parse_metadata(without("<published>true</published>")).published is True


@pytest.mark.parametrize(("ms", "minutes"), [(0, 0), (29_999, 0), (30_000, 1), (90_000, 2), (150_000, 3)])
def test_length_rounds_half_up_like_scalelite(ms: int, minutes: int) -> None:
    body = SAMPLE.replace("<duration>4684838</duration>", f"<duration>{ms}</duration>")
    assert parse_metadata(body.encode()).playback.length == minutes


def test_old_link_keeps_its_query() -> None:
    body = SAMPLE.replace(
        f"https://bbb3.example/playback/presentation/2.3/{RID}",
        f"https://bbb3.example/playback/presentation/0.9.0/playback.html?meetingId={RID}",
    )
    assert parse_metadata(body.encode()).playback.url == f"/playback/presentation/0.9.0/playback.html?meetingId={RID}"


def test_path_only() -> None:
    assert path_only(" https://h.example:8443/a/b?x=1&y=2#frag ") == "/a/b?x=1&y=2"
    assert path_only("/already/relative") == "/already/relative"
    assert path_only("") == ""


def test_segmented_id_and_other_format() -> None:
    seg = f"{RID}-1741370000000"
    body = SAMPLE.replace(f"<id>{RID}</id>", f"<id>{seg}</id>").replace(
        "<format>presentation</format>", "<format>video</format>"
    )
    fmt = parse_metadata(body.encode())
    assert (fmt.record_id, fmt.format, fmt.playback.format) == (seg, "video", "video")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (without(f"<id>{RID}</id>"), "<id> is missing"),
        (SAMPLE.replace(f"<id>{RID}</id>", "<id>../../etc</id>").encode(), "<id> is not a recording id: '../../etc'"),
        (without("<format>presentation</format>"), "<playback><format> is missing"),
        (
            SAMPLE.replace("<format>presentation</format>", "<format>a/b</format>").encode(),
            "<playback><format> is not a format name: 'a/b'",
        ),
        (
            SAMPLE.replace("<participants>20</participants>", "<participants>many</participants>").encode(),
            "<participants> is not a number: 'many'",
        ),
        (
            SAMPLE.replace("<start_time>1741369843904</start_time>", "<start_time>-1</start_time>").encode(),
            "<start_time> is not a number: '-1'",
        ),
        (
            SAMPLE.replace("<duration>4684838</duration>", "<duration>1e6</duration>").encode(),
            "<playback/duration> is not a number: '1e6'",
        ),
        (
            SAMPLE.replace("<size>59181388</size>", "<size>١٢</size>").encode(),  # int() would take Arabic digits
            "<playback/size> is not a number: '١٢'",
        ),
        (b"<response><id>x</id></response>", "the root element is <response>, not <recording>"),
    ],
)
def test_refusals(body: bytes, reason: str) -> None:
    assert reason_of(body) == reason


@pytest.mark.parametrize("body", [b"", b"not xml", b"<recording><id>", SAMPLE.encode()[:200]])
def test_invalid_xml(body: bytes) -> None:
    assert reason_of(body).startswith("not well-formed XML: ")


def test_billion_laughs_is_refused() -> None:
    levels = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{levels}]><recording>&lol9;</recording>'
    bomb_bytes = bomb.encode()
    assert reason_of(bomb_bytes) == "entity declarations are not allowed"


def test_external_entity_is_refused() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE recording [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<recording><id>&xxe;</id></recording>"
    )
    assert reason_of(body) == "entity declarations are not allowed"


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE recording SYSTEM "http://evil.example/x.dtd"><recording/>',
        b'<?xml version="1.0"?>\n<!-- c --><?pi x?>\n<!DOCTYPE recording><recording/>',
        b"\xef\xbb\xbf<!DOCTYPE recording><recording/>",
    ],
)
def test_any_dtd_is_refused(body: bytes) -> None:
    assert reason_of(body) == "DTDs are not allowed"


def test_doctype_text_inside_content_is_fine() -> None:
    body = SAMPLE.replace("<bbb-origin>Moodle</bbb-origin>", "<bbb-origin>&lt;!DOCTYPE x&gt;</bbb-origin>")
    assert parse_metadata(body.encode()).metadata["bbb-origin"] == "<!DOCTYPE x>"


@pytest.mark.parametrize(
    ("record_id", "ok"),
    [
        (RID, True),
        (f"{RID}-1741370000000", True),  # segmented
        ("834c9292041b9047ebe2061075cf2984b80e6a2d-1741369843", True),  # 10-digit timestamp
        ("834C9292041B9047EBE2061075CF2984B80E6A2D-1741369843904", False),  # upper-case hex
        ("834c9292041b9047ebe2061075cf2984b80e6a2-1741369843904", False),  # 39 hex digits
        (f"{RID}-1-2", False),
        (f"{RID}\n", False),
        ("", False),
    ],
)
def test_record_id_pattern(record_id: str, ok: bool) -> None:
    assert bool(RECORD_ID.match(record_id)) is ok


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("presentation", True),
        ("video", True),
        ("my_format-2", True),
        ("", False),
        ("a.b", False),
        ("video\n", False),
        ("a" * 65, False),
    ],
)
def test_format_pattern(name: str, ok: bool) -> None:
    assert bool(FORMAT.match(name)) is ok
