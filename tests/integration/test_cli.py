"""The `scalelite` CLI, its events routed straight to the AdminFunction handler (moto + simulated BBB servers);
plus the real boto3 path for connection errors and stack-name resolution."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from scalelite_cli.main import main
from tests.conftest import FakeLambdaContext
from tests.integration.conftest import SimFactory, add_mapping, add_server

pytestmark = pytest.mark.usefixtures("aws")
URL = "https://bbb1.example.com/bigbluebutton/api"


class Result:
    def __init__(self, code: int, out: str, err: str, sent: list[dict[str, Any]]) -> None:
        self.code, self.out, self.err, self.sent = code, out, err, sent

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli() -> Callable[..., Result]:
    def run(*argv: str, stdin: str = "", interactive: bool = False) -> Result:
        from scalelite_admin.handler import handler

        sent: list[dict[str, Any]] = []

        def invoke(payload: dict[str, Any]) -> dict[str, Any]:
            sent.append(payload)
            reply: dict[str, Any] = handler(json.loads(json.dumps(payload)), FakeLambdaContext())
            wire: dict[str, Any] = json.loads(json.dumps(reply))  # what crosses the wire is JSON
            return wire

        out, err = io.StringIO(), io.StringIO()
        code = main(
            list(argv), invoker=invoke, stdin=io.StringIO(stdin), stdout=out, stderr=err, interactive=interactive
        )
        return Result(code, out.getvalue(), err.getvalue(), sent)

    return run


def test_add_list_and_json(cli: Callable[..., Result]) -> None:
    added = cli("servers", "add", URL, "s3cret", "--load-multiplier", "2", "--tag", "big", "--id", "bbb1")
    assert added.code == 0 and added.out.startswith("OK\nid: bbb1\n")
    assert added.sent == [
        {
            "command": "servers.add",
            "args": {"url": URL, "secret": "s3cret", "load_multiplier": 2.0, "tag": "big", "id": "bbb1"},
        }
    ]
    listed = cli("servers", "list")
    header, row = listed.out.splitlines()
    assert header.split() == ["ID", "URL", "SECRET", "STATE", "STATUS", "LOAD", "MULTIPLIER", "TAG", "BBB", "VERSION"]
    assert row.split() == ["bbb1", URL, "********", "disabled", "offline", "unavailable", "2", "big"]
    as_json = cli("servers", "list", "--json").json()
    assert isinstance(as_json, list) and as_json[0]["id"] == "bbb1" and as_json[0]["secret"] == "s3cret"
    assert cli("--json", "servers", "list").json() == as_json  # global options work before the command too
    assert cli("servers", "get", "bbb1").out.splitlines()[0] == "id: bbb1"


def test_status_table(cli: Callable[..., Result], store: Any, simulators: SimFactory) -> None:
    assert cli("status").out.strip() == "No servers are configured"
    sim = simulators()
    sim.add_meeting("m1", participants=4, moderators=1, videos=1, create_time_ms=int((time.time() - 3600) * 1000))
    add_server(store, sim, "bbb1", online=False, load=None, tag="big")
    assert cli("poll").code == 0
    lines = cli("status").out.splitlines()
    assert lines[0].split("  ")[0] == "ID"
    assert [h.strip() for h in lines[0].split("  ") if h.strip()] == [
        "ID",
        "HOSTNAME",
        "STATE",
        "STATUS",
        "MEETINGS",
        "USERS",
        "LARGEST MEETING",
        "VIDEOS",
        "LOAD",
        "BBB VERSION",
        "TAG",
        "UPLOADS PENDING",
    ]
    cells = lines[1].split()
    port = urlsplit(sim.url).port
    assert cells[:9] == ["bbb1", f"127.0.0.1:{port}", "enabled", "online", "1", "4", "4", "1", "5.0"]
    assert cells[-2:] == ["big", "0"]
    as_json = cli("status", "--json").json()[0]
    assert as_json["hostname"] == "127.0.0.1" and as_json["pending_uploads"] == 0


def test_status_tells_servers_apart_and_why_they_are_offline(
    cli: Callable[..., Result], store: Any, simulators: SimFactory
) -> None:
    good, bad = simulators(), simulators()
    add_server(store, good, "good")
    add_server(store, bad, "bad", online=False, load=None)
    store.update_server("bad", {"secret": "not-the-secret"})
    assert cli("poll", "servers").code == 0
    rows = {line.split()[0]: line for line in cli("status").out.splitlines()[1:]}
    assert set(rows) == {"good", "bad"}
    assert f"127.0.0.1:{urlsplit(bad.url).port}" in rows["bad"].split()  # same host: the port tells them apart
    assert "offline (checksumError: " in rows["bad"] and "(" not in rows["good"]
    by_id = {s["id"]: s for s in cli("status", "--json").json()}
    assert by_id["bad"]["last_error"].startswith("checksumError: ") and by_id["good"]["last_error"] == ""
    listed = {s["id"]: s for s in cli("servers", "list", "--json").json()}
    assert listed["bad"]["last_error"] == by_id["bad"]["last_error"]
    assert "offline (checksumError: " in cli("servers", "list").out


def test_servers_list_masks_secrets_unless_asked(cli: Callable[..., Result]) -> None:
    assert cli("servers", "add", URL, "s3cret-value", "--id", "bbb1").code == 0
    argv: tuple[str, ...]
    for argv in (("servers", "list"), ("servers",), ("servers", "get", "bbb1")):
        out = cli(*argv).out
        assert "s3cret-value" not in out and "********" in out
    for argv in (
        ("servers", "list", "--show-secrets"),
        ("servers", "--show-secrets"),
        ("servers", "get", "bbb1", "--show-secrets"),
    ):
        out = cli(*argv).out
        assert "s3cret-value" in out and "********" not in out
    # --json is unchanged: it always carries the secret
    assert cli("servers", "list", "--json").json()[0]["secret"] == "s3cret-value"
    assert cli("servers", "get", "bbb1", "--json").json()["secret"] == "s3cret-value"


def test_update_commands(cli: Callable[..., Result], store: Any) -> None:
    cli("servers", "add", URL, "s", "--id", "bbb1")
    assert cli("servers", "load-multiplier", "bbb1", "3").code == 0
    assert cli("servers", "tag", "bbb1", "big").code == 0
    assert cli("servers", "update", "bbb1", "--secret", "new").code == 0
    server = store.get_server("bbb1")
    assert (server.load_multiplier, server.tag, server.secret) == (3.0, "big", "new")
    assert cli("servers", "tag", "bbb1", "").code == 0 and store.get_server("bbb1").tag is None
    assert cli("servers", "enable", "bbb1").code == 0 and cli("servers", "cordon", "bbb1").code == 0
    assert store.get_server("bbb1").state.value == "cordoned"


def test_scalelite_rake_spellings(cli: Callable[..., Result], store: Any) -> None:
    """`servers:add[url,secret,multiplier,tag]`, `servers:loadMultiplier`, and bare `servers` / `meetings`."""
    added = cli("servers", "add", URL, "s", "2", "big", "--id", "bbb1", "--json")
    assert added.code == 0 and (added.json()["load_multiplier"], added.json()["tag"]) == (2.0, "big")
    assert added.sent[0]["args"]["load_multiplier"] == 2.0 and added.sent[0]["args"]["tag"] == "big"
    clash = cli("servers", "add", URL, "s", "2", "--load-multiplier", "3", "--id", "bbb2")
    assert clash.code == 1 and clash.sent == [] and "twice" in clash.err
    assert store.get_server("bbb2") is None
    assert cli("servers", "loadMultiplier", "bbb1", "4").code == 0 and store.get_server("bbb1").load_multiplier == 4
    listed = cli("servers", "--json")
    assert listed.code == 0 and [s["id"] for s in listed.json()] == ["bbb1"]
    assert listed.sent == [{"command": "servers.list", "args": {}}]
    meetings = cli("meetings")
    assert meetings.code == 0 and meetings.sent == [{"command": "meetings.list", "args": {}}]


def test_errors_are_one_line_and_exit_1(cli: Callable[..., Result]) -> None:
    missing = cli("servers", "enable", "nope")
    assert (missing.code, missing.out, missing.err) == (1, "", "error: No server found with id: nope\n")
    bad = cli("servers", "add", "bbb1.example.com", "s")
    assert bad.code == 1 and bad.err == "error: Server URL must start with http:// or https://\n"
    zero = cli("servers", "add", URL, "s", "--load-multiplier", "0")
    assert zero.code == 1 and "Load-multiplier must be a non-zero number" in zero.err


def test_usage_errors_exit_2(cli: Callable[..., Result], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("servers", "frobnicate").code == 2
    assert cli("servers", "load-multiplier", "bbb1", "lots").code == 2
    assert cli("poll", "everything").code == 2
    assert cli().code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_confirmation(cli: Callable[..., Result], store: Any) -> None:
    cli("servers", "add", URL, "s", "--id", "bbb1")
    refused = cli("servers", "remove", "bbb1")  # no terminal, no --yes
    assert refused.code == 1 and "pass --yes" in refused.err and refused.sent == []
    declined = cli("servers", "remove", "bbb1", stdin="no\n", interactive=True)
    assert declined.code == 1 and "aborted" in declined.err and store.get_server("bbb1") is not None
    accepted = cli("servers", "remove", "bbb1", stdin="yes\n", interactive=True)
    assert accepted.code == 0 and "Type 'yes' to continue" in accepted.err and store.get_server("bbb1") is None
    cli("servers", "add", URL, "s", "--id", "bbb2")
    assert cli("servers", "remove", "bbb2", "--yes").code == 0


def test_disable_asks_only_for_a_loaded_server(cli: Callable[..., Result], store: Any, simulators: SimFactory) -> None:
    sim = simulators()
    add_server(store, sim, "idle")
    add_server(store, sim, "busy", load=5.0)
    add_mapping(store, "busy", "m1")
    assert cli("servers", "disable", "idle").code == 0  # no question: nothing to lose

    refused = cli("servers", "disable", "busy")
    assert refused.code == 1 and "has load 5" in refused.err and "pass --yes" in refused.err
    assert store.get_server("busy").state.value == "enabled"
    done = cli("servers", "disable", "busy", "--yes")
    assert done.code == 0 and [p["args"].get("force") for p in done.sent] == [None, True]
    assert store.get_server("busy").state.value == "disabled" and store.get_meeting("default", "m1") is None


def test_panic_and_meetings(cli: Callable[..., Result], store: Any, simulators: SimFactory) -> None:
    sim = simulators()
    add_server(store, sim, "bbb1")
    add_mapping(store, "bbb1", "m1")
    add_mapping(store, "bbb1", "m2")
    listed = cli("meetings", "list")
    assert listed.code == 0 and listed.out.split()[:7] == ["MEETING", "ID", "SERVER", "ID", "SERVER", "URL", "NAME"]
    assert cli("meetings", "list", "--json").json()["meetings"][0]["meeting_id"] == "m1"
    assert cli("meetings", "end", "m1").code == 1  # confirmation needed
    ended = cli("meetings", "end", "m1", "--yes")
    assert ended.code == 0 and "Clearing Meeting id=m1" in ended.out
    assert cli("meetings", "info", "m1").err == "error: No meeting found with id: m1\n"
    panic = cli("servers", "panic", "bbb1", "--keep-state", "--skip-end-calls", "--yes")
    assert panic.code == 0 and panic.out.splitlines() == ["Clearing Meeting id=m2", "OK"]
    assert panic.sent[0]["args"] == {"id": "bbb1", "keep_state": True, "skip_end_calls": True}
    assert store.get_server("bbb1").state.value == "enabled"


def test_sync_from_stdin_dry_run_and_force(cli: Callable[..., Result], store: Any, tmp_path: Any) -> None:
    text = "servers:\n  bbb1.example.com:\n    secret: one\n"
    dry = cli("servers", "sync", "-", "--dry-run", stdin=text)
    assert dry.code == 0 and dry.out.splitlines() == [
        "[bbb1.example.com] create (url=https://bbb1.example.com/bigbluebutton/api, state=enabled, "
        "load_multiplier=1.0, tag=)",
        "(dry run: nothing was changed)",
    ]
    assert store.list_servers() == []
    path = tmp_path / "servers.yaml"
    path.write_text(text)
    assert cli("servers", "sync", str(path)).code == 0 and store.get_server("bbb1.example.com") is not None
    force = cli("servers", "sync", str(path), "--mode", "force")
    assert force.code == 1 and "pass --yes" in force.err  # the plan was shown first, on stderr
    assert cli("servers", "sync", str(path), "--mode", "force", "--yes").code == 0
    missing = cli("servers", "sync", str(tmp_path / "nope.yaml"))
    assert missing.code == 1 and missing.err.startswith("error: cannot read")
    malformed = cli("servers", "sync", "-", stdin="servers: [")
    assert malformed.code == 1 and malformed.err.startswith("error: Malformed YAML")
    yaml_out = cli("servers", "yaml")
    assert yaml_out.out.startswith("servers:\n  bbb1.example.com:\n")


def test_poll_targets(cli: Callable[..., Result]) -> None:
    for what in ("all", "servers", "meetings", "versions"):
        result = cli("poll", what, "--json")
        assert result.code == 0 and result.json()["what"] == what
    assert "servers: 0" in cli("poll").out


# --------------------------------------------------------------------------------------- real boto3 path
def test_unreachable_endpoint_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A machine without any AWS configuration: the local stack needs none.
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = main(["--endpoint-url", "http://127.0.0.1:9", "status"], stdin=io.StringIO(""))
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: cannot reach http://127.0.0.1:9") and err.count("\n") == 1, err


def test_stack_name_resolves_the_function(capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"AdminFunctionName": {"Value": "scalelite-AdminFunction-XYZ"}},
    }
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="scalelite", TemplateBody=json.dumps(template)
    )
    code = main(["--stack-name", "scalelite", "--region", "us-east-1", "servers", "list"], stdin=io.StringIO(""))
    err = capsys.readouterr().err
    assert code == 1 and "scalelite-AdminFunction-XYZ" in err and err.startswith("error: ")
    code = main(["--stack-name", "nope", "--region", "us-east-1", "status"], stdin=io.StringIO(""))
    assert code == 1 and "does not exist" in capsys.readouterr().err


def test_region_from_aws_region(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """boto3 ignores AWS_REGION; the CLI honours it (the AWS CLI v2 and Lambda use it) when nothing else is set."""
    import boto3

    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"AdminFunctionName": {"Value": "scalelite-AdminFunction-EU"}},
    }
    boto3.client("cloudformation", region_name="eu-west-1").create_stack(
        StackName="scalelite", TemplateBody=json.dumps(template)
    )
    code = main(["--stack-name", "scalelite", "status"], stdin=io.StringIO(""))
    err = capsys.readouterr().err
    assert code == 1 and "scalelite-AdminFunction-EU" in err, err  # found in eu-west-1; the function is not there

    monkeypatch.delenv("AWS_REGION")
    code = main(["--stack-name", "scalelite", "status"], stdin=io.StringIO(""))
    err = capsys.readouterr().err
    assert code == 1 and "AWS_REGION" in err and "AWS_DEFAULT_REGION" in err, err
