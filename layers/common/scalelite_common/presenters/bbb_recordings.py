"""The XML answers of the BBB recording calls (bbb-api.md §2.8–2.11, scalelite-behaviour.md §1.9–1.12), as Scalelite
writes them.

Empty metadata values: Scalelite writes `<key><![CDATA[]]></key>`. ElementTree cannot emit CDATA sections, so the
element is written empty (`<key />`); every XML parser reads both as the same element with no text."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence

from scalelite_common.bbb import xml
from scalelite_common.domain.entities import PlaybackFormat, Recording
from scalelite_common.domain.storage import is_protected
from scalelite_common.presenters.bbb_xml import no_recordings

ProtectedUrl = Callable[[Recording, PlaybackFormat], str]

# Characters XML 1.0 cannot carry at all (ElementTree would write them and make the document unreadable).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# A metadata key must be an element name; one that is not (a `meta_1x` set through updateRecordings, say) is left
# out rather than breaking the whole answer. No colons: they would read as namespace prefixes.
_ELEMENT_NAME = re.compile(r"[^\W\d][\w.\-]*")
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _sub(parent: ET.Element, name: str, value: object) -> ET.Element:
    node = ET.SubElement(parent, name)
    node.text = _text(value)
    return node


def absolute_url(base_url: str, path: str) -> str:
    """A stored host-less path under the request's scheme and host (an already absolute URL is kept)."""
    return path if _ABSOLUTE.match(path) else base_url + path


def _format(
    playback: ET.Element,
    r: Recording,
    name: str,
    fmt: PlaybackFormat,
    *,
    base_url: str,
    hidden: bool,
    protected_url: ProtectedUrl | None,
) -> None:
    entry = ET.SubElement(playback, "format")
    _sub(entry, "type", fmt.format or name)
    url = protected_url(r, fmt) if hidden and protected_url is not None else absolute_url(base_url, fmt.url)
    _sub(entry, "url", url)
    _sub(entry, "length", fmt.length)
    if fmt.processing_time is not None:
        _sub(entry, "processingTime", fmt.processing_time)
    if fmt.size is not None:
        _sub(entry, "size", fmt.size)
    if fmt.thumbnails and not hidden:
        images = ET.SubElement(ET.SubElement(entry, "preview"), "images")
        for thumb in fmt.thumbnails:
            attrs = {"alt": _text(thumb.alt), "height": _text(thumb.height), "width": _text(thumb.width)}
            ET.SubElement(images, "image", attrs).text = _text(absolute_url(base_url, thumb.url))


def _recording(
    parent: ET.Element, r: Recording, *, base_url: str, protected_enabled: bool, protected_url: ProtectedUrl | None
) -> None:
    node = ET.SubElement(parent, "recording")
    _sub(node, "recordID", r.record_id)
    _sub(node, "meetingID", r.meeting_id)
    _sub(node, "internalMeetingID", r.internal_meeting_id or r.record_id)
    _sub(node, "name", r.name)
    _sub(node, "isBreakout", r.is_breakout)
    _sub(node, "published", r.published)
    if protected_enabled:
        _sub(node, "protected", r.protected)
    _sub(node, "state", r.state.value)
    _sub(node, "startTime", r.start_time)
    _sub(node, "endTime", r.end_time)
    if r.participants is not None:
        _sub(node, "participants", r.participants)
    if r.raw_size is not None:
        _sub(node, "rawSize", r.raw_size)
    metadata = ET.SubElement(node, "metadata")
    for key, value in r.metadata.items():
        if _ELEMENT_NAME.fullmatch(key):
            _sub(metadata, key, value)  # an empty value: an empty element (see the module's docstring)
    playback = ET.SubElement(node, "playback")
    # Token URLs for a published protected recording only (protection means nothing while the feature is off, as in
    # Scalelite; an unpublished recording plays nowhere): the rule that puts its files under protected/.
    hidden = is_protected(r, protected_enabled)
    for name in sorted(r.formats):
        _format(playback, r, name, r.formats[name], base_url=base_url, hidden=hidden, protected_url=protected_url)


def recordings(
    items: Sequence[Recording],
    *,
    base_url: str,
    protected_enabled: bool,
    total: int | None = None,
    protected_url: ProtectedUrl | None = None,
) -> bytes:
    """getRecordings. `base_url` is the request's scheme and host (`https://lb.example.com`) that host-less playback
    paths are put under. `total` (paginated answers only) becomes `totalElements`, the last child of `<response>`.
    A protected recording's format URL comes from `protected_url` (signed tokens) when given, else it is the plain
    URL. No recordings: BBB's `noRecordings` answer (`bbb_xml.no_recordings`), plus `totalElements` when paginated
    (an offset past the end)."""
    base = base_url.rstrip("/")
    if not items:
        if total is None:
            return no_recordings()
        root = xml.parse(no_recordings())
    else:
        root = xml.response("SUCCESS")
        container = ET.SubElement(root, "recordings")
        for r in items:
            _recording(container, r, base_url=base, protected_enabled=protected_enabled, protected_url=protected_url)
    if total is not None:
        _sub(root, "totalElements", total)
    return xml.to_bytes(root)


def published(value: bool) -> bytes:
    """publishRecordings: the requested value echoed."""
    return xml.success(("published", value))


def deleted() -> bytes:
    return xml.success(("deleted", True))


def updated(value: bool) -> bytes:
    return xml.success(("updated", value))
