"""`scalelite playback install DIR`: read a built bbb-playback directory (checked against explicit limits) and PUT
its files to the presigned URLs the admin function hands out, several at a time, retrying server errors.

The limits mirror the admin command's (`scalelite_common.services.admin.playback`, which enforces them again): here
they only make the refusal come before anything is uploaded, with the file's local name."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scalelite_cli.errors import CLIError

MAX_FILES = 2000
MAX_FILE_BYTES = 32 * 1024**2
MAX_TOTAL_BYTES = 128 * 1024**2
MAX_PATH = 512
MANIFEST = "scalelite-player.json"  # reserved: Scalelite's own manifest
SEGMENT = re.compile(r"^[A-Za-z0-9._~@+-]+$")
UPLOAD_WORKERS = 8
ATTEMPTS = 4  # a PUT answered 5xx, or cut off, is tried again after 0.5, 1 and 2 s
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LocalFile:
    path: str  # inside the player, `/`-separated
    source: Path
    size: int
    sha256: str

    def json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def scan(directory: str) -> list[LocalFile]:
    """Every regular file under `directory`, hashed. Symlinks are followed while they stay inside it (a linked
    folder is uploaded under each of its names, as a web server would serve it; a link into its own parents is
    not followed)."""
    root = Path(directory)
    if not root.is_dir():
        raise CLIError(f"{directory}: not a directory")
    real_root = root.resolve()
    if not (real_root / "index.html").is_file():
        raise CLIError(f"{directory}: no index.html at its root (expected the built bbb-playback directory)")
    found: list[LocalFile] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath)
        real = here.resolve()
        if not _inside(real, real_root):
            raise CLIError(f"{here}: a symlink pointing outside {directory}")
        parts = here.relative_to(root).parts
        if real in {(root.joinpath(*parts[:i])).resolve() for i in range(len(parts))}:
            dirnames[:] = []  # a symlink to a folder it is in: a loop, walked once
            continue
        dirnames.sort()
        for name in sorted(filenames):
            file = here / name
            target = file.resolve()
            if not _inside(target, real_root):
                raise CLIError(f"{file}: a symlink pointing outside {directory}")
            if not target.is_file():
                raise CLIError(f"{file}: not a regular file")
            rel = file.relative_to(root).as_posix()
            if len(rel) > MAX_PATH or not all(SEGMENT.match(part) for part in rel.split("/")):
                raise CLIError(
                    f"{file}: the name has characters the player store refuses (allowed: letters, digits, . _ ~ @ + -)"
                )
            if rel == MANIFEST:
                raise CLIError(f"{file}: {MANIFEST} is reserved for Scalelite's manifest")
            size = target.stat().st_size
            if size > MAX_FILE_BYTES:
                raise CLIError(f"{file}: {size} bytes, larger than the limit of {MAX_FILE_BYTES} bytes")
            total += size
            if total > MAX_TOTAL_BYTES:
                raise CLIError(f"{directory}: more than {MAX_TOTAL_BYTES} bytes in all (the limit)")
            found.append(LocalFile(rel, target, size, _sha256(target)))
            if len(found) > MAX_FILES:
                raise CLIError(f"{directory}: more than {MAX_FILES} files (the limit)")
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as body:
        for chunk in iter(lambda: body.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Retry(Exception):
    pass


def _put_once(url: str, headers: dict[str, str], file: LocalFile) -> None:
    parts = urlsplit(url)
    connection: http.client.HTTPConnection = (
        http.client.HTTPSConnection(parts.netloc, timeout=60)
        if parts.scheme == "https"
        else http.client.HTTPConnection(parts.netloc, timeout=60)
    )
    try:
        connection.putrequest("PUT", parts.path + (f"?{parts.query}" if parts.query else ""), skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(file.size)}.items():
            connection.putheader(name, value)
        connection.endheaders()
        with file.source.open("rb") as body:
            for chunk in iter(lambda: body.read(CHUNK), b""):
                connection.send(chunk)
        answer = connection.getresponse()
        detail = answer.read(2000).decode("utf-8", "replace")
    except OSError as exc:  # refused, reset, timed out: worth another try
        raise _Retry(f"{exc}") from None
    finally:
        connection.close()
    if answer.status >= 500:
        raise _Retry(f"HTTP {answer.status}")
    if not 200 <= answer.status < 300:
        raise CLIError(f"upload of {file.path} refused: HTTP {answer.status} {detail[:200]}")


def put(url: str, headers: dict[str, str], file: LocalFile, *, pause: Callable[[float], None] = time.sleep) -> None:
    """PUT one file to its presigned URL, streamed; server errors and broken connections are retried."""
    for attempt in range(ATTEMPTS):
        try:
            _put_once(url, headers, file)
            return
        except _Retry as exc:
            if attempt == ATTEMPTS - 1:
                raise CLIError(f"upload of {file.path} failed after {ATTEMPTS} attempts: {exc}") from None
            pause(0.5 * 2**attempt)


def upload_all(
    grants: Sequence[dict[str, Any]],
    files: dict[str, LocalFile],
    *,
    progress: Callable[[int, int], None],
    workers: int = UPLOAD_WORKERS,
) -> None:
    """Every grant ({path, url, headers}) uploaded, `workers` at a time; the first failure stops the rest."""
    done = 0
    lock = threading.Lock()
    failed = threading.Event()

    def one(grant: dict[str, Any]) -> None:
        nonlocal done
        if failed.is_set():
            return
        try:
            put(str(grant["url"]), dict(grant.get("headers") or {}), files[str(grant["path"])])
        except BaseException:
            failed.set()
            raise
        with lock:
            done += 1
            progress(done, len(grants))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(one, g) for g in grants]
    for future in futures:
        if (exc := future.exception()) is not None:
            raise exc
