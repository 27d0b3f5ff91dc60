"""Recording archives (`<format>/<recordID>/…`, Scalelite's layout; `.tar` or `.tar.gz`), read as streams.

The importer reads an archive twice, straight from S3: `scan` checks every member header (the rules of Python's
`tarfile.data_filter` and ours: one recording, members only under `<format>/<recordID>/`, limits on the declared
sizes before a byte is written) and parses each metadata.xml; only then does `copy` hand each file to a writer.
Nothing is extracted to disk and memory stays bounded (only metadata.xml is read into memory, capped).
"""

from __future__ import annotations

import mimetypes
import posixpath
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from scalelite_common.bbb.metadata import FORMAT, RECORD_ID, FormatImport, MetadataError, parse_metadata

MAX_METADATA_BYTES = 4 * 1024 * 1024
_TYPES = {
    ".svg": "image/svg+xml",
    ".webm": "video/webm",
    ".m4v": "video/mp4",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
    ".json": "application/json",
    ".xml": "application/xml",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
}


class ArchiveRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Member:
    name: str  # normalised archive path: `<format>/<recordID>/<path>`
    format: str
    path: str  # inside `<format>/<recordID>/`
    size: int


@dataclass
class Manifest:
    record_id: str
    formats: dict[str, FormatImport] = field(default_factory=dict)
    members: list[Member] = field(default_factory=list)
    total_bytes: int = 0


def content_type(path: str) -> str:
    ext = posixpath.splitext(path.lower())[1]
    return _TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def content_disposition(path: str) -> str | None:
    """`attachment` for .pdf and .ogg, as Scalelite sets it on S3."""
    return "attachment" if path.lower().endswith((".pdf", ".ogg")) else None


def _place(info: tarfile.TarInfo) -> tuple[str, str, str, str] | None:
    """(normalised name, format, recordID, path) of a member, after the data_filter-style checks; None for the
    `<format>/` and `<format>/<recordID>/` directories themselves."""
    raw = info.name
    if "\0" in raw or "\\" in raw:
        raise ArchiveRejected(f"member name not allowed: {raw[:200]!r}")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise ArchiveRejected(f"absolute member path: {raw[:200]}")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRejected(f"member path escapes the archive: {raw[:200]}")
    if info.issym() or info.islnk():
        raise ArchiveRejected(f"links are not allowed: {raw[:200]}")
    if not (info.isfile() or info.isdir()):
        raise ArchiveRejected(f"only files and directories are allowed: {raw[:200]}")
    if not parts:
        if info.isdir():
            return None
        raise ArchiveRejected(f"member name not allowed: {raw[:200]!r}")
    name = "/".join(parts)
    if len(parts) < 2 or not FORMAT.match(parts[0]) or not RECORD_ID.match(parts[1]):
        if info.isdir() and len(parts) == 1 and FORMAT.match(parts[0]):
            return None
        raise ArchiveRejected(f"member outside <format>/<recordID>/: {name[:200]}")
    if len(parts) == 2:
        if info.isdir():
            return None
        raise ArchiveRejected(f"member outside <format>/<recordID>/: {name[:200]}")
    return name, parts[0], parts[1], "/".join(parts[2:])


def _open(stream: IO[bytes]) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=stream, mode="r|*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveRejected(f"not a tar archive: {type(exc).__name__}") from None


def scan(
    stream: IO[bytes],
    *,
    max_members: int = 50_000,
    max_bytes: int = 10 * 1024**3,
    max_metadata_bytes: int = MAX_METADATA_BYTES,
) -> Manifest:
    record_ids: set[str] = set()
    members: list[Member] = []
    formats: dict[str, FormatImport] = {}
    format_dirs: set[str] = set()
    total = count = 0
    try:
        with _open(stream) as tar:
            for info in tar:
                count += 1
                if count > max_members:
                    raise ArchiveRejected(f"more than {max_members} members (RECORDING_IMPORT_MAX_MEMBERS)")
                placed = _place(info)
                if placed is None or info.isdir():
                    continue
                name, fmt, record_id, path = placed
                record_ids.add(record_id)
                if len(record_ids) > 1:
                    raise ArchiveRejected(f"several record ids: {', '.join(sorted(record_ids))}")
                total += info.size
                if total > max_bytes:
                    raise ArchiveRejected(f"declared size exceeds {max_bytes} bytes (RECORDING_IMPORT_MAX_BYTES)")
                format_dirs.add(fmt)
                members.append(Member(name=name, format=fmt, path=path, size=info.size))
                if path == "metadata.xml":
                    if info.size > max_metadata_bytes:
                        raise ArchiveRejected(f"metadata.xml of {fmt} is larger than {max_metadata_bytes} bytes")
                    body = tar.extractfile(info)
                    data = body.read() if body is not None else b""
                    if len(data) != info.size:
                        raise ArchiveRejected("truncated archive")
                    try:
                        parsed = parse_metadata(data)
                    except MetadataError as exc:
                        raise ArchiveRejected(f"{fmt}: {exc.reason}") from None
                    if parsed.record_id != record_id:
                        raise ArchiveRejected(f"record id mismatch: dir {record_id}, metadata {parsed.record_id}")
                    if parsed.format != fmt:
                        raise ArchiveRejected(f"format mismatch: dir {fmt}, metadata {parsed.format}")
                    formats[fmt] = parsed
    except ArchiveRejected:
        raise
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveRejected(f"truncated or corrupt archive ({type(exc).__name__})") from None
    if not record_ids:
        raise ArchiveRejected("no recording in the archive")
    missing = sorted(format_dirs - set(formats))
    if missing:
        raise ArchiveRejected(f"no metadata.xml for format(s): {', '.join(missing)}")
    return Manifest(record_id=next(iter(record_ids)), formats=formats, members=members, total_bytes=total)


def copy(stream: IO[bytes], manifest: Manifest, write: Callable[[Member, IO[bytes]], None]) -> None:
    """Second pass: hand each file to `write` (streamed), checking the archive is still the one scanned."""
    expected = iter(manifest.members)
    try:
        with _open(stream) as tar:
            for info in tar:
                placed = _place(info)
                if placed is None or info.isdir():
                    continue
                member = next(expected, None)
                if member is None or member.name != placed[0] or member.size != info.size:
                    raise ArchiveRejected("archive changed between passes")
                body = tar.extractfile(info)
                if body is None:
                    raise ArchiveRejected(f"unreadable member: {member.name}")
                write(member, body)
    except ArchiveRejected:
        raise
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveRejected(f"truncated or corrupt archive ({type(exc).__name__})") from None
    if next(expected, None) is not None:
        raise ArchiveRejected("archive changed between passes")
