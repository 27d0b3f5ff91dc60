#!/usr/bin/env python3
"""Scalelite Serverless: upload a BigBlueButton recording to the load balancer (the BBB-server side).

Runs on a stock BBB 2.7/3.0 server: Python 3.8+ standard library only. The recording's published formats are packed
into Scalelite's tar layout (`<format>/<recordID>/…`, an uncompressed .tar in a temp file of the state dir), the
balancer is asked for a presigned S3 upload (`POST <url>/scalelite/api/recordingUpload`, a JWT signed with this
server's own secret), and the tar is PUT to S3. See bbb-server/README.md (install, flags, exit codes).

Modes (exactly one):
  -m RECORD_ID [-f FORMAT]   upload one recording (every published format, or only FORMAT)
  --all                      upload every published recording not sent yet in its current content
  --drain-queue DIR          upload every recording queued by the post_publish hook, removing entries on success
  --pending                  print the recordIDs still queued or not sent (a node is safe to scale in when empty)

Exit codes: 0 stored (or nothing to do), 1 failed (retries ran out, or a local/permanent error), 2 refused by the
balancer (HTTP 401, or 403 from an older balancer: never retried), 64 bad command line.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import signal
import stat
import sys
import tarfile
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, NamedTuple, NoReturn

if TYPE_CHECKING:  # imported when needed: --pending and --dry-run start faster without them
    import http.client

PROG = "scalelite-serverless-upload"
DEFAULT_PUBLISHED_DIR = "/var/bigbluebutton/published"
DEFAULT_STATE_DIR = "/var/bigbluebutton/recording/scalelite-serverless"
DEFAULT_CONFIG = "/usr/local/bigbluebutton/core/scripts/scalelite-serverless.conf"
# BBB reads the packaged defaults first, then the operator's overrides (later files win).
DEFAULT_BBB_PROPERTIES = (
    "/usr/share/bbb-web/WEB-INF/classes/bigbluebutton.properties",
    "/etc/bigbluebutton/bbb-web.properties",
)
UPLOAD_PATH = "/scalelite/api/recordingUpload"
API_SUFFIX = "/bigbluebutton/api/"
TOKEN_LIFETIME = 300  # seconds; the balancer accepts at most 600
GRANT_MARGIN = 30  # seconds: a presigned URL closer than this to its expiry is not reused
STALE_TEMP_AGE = 86_400  # seconds: leftovers of a killed run are removed after a day
MAX_ANSWER = 1 << 20  # bytes read from any HTTP answer
BLOCK = 1 << 16
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")  # recordIDs and format names (also file names)
CONFIG_KEYS = ("url", "server_url", "secret", "published_dir", "state_dir")

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2, 64


class Entry(NamedTuple):
    path: str  # absolute
    member: str  # the tar member name, `<format>/<recordID>/…`
    info: os.stat_result  # lstat


# --- errors ------------------------------------------------------------------------------------------------------


class UploadError(Exception):
    exit_code = EXIT_FAILED


class Failed(UploadError):
    """A local or permanent error: retrying now would not help."""


class Refused(UploadError):
    """The balancer refused the upload (HTTP 401; 403 from balancers before the API stopped answering 403)."""

    exit_code = EXIT_REFUSED


class Unavailable(UploadError):
    """Every attempt failed with a transient error (connection, 5xx, 429)."""


class NothingToUpload(Failed):
    """The recording has no published format (with a metadata.xml) on this server."""


class Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None, new_grant: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.new_grant = new_grant


def log(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


# --- configuration -----------------------------------------------------------------------------------------------


def _unescape_property(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and re.match(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_properties(text: str) -> dict[str, str]:
    """Java .properties: `key=value`, `key: value` or `key value`; `#`/`!` comments; `\\` continues a line."""
    result: dict[str, str] = {}
    logical: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].lstrip()
        i += 1
        if not logical and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:  # an odd number of backslashes: the line continues
            logical.append(line[:-1])
            if i < len(lines):
                continue
            line = ""
        logical.append(line)
        joined = "".join(logical)
        logical = []
        match = re.match(r"((?:\\.|[^\\:=\s])*)\s*[:=]?\s*(.*)$", joined, re.DOTALL)
        if match and match.group(1):
            result[_unescape_property(match.group(1))] = _unescape_property(match.group(2))
    return result


def read_properties(paths: Sequence[str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                merged.update(parse_properties(handle.read()))
        except FileNotFoundError:
            continue
        except OSError as exc:
            log(f"cannot read {path}: {exc.strerror}")
    return merged


def parse_config(text: str) -> dict[str, str]:
    """`key=value` lines; `#` comments; optional quotes around the value."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip().lower().replace("-", "_"), value.strip()
        if not sep or not key:
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key not in CONFIG_KEYS:
            log(f"ignoring unknown config key {key!r}")
            continue
        result[key] = value
    return result


class Settings:
    """Flags win over the config file, which wins over bbb-web.properties, which wins over the defaults."""

    def __init__(self, args: argparse.Namespace) -> None:
        config: dict[str, str] = {}
        config_path = args.config or DEFAULT_CONFIG
        try:
            with open(config_path, encoding="utf-8") as handle:
                config = parse_config(handle.read())
        except FileNotFoundError:
            if args.config:
                raise Failed(f"config file {args.config} not found") from None
        except OSError as exc:
            raise Failed(f"cannot read config file {config_path}: {exc.strerror}") from None
        self._args = args
        self._config = config
        self._properties: dict[str, str] | None = None
        self.published_dir: str = args.published_dir or config.get("published_dir") or DEFAULT_PUBLISHED_DIR
        self.state_dir: str = args.state_dir or config.get("state_dir") or DEFAULT_STATE_DIR
        self.queue_dir: str = args.queue_dir or os.path.join(self.state_dir, "queue")
        self.attempts: int = args.retries
        self.backoff: float = args.backoff
        self.max_delay: float = args.max_delay
        self.timeout: float = args.timeout
        self.ca_file: str | None = args.ca_file
        self.dry_run: bool = args.dry_run

    def properties(self) -> dict[str, str]:
        if self._properties is None:
            self._properties = read_properties(self._args.bbb_properties or DEFAULT_BBB_PROPERTIES)
        return self._properties

    @property
    def lb_url(self) -> str:
        url = self._args.url or self._config.get("url") or ""
        if not url:
            raise Failed(f"no load balancer URL: set url=https://… in {self._args.config or DEFAULT_CONFIG} or --url")
        return url

    @property
    def server_url(self) -> str:
        url = self._args.server_url or self._config.get("server_url")
        if url:
            return str(url)
        base = self.properties().get("bigbluebutton.web.serverURL", "").strip()
        if not base:
            raise Failed("bigbluebutton.web.serverURL not found in bbb-web.properties: use --server-url")
        return base.rstrip("/") + API_SUFFIX

    @property
    def secret(self) -> str:
        value = self._args.secret or self._config.get("secret") or self.properties().get("securitySalt", "").strip()
        if not value:
            raise Failed("securitySalt not found in bbb-web.properties: use --secret")
        return str(value)

    def endpoint(self) -> str:
        return self.lb_url.rstrip("/") + UPLOAD_PATH

    def require(self) -> None:
        """Everything an upload needs, resolved now: a configuration error fails once, not per recording."""
        _ = self.endpoint(), self.server_url, self.secret


# --- the token ---------------------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_token(secret: str, issuer: str, record_id: str, now: float | None = None) -> str:
    """HS256 JWT, hand-rolled (stdlib only): iss = this server's API URL, sub = recordID, a fresh jti each time."""
    issued = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "iss": issuer,
        "sub": record_id,
        "iat": issued,
        "exp": issued + TOKEN_LIFETIME,
        "jti": secrets.token_hex(16),
    }
    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    signature = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


# --- the recording on disk ---------------------------------------------------------------------------------------


def _is_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def available_formats(published_dir: str, record_id: str) -> list[str]:
    """Formats published for this recording: `<format>/<recordID>` a real directory (not a symlink) holding a
    metadata.xml file."""
    found: list[str] = []
    try:
        names = sorted(os.listdir(published_dir))
    except OSError:
        return found
    for name in names:
        root = os.path.join(published_dir, name, record_id)
        if SAFE_NAME.match(name) and _is_dir(root):
            with contextlib.suppress(OSError):  # no metadata.xml (yet): not a published format
                if stat.S_ISREG(os.lstat(os.path.join(root, "metadata.xml")).st_mode):
                    found.append(name)
    return found


def published_recordings(published_dir: str) -> list[str]:
    ids: set[str] = set()
    try:
        formats = sorted(os.listdir(published_dir))
    except OSError:
        return []
    for name in formats:
        # published/<format> may be a symlink (the operator's storage layout); <format>/<recordID> may not.
        if not SAFE_NAME.match(name) or not os.path.isdir(os.path.join(published_dir, name)):
            continue
        with contextlib.suppress(OSError):
            ids.update(r for r in os.listdir(os.path.join(published_dir, name)) if SAFE_NAME.match(r))
    return sorted(r for r in ids if available_formats(published_dir, r))


def walk_format(published_dir: str, fmt: str, record_id: str, skipped: list[str] | None = None) -> list[Entry]:
    """`<fmt>/<recordID>` and everything under it: directories and regular files only, symlinks never followed
    (what is left out is added to `skipped`)."""
    root = os.path.join(published_dir, fmt, record_id)
    prefix = f"{fmt}/{record_id}"
    entries: list[Entry] = [Entry(root, prefix, os.lstat(root))]

    def onerror(exc: OSError) -> NoReturn:
        raise exc

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        keep = []
        for name in sorted(dirnames) + sorted(filenames):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            member = prefix + "/" + (name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}")
            if stat.S_ISDIR(info.st_mode):
                keep.append(name)
            elif not stat.S_ISREG(info.st_mode):
                if skipped is not None:
                    skipped.append(member)
                continue
            entries.append(Entry(path, member, info))
        dirnames[:] = keep
    entries.sort(key=lambda entry: entry.member)
    return entries


def fingerprint(entries: Sequence[Entry]) -> str:
    """What identifies a format's content here: names, types, sizes and mtimes (a rebuild changes them)."""
    digest = hashlib.sha256()
    for _, member, info in entries:
        kind = "d" if stat.S_ISDIR(info.st_mode) else "f"
        digest.update(f"{member}\0{kind}\0{info.st_size}\0{info.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def pack(tar_file: IO[bytes], walked: dict[str, list[Entry]]) -> int:
    """Write the uncompressed tar; returns the member count. Files are streamed, never read into memory whole."""
    count = 0
    with tarfile.open(fileobj=tar_file, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entries in walked.values():
            for path, member, info in entries:
                item = tarfile.TarInfo(member)
                item.mtime = int(info.st_mtime)
                item.uid = item.gid = 0
                item.uname = item.gname = ""
                if stat.S_ISDIR(info.st_mode):
                    item.type, item.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(item)
                else:
                    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                    with os.fdopen(fd, "rb") as source:
                        opened = os.fstat(source.fileno())
                        if not stat.S_ISREG(opened.st_mode):
                            raise Failed(f"{member} changed while packing")
                        item.type, item.mode, item.size = tarfile.REGTYPE, 0o644, opened.st_size
                        tar.addfile(item, source)
                count += 1
    return count


# --- state: markers of what was sent ------------------------------------------------------------------------------


def _marker_path(state_dir: str, record_id: str) -> str:
    return os.path.join(state_dir, "sent", record_id + ".json")


def read_marker(state_dir: str, record_id: str) -> dict[str, str]:
    try:
        with open(_marker_path(state_dir, record_id), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    formats = data.get("formats") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in formats.items()} if isinstance(formats, dict) else {}


def write_marker(state_dir: str, record_id: str, sent: dict[str, str]) -> None:
    merged = read_marker(state_dir, record_id)
    merged.update(sent)
    path = _marker_path(state_dir, record_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    body = json.dumps({"record_id": record_id, "formats": merged, "sent_at": int(time.time())}, sort_keys=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".marker-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def current_fingerprints(published_dir: str, record_id: str) -> dict[str, str]:
    return {
        f: fingerprint(walk_format(published_dir, f, record_id)) for f in available_formats(published_dir, record_id)
    }


def is_sent(settings: Settings, record_id: str) -> bool:
    """True when every published format was sent with exactly its current content."""
    try:
        current = current_fingerprints(settings.published_dir, record_id)
    except OSError:
        return False
    marker = read_marker(settings.state_dir, record_id)
    return bool(current) and all(marker.get(f) == digest for f, digest in current.items())


def remove_stale_temp_files(state_dir: str) -> None:
    with contextlib.suppress(OSError):
        for name in os.listdir(state_dir):
            path = os.path.join(state_dir, name)
            if name.startswith(".upload-") and name.endswith(".tar"):
                with contextlib.suppress(OSError):
                    if time.time() - os.lstat(path).st_mtime > STALE_TEMP_AGE:
                        os.unlink(path)


# --- HTTP ----------------------------------------------------------------------------------------------------------


def _connection(url: urllib.parse.SplitResult, settings: Settings) -> http.client.HTTPConnection:
    import http.client
    import ssl
    import urllib.request

    host = url.hostname or ""
    if url.scheme == "http":
        return http.client.HTTPConnection(host, url.port, timeout=settings.timeout, blocksize=BLOCK)
    if url.scheme != "https":
        raise Failed(f"unsupported URL scheme {url.scheme!r}")
    context = ssl.create_default_context(cafile=settings.ca_file)
    proxy = urllib.request.getproxies().get("https")
    if proxy and not urllib.request.proxy_bypass(host):
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        conn = http.client.HTTPSConnection(
            parsed.hostname or "", parsed.port or 3128, timeout=settings.timeout, context=context, blocksize=BLOCK
        )
        conn.set_tunnel(host, url.port or 443)
        return conn
    return http.client.HTTPSConnection(host, url.port, timeout=settings.timeout, context=context, blocksize=BLOCK)


def http_request(
    settings: Settings, method: str, url: str, headers: dict[str, str], body: Any
) -> tuple[int, dict[str, str], bytes]:
    """One request, no redirects followed. Connection-level failures raise Transient."""
    import http.client

    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = _connection(parts, settings)
    try:
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read(MAX_ANSWER)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    except (OSError, http.client.HTTPException) as exc:
        raise Transient(f"{parts.hostname}: {exc.__class__.__name__}: {exc}") from None
    finally:
        conn.close()


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def _reason(status: int, body: bytes) -> str:
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    return f"HTTP {status}" + (f": {error}" if isinstance(error, str) and error else "")


def backoff_delay(attempt: int, base: float, max_delay: float, retry_after: float | None = None) -> float:
    """Exponential back-off with jitter: base·2^(attempt-1), capped, then a random half of it added to a half."""
    ceiling = min(max_delay, base * 2.0 ** min(attempt - 1, 32))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, max_delay))
    return delay


class Grant:
    def __init__(self, answer: Any) -> None:
        if not isinstance(answer, dict):
            raise Failed("the balancer's answer is not a JSON object")
        url, method, headers, expires = (answer.get(k) for k in ("url", "method", "headers", "expires"))
        if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise Failed("the balancer's answer has no upload URL")
        method = method if isinstance(method, str) and method else "PUT"
        if method.upper() != "PUT":
            raise Failed(f"the balancer asked for an unsupported upload method {method!r}")
        if headers is None:
            headers = {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise Failed("the balancer's upload headers are not a JSON object of strings")
        self.url = url
        self.method = method.upper()
        self.headers: dict[str, str] = {str(k): v for k, v in headers.items()}
        self.expires = float(expires) if isinstance(expires, (int, float)) else time.time() + 600

    def usable(self) -> bool:
        return self.expires - GRANT_MARGIN > time.time()


def ask_grant(settings: Settings, record_id: str, formats: list[str], size: int) -> Grant:
    token = make_token(settings.secret, settings.server_url, record_id)
    body = json.dumps({"record_id": record_id, "formats": formats, "size": size}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"}
    status, answer_headers, answer = http_request(settings, "POST", settings.endpoint(), headers, body)
    if status in (401, 403):
        raise Refused(f"the balancer refused the upload of {record_id}: {_reason(status, answer)}")
    if status == 429 or status >= 500:
        raise Transient(f"balancer {_reason(status, answer)}", retry_after=_retry_after(answer_headers))
    if status != 200:
        where = f" (redirect to {answer_headers.get('location')})" if 300 <= status < 400 else ""
        raise Failed(f"the balancer answered {_reason(status, answer)}{where}")
    try:
        return Grant(json.loads(answer))
    except ValueError:
        raise Failed("the balancer's answer is not JSON") from None


def put_archive(settings: Settings, grant: Grant, tar_path: str, size: int) -> None:
    headers = dict(grant.headers)
    headers["Content-Length"] = str(size)
    with open(tar_path, "rb") as source:
        status, answer_headers, answer = http_request(settings, grant.method, grant.url, headers, source)
    if 200 <= status < 300:
        return
    host = urllib.parse.urlsplit(grant.url).hostname  # never log the presigned query (it is a credential)
    if status == 429 or status >= 500:
        raise Transient(f"storage {host}: HTTP {status}", retry_after=_retry_after(answer_headers))
    if status == 403:  # an expired or otherwise unusable signature: ask for a new URL
        raise Transient(f"storage {host}: HTTP 403", new_grant=True)
    raise Failed(f"storage {host} refused the archive: HTTP {status}")


def deliver(settings: Settings, record_id: str, formats: list[str], tar_path: str, size: int) -> None:
    grant: Grant | None = None
    last = ""
    for attempt in range(1, settings.attempts + 1):
        try:
            if grant is None or not grant.usable():
                grant = ask_grant(settings, record_id, formats, size)
            put_archive(settings, grant, tar_path, size)
            return
        except Transient as exc:
            last = str(exc)
            if exc.new_grant:
                grant = None
            if attempt < settings.attempts:
                delay = backoff_delay(attempt, settings.backoff, settings.max_delay, exc.retry_after)
                log(f"{record_id}: attempt {attempt}/{settings.attempts} failed ({last}); retrying in {delay:.1f} s")
                time.sleep(delay)
    raise Unavailable(f"{record_id}: giving up after {settings.attempts} attempts ({last})")


# --- one recording ---------------------------------------------------------------------------------------------------


def upload(settings: Settings, record_id: str, wanted: list[str] | None = None) -> None:
    """Pack and upload `record_id` (only the `wanted` formats that are published, when given)."""
    published = available_formats(settings.published_dir, record_id)
    formats = [f for f in published if wanted is None or f in wanted]
    if not formats:
        which = "/".join(wanted) if wanted else "*"
        raise NothingToUpload(f"{record_id}: no published recording in {settings.published_dir}/{which}/{record_id}")
    settings.require()  # before packing: a configuration error fails fast
    endpoint, issuer = settings.endpoint(), settings.server_url
    skipped: list[str] = []
    try:
        walked = {f: walk_format(settings.published_dir, f, record_id, skipped) for f in formats}
    except OSError as exc:
        raise Failed(f"{record_id}: cannot read the recording: {exc}") from None
    for member in skipped:
        log(f"leaving out {member}: not a regular file or directory (symlinks are never followed)")
    try:
        os.makedirs(settings.state_dir, exist_ok=True)
        fd, tar_path = tempfile.mkstemp(dir=settings.state_dir, prefix=".upload-", suffix=".tar")
    except OSError as exc:  # e.g. a manual run as another user: the upload need not fail for that
        log(f"cannot write in {settings.state_dir} ({exc.strerror}); packing in {tempfile.gettempdir()}")
        fd, tar_path = tempfile.mkstemp(prefix=".upload-", suffix=".tar")
    try:
        try:
            with os.fdopen(fd, "wb") as tar_file:
                members = pack(tar_file, walked)
        except OSError as exc:
            raise Failed(f"{record_id}: cannot pack the recording: {exc}") from None
        size = os.path.getsize(tar_path)
        summary = f"{record_id}: {', '.join(formats)}; {members} members, {size} bytes"
        if settings.dry_run:
            print(f"dry run: would upload {summary} to {endpoint} as {issuer}")
            return
        log(f"uploading {summary}")
        deliver(settings, record_id, formats, tar_path, size)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tar_path)
    log(f"{record_id}: stored")
    try:
        write_marker(settings.state_dir, record_id, {f: fingerprint(walked[f]) for f in formats})
    except OSError as exc:  # stored all the same: only --all/--pending will think it unsent
        log(f"{record_id}: cannot record the upload in {settings.state_dir}: {exc}")


# --- the queue (written by scalelite_serverless_post_publish.rb) ------------------------------------------------------


@contextlib.contextmanager
def queue_lock(queue_dir: str) -> Iterator[None]:
    """The hook appends under the same lock (`<queue dir>.lock`, outside the watched directory)."""
    fd = os.open(queue_dir.rstrip("/") + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def queued(queue_dir: str) -> list[str]:
    try:
        names = os.listdir(queue_dir)
    except OSError:
        return []
    return sorted(n for n in names if SAFE_NAME.match(n) and os.path.isfile(os.path.join(queue_dir, n)))


def read_entry(queue_dir: str, record_id: str) -> str | None:
    try:
        with open(os.path.join(queue_dir, record_id), encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def remove_entry_if_unchanged(queue_dir: str, record_id: str, content: str) -> bool:
    with queue_lock(queue_dir):
        if read_entry(queue_dir, record_id) != content:
            return False  # the hook queued more meanwhile: it is uploaded again
        os.unlink(os.path.join(queue_dir, record_id))
        return True


@contextlib.contextmanager
def single_runner(state_dir: str) -> Iterator[bool]:
    os.makedirs(state_dir, exist_ok=True)
    fd = os.open(os.path.join(state_dir, "run.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def drain_queue(settings: Settings, queue_dir: str) -> int:
    if not os.path.isdir(queue_dir):
        log(f"{queue_dir}: no queue directory, nothing to upload")
        return EXIT_OK
    with single_runner(settings.state_dir) as alone:
        if not alone:
            log("another upload run is in progress; leaving the queue to it")
            return EXIT_OK
        remove_stale_temp_files(settings.state_dir)
        handled: dict[str, str] = {}  # recordID → the entry content handled in this run
        failed: set[str] = set()
        while True:
            todo = []
            with queue_lock(queue_dir):
                for record_id in queued(queue_dir):
                    content = read_entry(queue_dir, record_id)
                    if content is not None and handled.get(record_id) != content:
                        todo.append((record_id, content))
            if not todo:
                break
            for record_id, content in todo:
                handled[record_id] = content
                listed = [line.strip() for line in content.splitlines() if SAFE_NAME.match(line.strip())]
                published = available_formats(settings.published_dir, record_id)
                wanted = [f for f in published if f in listed] or None  # none listed (or gone): all formats
                try:
                    upload(settings, record_id, wanted)
                except NothingToUpload as exc:
                    log(f"{exc}; dropping the queue entry")
                    if not settings.dry_run:
                        remove_entry_if_unchanged(queue_dir, record_id, content)
                    continue
                except Unavailable as exc:
                    failed.add(record_id)
                    log(f"{exc}; leaving the rest of the queue for the next run")
                    return EXIT_FAILED
                except UploadError as exc:
                    failed.add(record_id)
                    log(f"{exc}; kept in the queue")
                    continue
                failed.discard(record_id)
                if not settings.dry_run:
                    remove_entry_if_unchanged(queue_dir, record_id, content)
        if failed:
            log(f"{len(failed)} recording(s) not uploaded: {', '.join(sorted(failed))}")
            return EXIT_FAILED
        return EXIT_OK


def upload_all(settings: Settings, force: bool) -> int:
    with single_runner(settings.state_dir) as alone:
        if not alone:
            log("another upload run is in progress; try again later")
            return EXIT_FAILED
        remove_stale_temp_files(settings.state_dir)
        failed: list[str] = []
        sent = skipped = 0
        for record_id in published_recordings(settings.published_dir):
            if not force and is_sent(settings, record_id):
                skipped += 1
                continue
            try:
                upload(settings, record_id)
                sent += 1
            except Unavailable as exc:
                log(f"{exc}; stopping")
                return EXIT_FAILED
            except UploadError as exc:
                log(str(exc))
                failed.append(record_id)
        log(f"{sent} uploaded, {skipped} already sent, {len(failed)} failed")
        return EXIT_FAILED if failed else EXIT_OK


def pending(settings: Settings) -> int:
    waiting = set(queued(settings.queue_dir))
    unsent = {r for r in published_recordings(settings.published_dir) if not is_sent(settings, r)}
    for record_id in sorted(waiting | unsent):
        print(record_id)
    log(f"{len(waiting)} queued, {len(unsent - waiting)} more published but not sent")
    return EXIT_OK


# --- command line -----------------------------------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # exit 2 means "refused": usage errors get EX_USAGE
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _name(text: str) -> str:
    if not SAFE_NAME.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a recordID/format name")
    return text


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("-m", "--meeting-id", "--record-id", dest="record_id", type=_name, help="upload this recording")
    mode.add_argument("--all", action="store_true", help="upload every published recording not sent yet")
    mode.add_argument("--drain-queue", metavar="DIR", help="upload the recordings queued in DIR (the hook's spool)")
    mode.add_argument("--pending", action="store_true", help="print the recordIDs queued or not sent yet")
    parser.add_argument("-f", "--format", type=_name, help="with -m: only this format (default: every published one)")
    parser.add_argument("--published-dir", help=f"default {DEFAULT_PUBLISHED_DIR}")
    parser.add_argument("--url", help="the load balancer's base URL, e.g. https://lb.example.com (default: config)")
    parser.add_argument("--server-url", help="this server's API URL as registered (default from bbb-web.properties)")
    parser.add_argument("--secret", help="this server's secret (default: securitySalt from bbb-web.properties)")
    parser.add_argument("--config", help=f"key=value config file (default {DEFAULT_CONFIG})")
    parser.add_argument(
        "--bbb-properties",
        action="append",
        metavar="FILE",
        help="BBB properties file, repeatable, later ones win (default: the packaged one, then /etc/bigbluebutton's)",
    )
    parser.add_argument("--state-dir", help=f"markers and temp archives (default {DEFAULT_STATE_DIR})")
    parser.add_argument("--queue-dir", help="the hook's queue, for --pending (default STATE_DIR/queue)")
    parser.add_argument(
        "--retries", "--attempts", dest="retries", type=_positive_int, default=5, help="attempts in all (default 5)"
    )
    parser.add_argument("--backoff", type=_non_negative, default=2.0, help="first retry delay, seconds (default 2)")
    parser.add_argument("--max-delay", type=_non_negative, default=60.0, help="longest retry delay (default 60)")
    parser.add_argument("--timeout", type=_non_negative, default=60.0, help="socket timeout, seconds (default 60)")
    parser.add_argument("--ca-file", help="CA bundle for TLS (default: the system's)")
    parser.add_argument("--force", action="store_true", help="with --all: also resend recordings already sent")
    parser.add_argument("--dry-run", action="store_true", help="pack and report, but contact nothing, change nothing")
    return parser


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # so `finally` blocks remove the temp archive


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.format and not args.record_id:
        parser.error("-f/--format goes with -m")
    if args.force and not args.all:
        parser.error("--force goes with --all")
    try:
        settings = Settings(args)
        if args.pending:
            return pending(settings)
        settings.require()
        if args.drain_queue:
            return drain_queue(settings, args.drain_queue)
        if args.all:
            return upload_all(settings, args.force)
        upload(settings, args.record_id, [args.format] if args.format else None)
        return EXIT_OK
    except UploadError as exc:
        log(str(exc))
        return exc.exit_code
    except OSError as exc:
        log(f"error: {exc}")
        return EXIT_FAILED


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
