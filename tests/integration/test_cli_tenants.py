"""`scalelite tenants …` through the AdminFunction handler (moto): the pinned commands and their JSON shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.conftest import SimFactory, add_server
from tests.integration.test_cli import Result, cli

__all__ = ["cli"]  # the fixture, shared with test_cli
pytestmark = pytest.mark.usefixtures("aws")
KEYS = {"id", "name", "secrets", "max_meetings", "max_attendees"}


def test_tenants_add_list_update_remove(cli: Callable[..., Result]) -> None:
    added = cli("tenants", "add", "Acme", "--secrets", "s1:s2", "--json")
    assert added.code == 0, added.err
    tenant = added.json()
    assert set(tenant) == KEYS and tenant["name"] == "acme" and tenant["secrets"] == "s1:s2"
    assert (tenant["max_meetings"], tenant["max_attendees"]) == (0, 0)
    assert added.sent == [{"command": "tenants.add", "args": {"name": "Acme", "secrets": "s1:s2"}}]

    listed = cli("tenants", "list", "--json")
    assert listed.json() == {"tenants": [tenant]}
    table = cli("tenants")  # bare: the list, secrets masked
    assert "acme" in table.out and "s1" not in table.out and "********:********" in table.out
    assert "s1:s2" in cli("tenants", "list", "--show-secrets").out

    duplicate = cli("tenants", "add", "acme", "--secrets", "x")
    assert duplicate.code == 1 and "exists already" in duplicate.err
    bad = cli("tenants", "add", "a.b", "--secrets", "x")
    assert bad.code == 1 and "DNS label" in bad.err

    updated = cli(
        "tenants", "update", tenant["id"], "--name", "acme2", "--secrets", "s3", "--max-meetings", "4",
        "--max-attendees", "50", "--json",
    )  # fmt: skip
    assert updated.json() == {**tenant, "name": "acme2", "secrets": "s3", "max_meetings": 4, "max_attendees": 50}
    assert "s3" not in cli("tenants", "update", tenant["id"], "--max-meetings", "0").out  # masked in the text
    assert cli("tenants", "update", tenant["id"], "--max-meetings", "-1").code == 2  # usage error
    missing = cli("tenants", "update", "nope", "--name", "x")
    assert missing.code == 1 and "No tenant found" in missing.err

    removed = cli("tenants", "remove", tenant["id"], "--yes", "--json")
    assert removed.json() == {"removed": tenant["id"], "meetings_ended": []}
    assert cli("tenants", "list", "--json").json() == {"tenants": []}
    assert cli("tenants", "list").out.strip() == "No tenants are configured"


def test_tenants_remove_with_live_meetings_needs_force(
    cli: Callable[..., Result], store: Any, simulators: SimFactory, env: pytest.MonkeyPatch
) -> None:
    from tests.helpers import sign
    from tests.integration.api_support import call_api
    from tests.integration.conftest import fresh_settings

    env.setenv("MULTITENANCY_ENABLED", "true")
    env.setenv("URL_HOST", "lb.example.com")
    fresh_settings()
    sim = simulators()
    add_server(store, sim, "a")
    tenant = cli("tenants", "add", "t1", "--secrets", "k1", "--json").json()
    query = sign("create", "meetingID=live&name=L", secret="k1")
    created = call_api("GET", "/bigbluebutton/api/create", query, headers={"host": "t1.lb.example.com"})
    assert created.text("returncode") == "SUCCESS"

    refused = cli("tenants", "remove", tenant["id"], "--yes")
    assert refused.code == 1 and "1 live meeting" in refused.err and "--force" in refused.err
    assert store.get_tenant(tenant["id"]) is not None
    forced = cli("tenants", "remove", tenant["id"], "--force", "--yes", "--json")
    assert forced.json() == {"removed": tenant["id"], "meetings_ended": ["live"]}
    assert "live" not in sim.meetings and store.get_meeting(tenant["id"], "live") is None
    no_confirm = cli("tenants", "remove", "whatever")
    assert no_confirm.code == 1 and "--yes" in no_confirm.err


def test_tenant_settings_add_list_remove(cli: Callable[..., Result]) -> None:
    tenant = cli("tenants", "add", "t1", "--secrets", "k", "--json").json()
    capped = cli("tenant-settings", "add", tenant["id"], "maxParticipants", "30", "--cap", "--json")
    assert capped.code == 0, capped.err
    setting = capped.json()
    assert setting == {**setting, "tenant_id": tenant["id"], "param": "maxParticipants", "value": "30", "mode": "cap"}
    assert set(setting) == {"id", "tenant_id", "param", "value", "mode"}
    default = cli("tenant-settings", "add", tenant["id"], "record", "false", "--json").json()
    assert default["mode"] == "default"
    assert cli("tenant-settings", "add", tenant["id"], "x", "1", "--cap", "--override").code == 2  # one mode only
    assert cli("tenant-settings", "add", tenant["id"], "duration", "0", "--cap").code == 1

    listed = cli("tenant-settings", "list", "--tenant", tenant["id"], "--json").json()
    assert sorted(x["id"] for x in listed["settings"]) == sorted([setting["id"], default["id"]])
    assert "maxParticipants" in cli("tenant-settings").out
    removed = cli("tenant-settings", "remove", setting["id"], "--json")
    assert removed.json() == {"removed": setting["id"]}
    assert cli("tenant-settings", "remove", setting["id"]).code == 1
    assert cli("tenants", "remove", tenant["id"], "--yes").code == 0
    assert cli("tenant-settings", "list", "--json").json() == {"settings": []}  # they went with their tenant


def test_recordings_add_to_tenant(cli: Callable[..., Result], store: Any) -> None:
    from scalelite_common.domain.entities import Recording, RecordingState

    tenant = cli("tenants", "add", "t1", "--secrets", "k", "--json").json()
    store.save_recording(Recording(record_id="r1", tenant_id="default", meeting_id="m"), previous=None)
    store.save_recording(
        Recording(record_id="r2", tenant_id="other", meeting_id="m", state=RecordingState.PUBLISHED), previous=None
    )
    moved = cli("recordings", "add-to-tenant", tenant["id"], "--yes")
    assert moved.code == 0 and f"Added r1 to tenant {tenant['id']}" in moved.out and "r2" not in moved.out
    assert store.get_recording("r1").tenant_id == tenant["id"] and store.get_recording("r2").tenant_id == "other"
    again = cli("recordings", "add-to-tenant", tenant["id"], "--yes", "--json").json()
    assert again == {"tenant_id": tenant["id"], "moved": [], "skipped": []}


def test_tenant_limit_flags(cli: Callable[..., Result], capsys: pytest.CaptureFixture[str]) -> None:
    added = cli("tenants", "add", "lim", "--secrets", "s", "--max-meetings", "3", "--max-attendees", "40", "--json")
    assert added.code == 0, added.err
    tenant = added.json()
    assert (tenant["max_meetings"], tenant["max_attendees"]) == (3, 40)  # ints in the JSON
    assert added.sent[0]["args"] == {"name": "lim", "secrets": "s", "max_meetings": 3, "max_attendees": 40}
    row = next(line for line in cli("tenants").out.splitlines() if "lim" in line)
    assert row.split()[-2:] == ["3", "40"]
    # 0 = unlimited (shown as "-" in the table).
    cleared = cli("tenants", "update", tenant["id"], "--max-meetings", "0", "--json").json()
    assert (cleared["max_meetings"], cleared["max_attendees"]) == (0, 40)
    assert next(line for line in cli("tenants").out.splitlines() if "lim" in line).split()[-2:] == ["-", "40"]
    for flag, value in [("--max-meetings", "-1"), ("--max-attendees", "ten"), ("--max-attendees", "1.5")]:
        for command in (["add", "other", "--secrets", "s"], ["update", tenant["id"]]):
            capsys.readouterr()
            bad = cli("tenants", *command, flag, value)
            err = capsys.readouterr().err  # argparse's usage errors go to stderr itself
            assert bad.code == 2 and f"argument {flag}: not a whole number >= 0: {value!r}" in err, err
            assert bad.sent == []  # refused before anything is sent
    assert cli("tenants", "list", "--json").json() == {"tenants": [cleared]}
