"""Recordings as a BBB server writes them (bbb-api.md §3.1–3.2), for tests: metadata.xml, trees, archives."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path

START_MS = 1_741_369_843_904


def record_id_for(meeting_id: str, start_ms: int = START_MS) -> str:
    return f"{hashlib.sha1(meeting_id.encode()).hexdigest()}-{start_ms}"


def metadata_xml(
    record_id: str,
    fmt: str = "presentation",
    *,
    meeting_id: str = "class-1",
    name: str = "Class 1",
    published: bool = True,
    meta: Mapping[str, str] | None = None,
    duration_ms: int = 4_684_838,
) -> bytes:
    start = int(record_id.split("-")[1])
    extra = "".join(f"<{k}>{v}</{k}>" for k, v in (meta or {"bbb-origin": "Moodle", "gl-listed": "false"}).items())
    images = (
        f'<extensions><preview><images><image width="176" height="136" alt="Welcome to">'
        f"https://bbb1.example.com/presentation/{record_id}/presentation/d1/thumbnails/thumb-1.png</image>"
        f"</images></preview></extensions>"
        if fmt == "presentation"
        else ""
    )
    link = (
        f"https://bbb1.example.com/playback/presentation/2.3/{record_id}"
        if fmt == "presentation"
        else f"https://bbb1.example.com/playback/{fmt}/{record_id}/"
    )
    return f"""<?xml version="1.0"?>
<recording>
  <id>{record_id}</id>
  <state>{"published" if published else "unpublished"}</state>
  <published>{"true" if published else "false"}</published>
  <start_time>{start}</start_time>
  <end_time>{start + duration_ms}</end_time>
  <participants>20</participants>
  <meeting id="{record_id}" externalId="{meeting_id}" name="{name}" breakout="false"/>
  <meta><isBreakout>false</isBreakout><meetingId>{meeting_id}</meetingId><meetingName>{name}</meetingName>{extra}</meta>
  <playback>
    <format>{fmt}</format>
    <link>{link}</link>
    <processing_time>652354</processing_time>
    <duration>{duration_ms}</duration>
    {images}
    <size>59181388</size>
  </playback>
  <raw_size>95830302</raw_size>
</recording>
""".encode()


def format_files(record_id: str, fmt: str, **meta_kw: object) -> dict[str, bytes]:
    """The files of one published format (paths inside `<format>/<recordID>/`)."""
    files = {"metadata.xml": metadata_xml(record_id, fmt, **meta_kw)}  # type: ignore[arg-type]
    if fmt == "presentation":
        files.update(
            {
                "shapes.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                "presentation/d1/slide-1.png": b"\x89PNG slide",
                "presentation/d1/thumbnails/thumb-1.png": b"\x89PNG thumb",
                "video/webcams.webm": b"\x1aE\xdf\xa3 webm" * 100,
                "notes.pdf": b"%PDF-1.4 notes",
            }
        )
    else:
        files.update({"index.html": b"<html></html>", "video-0.m4v": b"\x00\x00\x00 m4v" * 100})
    return files


def archive_bytes(
    record_id: str,
    formats: Iterable[str] = ("presentation", "video"),
    *,
    gz: bool = False,
    files: Mapping[str, Mapping[str, bytes]] | None = None,
    **meta_kw: object,
) -> bytes:
    """Scalelite's archive of the recording: `<format>/<recordID>/…`."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gz else "w") as tar:
        for fmt in formats:
            content = (files or {}).get(fmt) or format_files(record_id, fmt, **meta_kw)
            for path, data in content.items():
                info = tarfile.TarInfo(f"{fmt}/{record_id}/{path}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def write_tree(
    published_dir: Path, record_id: str, formats: Iterable[str] = ("presentation", "video"), **meta_kw: object
) -> None:
    """The recording's published formats on disk, as under /var/bigbluebutton/published."""
    for fmt in formats:
        for path, data in format_files(record_id, fmt, **meta_kw).items():
            target = published_dir / fmt / record_id / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
