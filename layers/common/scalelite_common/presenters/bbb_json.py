"""The JSON answers of BBB's text-track calls (bbb-api.md §2.12–2.13): getRecordingTextTracks and
putRecordingTextTrack. Keys in BBB's order; UTF-8, compact."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TextTrack:
    href: str  # absolute URL of the .vtt file
    kind: str  # subtitles | captions
    label: str
    lang: str  # BCP-47, e.g. en-US
    source: str  # live | automatic | upload


def _document(response: dict[str, Any]) -> bytes:
    return json.dumps({"response": response}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def text_tracks(tracks: Sequence[TextTrack]) -> bytes:
    """getRecordingTextTracks' success (an empty list is still a success: the caller answers `noCaptionsFound` if it
    wants that)."""
    return _document(
        {
            "returncode": "SUCCESS",
            "tracks": [
                {"href": t.href, "kind": t.kind, "label": t.label, "lang": t.lang, "source": t.source} for t in tracks
            ],
        }
    )


def text_track_error(key: str, message: str) -> bytes:
    """A failed text-track call (`noRecordings`, `noCaptionsFound`, `missingParameter`, `paramError`, `invalidKind`,
    `invalidLang`, `empty_uploaded_text_track`, `upload_text_track_failed`, …)."""
    return _document({"returncode": "FAILED", "messageKey": key, "message": message})


def text_track_uploaded(record_id: str) -> bytes:
    """putRecordingTextTrack's success."""
    return _document(
        {
            "messageKey": "upload_text_track_success",
            "message": "Text track uploaded successfully",
            "recordId": record_id,
            "returncode": "SUCCESS",
        }
    )
