"""A recording format's `metadata.xml` (bbb-api.md §3.1; Scalelite §5.3), parsed with defusedxml into domain values."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from scalelite_common.bbb import xml
from scalelite_common.domain.entities import PlaybackFormat, RecordingState, Thumbnail

RECORD_ID = re.compile(r"^[0-9a-f]{40}-[0-9]{10,16}(-[0-9]{10,16})?$")  # segmented ids: `<sha1>-<ts>-<ts>`
FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
INTERNAL_META = frozenset({"isBreakout", "meetingId", "meetingName"})  # BBB's own, not the LMS's metadata
_STATES = {s.value: s for s in RecordingState}


class MetadataError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = f"metadata.xml invalid: {reason}"


@dataclass(frozen=True)
class FormatImport:
    """What one format's metadata.xml says about the recording and its playback."""

    record_id: str
    format: str
    state: RecordingState
    published: bool
    start_time: int
    end_time: int
    participants: int | None
    raw_size: int | None
    name: str
    meeting_id: str
    internal_meeting_id: str
    is_breakout: bool
    metadata: dict[str, str] = field(default_factory=dict)
    playback: PlaybackFormat = field(default_factory=lambda: PlaybackFormat("", ""))


def _int(root: ET.Element, path: str, *, required: bool = False) -> int | None:
    text = xml.text(root, path)
    if not text:
        if required:
            raise MetadataError(f"<{path}> is missing")
        return None
    try:
        return int(text)
    except ValueError:
        raise MetadataError(f"<{path}> is not a number: {text[:40]!r}") from None


def path_only(url: str) -> str:
    """A URL's path and query: stored host-less, prefixed with the request's host when answered (Scalelite)."""
    parts = urlsplit(url.strip())
    return parts.path + (f"?{parts.query}" if parts.query else "")


def parse_metadata(body: bytes) -> FormatImport:
    try:
        root = xml.parse(body)
    except xml.MalformedXML as exc:
        raise MetadataError(str(exc)[:200] or "not XML") from None
    if root.tag != "recording":
        raise MetadataError(f"the root element is <{root.tag}>, not <recording>")
    record_id = xml.text(root, "id")
    if not RECORD_ID.match(record_id):
        raise MetadataError(f"<id> is not a recording id: {record_id[:80]!r}")
    fmt_name = xml.text(root, "playback/format")
    if not FORMAT.match(fmt_name):
        raise MetadataError("<playback><format> is missing or not a format name")
    state_text = xml.text(root, "state", "published").lower()
    state = RecordingState.PUBLISHED if state_text == "available" else _STATES.get(state_text)  # BBB screenshare bug
    if state is None:
        raise MetadataError(f"unknown <state>: {state_text[:40]!r}")
    meta_node = root.find("meta")
    metadata = {
        child.tag: child.text or ""
        for child in (meta_node if meta_node is not None else [])
        if isinstance(child.tag, str) and child.tag not in INTERNAL_META
    }
    meeting = root.find("meeting")
    attrs = meeting.attrib if meeting is not None else {}
    duration = _int(root, "playback/duration") or 0
    thumbnails = [
        Thumbnail(
            url=path_only(image.text or ""),
            width=image.get("width", ""),
            height=image.get("height", ""),
            alt=image.get("alt", ""),
        )
        for image in root.findall("playback/extensions/preview/images/image")
        if (image.text or "").strip()
    ]
    playback = PlaybackFormat(
        format=fmt_name,
        url=path_only(xml.text(root, "playback/link")),
        length=round(duration / 60000),
        processing_time=_int(root, "playback/processing_time"),
        size=_int(root, "playback/size"),
        thumbnails=thumbnails,
    )
    breakout = attrs.get("breakout") or xml.text(root, "meta/isBreakout", "false")
    return FormatImport(
        record_id=record_id,
        format=fmt_name,
        state=state,
        published=xml.text(root, "published", "true").lower() != "false",
        start_time=_int(root, "start_time") or 0,
        end_time=_int(root, "end_time") or 0,
        participants=_int(root, "participants"),
        raw_size=_int(root, "raw_size"),
        name=attrs.get("name") or xml.text(root, "meta/meetingName"),
        meeting_id=attrs.get("externalId") or xml.text(root, "meta/meetingId"),
        internal_meeting_id=attrs.get("id", ""),
        is_breakout=breakout.strip().lower() == "true",
        metadata=metadata,
        playback=playback,
    )
