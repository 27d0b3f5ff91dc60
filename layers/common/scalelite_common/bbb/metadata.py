"""A recording format's `metadata.xml` (bbb-api.md §3.1; Scalelite §5.3), parsed with defusedxml into domain values."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from scalelite_common.bbb import xml
from scalelite_common.domain.entities import PlaybackFormat, RecordingState, Thumbnail

# `\Z`, not `$` (which also matches before a final newline): these names become S3 keys.
RECORD_ID = re.compile(r"^[0-9a-f]{40}-[0-9]{10,16}(-[0-9]{10,16})?\Z")  # segmented ids: `<sha1>-<ts>-<ts>`
FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
INTERNAL_META = frozenset({"isBreakout", "meetingId", "meetingName"})  # BBB's own keys, not the LMS's metadata
_NUMBER = re.compile(r"^[0-9]{1,19}\Z")
# XMLDecl? Misc* doctypedecl: a DTD in the prolog (defusedxml's defaults refuse entities, not a bare DOCTYPE).
_DOCTYPE = re.compile(rb"^(?:\xef\xbb\xbf)?(?:<\?xml[^>]*\?>)?(?:\s+|<!--.*?-->|<\?.*?\?>)*<!DOCTYPE", re.DOTALL)
_STATES = {s.value: s for s in RecordingState}


class MetadataError(Exception):
    """metadata.xml is not acceptable; `reason` says why (short, safe to log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FormatImport:
    """What one format's metadata.xml says about the recording and its playback."""

    record_id: str
    format: str
    state: RecordingState
    published: bool
    start_time: int  # epoch ms (0 when absent)
    end_time: int  # epoch ms (0 when absent)
    participants: int | None
    raw_size: int | None
    name: str
    meeting_id: str  # external (the LMS's) meetingID
    internal_meeting_id: str  # `<meeting id=…>`; "" without <meeting>
    is_breakout: bool
    metadata: dict[str, str] = field(default_factory=dict)
    playback: PlaybackFormat = field(default_factory=lambda: PlaybackFormat("", ""))


def path_only(url: str) -> str:
    """A URL's path and query: Scalelite stores links host-less and prefixes the request's host when answering."""
    parts = urlsplit(url.strip())
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _int(root: ET.Element, path: str) -> int | None:
    text = xml.text(root, path)
    if not text:
        return None
    if not _NUMBER.match(text):
        raise MetadataError(f"<{path}> is not a number: {text[:40]!r}")
    return int(text)


def _parse(body: bytes) -> ET.Element:
    try:
        root = xml.parse(body)
    except xml.MalformedXML as exc:
        cause = exc.__cause__
        if isinstance(cause, EntitiesForbidden):
            raise MetadataError("entity declarations are not allowed") from None
        if isinstance(cause, DTDForbidden):
            raise MetadataError("DTDs are not allowed") from None
        if isinstance(cause, ExternalReferenceForbidden):
            raise MetadataError("external references are not allowed") from None
        raise MetadataError(f"not well-formed XML: {str(exc)[:120]}") from None
    if _DOCTYPE.match(body):  # well-formed, entity-free, but with a DTD (say, default attributes): refused too
        raise MetadataError("DTDs are not allowed")
    return root


def parse_metadata(body: bytes) -> FormatImport:
    """One format's metadata.xml → FormatImport; MetadataError when it is not XML (or carries a DTD or entities),
    lacks `<id>` or `<playback><format>`, or has a number or a state that does not parse."""
    root = _parse(body)
    if root.tag != "recording":
        raise MetadataError(f"the root element is <{str(root.tag)[:40]}>, not <recording>")
    record_id = xml.text(root, "id")
    if not record_id:
        raise MetadataError("<id> is missing")
    if not RECORD_ID.match(record_id):
        raise MetadataError(f"<id> is not a recording id: {record_id[:80]!r}")
    fmt_name = xml.text(root, "playback/format")
    if not fmt_name:
        raise MetadataError("<playback><format> is missing")
    if not FORMAT.match(fmt_name):
        raise MetadataError(f"<playback><format> is not a format name: {fmt_name[:80]!r}")
    state_text = xml.text(root, "state", "published").lower()  # absent: as published, the state of a published tree
    state = RecordingState.PUBLISHED if state_text == "available" else _STATES.get(state_text)  # screenshare bug
    if state is None:
        raise MetadataError(f"unknown <state>: {state_text[:40]!r}")
    meta = root.find("meta")
    metadata = {
        child.tag: child.text or ""
        for child in (meta if meta is not None else [])
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
        length=(duration + 30_000) // 60_000,  # minutes, half up: Ruby's `(ms / 60000.0).round` in Scalelite
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
