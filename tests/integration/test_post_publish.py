"""bbb-server/post_publish.py run as BBB runs it (a subprocess), against a stub balancer and a stub S3 (http.server
on 127.0.0.1): the signed upload request, the tar layout that reaches S3, retries and exit codes, the batch, the
hook's queue and the defaults read from the BBB server's own files."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bbb-server" / "post_publish.py"
PYTHON = os.environ.get("POST_PUBLISH_PYTHON", sys.executable)  # e.g. a Python 3.8, as on a BBB 2.7 server
SECRET = "bbb1-secret-0123456789abcdef0123456789ab"
SERVER_URL = "https://bbb1.example.com/bigbluebutton/api/"
RECORD_ID = "a" * 40 + "-1741369843904"
OTHER_ID = "b" * 40 + "-1741369999999"
PRES_ID = "c" * 40 + "-1741369844000"
UPLOAD_PATH = "/scalelite/api/recordingUpload"


# --- stub HTTP servers ------------------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Stub:
    """An HTTP server on 127.0.0.1: answers with `plan` (statuses, one per request) and then `default`."""

    default: Callable[[Received], Reply]
    plan: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Stub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                got = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                stub.requests.append(got)
                if stub.plan:
                    status = stub.plan.pop(0)
                    reply: Reply = (status, {"Content-Type": "application/json"}, b'{"error": "planned"}')
                else:
                    reply = stub.default(got)
                status, headers, payload = reply
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(payload))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = do_GET = handle_one

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class Stubs:
    lb: Stub
    s3: Stub

    def uploads(self) -> list[Received]:
        return [r for r in self.s3.requests if r.method == "PUT"]


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    s3 = Stub(default=lambda got: (200, {"ETag": '"etag"'}, b"")).start()

    def grant(got: Received) -> Reply:
        record_id = json.loads(got.body)["record_id"]
        key = f"uploads/bbb1/{record_id}/0123abcd.tar"
        answer = {
            "url": f"{s3.url}/test-spool/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=f00d%2Fbeef",
            "method": "PUT",
            "headers": {"Content-Type": "application/x-tar"},
            "expires": int(time.time()) + 3600,
            "key": key,
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    lb = Stub(default=grant).start()
    yield Stubs(lb=lb, s3=s3)
    lb.stop()
    s3.stop()


# --- a BBB server's files ---------------------------------------------------------------------------------------


def metadata_xml(record_id: str, fmt: str) -> str:
    """bbb-api.md §3.1, as publish/<format>.rb writes it."""
    return f"""<?xml version="1.0"?>
<recording>
  <id>{record_id}</id>
  <state>published</state>
  <published>true</published>
  <start_time>1741369843904</start_time>
  <end_time>1741375480408</end_time>
  <participants>3</participants>
  <meeting id="{record_id}" externalId="class-1" name="Class 1" breakout="false"/>
  <breakout/>
  <breakoutRooms/>
  <meta>
    <isBreakout>false</isBreakout>
    <meetingId>class-1</meetingId>
    <meetingName>Class 1</meetingName>
    <bbb-origin>Moodle</bbb-origin>
  </meta>
  <playback>
    <format>{fmt}</format>
    <link>https://bbb1.example.com/playback/{fmt}/2.3/{record_id}</link>
    <processing_time>652354</processing_time>
    <duration>4684838</duration>
    <extensions>
      <preview>
        <images>
          <image width="176" height="136" alt="Welcome" duration="12">https://bbb1.example.com/presentation/{record_id}/presentation/{PRES_ID}/thumbnails/thumb-1.png</image>
        </images>
      </preview>
    </extensions>
    <size>1234</size>
  </playback>
  <raw_size>5678</raw_size>
</recording>
"""


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)


def make_recording(published: Path, record_id: str, outside: Path) -> dict[str, bytes]:
    """Two formats, a slide, thumbnails and media; plus symlinks (to a file and a directory outside) that must
    never be followed. Returns the expected regular-file members with their content."""
    pres = published / "presentation" / record_id
    files: dict[str, bytes] = {
        f"presentation/{record_id}/metadata.xml": metadata_xml(record_id, "presentation").encode(),
        f"presentation/{record_id}/shapes.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        f"presentation/{record_id}/presentation/{PRES_ID}/slide-1.png": PNG,
        f"presentation/{record_id}/presentation/{PRES_ID}/thumbnails/thumb-1.png": PNG[:300],
        f"presentation/{record_id}/presentation/{PRES_ID}/thumbnails/thumb-2.png": PNG[:200],
        f"presentation/{record_id}/video/webcams.webm": os.urandom(200_000),
        f"video/{record_id}/metadata.xml": metadata_xml(record_id, "video").encode(),
        f"video/{record_id}/video-0.m4v": os.urandom(150_000),
    }
    for name, data in files.items():
        write(published / name, data)
    write(outside / "secret.txt", "not part of any recording")
    (pres / "leak.txt").symlink_to(outside / "secret.txt")
    (pres / "leakdir").symlink_to(outside, target_is_directory=True)
    return files


@dataclass
class Node:
    """A BBB server's directories in tmp_path, and how to run the uploader on it."""

    root: Path
    stubs: Stubs
    files: dict[str, bytes]

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def queue(self) -> Path:
        return self.state / "queue"

    def base_args(self) -> list[str]:
        return [
            "--published-dir",
            str(self.published),
            "--state-dir",
            str(self.state),
            "--config",
            str(self.root / "empty.conf"),
            "--bbb-properties",
            str(self.root / "absent.properties"),
            "--backoff",
            "0.01",
            "--max-delay",
            "0.05",
            "--timeout",
            "5",
        ]

    def run(self, *args: str, configured: bool = True) -> subprocess.CompletedProcess[str]:
        flags = ["--url", self.stubs.lb.url, "--server-url", SERVER_URL, "--secret", SECRET] if configured else []
        return subprocess.run(
            [PYTHON, str(SCRIPT), *self.base_args(), *flags, *args],  # the test's own flags win
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def enqueue(self, record_id: str, *formats: str) -> None:
        """What scalelite_serverless_post_publish.rb does: append the format to <queue>/<recordID>."""
        self.queue.mkdir(parents=True, exist_ok=True)
        with open(self.queue / record_id, "a", encoding="utf-8") as entry:
            for fmt in formats:
                entry.write(fmt + "\n")


@pytest.fixture
def node(tmp_path: Path, stubs: Stubs) -> Node:
    (tmp_path / "empty.conf").write_text("", encoding="utf-8")
    files = make_recording(tmp_path / "published", RECORD_ID, tmp_path / "outside")
    return Node(root=tmp_path, stubs=stubs, files=files)


# --- checks ------------------------------------------------------------------------------------------------------


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_jwt(token: str, secret: str) -> dict[str, Any]:
    header_b64, claims_b64, signature_b64 = token.split(".")
    expected = hmac.new(secret.encode(), f"{header_b64}.{claims_b64}".encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(expected, b64url_decode(signature_b64)), "bad HS256 signature"
    assert json.loads(b64url_decode(header_b64)) == {"alg": "HS256", "typ": "JWT"}
    claims: dict[str, Any] = json.loads(b64url_decode(claims_b64))
    return claims


def token_of(request: Received) -> str:
    scheme, _, token = request.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


def members_of(upload: Received) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(upload.body), mode="r:") as tar:
        return {m.name: m for m in tar.getmembers()}


def file_contents(upload: Received) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(upload.body), mode="r:") as tar:
        for member in tar.getmembers():
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                out[member.name] = extracted.read()
    return out


def leftovers(state: Path) -> list[str]:
    return [p.name for p in state.iterdir() if p.name.endswith(".tar")] if state.exists() else []


# --- one recording -------------------------------------------------------------------------------------------------


def test_upload_signs_the_request_and_puts_scalelites_tar_layout(node: Node) -> None:
    before = int(time.time())
    result = node.run("-m", RECORD_ID)
    assert result.returncode == 0, result.stderr

    [ask] = node.stubs.lb.requests
    assert ask.method == "POST" and ask.path == UPLOAD_PATH
    assert ask.headers["content-type"] == "application/json"
    claims = verify_jwt(token_of(ask), SECRET)
    assert claims["iss"] == SERVER_URL and claims["sub"] == RECORD_ID
    assert before - 1 <= claims["iat"] <= int(time.time()) + 1
    assert 0 < claims["exp"] - claims["iat"] <= 600 and claims["exp"] - claims["iat"] == 300
    assert isinstance(claims["jti"], str) and 8 <= len(claims["jti"]) <= 128

    [put] = node.stubs.uploads()
    body = json.loads(ask.body)
    assert body == {"record_id": RECORD_ID, "formats": ["presentation", "video"], "size": len(put.body)}
    assert put.path == (
        f"/test-spool/uploads/bbb1/{RECORD_ID}/0123abcd.tar"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=f00d%2Fbeef"  # the presigned query, untouched
    )
    assert put.headers["content-type"] == "application/x-tar"
    assert put.headers["content-length"] == str(len(put.body))
    assert "authorization" not in put.headers

    members = members_of(put)
    assert all(m.isfile() or m.isdir() for m in members.values())
    assert all(not name.startswith("/") and ".." not in name.split("/") for name in members)
    assert {n.split("/")[0] for n in members} == {"presentation", "video"}
    assert all(n.split("/")[1] == RECORD_ID for n in members)
    assert file_contents(put) == node.files  # exactly the recording's regular files, byte for byte
    assert not any("leak" in name for name in members)  # symlinks out of the tree are never followed
    assert members[f"presentation/{RECORD_ID}"].isdir()
    assert members[f"presentation/{RECORD_ID}/presentation/{PRES_ID}/thumbnails"].isdir()

    assert leftovers(node.state) == []  # the temp archive is deleted
    assert json.loads((node.state / "sent" / f"{RECORD_ID}.json").read_text())["record_id"] == RECORD_ID


def test_only_the_given_format_is_sent(node: Node) -> None:
    result = node.run("-m", RECORD_ID, "-f", "video")
    assert result.returncode == 0, result.stderr
    assert json.loads(node.stubs.lb.requests[0].body)["formats"] == ["video"]
    [put] = node.stubs.uploads()
    assert set(file_contents(put)) == {f"video/{RECORD_ID}/metadata.xml", f"video/{RECORD_ID}/video-0.m4v"}


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_exits_2_at_once(node: Node, status: int) -> None:
    node.stubs.lb.plan = [status]
    result = node.run("-m", RECORD_ID, "--retries", "4")
    assert result.returncode == 2, result.stderr
    assert len(node.stubs.lb.requests) == 1 and node.stubs.uploads() == []
    assert "refused" in result.stderr and leftovers(node.state) == []
    assert SECRET not in result.stderr and "Bearer" not in result.stderr


def test_server_errors_exhaust_the_retries_with_a_new_token_each_time(node: Node) -> None:
    node.stubs.lb.plan = [500, 502, 500]
    result = node.run("-m", RECORD_ID, "--retries", "3")
    assert result.returncode == 1, result.stderr
    assert len(node.stubs.lb.requests) == 3 and node.stubs.uploads() == []
    jtis = {verify_jwt(token_of(r), SECRET)["jti"] for r in node.stubs.lb.requests}
    assert len(jtis) == 3
    assert "giving up after 3 attempts" in result.stderr and leftovers(node.state) == []
    assert not (node.state / "sent" / f"{RECORD_ID}.json").exists()


@pytest.mark.parametrize("status", [503, 429])
def test_a_transient_error_then_success_exits_0(node: Node, status: int) -> None:
    node.stubs.lb.plan = [status]
    result = node.run("-m", RECORD_ID, "--retries", "3")
    assert result.returncode == 0, result.stderr
    assert len(node.stubs.lb.requests) == 2 and len(node.stubs.uploads()) == 1
    first, second = (verify_jwt(token_of(r), SECRET)["jti"] for r in node.stubs.lb.requests)
    assert first != second


def test_a_storage_error_retries_the_put_with_the_same_url(node: Node) -> None:
    node.stubs.s3.plan = [503]
    result = node.run("-m", RECORD_ID, "--retries", "3")
    assert result.returncode == 0, result.stderr
    assert len(node.stubs.lb.requests) == 1
    first, second = node.stubs.uploads()
    assert first.path == second.path and second.body == first.body and len(second.body) > 0


def test_an_unreachable_balancer_exits_1_after_the_attempts(node: Node) -> None:
    dead = Stub(default=lambda got: (200, {}, b"")).start()
    url = dead.url
    dead.stop()  # nothing listens there any more: connection refused
    result = subprocess.run(
        [PYTHON, str(SCRIPT), "-m", RECORD_ID, *node.base_args(), "--url", url, "--server-url", SERVER_URL]
        + ["--secret", SECRET, "--retries", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "attempt 1/2 failed" in result.stderr and "giving up after 2 attempts" in result.stderr


def test_a_bad_request_is_not_retried(node: Node) -> None:
    node.stubs.lb.plan = [400]
    result = node.run("-m", RECORD_ID, "--retries", "3")
    assert result.returncode == 1 and len(node.stubs.lb.requests) == 1
    assert "HTTP 400: planned" in result.stderr


def test_a_recording_that_is_not_published_fails_and_bad_flags_exit_64(node: Node) -> None:
    missing = node.run("-m", OTHER_ID)
    assert missing.returncode == 1 and "no published recording" in missing.stderr
    assert node.run("-m", RECORD_ID, "-f", "podcast").returncode == 1
    assert node.stubs.lb.requests == []
    assert node.run("-m", "../../etc").returncode == 64  # usage errors (more in tests/unit) are not "refused"


def test_an_unwritable_state_dir_does_not_fail_a_stored_upload(node: Node) -> None:
    blocker = node.root / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    result = node.run("-m", RECORD_ID, "--state-dir", str(blocker / "state"))
    assert result.returncode == 0, result.stderr
    assert len(node.stubs.uploads()) == 1 and "cannot record the upload" in result.stderr


def test_dry_run_packs_but_contacts_nothing(node: Node) -> None:
    result = node.run("-m", RECORD_ID, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would upload" in result.stdout and "presentation, video" in result.stdout and SERVER_URL in result.stdout
    assert node.stubs.lb.requests == [] and leftovers(node.state) == []
    assert not (node.state / "sent").exists()


# --- defaults from the BBB server's files ----------------------------------------------------------------------------


def test_defaults_come_from_bbb_web_properties_and_the_config_file(node: Node) -> None:
    share = node.root / "bigbluebutton.properties"
    share.write_text(
        "# packaged defaults\nbigbluebutton.web.serverURL=http://bigbluebutton.example.com\n"
        "securitySalt=packaged-secret\nbeans.presentationService.defaultUploadedPresentation="
        "${bigbluebutton.web.serverURL}/default.pdf\n",
        encoding="utf-8",
    )
    etc = node.root / "bbb-web.properties"
    etc.write_text(
        "bigbluebutton.web.serverURL=https\\://bbb1.example.com/\nsecuritySalt = " + SECRET + "\n", encoding="utf-8"
    )
    config = node.root / "scalelite-serverless.conf"
    config.write_text(f"# Scalelite Serverless\nurl={node.stubs.lb.url}\n", encoding="utf-8")
    args = ["-m", RECORD_ID, *node.base_args(), "--config", str(config)]
    args += ["--bbb-properties", str(share), "--bbb-properties", str(etc)]
    result = subprocess.run([PYTHON, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    claims = verify_jwt(token_of(node.stubs.lb.requests[0]), SECRET)  # the /etc override's secret
    assert claims["iss"] == "https://bbb1.example.com/bigbluebutton/api/"


def test_without_a_balancer_url_it_says_where_to_set_it(node: Node) -> None:
    result = node.run("-m", RECORD_ID, configured=False)
    assert result.returncode == 1 and "url=" in result.stderr
    assert node.run("-m", RECORD_ID, "--config", str(node.root / "nope.conf")).returncode == 1


# --- batch, queue, pending -----------------------------------------------------------------------------------------


def test_all_skips_what_was_already_sent(node: Node) -> None:
    make_recording(node.published, OTHER_ID, node.root / "outside2")
    first = node.run("--all")
    assert first.returncode == 0, first.stderr
    assert sorted(json.loads(r.body)["record_id"] for r in node.stubs.lb.requests) == [RECORD_ID, OTHER_ID]

    node.stubs.lb.requests.clear()
    again = node.run("--all")
    assert again.returncode == 0 and node.stubs.lb.requests == []
    assert "2 already sent" in again.stderr

    write(node.published / "presentation" / OTHER_ID / "captions.json", "[]")  # e.g. a caption added
    changed = node.run("--all")
    assert changed.returncode == 0
    assert [json.loads(r.body)["record_id"] for r in node.stubs.lb.requests] == [OTHER_ID]

    node.stubs.lb.requests.clear()
    assert node.run("--all", "--force").returncode == 0 and len(node.stubs.lb.requests) == 2


def test_all_reports_a_failure(node: Node) -> None:
    node.stubs.lb.plan = [403]
    result = node.run("--all")
    assert result.returncode == 1 and "refused" in result.stderr
    assert node.run("--pending").stdout.split() == [RECORD_ID]


def test_drain_queue_uploads_the_queued_formats_and_removes_the_entries(node: Node) -> None:
    make_recording(node.published, OTHER_ID, node.root / "outside2")
    node.enqueue(RECORD_ID, "presentation")
    node.enqueue(RECORD_ID, "video")
    node.enqueue(OTHER_ID, "video")

    listed = node.run("--pending")
    assert listed.returncode == 0 and listed.stdout.split() == sorted([RECORD_ID, OTHER_ID])

    result = node.run("--drain-queue", str(node.queue))
    assert result.returncode == 0, result.stderr
    sent = {json.loads(r.body)["record_id"]: json.loads(r.body)["formats"] for r in node.stubs.lb.requests}
    assert sent == {RECORD_ID: ["presentation", "video"], OTHER_ID: ["video"]}
    assert sorted(p.name for p in node.queue.iterdir()) == []
    # OTHER_ID's presentation was never queued nor sent: still pending, so the node is not safe to scale in yet.
    assert node.run("--pending").stdout.split() == [OTHER_ID]
    assert node.run("--all").returncode == 0
    assert node.run("--pending").stdout.split() == []


def test_drain_queue_keeps_failed_entries_and_drops_vanished_recordings(node: Node) -> None:
    node.enqueue(RECORD_ID, "presentation", "video")
    node.enqueue(OTHER_ID, "presentation")  # never published here (or deleted since): nothing to keep
    node.stubs.lb.plan = [500, 500]
    result = node.run("--drain-queue", str(node.queue), "--retries", "2")
    assert result.returncode == 1, result.stderr
    assert "leaving the rest of the queue for the next run" in result.stderr  # the balancer is down: stop there
    assert sorted(p.name for p in node.queue.iterdir()) == [RECORD_ID, OTHER_ID]
    assert node.run("--pending").stdout.split() == [RECORD_ID, OTHER_ID]

    node.stubs.lb.plan = [401]  # refused: kept too (e.g. the server is not registered yet); the next one goes on
    refused = node.run("--drain-queue", str(node.queue))
    assert refused.returncode == 1 and "refused" in refused.stderr
    assert "dropping the queue entry" in refused.stderr
    assert [p.name for p in node.queue.iterdir()] == [RECORD_ID]

    retried = node.run("--drain-queue", str(node.queue))  # what the timer does
    assert retried.returncode == 0, retried.stderr
    assert list(node.queue.iterdir()) == []
    assert node.run("--pending").stdout == ""


def test_drain_queue_dry_run_and_an_absent_queue(node: Node) -> None:
    assert node.run("--drain-queue", str(node.queue)).returncode == 0  # no queue directory yet
    node.enqueue(RECORD_ID, "presentation")
    result = node.run("--drain-queue", str(node.queue), "--dry-run")
    assert result.returncode == 0 and "would upload" in result.stdout
    assert node.stubs.lb.requests == [] and (node.queue / RECORD_ID).exists()
