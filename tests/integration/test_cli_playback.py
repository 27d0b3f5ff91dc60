"""`scalelite playback`: the CLI's events routed to the AdminFunction handler, S3 and DynamoDB in a moto server (the
presigned PUTs are real HTTP requests, so moto runs as a server rather than in-process), BBB simulated by bbbsim."""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bbbsim.server import PLAYER_FILES
from scalelite_cli import player
from scalelite_cli.errors import CLIError
from scalelite_cli.main import main
from scalelite_common.bbb.player import HttpPlayerSource, PlayerFetchError
from scalelite_local.aws import MotoServer, client
from tests.conftest import FakeLambdaContext, reset_caches
from tests.integration.conftest import SimFactory, add_server

BUCKET = "test-recordings"
LIVE = "playback/presentation/2.3/"


class Result:
    def __init__(self, code: int, out: str, err: str, sent: list[dict[str, Any]]) -> None:
        self.code, self.out, self.err, self.sent = code, out, err, sent

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    """One moto server with our tables and buckets for the module (creating the tables takes seconds); the admin
    handler talks to it through AWS_ENDPOINT_URL."""
    server = MotoServer("127.0.0.1", 0)
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", server.endpoint)
        reset_caches()
        from scalelite_common.db.models import create_tables
        from scalelite_common.services import wiring

        wiring.store()  # binds the models to the endpoint
        create_tables()
        s3 = client("s3", server.endpoint)
        for bucket in ("test-spool", BUCKET):
            s3.create_bucket(Bucket=bucket)
        yield server
    reset_caches()
    server.stop()


@pytest.fixture
def s3(moto: MotoServer) -> Iterator[Any]:
    """The recordings bucket and the servers table emptied before each test."""
    from scalelite_common.services import wiring

    reset_caches()
    s3 = client("s3", moto.endpoint)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    store = wiring.store()
    for server in store.list_servers():
        store.delete_server(server.id)
    yield s3
    reset_caches()


@pytest.fixture
def cli(s3: Any) -> Callable[..., Result]:
    def run(*argv: str) -> Result:
        from scalelite_admin.handler import handler

        sent: list[dict[str, Any]] = []

        def invoke(payload: dict[str, Any]) -> dict[str, Any]:
            sent.append(payload)
            wire = json.dumps(payload)
            assert len(wire) < 6 * 1024**2  # the Lambda payload limit
            reply: dict[str, Any] = json.loads(json.dumps(handler(json.loads(wire), FakeLambdaContext())))
            return reply

        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), invoker=invoke, stdin=io.StringIO(""), stdout=out, stderr=err, interactive=False)
        return Result(code, out.getvalue(), err.getvalue(), sent)

    return run


def build(root: Path, files: dict[str, bytes]) -> Path:
    for path, body in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(body)
    return root


BUILD = {
    "index.html": b'<html><script src="static/js/main.1.js"></script></html>',
    "static/js/main.1.js": b"console.log(1)",
    "static/css/main.1.css": b"body{}",
    "static/media/font.woff2": b"\x00\x01",
    "asset-manifest.json": b'{"files": {}}',
}


def head(s3: Any, key: str) -> dict[str, Any]:
    answer: dict[str, Any] = s3.head_object(Bucket=BUCKET, Key=key)
    return answer


def body(s3: Any, key: str) -> bytes:
    data: bytes = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return data


def test_install_a_directory_then_status(cli: Callable[..., Result], s3: Any, tmp_path: Path) -> None:
    directory = build(tmp_path / "build", BUILD)
    assert cli("playback", "status").out.startswith("No player is installed")
    installed = cli("playback", "install", str(directory), "--json")
    assert installed.code == 0, installed.err
    result = installed.json()
    version = result["version"]
    assert len(version) == 12 and result["uploaded"] == len(BUILD)
    assert result["activated"]["version"] == version and result["activated"]["files"] == len(BUILD)
    assert [e["command"] for e in installed.sent] == [
        "playback.prepare",
        "playback.upload_urls",
        "playback.commit",
        "playback.activate",
    ]
    for path, data in BUILD.items():
        assert body(s3, f"player/{version}/{path}") == data
        assert body(s3, LIVE + path) == data
    index, script = head(s3, LIVE + "index.html"), head(s3, LIVE + "static/js/main.1.js")
    assert index["CacheControl"] == "max-age=60" and index["ContentType"] == "text/html; charset=utf-8"
    assert script["CacheControl"] == "public, max-age=31536000, immutable"
    assert script["ContentType"] == "text/javascript; charset=utf-8"
    assert head(s3, LIVE + "static/media/font.woff2")["ContentType"] == "font/woff2"
    manifest = json.loads(body(s3, LIVE + "scalelite-player.json"))
    assert manifest["version"] == version and manifest["source"] == f"directory {directory.resolve()}"
    assert sorted(f["path"] for f in manifest["files"]) == sorted(BUILD)

    status = cli("playback", "status", "--json").json()
    assert status["live"]["version"] == version and status["live"]["files"] == len(BUILD)
    assert [(v["version"], v["live"], v["complete"]) for v in status["versions"]] == [(version, True, True)]
    table = cli("playback").out  # a bare `playback` is the status
    assert table.startswith(f"Live: {version} (installed ") and f"from directory {directory.resolve()}" in table
    assert table.splitlines()[2].split() == ["VERSION", "LIVE", "UPLOADED", "FILES", "SOURCE"]

    again = cli("playback", "install", str(directory))
    assert again.code == 0 and again.out.startswith("Already uploaded: nothing to send\nOK: player " + version)
    assert [e["command"] for e in again.sent] == ["playback.prepare", "playback.activate"]


def test_from_server_then_roll_back(
    cli: Callable[..., Result], s3: Any, simulators: SimFactory, tmp_path: Path
) -> None:
    from scalelite_common.services import wiring

    sim = simulators()
    add_server(wiring.store(), sim, "bbb1")
    first = cli("playback", "install", str(build(tmp_path / "b", BUILD)), "--version", "upload-1", "--json").json()
    assert first["version"] == "upload-1"

    copied = cli("playback", "install", "--from-server", "bbb1", "--json")
    assert copied.code == 0, copied.err
    result = copied.json()
    assert result["uploaded"] == len(PLAYER_FILES) and result["activated"]["previous"] == "upload-1"
    assert result["activated"]["source"] == f"server bbb1 ({sim.base_url})"
    for path, (_, data) in PLAYER_FILES.items():
        assert body(s3, LIVE + path) == data
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=LIVE)["Contents"]}
    assert keys == {LIVE + p for p in [*PLAYER_FILES, "scalelite-player.json"]}  # the old version's files went
    status = cli("playback", "status", "--json").json()
    assert status["live"]["version"] == result["version"]
    assert {v["version"] for v in status["versions"]} == {"upload-1", result["version"]}

    back = cli("playback", "activate", "upload-1")
    assert back.code == 0 and back.out.strip() == f"OK: player upload-1 is live (previous: {result['version']})"
    assert body(s3, LIVE + "index.html") == BUILD["index.html"]
    assert json.loads(body(s3, LIVE + "scalelite-player.json"))["version"] == "upload-1"


def test_refusals(cli: Callable[..., Result], s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_index = cli("playback", "install", str(build(tmp_path / "x", {"static/a.js": b"a"})))
    assert no_index.code == 1 and "no index.html at its root" in no_index.err and no_index.sent == []

    unknown = cli("playback", "install", "--from-server", "nope")
    assert unknown.code == 1 and unknown.err.strip() == "error: No server found with id: nope"

    s3.put_object(Bucket=BUCKET, Key="player/half/index.html", Body=b"x")
    half = cli("playback", "activate", "half")
    assert half.code == 1 and "half is incomplete (its upload did not finish)" in half.err
    status = cli("playback", "status", "--json").json()
    assert status["live"] is None and status["versions"][0]["complete"] is False
    assert "incomplete upload" in cli("playback", "status").out

    missing = cli("playback", "activate", "never")
    assert missing.code == 1 and "No player version never (installed: half)" in missing.err

    outside = tmp_path / "outside.js"
    outside.write_text("secret")
    escaping = build(tmp_path / "y", {"index.html": b"<html>"})
    os.symlink(outside, escaping / "leak.js")
    leak = cli("playback", "install", str(escaping))
    assert leak.code == 1 and "a symlink pointing outside" in leak.err and leak.sent == []

    monkeypatch.setattr(player, "MAX_FILES", 2)
    many = cli("playback", "install", str(build(tmp_path / "z", BUILD)))
    assert many.code == 1 and "more than 2 files (the limit)" in many.err and many.sent == []

    usage = cli("playback", "install", str(escaping), "--from-server", "bbb1")
    assert usage.code == 2 and usage.sent == []


def test_symlinks_inside_the_directory_are_followed(cli: Callable[..., Result], s3: Any, tmp_path: Path) -> None:
    directory = build(tmp_path / "b", BUILD)
    os.symlink(directory / "static", directory / "again")  # the same folder twice: both copies are uploaded
    os.symlink(directory, directory / "static" / "loop")  # a loop: each real folder is walked once
    files = {f.path for f in player.scan(str(directory))}
    assert set(BUILD) <= files and "again/js/main.1.js" in files and not any("loop/" in f for f in files)
    assert cli("playback", "install", str(directory)).code == 0


# ------------------------------------------------------------------------------------ the HTTP on both sides
def test_http_player_source_against_bbbsim(simulators: SimFactory) -> None:
    sim = simulators()
    source = HttpPlayerSource(connect_timeout=1, response_timeout=2)
    base = sim.base_url + "/playback/presentation/2.3/"
    assert source.get(base + "index.html", max_bytes=10_000) == PLAYER_FILES["index.html"][1]
    with pytest.raises(PlayerFetchError) as missing:
        source.get(base + "nothing.js", max_bytes=10_000)
    assert missing.value.status == 404
    with pytest.raises(PlayerFetchError, match="larger than 10 bytes"):
        source.get(base + "index.html", max_bytes=10)
    sim.stop()
    with pytest.raises(PlayerFetchError, match="connection refused"):
        source.get(base + "index.html", max_bytes=10_000)


class _Flaky(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answers: list[int] = []
    bodies: list[bytes] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_PUT(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        status = self.answers.pop(0) if self.answers else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def flaky() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/bucket/key"
    server.shutdown()
    server.server_close()


def test_uploads_retry_server_errors_only(flaky: str, tmp_path: Path) -> None:
    (tmp_path / "f.js").write_bytes(b"data")
    file = player.LocalFile("f.js", tmp_path / "f.js", 4, "0" * 64)
    pauses: list[float] = []
    _Flaky.answers, _Flaky.bodies = [503, 500], []
    player.put(flaky, {"Content-Type": "text/javascript"}, file, pause=pauses.append)
    assert _Flaky.bodies == [b"data"] * 3 and pauses == [0.5, 1.0]
    _Flaky.answers = [503] * 4
    with pytest.raises(CLIError, match="failed after 4 attempts: HTTP 503"):
        player.put(flaky, {}, file, pause=pauses.append)
    _Flaky.answers, _Flaky.bodies = [403], []
    with pytest.raises(CLIError, match="refused: HTTP 403"):
        player.put(flaky, {}, file, pause=pauses.append)
    assert len(_Flaky.bodies) == 1  # a refusal is not retried
