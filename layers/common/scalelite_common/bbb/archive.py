"""Recording archives (`<format>/<recordID>/…`, Scalelite's layout; `.tar` or `.tar.gz`), read as streams.

The importer reads an archive twice, straight from S3. `scan` checks every member header as it arrives (the rules of
Python's `tarfile.data_filter`, stricter on links, plus ours: one recording, members only under
`<format>/<recordID>/`, limits on the member count and the declared sizes) and parses each metadata.xml; only then
does `copy` hand each file to a writer. Nothing is extracted to disk; only metadata.xml is read into memory (capped),
other members' data is skipped by the stream.
"""

from __future__ import annotations

import mimetypes
import posixpath
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Self

from scalelite_common.bbb.metadata import FORMAT, RECORD_ID, FormatImport, MetadataError, parse_metadata

MAX_MEMBERS = 50_000
MAX_BYTES = 10 * 1024**3
MAX_METADATA_BYTES = 4 * 1024**2
MAX_HEADER_BYTES = 1024**2  # a pax or GNU long-name header's data, which tarfile reads into memory
_EXTENDED = frozenset(
    {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
)
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
    ".jpeg": "image/jpeg",
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
}
CHANGED = "archive changed between passes"


class ArchiveRejected(Exception):
    """The archive will never import; `reason` says why (short, human, safe to log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Member:
    """A regular file of the archive."""

    name: str  # normalised archive path: `<format>/<recordID>/<path>`
    format: str
    path: str  # inside `<format>/<recordID>/`
    size: int


@dataclass
class Manifest:
    """What `scan` found: the recording, each format's metadata.xml, the files in archive order."""

    record_id: str
    formats: dict[str, FormatImport] = field(default_factory=dict)
    members: list[Member] = field(default_factory=list)
    total_bytes: int = 0


def content_type(path: str) -> str:
    """The Content-Type of a recording file, from its extension."""
    ext = posixpath.splitext(path.lower())[1]
    return _TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def content_disposition(path: str) -> str | None:
    """`attachment` for .pdf and .ogg, as Scalelite sets it on S3; None otherwise."""
    return "attachment" if path.lower().endswith((".pdf", ".ogg")) else None


def _show(name: str) -> str:
    """A member name fit for a log line: at most 200 characters, control characters escaped."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in name[:200])


class _Header(tarfile.TarInfo):
    """Refuses oversized extended headers before tarfile reads them, and records why the member list ended."""

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Self:
        info = super().frombuf(buf, encoding, errors)
        if info.type in _EXTENDED and info.size > MAX_HEADER_BYTES:
            raise ArchiveRejected(f"extended header larger than {MAX_HEADER_BYTES} bytes")
        return info

    @classmethod
    def fromtarfile(cls, tar: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(tar)
        except tarfile.EOFHeaderError:  # type: ignore[attr-defined]  # a zero block: the end-of-archive marker
            if isinstance(tar, _Tar):
                tar.ended = True
            raise


class _Tar(tarfile.TarFile):
    members: list[tarfile.TarInfo]  # set by TarFile (undeclared in typeshed); in stream mode, the headers so far
    ended = False  # the member list ended with an end-of-archive block (not at a cut or a garbage header)


def _open(stream: IO[bytes]) -> _Tar:
    try:
        return _Tar.open(fileobj=stream, mode="r|*", tarinfo=_Header)
    except tarfile.TarError as exc:
        raise ArchiveRejected(f"not a tar archive ({exc})") from None


def _place(info: tarfile.TarInfo) -> tuple[str, str, str, str]:
    """(normalised name, format, recordID, path inside) of a member, after the data_filter-style checks; the path
    is "" for the `<format>/` and `<format>/<recordID>/` directories (format and recordID "" for `./`)."""
    raw = info.name
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise ArchiveRejected(f"member name is not UTF-8: {_show(raw)}") from None
    if "\0" in raw or "\\" in raw:
        raise ArchiveRejected(f"member name not allowed: {_show(raw)}")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise ArchiveRejected(f"absolute member path: {_show(raw)}")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRejected(f"member path escapes the archive: {_show(raw)}")
    if info.issym():
        raise ArchiveRejected(f"symlink not allowed: {_show(raw)}")
    if info.islnk():
        raise ArchiveRejected(f"hardlink not allowed: {_show(raw)}")
    if info.ischr() or info.isblk():
        raise ArchiveRejected(f"device file not allowed: {_show(raw)}")
    if info.isfifo():
        raise ArchiveRejected(f"fifo not allowed: {_show(raw)}")
    if not (info.isfile() or info.isdir()):
        raise ArchiveRejected(f"member type not allowed ({info.type!r}): {_show(raw)}")
    name = "/".join(parts)
    if info.isdir() and (not parts or (len(parts) == 1 and FORMAT.match(parts[0]))):
        return name, parts[0] if parts else "", "", ""  # `./` or `<format>/`
    inside = len(parts) > 2 or (len(parts) == 2 and info.isdir())  # a file needs a path below `<recordID>/`
    if not inside or not FORMAT.match(parts[0]) or not RECORD_ID.match(parts[1]):
        raise ArchiveRejected(f"member outside <format>/<recordID>/: {_show(name or raw)}")
    return name, parts[0], parts[1], "/".join(parts[2:])


def _members(tar: _Tar) -> Iterator[tarfile.TarInfo]:
    """The member headers, one at a time (tarfile's own list of them is dropped as we go); ArchiveRejected when the
    archive does not end with its end-of-archive block (cut short, or garbage where a header should be)."""
    while (info := tar.next()) is not None:
        tar.members.clear()
        yield info
    if not tar.ended:
        raise ArchiveRejected("truncated or corrupt archive")


def scan(
    stream: IO[bytes],
    *,
    max_members: int = MAX_MEMBERS,
    max_bytes: int = MAX_BYTES,
    max_metadata_bytes: int = MAX_METADATA_BYTES,
) -> Manifest:
    """Pass 1: validate every member header and parse each metadata.xml; ArchiveRejected with the reason when the
    archive is not one recording's `<format>/<recordID>/…` tree within the limits."""
    record_ids: list[str] = []
    members: list[Member] = []
    names: set[str] = set()
    formats: dict[str, FormatImport] = {}
    total = count = 0
    try:
        with _open(stream) as tar:
            for info in _members(tar):
                count += 1
                if count > max_members:
                    raise ArchiveRejected(f"more than {max_members} members")
                name, fmt, record_id, path = _place(info)
                if record_id and record_id not in record_ids:
                    record_ids.append(record_id)
                    if len(record_ids) > 1:
                        raise ArchiveRejected(f"several record ids: {', '.join(record_ids)}")
                if info.isdir():
                    continue
                total += info.size
                if total > max_bytes:
                    raise ArchiveRejected(f"declared size exceeds {max_bytes} bytes")
                if name in names:
                    raise ArchiveRejected(f"duplicate member: {_show(name)}")
                names.add(name)
                members.append(Member(name=name, format=fmt, path=path, size=info.size))
                if path == "metadata.xml":
                    formats[fmt] = _metadata(tar, info, fmt, record_id, max_metadata_bytes)
    except tarfile.TarError as exc:
        raise ArchiveRejected(f"truncated or corrupt archive ({exc})") from None
    if not members:
        raise ArchiveRejected("no metadata.xml")
    missing = sorted({m.format for m in members} - set(formats))
    if missing:
        raise ArchiveRejected(f"no metadata.xml in {', '.join(f'{f}/{record_ids[0]}/' for f in missing)}")
    return Manifest(record_id=record_ids[0], formats=formats, members=members, total_bytes=total)


def _metadata(tar: _Tar, info: tarfile.TarInfo, fmt: str, record_id: str, limit: int) -> FormatImport:
    if info.size > limit:
        raise ArchiveRejected(f"metadata.xml of {fmt} is larger than {limit} bytes")
    body = tar.extractfile(info)
    data = body.read() if body is not None else b""
    try:
        parsed = parse_metadata(data)
    except MetadataError as exc:
        raise ArchiveRejected(f"metadata.xml invalid: {fmt}: {exc.reason}") from None
    if parsed.record_id != record_id:
        raise ArchiveRejected(f"record id mismatch: dir {record_id}, metadata {parsed.record_id}")
    if parsed.format != fmt:
        raise ArchiveRejected(f"format mismatch: dir {fmt}, metadata {parsed.format}")
    return parsed


def copy(stream: IO[bytes], manifest: Manifest, write: Callable[[Member, IO[bytes]], None]) -> None:
    """Pass 2 over a fresh stream of the same object: `write(member, body)` for each file, in archive order, with
    the file's data streamed from the archive (unread data is skipped). ArchiveRejected("archive changed between
    passes") unless the files are exactly the manifest's (names, sizes, order). Errors of `write` propagate."""
    expected = iter(manifest.members)
    try:
        with _open(stream) as tar:
            for info in _members(tar):
                try:
                    name, _, _, _ = _place(info)
                except ArchiveRejected:
                    raise ArchiveRejected(CHANGED) from None
                if info.isdir():
                    continue
                member = next(expected, None)
                body = tar.extractfile(info)
                if member is None or member.name != name or member.size != info.size or body is None:
                    raise ArchiveRejected(CHANGED)
                write(member, body)
    except tarfile.TarError as exc:
        raise ArchiveRejected(f"truncated or corrupt archive ({exc})") from None
    if next(expected, None) is not None:
        raise ArchiveRejected(CHANGED)
