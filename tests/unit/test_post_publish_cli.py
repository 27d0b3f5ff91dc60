"""bbb-server/post_publish.py in-process (loaded from its path: it is a standalone script, not a package), plus
the Ruby hook and the systemd units read as text (Ruby is not installed here). No sockets: the HTTP paths are in
tests/integration/test_post_publish.py."""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import importlib.util
import io
import json
import re
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BBB_SERVER = Path(__file__).resolve().parents[2] / "bbb-server"
SCRIPT = BBB_SERVER / "post_publish.py"
HOOK = BBB_SERVER / "scalelite_serverless_post_publish.rb"
SYSTEMD = BBB_SERVER / "systemd"
QUEUE = "/var/bigbluebutton/recording/scalelite-serverless/queue"
RECORD_ID = "d" * 40 + "-1741369843904"


@pytest.fixture(scope="module")
def pp() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scalelite_post_publish", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- what a stock BBB server can run ---------------------------------------------------------------------------


def test_the_script_is_python_3_8_and_standard_library_only() -> None:
    source = SCRIPT.read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 8))  # no match, no parenthesized context managers, …
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    stdlib = {
        "__future__",
        "argparse",
        "base64",
        "collections",
        "contextlib",
        "fcntl",
        "hashlib",
        "hmac",
        "http",
        "json",
        "os",
        "random",
        "re",
        "secrets",
        "signal",
        "ssl",
        "stat",
        "sys",
        "tarfile",
        "tempfile",
        "time",
        "typing",
        "urllib",
    }
    assert imported <= stdlib, imported - stdlib
    assert "from __future__ import annotations" in source
    assert source.startswith("#!/usr/bin/env python3\n")


# --- configuration ---------------------------------------------------------------------------------------------


def test_java_properties_are_parsed_as_bbb_reads_them(pp: ModuleType) -> None:
    text = (
        "# comment\n! also a comment\n\n"
        "bigbluebutton.web.serverURL=https\\://bbb1.example.com\n"
        "securitySalt = s3cr=t\n"
        "spaced.key   value with spaces\n"
        "colon.key: v\n"
        "multi=one, \\\n    two\n"
        "unicode=caf\\u00e9\n"
        "empty=\n"
    )
    assert pp.parse_properties(text) == {
        "bigbluebutton.web.serverURL": "https://bbb1.example.com",
        "securitySalt": "s3cr=t",
        "spaced.key": "value with spaces",
        "colon.key": "v",
        "multi": "one, two",
        "unicode": "café",
        "empty": "",
    }


def test_the_etc_override_wins_over_the_packaged_properties(pp: ModuleType, tmp_path: Path) -> None:
    share, etc = tmp_path / "bigbluebutton.properties", tmp_path / "bbb-web.properties"
    share.write_text("securitySalt=packaged\nbigbluebutton.web.serverURL=http://old\nother=x\n", encoding="utf-8")
    etc.write_text("securitySalt=override\n", encoding="utf-8")
    merged = pp.read_properties([str(share), str(etc), str(tmp_path / "absent")])
    assert merged == {"securitySalt": "override", "bigbluebutton.web.serverURL": "http://old", "other": "x"}
    assert [Path(p).name for p in pp.DEFAULT_BBB_PROPERTIES] == ["bigbluebutton.properties", "bbb-web.properties"]


def test_the_config_file(pp: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    text = "# lb\nurl = 'https://lb.example.com'\nSERVER-URL=https://bbb1/bigbluebutton/api/\nbogus=1\nnot a line\n"
    assert pp.parse_config(text) == {"url": "https://lb.example.com", "server_url": "https://bbb1/bigbluebutton/api/"}
    assert "unknown config key 'bogus'" in capsys.readouterr().err


def settings_for(pp: ModuleType, tmp_path: Path, *extra: str) -> Any:
    (tmp_path / "empty.conf").write_text("", encoding="utf-8")
    args = pp.build_parser().parse_args(
        ["--pending", "--config", str(tmp_path / "empty.conf"), "--bbb-properties", str(tmp_path / "none"), *extra]
    )
    return pp.Settings(args)


def test_the_server_url_is_derived_from_server_url_and_flags_win(pp: ModuleType, tmp_path: Path) -> None:
    props = tmp_path / "bbb-web.properties"
    props.write_text("bigbluebutton.web.serverURL=https://bbb1.example.com/\nsecuritySalt=salt\n", encoding="utf-8")
    derived = settings_for(pp, tmp_path, "--bbb-properties", str(props), "--url", "https://lb.example.com/")
    assert derived.server_url == "https://bbb1.example.com/bigbluebutton/api/"
    assert derived.secret == "salt"
    assert derived.endpoint() == "https://lb.example.com/scalelite/api/recordingUpload"
    flagged = settings_for(pp, tmp_path, "--bbb-properties", str(props), "--server-url", "https://x/api/")
    assert flagged.server_url == "https://x/api/"
    with pytest.raises(pp.Failed, match="securitySalt"):
        _ = settings_for(pp, tmp_path).secret
    with pytest.raises(pp.Failed, match="url="):
        _ = settings_for(pp, tmp_path).lb_url


# --- the token ---------------------------------------------------------------------------------------------------


def test_the_token_is_an_hs256_jwt_with_a_fresh_jti(pp: ModuleType) -> None:
    token = pp.make_token("bbb-secret", "https://bbb1/bigbluebutton/api/", RECORD_ID, now=1_700_000_000)
    header, claims, signature = token.split(".")
    assert "=" not in token
    expected = hmac.new(b"bbb-secret", f"{header}.{claims}".encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(b64url_decode(signature), expected)
    assert json.loads(b64url_decode(header)) == {"alg": "HS256", "typ": "JWT"}
    decoded = json.loads(b64url_decode(claims))
    assert decoded["iss"] == "https://bbb1/bigbluebutton/api/" and decoded["sub"] == RECORD_ID
    assert (decoded["iat"], decoded["exp"]) == (1_700_000_000, 1_700_000_300)
    again = json.loads(b64url_decode(pp.make_token("bbb-secret", "x", RECORD_ID).split(".")[1]))
    assert again["jti"] != decoded["jti"] and len(decoded["jti"]) == 32


def test_the_token_verifies_with_pyjwt_as_the_balancer_does(pp: ModuleType) -> None:
    import jwt

    token = pp.make_token("a-long-enough-bbb-secret-0123456789", "https://bbb1/bigbluebutton/api/", RECORD_ID)
    claims = jwt.decode(
        token,
        "a-long-enough-bbb-secret-0123456789",
        algorithms=["HS256"],
        issuer="https://bbb1/bigbluebutton/api/",
        options={"require": ["iss", "sub", "exp", "jti"]},
    )
    assert claims["sub"] == RECORD_ID


# --- retries and answers -----------------------------------------------------------------------------------------


def test_backoff_is_exponential_jittered_and_capped(pp: ModuleType) -> None:
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (6, 60.0), (500, 60.0)]:
        delays = [pp.backoff_delay(attempt, 2.0, 60.0) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jitter
    assert pp.backoff_delay(1, 2.0, 60.0, retry_after=30) == 30
    assert pp.backoff_delay(1, 2.0, 60.0, retry_after=3600) == 60


def test_the_grant_is_validated(pp: ModuleType) -> None:
    grant = pp.Grant({"url": "https://s3/x?sig=1", "method": "PUT", "headers": {"Content-Type": "application/x-tar"}})
    assert grant.method == "PUT" and grant.headers == {"Content-Type": "application/x-tar"} and grant.usable()
    expired = pp.Grant({"url": "https://s3/x", "method": "PUT", "headers": {}, "expires": 1})
    assert not expired.usable()
    for bad in [[], {"url": "ftp://x"}, {"url": "https://x", "method": "DELETE"}, {"url": "https://x", "headers": [1]}]:
        with pytest.raises(pp.Failed):
            pp.Grant(bad)


# --- packing -----------------------------------------------------------------------------------------------------


def test_pack_writes_format_record_members_without_links(pp: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "published" / "presentation" / RECORD_ID
    (root / "presentation" / "p1" / "thumbnails").mkdir(parents=True)
    (root / "metadata.xml").write_text("<recording/>", encoding="utf-8")
    (root / "presentation" / "p1" / "thumbnails" / "thumb-1.png").write_bytes(b"png")
    (tmp_path / "outside.txt").write_text("secret", encoding="utf-8")
    (root / "link.txt").symlink_to(tmp_path / "outside.txt")
    (root / "linkdir").symlink_to(tmp_path, target_is_directory=True)
    skipped: list[str] = []
    entries = pp.walk_format(str(tmp_path / "published"), "presentation", RECORD_ID, skipped)
    assert sorted(skipped) == [f"presentation/{RECORD_ID}/link.txt", f"presentation/{RECORD_ID}/linkdir"]
    buffer = io.BytesIO()
    assert pp.pack(buffer, {"presentation": entries}) == 6
    with tarfile.open(fileobj=io.BytesIO(buffer.getvalue()), mode="r:") as tar:
        members = {m.name: m for m in tar.getmembers()}
    prefix = f"presentation/{RECORD_ID}"
    assert set(members) == {
        prefix,
        f"{prefix}/metadata.xml",
        f"{prefix}/presentation",
        f"{prefix}/presentation/p1",
        f"{prefix}/presentation/p1/thumbnails",
        f"{prefix}/presentation/p1/thumbnails/thumb-1.png",
    }
    assert all(m.isdir() or m.isfile() for m in members.values())
    assert members[f"{prefix}/metadata.xml"].size == len("<recording/>")


def test_formats_without_metadata_are_not_published(pp: ModuleType, tmp_path: Path) -> None:
    published = tmp_path / "published"
    (published / "presentation" / RECORD_ID).mkdir(parents=True)
    (published / "presentation" / RECORD_ID / "metadata.xml").write_text("<recording/>", encoding="utf-8")
    (published / "video" / RECORD_ID).mkdir(parents=True)  # being copied: no metadata.xml yet
    (published / "podcast").mkdir()
    (published / "podcast" / RECORD_ID).symlink_to(published / "presentation" / RECORD_ID)
    assert pp.available_formats(str(published), RECORD_ID) == ["presentation"]
    assert pp.published_recordings(str(published)) == [RECORD_ID]


def test_a_queue_entry_is_removed_only_if_the_hook_added_nothing(pp: ModuleType, tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    queue.mkdir()
    (queue / RECORD_ID).write_text("presentation\n", encoding="utf-8")
    assert pp.queued(str(queue)) == [RECORD_ID]
    with open(queue / RECORD_ID, "a", encoding="utf-8") as entry:
        entry.write("video\n")  # the hook, while the upload ran
    assert not pp.remove_entry_if_unchanged(str(queue), RECORD_ID, "presentation\n")
    assert pp.remove_entry_if_unchanged(str(queue), RECORD_ID, "presentation\nvideo\n")
    assert pp.queued(str(queue)) == [] and (tmp_path / "queue.lock").exists()  # the lock is outside the queue


# --- command line ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["-m", "../../etc/passwd"],
        ["-m", RECORD_ID, "--all"],
        ["--all", "-f", "video"],
        ["--pending", "--force"],
        ["-m", RECORD_ID, "--retries", "0"],
        ["-m", RECORD_ID, "--backoff", "-1"],
        ["--no-such-flag"],
    ],
)
def test_usage_errors_exit_64_not_2(pp: ModuleType, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        pp.main(argv)
    assert exited.value.code == 64


def test_pending_in_process(pp: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "state" / "queue").mkdir(parents=True)
    (tmp_path / "state" / "queue" / RECORD_ID).write_text("video\n", encoding="utf-8")
    (tmp_path / "state" / "queue" / ".hidden").write_text("", encoding="utf-8")
    (tmp_path / "empty.conf").write_text("", encoding="utf-8")
    common = ["--state-dir", str(tmp_path / "state"), "--published-dir", str(tmp_path / "none")]
    assert pp.main(["--pending", *common, "--config", str(tmp_path / "empty.conf")]) == 0
    assert capsys.readouterr().out.split() == [RECORD_ID]
    assert pp.main(["--pending", *common, "--config", str(tmp_path / "absent.conf")]) == 1  # explicit and missing


# --- the Ruby hook and the systemd units (read, not run) ----------------------------------------------------------


def test_the_hook_parses_m_and_f_and_only_enqueues() -> None:
    ruby = HOOK.read_text(encoding="utf-8")
    assert "ARGV[0]" not in ruby and "ARGV[1]" not in ruby  # the linuxtek pitfall: ARGV[0] is "-m"
    assert re.search(r"opts\.on\('-m', '--meeting-id ID'\) \{ \|v\| record_id = v \}", ruby)
    assert re.search(r"opts\.on\('-f', '--format FORMAT'\) \{ \|v\| format = v \}", ruby)
    assert "end.parse!(ARGV)" in ruby
    assert f"QUEUE_DIR = '{QUEUE}'" in ruby
    assert 'File.open("#{QUEUE_DIR}.lock"' in ruby and "flock(File::LOCK_EX)" in ruby
    assert "File.open(File.join(QUEUE_DIR, record_id), 'a')" in ruby
    assert "record_id&.match?(NAME)" in ruby  # no path traversal through -m
    assert re.search(r"system\('systemctl', 'start', '--no-block',", ruby)
    assert "scalelite-serverless-upload.service" in ruby
    assert ruby.rstrip().endswith("exit 0")
    assert "post_publish.py" not in re.sub(r"^#.*$", "", ruby, flags=re.M)  # never uploads inline


def test_the_systemd_units_agree_on_the_queue() -> None:
    service = (SYSTEMD / "scalelite-serverless-upload.service").read_text(encoding="utf-8")
    path = (SYSTEMD / "scalelite-serverless-upload.path").read_text(encoding="utf-8")
    timer = (SYSTEMD / "scalelite-serverless-upload.timer").read_text(encoding="utf-8")
    assert re.search(rf"^ExecStart=/usr/bin/python3 \S+ --drain-queue {QUEUE}$", service, re.M)
    assert "Type=oneshot" in service and "User=bigbluebutton" in service
    assert f"PathChanged={QUEUE}\n" in path and "Unit=scalelite-serverless-upload.service" in path
    assert "OnUnitActiveSec=10min" in timer and "Unit=scalelite-serverless-upload.service" in timer
