"""`scalelite recordings import`: find recordings on disk, pack each as Scalelite's archive (`<format>/<recordID>/…`)
and upload it to the spool bucket through a presigned PUT (the importer takes it from there).

A PATH may be an archive (`.tar`, `.tar.gz`, `.tgz`, uploaded as is), a directory holding `<format>/<recordID>/`
trees (BBB's `published/`), or the parent of BBB's or Scalelite's `published/` and `unpublished/` directories (a
migration from a running Scalelite)."""

from __future__ import annotations

import http.client
import os
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from scalelite_cli.errors import CLIError

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")
RECORD_ID = re.compile(r"^[0-9a-f]{40}-[0-9]{10,16}(-[0-9]{10,16})?$")
CHUNK = 1024 * 1024


@dataclass
class Source:
    """One archive to upload: an existing file, or the format directories of one recording to pack."""

    label: str
    record_id: str = ""
    archive: Path | None = None
    trees: list[tuple[str, Path]] = field(default_factory=list)  # (format, <format>/<recordID> directory)


def _trees(root: Path) -> dict[str, list[tuple[str, Path]]]:
    found: dict[str, list[tuple[str, Path]]] = {}
    for fmt_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        for rec_dir in sorted(p for p in fmt_dir.iterdir() if p.is_dir() and not p.is_symlink()):
            if RECORD_ID.match(rec_dir.name) and (rec_dir / "metadata.xml").is_file():
                found.setdefault(rec_dir.name, []).append((fmt_dir.name, rec_dir))
    return found


def discover(paths: list[str]) -> list[Source]:
    sources: list[Source] = []
    for text in paths:
        path = Path(text)
        if path.is_file():
            if not path.name.endswith(ARCHIVE_SUFFIXES):
                raise CLIError(f"{text}: not a .tar, .tar.gz or .tgz archive")
            sources.append(Source(label=str(path), archive=path))
            continue
        if not path.is_dir():
            raise CLIError(f"{text}: no such file or directory")
        roots = [path / name for name in ("published", "unpublished") if (path / name).is_dir()] or [path]
        before = len(sources)
        for root in roots:
            for record_id, trees in _trees(root).items():
                sources.append(Source(label=f"{root}/*/{record_id}", record_id=record_id, trees=trees))
        if len(sources) == before:
            raise CLIError(f"{text}: no recordings found (expected <format>/<recordID>/metadata.xml)")
    return sources


def pack(source: Source, workdir: str) -> Path:
    """The source as one uncompressed tar file in `workdir` (regular files and directories only)."""
    if source.archive is not None:
        return source.archive
    target = Path(workdir) / f"{source.record_id}.tar"
    with tarfile.open(target, "w") as tar:
        for fmt, directory in source.trees:
            for dirpath, dirnames, filenames in os.walk(directory):
                dirnames[:] = sorted(d for d in dirnames if not (Path(dirpath) / d).is_symlink())
                for name in sorted(filenames):
                    file = Path(dirpath) / name
                    if file.is_symlink() or not file.is_file():
                        continue
                    tar.add(file, arcname=f"{fmt}/{source.record_id}/{file.relative_to(directory).as_posix()}")
    return target


def upload(url: str, headers: dict[str, str], path: Path, progress: Callable[[int, int], None]) -> None:
    """PUT the file to a presigned URL, streamed, reporting (sent, total) as it goes."""
    parts = urlsplit(url)
    size = path.stat().st_size
    connection: http.client.HTTPConnection = (
        http.client.HTTPSConnection(parts.netloc, timeout=60)
        if parts.scheme == "https"
        else http.client.HTTPConnection(parts.netloc, timeout=60)
    )
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        connection.putrequest("PUT", target, skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(size)}.items():
            connection.putheader(name, value)
        connection.endheaders()
        sent = 0
        with path.open("rb") as body:
            for chunk in iter(lambda: body.read(CHUNK), b""):
                connection.send(chunk)
                sent += len(chunk)
                progress(sent, size)
        answer = connection.getresponse()
        detail = answer.read(2000).decode("utf-8", "replace")
    except OSError as exc:
        raise CLIError(f"upload of {path.name} failed: {exc}") from None
    finally:
        connection.close()
    if not 200 <= answer.status < 300:
        raise CLIError(f"upload of {path.name} refused: HTTP {answer.status} {detail[:200]}")


def progress_bar(stream: IO[str], label: str) -> Callable[[int, int], None]:
    def show(sent: int, total: int) -> None:
        share = sent * 100 // total if total else 100
        bar = "#" * (share // 4)
        stream.write(f"\r{label[:40]:40} [{bar:25}] {share:3d}% {sent / 1e6:8.1f}/{total / 1e6:.1f} MB")
        if sent >= total:
            stream.write("\n")
        stream.flush()

    return show
