"""The player (bbb-playback) as a versioned artifact in the recordings bucket.

Every installed version lives under `player/<version>/` (kept for rollback) and is sealed by its manifest
`player/<version>/scalelite-player.json` once all its files are there; the live player is a copy of one version at
`playback/presentation/2.3/` with the manifest `playback/presentation/2.3/scalelite-player.json` written last.

`scalelite playback install DIR` runs `playback.prepare` (the file list is checked and the version named),
`playback.upload_urls` (presigned PUTs, in batches: files never pass through the admin Lambda's 6 MB payload),
`playback.commit` (every file is there: seal the version) and `playback.activate`. `playback.install_from_server`
copies the player a pool server serves (index.html and what it references) and activates it in one command.
"""

from __future__ import annotations

import hashlib
import io
import json
import mimetypes
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from scalelite_common.bbb.player import PLAYER_PATH, PlayerFetchError, asset_manifest_references, html_references
from scalelite_common.concurrency import fan_out
from scalelite_common.errors import AdminConflict, AdminError, AdminNotFound, AdminUpstreamError
from scalelite_common.services.admin.context import AdminContext
from scalelite_common.services.admin.servers import require_server
from scalelite_common.services.ports import ObjectStore, PlayerSource

VERSIONS_PREFIX = "player/"
LIVE_PREFIX = "playback/presentation/2.3/"
MANIFEST = "scalelite-player.json"
INDEX = "index.html"

# Limits (a bbb-playback build is ~100 files and a few MB; these leave room for source maps and media).
MAX_FILES = 2000
MAX_FILE_BYTES = 32 * 1024**2
MAX_TOTAL_BYTES = 128 * 1024**2
MAX_FETCH_BYTES = 100 * 1024**2  # --from-server holds the files in memory (the admin Lambda has 512 MB)
MAX_PATH = 512
MAX_MANIFEST_BYTES = 8 * 1024**2
URL_BATCH = 200  # presigned URLs per playback.upload_urls (~1 KB each: far below the 6 MB payload limit)
UPLOAD_URL_TTL = 3600
FETCH_DEADLINE = 60.0  # seconds for all GETs of --from-server (the admin Lambda times out at 120 s)
FETCH_WORKERS = 8
COPY_DEADLINE = 60.0
COPY_WORKERS = 16

SHORT_CACHE = "max-age=60"  # index.html: a new version reaches viewers within a minute
LONG_CACHE = "public, max-age=31536000, immutable"
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SEGMENT = re.compile(r"^[A-Za-z0-9._~@+-]+$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# mimetypes depends on the platform's tables for some of these: the player's own types are fixed here.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".wasm": "application/wasm",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
}


@dataclass(frozen=True)
class PlayerFile:
    path: str
    size: int
    sha256: str

    def json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


# ------------------------------------------------------------------------------------------------------ rules
def validate_path(path: Any) -> str:
    """A file's path inside the player: relative, `/`-separated, plain characters, no `.` or `..` segment."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH:
        raise AdminError(f"Invalid player file path: {path!r}")
    segments = path.split("/")
    if any(s in ("", ".", "..") or not SEGMENT.match(s) for s in segments):
        raise AdminError(f"Invalid player file path: {path!r} (allowed: letters, digits, . _ ~ @ + - and /)")
    if path == MANIFEST:
        raise AdminError(f"{MANIFEST} is reserved for Scalelite's manifest: the player cannot have such a file")
    return path


def validate_version(version: Any) -> str:
    if not isinstance(version, str) or not VERSION.match(version):
        raise AdminError(f"Invalid player version: {version!r} (1-64 letters, digits, . _ -; starting alphanumeric)")
    return version


def content_type(path: str) -> str:
    suffix = path[path.rfind(".") :].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path, strict=False)[0] or "application/octet-stream"


def cache_control(path: str) -> str:
    return SHORT_CACHE if path == INDEX else LONG_CACHE


def content_version(files: Sequence[PlayerFile]) -> str:
    """The default version name: the first 12 hex digits of a sha256 over the sorted (path, sha256) pairs, so the
    same build always gets the same name."""
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        digest.update(f"{f.path}\0{f.sha256}\n".encode())
    return digest.hexdigest()[:12]


def parse_files(value: Any) -> list[PlayerFile]:
    """The file list of a version: [{path, size, sha256}], within the limits, with index.html at its root."""
    if not isinstance(value, list):
        raise AdminError("files must be a list of {path, size, sha256}")
    if not value:
        raise AdminError("The player has no files")
    if len(value) > MAX_FILES:
        raise AdminError(f"The player has {len(value)} files: at most {MAX_FILES} are accepted")
    files: dict[str, PlayerFile] = {}
    for item in value:
        if not isinstance(item, dict):
            raise AdminError("files must be a list of {path, size, sha256}")
        path = validate_path(item.get("path"))
        size, sha = item.get("size"), item.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise AdminError(f"{path}: size must be a whole number of bytes")
        if size > MAX_FILE_BYTES:
            raise AdminError(f"{path}: {size} bytes, larger than the limit of {MAX_FILE_BYTES} bytes")
        if not isinstance(sha, str) or not SHA256.match(sha):
            raise AdminError(f"{path}: sha256 must be 64 lowercase hex digits")
        if path in files:
            raise AdminError(f"{path} is listed twice")
        files[path] = PlayerFile(path, size, sha)
    total = sum(f.size for f in files.values())
    if total > MAX_TOTAL_BYTES:
        raise AdminError(f"The player has {total} bytes: at most {MAX_TOTAL_BYTES} are accepted")
    if INDEX not in files:
        raise AdminError("The player has no index.html at its root (expected the built bbb-playback directory)")
    return sorted(files.values(), key=lambda f: f.path)


# --------------------------------------------------------------------------------------------------- storage
def _objects(ctx: AdminContext) -> ObjectStore:
    if ctx.objects is None:
        raise AdminError("playback commands need the object store (not configured)")
    return ctx.objects


def _version_prefix(version: str) -> str:
    return f"{VERSIONS_PREFIX}{version}/"


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_manifest(ctx: AdminContext, key: str) -> dict[str, Any] | None:
    objects, bucket = _objects(ctx), ctx.settings.recordings_bucket
    if objects.head(bucket, key) is None:
        return None
    with objects.open(bucket, key) as body:
        raw = body.read(MAX_MANIFEST_BYTES + 1)
    try:
        data = json.loads(raw) if len(raw) <= MAX_MANIFEST_BYTES else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise AdminError(f"The player manifest {key} is unreadable: install that version again")
    return data


def _write_manifest(ctx: AdminContext, key: str, data: dict[str, Any]) -> None:
    body = json.dumps(data, indent=1).encode()
    _objects(ctx).put(
        ctx.settings.recordings_bucket,
        key,
        io.BytesIO(body),
        content_type="application/json",
        cache_control=SHORT_CACHE,
    )


def _manifest_files(data: dict[str, Any]) -> list[PlayerFile]:
    return [
        PlayerFile(str(f.get("path")), int(f.get("size") or 0), str(f.get("sha256") or ""))
        for f in data["files"]
        if isinstance(f, dict)
    ]


def _missing(ctx: AdminContext, prefix: str, files: Sequence[PlayerFile]) -> list[str]:
    """The files not stored under `prefix` with their size."""
    stored = {o.key[len(prefix) :]: o.size for o in _objects(ctx).list(ctx.settings.recordings_bucket, prefix)}
    return [f.path for f in files if stored.get(f.path) != f.size]


def _incomplete(version: str, missing: Sequence[str], total: int) -> AdminConflict:
    return AdminConflict(
        f"Player version {version} is incomplete: {len(missing)} of {total} files missing or of the wrong size "
        f"(e.g. {missing[0]}); install it again"
    )


def _summary(version: str, data: dict[str, Any], *, when: str) -> dict[str, Any]:
    files = _manifest_files(data)
    return {
        "version": version,
        "source": data.get("source"),
        when: data.get(when),
        "files": len(files),
        "bytes": sum(f.size for f in files),
    }


# -------------------------------------------------------------------------------------------------- commands
def playback_prepare(ctx: AdminContext, files: Any, version: str | None = None) -> dict[str, Any]:
    """Check a file list and name its version; `installed` when that version is already sealed with these files
    (nothing to upload), a conflict when it is sealed with other files."""
    parsed = parse_files(files)
    name = validate_version(version) if version is not None else content_version(parsed)
    existing = _read_manifest(ctx, _version_prefix(name) + MANIFEST)
    if existing is not None:
        if _manifest_files(existing) != parsed:
            raise AdminConflict(f"Player version {name} is already installed with other files: choose another version")
        if _missing(ctx, _version_prefix(name), parsed):
            # Sealed, but files were lost since: unseal it so that they can be uploaded again.
            _objects(ctx).delete(ctx.settings.recordings_bucket, [_version_prefix(name) + MANIFEST])
            existing = None
    return {
        "version": name,
        "installed": existing is not None,
        "files": len(parsed),
        "bytes": sum(f.size for f in parsed),
    }


def playback_upload_urls(ctx: AdminContext, version: str, paths: Any) -> dict[str, Any]:
    """Presigned PUTs for up to URL_BATCH files of a version not sealed yet, each with its Content-Type and
    Cache-Control (signed: the PUT must send the returned headers)."""
    name = validate_version(version)
    if not isinstance(paths, list) or not paths:
        raise AdminError("paths must be a non-empty list of file paths")
    if len(paths) > URL_BATCH:
        raise AdminError(f"At most {URL_BATCH} paths per call (got {len(paths)})")
    checked = [validate_path(p) for p in paths]
    prefix = _version_prefix(name)
    if _objects(ctx).head(ctx.settings.recordings_bucket, prefix + MANIFEST) is not None:
        raise AdminConflict(f"Player version {name} is already installed: its files cannot change")
    uploads = []
    for path in checked:
        grant = _objects(ctx).presign_put(
            ctx.settings.recordings_bucket,
            prefix + path,
            expires_in=UPLOAD_URL_TTL,
            content_type=content_type(path),
            cache_control=cache_control(path),
        )
        uploads.append({"path": path, "url": grant.url, "method": grant.method, "headers": grant.headers})
    return {"version": name, "uploads": uploads, "expires": int(time.time()) + UPLOAD_URL_TTL}


def _seal(ctx: AdminContext, name: str, files: list[PlayerFile], source: str) -> dict[str, Any]:
    """Every file is there: drop leftovers of earlier attempts and write the version's manifest (last)."""
    prefix = _version_prefix(name)
    missing = _missing(ctx, prefix, files)
    if missing:
        raise _incomplete(name, missing, len(files))
    objects, bucket = _objects(ctx), ctx.settings.recordings_bucket
    wanted = {prefix + f.path for f in files}
    stale = [o.key for o in objects.list(bucket, prefix) if o.key not in wanted]
    if stale:
        objects.delete(bucket, stale)
    data = {"version": name, "source": source, "uploaded_at": _now_iso(), "files": [f.json() for f in files]}
    _write_manifest(ctx, prefix + MANIFEST, data)
    return _summary(name, data, when="uploaded_at")


def playback_commit(ctx: AdminContext, version: str, files: Any, source: str = "upload") -> dict[str, Any]:
    name = validate_version(version)
    parsed = parse_files(files)
    existing = _read_manifest(ctx, _version_prefix(name) + MANIFEST)
    if existing is not None and _manifest_files(existing) != parsed:
        raise AdminConflict(f"Player version {name} is already installed with other files: choose another version")
    return _seal(ctx, name, parsed, source[:500])


def playback_activate(ctx: AdminContext, version: str) -> dict[str, Any]:
    """Make a sealed version live: copy its files (index.html last, so the live page never references a file not
        copied yet), delete live files the version does not have, write the live manifest, and invalidate the CDN's
    copies of the live player."""
    name = validate_version(version)
    objects, bucket = _objects(ctx), ctx.settings.recordings_bucket
    prefix = _version_prefix(name)
    data = _read_manifest(ctx, prefix + MANIFEST)
    if data is None:
        if next(iter(objects.list(bucket, prefix)), None) is not None:
            raise AdminConflict(f"Player version {name} is incomplete (its upload did not finish): install it again")
        known = [v["version"] for v in _versions(ctx)]
        raise AdminNotFound(f"No player version {name} (installed: {', '.join(known) or 'none'})")
    files = _manifest_files(data)
    missing = _missing(ctx, prefix, files)
    if missing:
        raise _incomplete(name, missing, len(files))
    previous = _read_live(ctx)

    def copy(f: PlayerFile) -> None:
        objects.copy(bucket, prefix + f.path, LIVE_PREFIX + f.path)

    assets = [f for f in files if f.path != INDEX]
    for batch in (assets, [f for f in files if f.path == INDEX]):
        results = fan_out(batch, copy, workers=COPY_WORKERS, timeout=COPY_DEADLINE)
        failed = [(f.path, r) for f, r in zip(batch, results, strict=True) if isinstance(r, BaseException)]
        if failed:
            path, exc = failed[0]
            raise AdminUpstreamError(
                f"Copying player version {name} failed for {len(failed)} file(s) (e.g. {path}: {exc}); "
                "the live index.html was not replaced: run activate again"
            )
    live_manifest = LIVE_PREFIX + MANIFEST
    keep = {LIVE_PREFIX + f.path for f in files} | {live_manifest}
    stale = [o.key for o in objects.list(bucket, LIVE_PREFIX) if o.key not in keep]
    if stale:
        objects.delete(bucket, stale)
    live = {
        "version": name,
        "source": data.get("source"),
        "installed_at": _now_iso(),
        "files": [f.json() for f in files],
    }
    _write_manifest(ctx, live_manifest, live)
    if ctx.edge is not None:  # the CDN keeps files of the old version (a year for all but index.html)
        ctx.edge.invalidate(["/" + LIVE_PREFIX + "*"])
    return {
        **_summary(name, live, when="installed_at"),
        "previous": previous.get("version") if previous else None,
        "deleted": len(stale),
    }


def _read_live(ctx: AdminContext) -> dict[str, Any] | None:
    try:
        return _read_manifest(ctx, LIVE_PREFIX + MANIFEST)
    except AdminError:
        return None  # an unreadable live manifest is replaced, never a reason to refuse


def _versions(ctx: AdminContext) -> list[dict[str, Any]]:
    objects, bucket = _objects(ctx), ctx.settings.recordings_bucket
    found = []
    for folder in objects.list_folders(bucket, VERSIONS_PREFIX):
        name = folder[len(VERSIONS_PREFIX) :].rstrip("/")
        try:
            data = _read_manifest(ctx, folder + MANIFEST)
        except AdminError:
            data = None
        if data is None:
            found.append({"version": name, "source": None, "uploaded_at": None, "files": 0, "bytes": 0})
            found[-1]["complete"] = False
        else:
            found.append({**_summary(name, data, when="uploaded_at"), "complete": True})
    # Newest first; incomplete uploads (no date) last.
    found.sort(key=lambda v: (v["uploaded_at"] or "", v["version"]), reverse=True)
    return found


def playback_status(ctx: AdminContext) -> dict[str, Any]:
    """The live version (None when no player was installed) and every version under player/."""
    live = _read_live(ctx)
    summary = _summary(str(live.get("version")), live, when="installed_at") if live else None
    versions = _versions(ctx)
    for v in versions:
        v["live"] = summary is not None and v["version"] == summary["version"]
    return {"live": summary, "versions": versions}


# ------------------------------------------------------------------------------------------ from a BBB server
def server_origin(url: str) -> str:
    """scheme://host[:port] of a server's API URL: where BBB serves the player."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}" + (f":{parts.port}" if parts.port else "")


def _player_path(origin: str, reference: str) -> str | None:
    """A reference resolved against index.html: its path inside the player when it is a same-origin file under
    /playback/presentation/2.3/, else None (other origins, data: URLs, paths outside the player are not copied)."""
    try:
        parts = urlsplit(urljoin(origin + PLAYER_PATH + INDEX, reference))
        same = parts.scheme in ("http", "https") and server_origin(parts.geturl()) == origin
    except ValueError:
        return None
    path = unquote(parts.path)
    if not same or not path.startswith(PLAYER_PATH):
        return None
    try:
        return validate_path(path[len(PLAYER_PATH) :])
    except AdminError:
        return None


def fetch_player(source: PlayerSource, origin: str) -> tuple[dict[str, bytes], list[dict[str, str]]]:
    """index.html, its asset-manifest.json when there is one, and every file they reference; (files, skipped).
    A file index.html references must be there; one only the asset manifest lists may be missing (404: e.g. the
    source maps a package left out)."""
    base = origin + PLAYER_PATH
    started = time.monotonic()
    budget = {"left": MAX_FETCH_BYTES}
    lock = threading.Lock()

    def get(path: str) -> bytes:
        with lock:
            limit = max(0, min(MAX_FILE_BYTES, budget["left"]))
        if time.monotonic() - started > FETCH_DEADLINE:
            raise PlayerFetchError(f"no time left (all files within {FETCH_DEADLINE:.0f} s)")
        body = source.get(base + path, max_bytes=limit)
        with lock:  # parallel GETs may all have started under the limit: the running total decides
            budget["left"] -= len(body)
            if budget["left"] < 0:
                raise PlayerFetchError(f"the player is larger than {MAX_FETCH_BYTES} bytes in all (the limit)")
        return body

    try:
        index = get(INDEX)
    except PlayerFetchError as exc:
        raise AdminUpstreamError(f"{base}{INDEX}: {exc}") from None
    files = {INDEX: index}
    wanted: dict[str, bool] = {}  # path -> required
    for ref in html_references(index):
        if (path := _player_path(origin, ref)) is not None:
            wanted.setdefault(path, True)
    skipped: list[dict[str, str]] = []
    try:
        manifest = get("asset-manifest.json")
    except PlayerFetchError as exc:
        if exc.status != 404:
            skipped.append({"path": "asset-manifest.json", "reason": str(exc)})
    else:
        files["asset-manifest.json"] = manifest
        for ref in asset_manifest_references(manifest):
            if (path := _player_path(origin, ref)) is not None:
                wanted.setdefault(path, False)
    todo = [p for p in wanted if p not in files]
    if len(todo) + len(files) > MAX_FILES:
        raise AdminError(f"The player references {len(todo) + len(files)} files: at most {MAX_FILES} are copied")
    left = max(1.0, FETCH_DEADLINE - (time.monotonic() - started))
    for path, result in zip(todo, fan_out(todo, get, workers=FETCH_WORKERS, timeout=left), strict=True):
        if isinstance(result, bytes):
            files[path] = result
        elif wanted[path] or not (isinstance(result, PlayerFetchError) and result.status == 404):
            raise AdminUpstreamError(f"{base}{path}: {result}")
        else:
            skipped.append({"path": path, "reason": str(result)})
    return files, skipped


def playback_install_from_server(ctx: AdminContext, server_id: str, version: str | None = None) -> dict[str, Any]:
    """Copy the player a pool server serves into player/<version>/ and make it live."""
    if ctx.player is None:
        raise AdminError("playback install --from-server needs the player source (not configured)")
    server = require_server(ctx, server_id)
    origin = server_origin(server.url)
    try:
        fetched, skipped = fetch_player(ctx.player, origin)
    except AdminUpstreamError as exc:
        raise AdminUpstreamError(f"Server {server.id}: {exc}") from None
    files = [PlayerFile(p, len(b), hashlib.sha256(b).hexdigest()) for p, b in sorted(fetched.items())]
    prepared = playback_prepare(ctx, [f.json() for f in files], version)
    name = prepared["version"]
    if not prepared["installed"]:
        objects, bucket, prefix = _objects(ctx), ctx.settings.recordings_bucket, _version_prefix(name)

        def put(f: PlayerFile) -> None:
            objects.put(
                bucket,
                prefix + f.path,
                io.BytesIO(fetched[f.path]),
                content_type=content_type(f.path),
                cache_control=cache_control(f.path),
            )

        results = fan_out(files, put, workers=COPY_WORKERS, timeout=COPY_DEADLINE)
        failed = [(f.path, r) for f, r in zip(files, results, strict=True) if isinstance(r, BaseException)]
        if failed:
            raise AdminUpstreamError(f"Storing {failed[0][0]} failed: {failed[0][1]} ({len(failed)} file(s) failed)")
        _seal(ctx, name, files, f"server {server.id} ({origin})")
    return {
        "version": name,
        "uploaded": 0 if prepared["installed"] else len(files),
        "skipped": skipped,
        "activated": playback_activate(ctx, name),
    }
