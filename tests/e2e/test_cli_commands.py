"""Every `scalelite` CLI command, run as an operator runs it (the installed console script, a separate process, no
AWS configuration at all), against the local stack's Lambda endpoint: AdminFunction and PollerFunction handlers,
moto and simulated BBB servers.

The stack is shared with the other e2e tests: these tests bring their own simulated servers (tagged, so meetings
can be steered onto them) and remove them again; the stack's two servers are only ever touched by dry runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bbbctl import BBBApiClient

from bbbsim import BBBSimulator
from scalelite_local.stack import LocalStack
from tests.e2e.conftest import CLI, E2E_SECRET

pytestmark = pytest.mark.e2e
TAG = "clie2e"


@pytest.fixture(scope="module")
def sims(cli: CLI) -> Iterator[list[BBBSimulator]]:
    started = [BBBSimulator(f"cli-secret-{i}").start() for i in range(2)]
    yield started
    for server in cli("servers", "list", "--json").json():
        if server["id"].startswith("cli-"):
            cli("servers", "remove", server["id"], "--yes")
    for sim in started:
        sim.stop()


@pytest.fixture
def bbb(stack: LocalStack) -> BBBApiClient:
    return BBBApiClient(stack.api_url.rstrip("/"), E2E_SECRET)


def _create(bbb: BBBApiClient, meeting_id: str, name: str | None = None) -> Any:
    """A create that only the test's tagged server can take (a required tag)."""
    return bbb.createMeeting(
        meeting_id, name or meeting_id, moderatorPW="mp", attendeePW="ap", **{"meta_server-tag": f"{TAG}!"}
    )


def _ids(servers: list[dict[str, Any]]) -> set[str]:
    return {s["id"] for s in servers}


def test_servers_add_get_update_list(cli: CLI, sims: list[BBBSimulator]) -> None:
    added = cli("servers", "add", sims[0].url, sims[0].secret, "--id", "cli-a", "--tag", TAG, "--json").json()
    assert added["id"] == "cli-a"
    # New servers start disabled and offline, with Scalelite's admin-API fields.
    assert {"id", "url", "state", "online", "load", "load_multiplier", "tag", "bbb_version"} <= set(added)
    assert (added["state"], added["online"], added["tag"], added["load_multiplier"]) == (
        "disabled",
        "offline",
        TAG,
        1.0,
    )
    human = cli("servers", "add", sims[1].url, sims[1].secret, "--id", "cli-b", "--load-multiplier", "2")
    assert human.code == 0 and human.out.startswith("OK\nid: cli-b\n")

    got = cli("servers", "get", "cli-b", "--json").json()
    assert got["load_multiplier"] == 2.0 and got["tag"] == ""
    updated = cli("servers", "update", "cli-b", "--load-multiplier", "3", "--tag", "other", "--json").json()
    assert (updated["load_multiplier"], updated["tag"]) == (3.0, "other")
    assert cli("servers", "load-multiplier", "cli-b", "1.5", "--json").json()["load_multiplier"] == 1.5
    assert cli("servers", "tag", "cli-b", "", "--json").json()["tag"] == ""

    table = cli("servers", "list")
    assert table.code == 0
    assert table.out.splitlines()[0].split()[:5] == ["ID", "URL", "SECRET", "STATE", "STATUS"]
    assert "cli-a" in table.out and "cli-b" in table.out
    assert {"cli-a", "cli-b"} <= _ids(cli("servers", "list", "--json").json())


def test_bad_input_is_one_clear_message_and_changes_nothing(cli: CLI, sims: list[BBBSimulator]) -> None:
    before = cli("servers", "list", "--json").json()
    cases = [
        (("servers", "add", "ftp://bbb.example.com/", "s"), "http"),
        (("servers", "add", sims[0].url, sims[0].secret, "--id", "cli-a"), "cli-a"),  # duplicate
        (("servers", "get", "cli-nope"), "No server found with id: cli-nope"),
        (("servers", "enable", "cli-nope"), "No server found with id: cli-nope"),
        (("servers", "update", "cli-a", "--load-multiplier", "0"), "multiplier"),
        (("servers", "sync", "-", "--mode", "keep"), "YAML"),
        (("meetings", "info", "cli-no-such-meeting"), "No meeting found"),
    ]
    for argv, needle in cases:
        stdin = "servers: [unclosed\n" if argv[1] == "sync" else ""
        run = cli(*argv, stdin=stdin)
        assert run.code == 1, argv
        lines = run.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle.lower() in lines[0].lower(), run.err
        assert "Traceback" not in run.err and run.out == ""
    usage = cli("servers", "add")
    assert usage.code == 2 and usage.err.startswith("error: ")
    assert cli("servers", "list", "--json").json() == before


def test_enable_poll_status_and_versions(cli: CLI, sims: list[BBBSimulator]) -> None:
    assert cli("servers", "enable", "cli-a", "--json").json()["state"] == "enabled"
    polled = cli("poll", "servers", "--json").json()
    assert polled["what"] == "servers" and "cli-a" in polled["came_online"] and polled["failed"] == []
    server = cli("servers", "get", "cli-a", "--json").json()
    assert server["online"] == "online" and server["load"] == 0

    versions = cli("poll", "versions", "--json").json()
    assert versions["what"] == "versions"
    assert cli("servers", "get", "cli-a", "--json").json()["bbb_version"] == sims[0].bbb_version

    status = cli("status")
    assert status.code == 0
    header = status.out.splitlines()[0]
    for column in (
        "ID",
        "HOSTNAME",
        "STATE",
        "STATUS",
        "MEETINGS",
        "USERS",
        "LARGEST MEETING",
        "VIDEOS",
        "LOAD",
        "TAG",
    ):
        assert column in header
    assert "BBB VERSION" in header
    rows = {row["id"]: row for row in cli("status", "--json").json()}
    assert rows["cli-a"]["hostname"] == "127.0.0.1" and rows["cli-a"]["state"] == "enabled"
    assert {"meetings", "users", "largest_meeting", "videos"} <= set(rows["cli-a"])


def test_meetings_list_info_end(cli: CLI, bbb: BBBApiClient, sims: list[BBBSimulator]) -> None:
    created = _create(bbb, "cli-m1", "CLI one")
    assert created.findtext("returncode") == "SUCCESS"
    assert "cli-m1" in sims[0].meetings  # the required tag put it on cli-a

    listed = cli("meetings", "list", "cli-m1", "--json").json()
    assert [(m["meeting_id"], m["server_id"]) for m in listed["meetings"]] == [("cli-m1", "cli-a")]
    assert "cli-m1" in cli("meetings", "list").out
    info = cli("meetings", "info", "cli-m1", "--json").json()
    assert (info["server_id"], info["meeting_name"]) == ("cli-a", "CLI one")

    refused = cli("meetings", "end", "cli-m1")  # no terminal and no --yes: nothing happens
    assert refused.code == 1 and "--yes" in refused.err
    assert "cli-m1" in sims[0].meetings
    ended = cli("meetings", "end", "cli-m1", "--yes", "--json").json()
    assert ended["ended"] == ["cli-m1"] and ended["errors"] == {}
    assert "cli-m1" not in sims[0].meetings
    assert cli("meetings", "list", "cli-m1", "--json").json()["not_found"] == ["cli-m1"]


def test_poll_sweeps_meetings_and_panic(cli: CLI, bbb: BBBApiClient, sims: list[BBBSimulator]) -> None:
    for mid in ("cli-m2", "cli-m3"):
        assert _create(bbb, mid).findtext("returncode") == "SUCCESS"
    sims[0].add_attendee("cli-m2", "Ada", "MODERATOR")
    everything = cli("poll", "--json").json()  # `poll` is `poll all`
    assert everything["what"] == "all" and everything["meetings_running"] >= 2
    assert cli("servers", "get", "cli-a", "--json").json()["meetings"] == 2

    # --keep-state --skip-end-calls: mappings forgotten, meetings left running on BBB, server still enabled.
    kept = cli("servers", "panic", "cli-a", "--keep-state", "--skip-end-calls", "--yes", "--json").json()
    assert sorted(kept["meetings_cleared"]) == ["cli-m2", "cli-m3"]
    assert kept["server"]["state"] == "enabled"
    assert {"cli-m2", "cli-m3"} <= set(sims[0].meetings)
    assert cli("meetings", "list", "cli-m2", "--json").json()["not_found"] == ["cli-m2"]

    # A create of a forgotten meeting places it anew; a full panic ends it and disables the server.
    assert _create(bbb, "cli-m2").findtext("returncode") == "SUCCESS"
    refused = cli("servers", "panic", "cli-a")
    assert refused.code == 1 and cli("servers", "get", "cli-a", "--json").json()["state"] == "enabled"
    panicked = cli("servers", "panic", "cli-a", "--yes")
    assert panicked.code == 0 and "Clearing Meeting id=cli-m2" in panicked.out and panicked.out.endswith("OK\n")
    assert cli("servers", "get", "cli-a", "--json").json()["state"] == "disabled"
    assert "cli-m2" not in sims[0].meetings
    # cli-m3 was forgotten without an end call: it still runs on BBB, unknown to the load balancer.
    assert "cli-m3" in sims[0].meetings
    sims[0].remove_meeting("cli-m3")


def test_cordon_disable_and_drain(cli: CLI, bbb: BBBApiClient, sims: list[BBBSimulator]) -> None:
    cli("servers", "enable", "cli-a")
    assert cli("servers", "cordon", "cli-a", "--json").json()["state"] == "cordoned"
    cli("poll", "servers")  # cordoned with no load: the poller disables it
    assert cli("servers", "get", "cli-a", "--json").json()["state"] == "disabled"

    cli("servers", "enable", "cli-a")
    cli("poll", "servers")  # as in Scalelite, a re-enabled server takes meetings once a poll has given it a load
    assert _create(bbb, "cli-m4").findtext("returncode") == "SUCCESS"
    refused = cli("servers", "disable", "cli-a")  # it has load: asks first, and there is no terminal
    assert refused.code == 1 and "--yes" in refused.err
    assert cli("servers", "get", "cli-a", "--json").json()["state"] == "enabled"
    assert cli("servers", "disable", "cli-a", "--yes", "--json").json()["state"] == "disabled"
    assert "cli-m4" not in sims[0].meetings  # disabling a loaded server ends its meetings


def test_yaml_and_sync(cli: CLI, sims: list[BBBSimulator], tmp_path: Path) -> None:
    exported = cli("servers", "yaml").out
    assert "servers:" in exported and "cli-a:" in exported
    verbose = cli("servers", "yaml", "--verbose", "--json").json()["yaml"]
    assert "bbb_version" in verbose and "online" in verbose
    path = tmp_path / "servers.yaml"
    path.write_text(exported, encoding="utf-8")
    noop = cli("servers", "sync", str(path), "--mode", "keep", "--json").json()
    assert noop["changes"] == [] and noop["applied"] is True, noop  # yaml → sync round-trips

    before = cli("servers", "list", "--json").json()
    new_file = f"servers:\n  cli-c:\n    url: {sims[1].url}\n    secret: {sims[1].secret}\n    tag: {TAG}\n"
    for mode in ("keep", "cordon", "force"):
        plan = cli("servers", "sync", "-", "--mode", mode, "--dry-run", "--json", stdin=new_file).json()
        assert plan["applied"] is False
        actions = {change["id"]: change["action"] for change in plan["changes"]}
        assert actions["cli-c"] == "create"
        others = {actions.get(s["id"]) for s in before}
        assert others <= ({"keep", None} if mode == "keep" else {"remove", "cordon"}), (mode, actions)
    assert cli("servers", "list", "--json").json() == before  # dry runs changed nothing

    applied = cli("servers", "sync", "-", "--mode", "keep", stdin=new_file)
    assert applied.code == 0 and applied.out.endswith("OK\n")
    created = cli("servers", "get", "cli-c", "--json").json()
    assert (created["state"], created["tag"]) == ("enabled", TAG)  # sync creates servers enabled, as Scalelite


def test_remove_and_target_options(cli: CLI, stack: LocalStack) -> None:
    refused = cli("servers", "remove", "cli-c")
    assert refused.code == 1 and cli("servers", "get", "cli-c", "--json").code == 0
    removed = cli("servers", "remove", "cli-c", "--yes", "--json").json()
    assert removed == {"removed": "cli-c"}
    assert cli("servers", "get", "cli-c").code == 1

    # The global options work after the command too, and --function-name names the function explicitly.
    late = cli("servers", "list", "--json", "--endpoint-url", stack.lambda_url, endpoint=False)
    assert "cli-a" in _ids(late.json())
    named = cli("--function-name", "AdminFunction", "status", "--json").json()
    assert "cli-a" in _ids(named)
    wrong = cli("--function-name", "NoSuchFunction", "status")
    assert wrong.code == 1 and wrong.err.startswith("error: ") and "Traceback" not in wrong.err
    unreachable = cli("--endpoint-url", "http://127.0.0.1:9", "status", endpoint=False)
    assert unreachable.code == 1 and "cannot reach" in unreachable.err


def test_stack_name_resolves_the_function_locally(cli: CLI, stack: LocalStack) -> None:
    """The local Lambda endpoint also answers CloudFormation's DescribeStacks for the local stack, so `--stack-name`
    takes the same path as in AWS: the AdminFunctionName output names the function."""
    import boto3

    cfn = boto3.client(
        "cloudformation",
        endpoint_url=stack.lambda_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    described = cfn.describe_stacks(StackName="scalelite-local")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert outputs["AdminFunctionName"] == "AdminFunction" and outputs["ServersTableName"] == "ServersTable"
    assert outputs["BigBlueButtonApiUrl"] == stack.api_url.rstrip("/")
    assert "CloudFrontUrl" not in outputs  # no CloudFront locally: left out rather than made up

    servers = cli("--stack-name", "scalelite-local", "servers", "list", "--json").json()
    assert len(servers) >= 2
    unknown = cli("--stack-name", "no-such-stack", "status")
    assert unknown.code == 1 and unknown.err == "error: ValidationError: Stack with id no-such-stack does not exist\n"
