"""Every admin command through `dispatch` (moto + simulated BBB servers), the AdminFunction handler and its
`events/admin/*.json` examples."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scalelite_common.domain.entities import ServerState
from scalelite_common.errors import AdminConflict, AdminError, AdminNotFound
from scalelite_common.services.admin import registry
from tests.conftest import FakeLambdaContext
from tests.helpers import EVENTS, load_event
from tests.integration.conftest import SimFactory, add_mapping, add_server

pytestmark = pytest.mark.usefixtures("aws")
HOUR_AGO_MS = int((time.time() - 3600) * 1000)
URL = "https://bbb1.example.com/bigbluebutton/api"


@pytest.fixture
def run(admin_ctx: Callable[[], Any]) -> Callable[..., dict[str, Any]]:
    def call(command: str, **args: Any) -> dict[str, Any]:
        ctx = admin_ctx()
        return registry.dispatch(command, args, ctx)

    return call


def snapshot(store: Any) -> list[Any]:
    return sorted(repr(s) for s in store.list_servers())


# ----------------------------------------------------------------------------------------- add / list / get
def test_add_starts_disabled_and_offline(run: Callable[..., dict[str, Any]]) -> None:
    server = run("servers.add", url=URL, secret="s3cret", load_multiplier=2, tag="big")
    assert server["state"] == "disabled" and server["online"] == "offline" and server["load"] == "unavailable"
    assert server["load_multiplier"] == 2.0 and server["tag"] == "big" and server["bbb_version"] == ""
    assert len(server["id"]) == 36  # uuid4
    assert run("servers.list") == {"servers": [server]}
    assert run("servers.get", id=server["id"]) == server
    assert set(server) == {
        "id",
        "url",
        "secret",
        "state",
        "online",
        "load",
        "load_multiplier",
        "tag",
        "bbb_version",
        "last_error",
        "meetings",
        "users",
        "largest_meeting",
        "videos",
    }


def test_add_with_id_or_hostname_and_duplicates(env: pytest.MonkeyPatch, run: Callable[..., dict[str, Any]]) -> None:
    assert run("servers.add", url=URL, secret="s", id="custom-1")["id"] == "custom-1"
    env.setenv("SERVER_ID_IS_HOSTNAME", "true")
    assert run("servers.add", url="https://BBB2.example.com/bigbluebutton/api", secret="s")["id"] == "bbb2.example.com"
    with pytest.raises(AdminError, match="Server already exists with id 'bbb2.example.com'") as exc:
        run("servers.add", url="https://bbb2.example.com/other", secret="x")
    assert type(exc.value) is AdminConflict


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"url": "bbb1.example.com", "secret": "s"}, "Server URL must start with http:// or https://"),
        ({"url": "ftp://bbb1", "secret": "s"}, "Server URL must start with http:// or https://"),
        ({"url": "https://", "secret": "s"}, "Server URL has no host name"),
        ({"url": URL, "secret": "  "}, "Server needs a URL and a secret"),
        ({"url": URL, "secret": "s", "load_multiplier": 0}, "Load-multiplier must be a non-zero number"),
        ({"url": URL, "secret": "s", "load_multiplier": "abc"}, "Load-multiplier must be a non-zero number"),
        ({"url": URL, "secret": "s", "load_multiplier": -1}, "greater than 0"),
        ({"url": URL, "secret": "s", "tag": "a;b"}, "Tag must not contain"),
        ({"url": URL, "secret": "s", "id": "bad id!"}, "contains invalid characters"),
        ({"url": URL}, "servers.add: missing argument 'secret'"),
        ({"url": URL, "secret": "s", "colour": "red"}, "unknown argument(s): colour"),
        ({"url": URL, "secret": ["s"]}, "argument 'secret' must be text"),
    ],
)
def test_add_validation(run: Callable[..., dict[str, Any]], store: Any, args: dict[str, Any], message: str) -> None:
    with pytest.raises(AdminError) as exc:
        run("servers.add", **args)
    assert message in exc.value.message and type(exc.value) is AdminError
    assert store.list_servers() == []


def test_unknown_command_and_unknown_server(run: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(AdminError, match="Unknown command: 'servers.explode'"):
        run("servers.explode")
    for command in (
        "servers.get",
        "servers.remove",
        "servers.enable",
        "servers.cordon",
        "servers.disable",
        "servers.panic",
    ):
        with pytest.raises(AdminNotFound, match="^No server found with id: nope$"):
            run(command, id="nope")
    with pytest.raises(AdminNotFound, match="No server found with id: nope"):
        run("servers.update", id="nope", tag="x")


# ------------------------------------------------------------------------------------------------ update
def test_update_fields_and_clear_tag(run: Callable[..., dict[str, Any]], store: Any) -> None:
    sid = run("servers.add", url=URL, secret="s", tag="big")["id"]
    store.update_server(sid, {"bbb_version": "2.7.3"})
    server = run("servers.update", id=sid, secret="new", load_multiplier="1.5")
    assert (server["secret"], server["load_multiplier"], server["tag"]) == ("new", 1.5, "big")
    assert server["bbb_version"] == "2.7.3"
    assert run("servers.update", id=sid, tag="")["tag"] == ""
    moved = run("servers.update", id=sid, url="https://bbb9.example.com/bigbluebutton/api")
    assert moved["url"].startswith("https://bbb9") and moved["bbb_version"] == ""  # re-read by the next poll
    with pytest.raises(AdminError, match="Nothing to update"):
        run("servers.update", id=sid)


def test_update_is_all_or_nothing(run: Callable[..., dict[str, Any]], store: Any) -> None:
    sid = run("servers.add", url=URL, secret="s")["id"]
    before = snapshot(store)
    with pytest.raises(AdminError, match="Load-multiplier"):
        run("servers.update", id=sid, secret="changed", load_multiplier=0)
    with pytest.raises(AdminError, match="http:// or https://"):
        run("servers.update", id=sid, tag="x", url="nope")
    assert snapshot(store) == before


# --------------------------------------------------------------------------------------- states / remove
def test_enable_cordon_disable_remove(run: Callable[..., dict[str, Any]], store: Any) -> None:
    sid = run("servers.add", url=URL, secret="s")["id"]
    assert run("servers.enable", id=sid)["state"] == "enabled"
    assert run("servers.cordon", id=sid)["state"] == "cordoned"
    assert run("servers.disable", id=sid)["state"] == "disabled"
    assert run("servers.remove", id=sid) == {"removed": sid}
    assert store.list_servers() == []


def test_disable_of_a_loaded_server_needs_force(
    run: Callable[..., dict[str, Any]], store: Any, simulators: SimFactory
) -> None:
    sim = simulators()
    sim.add_meeting("m1", participants=3, create_time_ms=HOUR_AGO_MS)
    add_server(store, sim, "bbb1", load=6.0)
    add_mapping(store, "bbb1", "m1", voice_bridge="700000001")
    with pytest.raises(AdminError, match="has load 6") as exc:
        run("servers.disable", id="bbb1")
    assert type(exc.value) is AdminConflict
    assert store.get_server("bbb1").state is ServerState.ENABLED  # nothing happened

    server = run("servers.disable", id="bbb1", force=True)
    assert server["state"] == "disabled" and server["load"] == "unavailable"
    assert store.get_meeting("default", "m1") is None
    assert store.voice_bridge_owner("700000001") is None
    assert not admin_meeting_running(store, "bbb1", "m1")


def admin_meeting_running(store: Any, sid: str, meeting_id: str) -> bool:
    """Whether the simulated server still runs the meeting (its getMeetings lists it)."""
    from scalelite_common.bbb.client import BBBClient, Target

    server = store.get_server(sid)
    client = BBBClient(connect_timeout=1, response_timeout=2)
    return meeting_id in {m.meeting_id for m in client.get_meetings(Target(server.url, server.secret))}


@pytest.mark.parametrize(("keep_state", "skip_end_calls"), [(False, False), (True, False), (False, True)])
def test_panic(
    run: Callable[..., dict[str, Any]], store: Any, simulators: SimFactory, keep_state: bool, skip_end_calls: bool
) -> None:
    sim = simulators()
    sim.add_meeting("m1", participants=3, create_time_ms=HOUR_AGO_MS)
    sim.add_meeting("m2", participants=1, create_time_ms=HOUR_AGO_MS)
    add_server(store, sim, "bbb1", load=4.0)
    add_mapping(store, "bbb1", "m1")
    add_mapping(store, "bbb1", "m2")
    add_mapping(store, "other", "m3")

    result = run("servers.panic", id="bbb1", keep_state=keep_state, skip_end_calls=skip_end_calls)

    assert sorted(result["meetings_cleared"]) == ["m1", "m2"] and result["end_errors"] == {}
    assert result["server"]["state"] == ("enabled" if keep_state else "disabled")
    assert store.get_meeting("default", "m1") is None and store.get_meeting("default", "m3") is not None
    assert admin_meeting_running(store, "bbb1", "m1") is skip_end_calls


def test_panic_of_an_unreachable_server_is_best_effort(
    run: Callable[..., dict[str, Any]], store: Any, simulators: SimFactory
) -> None:
    sim = simulators()
    add_server(store, sim, "bbb1")
    for i in range(3):
        add_mapping(store, "bbb1", f"m{i}")
    sim.set_fault("down")
    result = run("servers.panic", id="bbb1")
    assert sorted(result["meetings_cleared"]) == ["m0", "m1", "m2"]
    assert len(result["end_errors"]) == 3  # one attempt, then the others are skipped
    assert sum("not attempted" in e for e in result["end_errors"].values()) == 2


# -------------------------------------------------------------------------------------------- sync / yaml
SYNC = """
servers:
  bbb1.example.com:
    secret: one
  bbb2:
    url: https://bbb2.example.com/bigbluebutton/api
    secret: two
    enabled: false
    load_multiplier: 2
    tag: big
"""


def test_sync_creates_enabled_servers_and_dry_run_changes_nothing(
    run: Callable[..., dict[str, Any]], store: Any
) -> None:
    plan = run("servers.sync", yaml=SYNC, dry_run=True)
    assert plan["applied"] is False and store.list_servers() == []
    assert [(c["id"], c["action"]) for c in plan["changes"]] == [("bbb1.example.com", "create"), ("bbb2", "create")]

    result = run("servers.sync", yaml=SYNC)
    assert result["applied"] is True and result["changes"] == plan["changes"]
    one, two = store.get_server("bbb1.example.com"), store.get_server("bbb2")
    assert one.url == "https://bbb1.example.com/bigbluebutton/api" and one.state is ServerState.ENABLED
    assert (two.state, two.load_multiplier, two.tag) == (ServerState.DISABLED, 2.0, "big")

    again = run("servers.sync", yaml=SYNC)
    assert again["changes"] == []


def test_sync_interrupted_by_a_concurrent_change_says_what_it_applied(
    run: Callable[..., dict[str, Any]], store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scalelite_common.errors import ServerExists

    real_add = store.add_server

    def add(server: Any) -> None:
        if server.id == "bbb2":  # another admin created it between the plan and the apply
            raise ServerExists(server.id)
        real_add(server)

    monkeypatch.setattr(store, "add_server", add)
    with pytest.raises(AdminError) as err:
        run("servers.sync", yaml=SYNC)
    assert type(err.value) is AdminConflict
    assert "bbb2 was created by someone else" in err.value.message
    assert "applied before this: created bbb1.example.com;" in err.value.message
    assert [s.id for s in store.list_servers()] == ["bbb1.example.com"]
    monkeypatch.setattr(store, "add_server", real_add)
    assert [c["action"] for c in run("servers.sync", yaml=SYNC)["changes"]] == ["create"]  # finishing is safe


def test_sync_updates_enables_and_cordons(
    run: Callable[..., dict[str, Any]], store: Any, simulators: SimFactory
) -> None:
    run("servers.sync", yaml=SYNC)
    store.update_server("bbb2", {"state": ServerState.CORDONED})
    changed = SYNC.replace("secret: one", "secret: uno\n    enabled: false").replace("enabled: false\n    load", "load")
    changed = changed.replace("tag: big", "tag: small")
    result = run("servers.sync", yaml=changed)
    changes = {(c["id"], c["action"]): c for c in result["changes"]}
    assert changes[("bbb1.example.com", "update")]["secret"] == "*****"  # never shown
    assert ("bbb1.example.com", "cordon") in changes and ("bbb2", "enable") in changes
    assert changes[("bbb2", "update")]["tag"] == "small"
    assert store.get_server("bbb1.example.com").state is ServerState.CORDONED
    assert store.get_server("bbb2").state is ServerState.ENABLED and store.get_server("bbb2").tag == "small"


def test_sync_modes_for_unlisted_servers(
    run: Callable[..., dict[str, Any]], store: Any, simulators: SimFactory
) -> None:
    sim = simulators()
    sim.add_meeting("busy-meeting", participants=2, create_time_ms=HOUR_AGO_MS)
    add_server(store, sim, "busy")
    add_mapping(store, "busy", "busy-meeting")
    add_server(store, simulators(), "idle")
    only = "servers:\n  bbb1.example.com:\n    secret: one\n"

    keep = run("servers.sync", yaml=only, mode="keep")
    assert {(c["id"], c["action"]) for c in keep["changes"]} >= {("busy", "keep"), ("idle", "keep")}
    assert {s.id for s in store.list_servers()} == {"busy", "idle", "bbb1.example.com"}

    cordon = run("servers.sync", yaml=only, mode="cordon")
    assert ("idle", "remove") in {(c["id"], c["action"]) for c in cordon["changes"]}
    assert store.get_server("idle") is None
    assert store.get_server("busy").state is ServerState.CORDONED
    assert store.get_meeting("default", "busy-meeting") is not None

    plan = run("servers.sync", yaml=only, mode="force", dry_run=True)
    assert {"id": "busy", "action": "end_meetings", "meetings": ["busy-meeting"]} in plan["changes"]
    assert store.get_server("busy") is not None

    run("servers.sync", yaml=only, mode="force")
    assert store.get_server("busy") is None and store.get_meeting("default", "busy-meeting") is None
    assert [s.id for s in store.list_servers()] == ["bbb1.example.com"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("servers: [oops", "Malformed YAML at line"),
        ("- a\n- b\n", "Invalid YAML document"),
        ("servers: 3\n", "'servers' must map server ids"),
        ("servers:\n  'bad id':\n    secret: x\n", "Server id=bad id contains invalid characters"),
        ("servers:\n  a:\n    url: https://a/\n", "Server id=a has no secret"),
        ("servers:\n  a:\n    secret: x\n    colour: red\n", "Server id=a has bad parameters: colour"),
        ("servers:\n  a:\n    secret: x\n    url: a.example.com\n", "Server id=a has invalid url=a.example.com"),
        ("servers:\n  a:\n    secret: x\n    load_multiplier: 0\n", "Server id=a has invalid load_multiplier=0"),
        ("servers:\n  a:\n    secret: x\n    enabled: maybe\n", "Server id=a has invalid enabled"),
    ],
)
def test_sync_validation_writes_nothing(
    run: Callable[..., dict[str, Any]], store: Any, text: str, message: str
) -> None:
    add_server(store, type("Sim", (), {"url": URL, "secret": "s"})(), "existing")
    before = snapshot(store)
    with pytest.raises(AdminError) as exc:
        run(
            "servers.sync",
            yaml="servers:\n  good:\n    secret: g\n" + text.removeprefix("servers:\n")
            if text.startswith("servers:\n")
            else text,
            mode="force",
        )
    assert message in exc.value.message
    assert snapshot(store) == before  # the valid entry was not applied either


def test_sync_reports_every_problem_and_rejects_bad_mode(run: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(AdminError) as exc:
        run("servers.sync", yaml="servers:\n  a: {}\n  b:\n    secret: x\n    load_multiplier: -2\n")
    assert "Server id=a has no secret" in exc.value.message and "id=b has invalid load_multiplier" in exc.value.message
    with pytest.raises(AdminError, match="Unknown sync mode 'wipe'"):
        run("servers.sync", yaml=SYNC, mode="wipe")


def test_yaml_round_trips_through_sync(run: Callable[..., dict[str, Any]], store: Any) -> None:
    run("servers.sync", yaml=SYNC)
    text = run("servers.yaml")["yaml"]
    doc = yaml.safe_load(text)
    assert doc["servers"]["bbb2"] == {
        "url": "https://bbb2.example.com/bigbluebutton/api",
        "secret": "two",
        "load_multiplier": 2.0,
        "enabled": False,
        "tag": "big",
    }
    assert run("servers.sync", yaml=text)["changes"] == []
    verbose = yaml.safe_load(run("servers.yaml", verbose=True)["yaml"])
    assert {"state", "load", "bbb_version", "online"} <= set(verbose["servers"]["bbb2"])
    assert run("servers.sync", yaml=run("servers.yaml", verbose=True)["yaml"])["changes"] == []


# ----------------------------------------------------------------------------------------- status / poll
def test_status_and_poll(run: Callable[..., dict[str, Any]], store: Any, simulators: SimFactory) -> None:
    sim = simulators()
    sim.add_meeting("m1", participants=7, moderators=1, videos=2, create_time_ms=HOUR_AGO_MS)
    add_server(store, sim, "zeta", online=False, load=None)
    add_server(store, simulators(), "alpha", state=ServerState.DISABLED, online=False, load=None)

    summary = run("poll", what="all")
    assert summary["servers"] == 2 and summary["online"] == 2 and summary["came_online"] == ["alpha", "zeta"]

    rows = run("status")["servers"]
    assert [r["hostname"] for r in rows] == ["127.0.0.1", "127.0.0.1"]
    zeta = next(r for r in rows if r["id"] == "zeta")
    assert (zeta["meetings"], zeta["users"], zeta["largest_meeting"], zeta["videos"], zeta["load"]) == (1, 7, 7, 2, 8)
    assert zeta["online"] == "online" and zeta["bbb_version"]
    for what in ("servers", "meetings", "versions"):
        assert run("poll", what=what)["what"] == what
    with pytest.raises(AdminError, match="Unknown poll target 'everything'"):
        run("poll", what="everything")


# ------------------------------------------------------------------------------------------------ meetings
def test_meetings_list_info_end(run: Callable[..., dict[str, Any]], store: Any, simulators: SimFactory) -> None:
    sim = simulators()
    sim.add_meeting("m1", participants=3, create_time_ms=HOUR_AGO_MS, metadata={"bbb-context": "Course 1"})
    add_server(store, sim, "bbb1")
    add_mapping(store, "bbb1", "m1")
    add_mapping(store, "bbb1", "stale")

    listed = run("meetings.list")["meetings"]
    by_id = {m["meeting_id"]: m for m in listed}
    assert by_id["m1"]["running"] is True and by_id["m1"]["participants"] == 3
    assert by_id["stale"]["running"] is False
    assert run("meetings.list", meeting_ids="m1:nope") == {"meetings": [by_id["m1"]], "not_found": ["nope"]}

    info = run("meetings.info", meeting_id="m1")
    assert info["running"] is True and info["server_id"] == "bbb1" and info["participant_count"] == 3
    assert info["metadata"].get("bbb-context") == "Course 1"
    assert run("meetings.info", meeting_id="stale")["running"] is False
    with pytest.raises(AdminNotFound, match="No meeting found with id: nope"):
        run("meetings.info", meeting_id="nope")

    ended = run("meetings.end", meeting_ids=["m1", "nope"])
    assert ended == {"ended": ["m1"], "errors": {}, "not_found": ["nope"]}
    assert store.get_meeting("default", "m1") is None
    assert not admin_meeting_running(store, "bbb1", "m1")
    assert run("meetings.end")["ended"] == ["stale"]  # all the rest (BBB's notFound is not an error)


# ------------------------------------------------------------------------------------------ Lambda handler
def test_handle_event_envelope(store: Any) -> None:
    from scalelite_admin.handler import handler

    ok = handler({"command": "servers.add", "args": {"url": URL, "secret": "s", "id": "x"}}, FakeLambdaContext())
    assert ok["ok"] is True and ok["result"]["id"] == "x"
    bad = handler({"command": "servers.get", "args": {"id": "nope"}}, FakeLambdaContext())
    assert bad == {"ok": False, "error": "No server found with id: nope", "status": 404}
    event: Any
    for event in ([], {"args": {}}, {"command": 3}, "servers.list"):
        reply = handler(event, FakeLambdaContext())
        assert reply["ok"] is False and reply["status"] == 400 and "command" in reply["error"]
    assert (
        handler({"command": "status", "args": "x"}, FakeLambdaContext())["error"] == "status: 'args' must be an object"
    )
    assert handler({"command": "status"}, FakeLambdaContext())["ok"] is True  # args may be omitted


def test_unexpected_errors_are_logged_not_leaked(
    store: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from scalelite_admin.handler import handler

    def explode(ctx: Any) -> dict[str, Any]:
        raise RuntimeError("secret detail")

    monkeypatch.setitem(registry.COMMANDS, "status", registry._Command(explode))
    reply = handler({"command": "status"}, FakeLambdaContext())
    assert reply["ok"] is False and reply["status"] == 500
    assert "secret detail" not in reply["error"] and "request id" in reply["error"]
    logged = [r for r in caplog.records if r.exc_info]  # in the function's log, with the traceback
    assert logged and logged[0].exc_info is not None and "secret detail" in str(logged[0].exc_info[1])


@pytest.mark.parametrize("path", sorted(p.name for p in (EVENTS / "admin").glob("*.json")))
def test_every_example_event_gets_an_answer(path: str, store: Any, simulators: SimFactory) -> None:
    from scalelite_admin.handler import handler

    if path != "servers_add.json":  # the examples' server, backed by a simulator (no outside network)
        sim = simulators()
        add = load_event("admin/servers_add.json")
        add["args"].update(url=sim.url, secret=sim.secret)
        assert handler(add, FakeLambdaContext())["ok"] is True
    reply = handler(load_event(f"admin/{path}"), FakeLambdaContext())
    assert set(reply) in ({"ok", "result"}, {"ok", "error", "status"})
    # No such meeting/recording in an empty stack; no uploaded player files to seal or activate.
    expected_failures = {"meetings_info.json", "recordings_info.json", "playback_commit.json", "playback_activate.json"}
    # No such tenant or tenant setting either (their ids are random UUIDs, so an example cannot create them first).
    expected_failures |= {
        "tenants_get.json",
        "tenants_update.json",
        "tenants_remove.json",
        "tenant_settings_list.json",
        "tenant_settings_add.json",
        "tenant_settings_remove.json",
        "recordings_add_to_tenant.json",
    }
    assert reply["ok"] is (path not in expected_failures), reply


def test_every_command_has_an_example_event() -> None:
    examples = {load_event(f"admin/{p.name}")["command"] for p in Path(EVENTS / "admin").glob("*.json")}
    assert examples == set(registry.COMMANDS)
