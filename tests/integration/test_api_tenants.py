"""Multitenancy through the real API handler (Mangum + FastAPI) over moto and simulated BBB servers: the checksum
matrix over hosts, meeting and recording isolation, the shared meetingID namespace, and multitenancy off."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from bbbsim import BBBSimulator
from scalelite_common.config import DEFAULT_TENANT
from scalelite_common.domain.entities import PlaybackFormat, Recording, RecordingState
from scalelite_common.domain.tenants import Tenant
from tests.conftest import TEST_SECRET
from tests.helpers import sign
from tests.integration.api_support import Reply, call_api, register
from tests.integration.conftest import fresh_settings

pytestmark = pytest.mark.usefixtures("aws")

URL_HOST = "lb.example.com"
T1 = Tenant(id="0f5c7a52-0000-4000-8000-000000000001", name="t1", secrets=("t1-old", "t1-new"))
T2 = Tenant(id="0f5c7a52-0000-4000-8000-000000000002", name="t2", secrets=("t2-secret",))
RID = "0123456789abcdef0123456789abcdef01234567-1700000000000"

# Every BBB GET call that takes a checksum, with parameters that would pass validation (insertDocument is POST only).
CALLS: dict[str, dict[str, str]] = {
    "create": {"meetingID": "m-x", "name": "X"},
    "join": {"meetingID": "m-x", "fullName": "U", "role": "MODERATOR"},
    "end": {"meetingID": "m-x"},
    "isMeetingRunning": {"meetingID": "m-x"},
    "getMeetingInfo": {"meetingID": "m-x"},
    "getMeetings": {},
    "getRecordings": {},
    "publishRecordings": {"recordID": RID, "publish": "false"},
    "updateRecordings": {"recordID": RID, "meta_x": "y"},
    "deleteRecordings": {"recordID": RID},
    "getRecordingTextTracks": {"recordID": RID},
}


@pytest.fixture
def tenancy(env: pytest.MonkeyPatch, store: Any) -> Any:
    env.setenv("MULTITENANCY_ENABLED", "true")
    env.setenv("URL_HOST", URL_HOST)
    fresh_settings()  # the store fixture read the settings before these were set
    store.add_tenant(T1)
    store.add_tenant(T2)
    return store


def api(call: str, params: dict[str, str], *, host: str, secret: str, forwarded: bool = False) -> Reply:
    """A BBB call to `host`: as CloudFront forwards it (API origin in Host, viewer host in X-Forwarded-Host) or
    straight (the viewer host in Host)."""
    headers = {"host": "abc123.execute-api.us-east-1.amazonaws.com", "x-forwarded-host": host} if forwarded else {}
    if not forwarded:
        headers["host"] = host
    return call_api("GET", f"/bigbluebutton/api/{call}", sign(call, urlencode(params), secret=secret), headers=headers)


def on(caller: tuple[str, str], call: str, params: dict[str, str]) -> Reply:
    """A call as a tenant's LMS makes it: (host, secret)."""
    return api(call, params, host=caller[0], secret=caller[1])


def _recording(tenant_id: str) -> Recording:
    return Recording(
        record_id=RID,
        tenant_id=tenant_id,
        meeting_id="rec-meeting",
        name="Class",
        state=RecordingState.PUBLISHED,
        published=True,
        start_time=1_700_000_000_000,
        end_time=1_700_000_060_000,
        formats={"presentation": PlaybackFormat("presentation", f"/playback/presentation/2.3/{RID}", 1)},
    )


# ------------------------------------------------------------------------------------------ checksum matrix
@pytest.mark.parametrize(
    ("host", "secret"),
    [
        ("t2.lb.example.com", "t1-new"),  # another tenant's host, our secret
        ("t3.lb.example.com", "t1-new"),  # an unknown tenant
        ("lb.example.com", TEST_SECRET),  # the bare URL_HOST with the LB secret
        ("t1.lb.example.com", TEST_SECRET),  # the LB secret on a tenant host
        ("192.0.2.7", TEST_SECRET),  # an IP
        ("other.example.org", "t1-new"),  # another domain
        ("", TEST_SECRET),  # an empty Host
    ],
)
def test_every_call_answers_checksum_error_off_its_tenant(tenancy: Any, host: str, secret: str) -> None:
    for call, params in CALLS.items():
        reply = api(call, params, host=host, secret=secret)
        assert reply.status == 200, call
        if call.endswith("TextTracks"):  # BBB answers the text-track calls in JSON
            assert "checksumError" in reply.body, call
        else:
            assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "checksumError"), call


@pytest.mark.parametrize("forwarded", [False, True])
@pytest.mark.parametrize("secret", ["t1-old", "t1-new"])
def test_any_of_the_tenants_secrets_signs_on_its_host(tenancy: Any, secret: str, forwarded: bool) -> None:
    host = "T1.lb.example.com:443"  # case and port do not matter
    reply = api("isMeetingRunning", {"meetingID": "nope"}, host=host, secret=secret, forwarded=forwarded)
    assert (reply.text("returncode"), reply.text("running")) == ("SUCCESS", "false")


def test_a_client_x_forwarded_host_cannot_beat_the_lb_secret_rule(tenancy: Any) -> None:
    """Direct to the API, a client choosing X-Forwarded-Host only picks a tenant, whose own secret it still needs."""
    reply = api("isMeetingRunning", {"meetingID": "x"}, host="t1.lb.example.com", secret=TEST_SECRET, forwarded=True)
    assert reply.text("messageKey") == "checksumError"


@pytest.mark.parametrize("host", ["t1.lb.example.com", "lb.example.com", "192.0.2.7", "t9.lb.example.com", ""])
def test_the_index_answers_on_any_host(tenancy: Any, host: str) -> None:
    reply = call_api("GET", "/bigbluebutton/api", headers={"host": host})
    assert (reply.status, reply.text("returncode")) == (200, "SUCCESS")


# ----------------------------------------------------------------------------------------- meeting isolation
def test_meetings_are_isolated_and_share_one_id_namespace(tenancy: Any, sims: list[BBBSimulator]) -> None:
    store = tenancy
    register(store, sims[0], "a")
    one = ("t1.lb.example.com", "t1-new")
    two = ("t2.lb.example.com", "t2-secret")
    created = on(one, "create", {"meetingID": "room", "name": "One", "moderatorPW": "mp"})
    assert created.text("returncode") == "SUCCESS"
    forwarded = sims[0].calls("create")[-1].params
    assert forwarded["meta_tenant-id"] == [T1.id] and forwarded["meta_tenant-name"] == ["t1"]

    assert on(two, "isMeetingRunning", {"meetingID": "room"}).text("running") == "false"
    for call in ("getMeetingInfo", "end", "join"):
        reply = on(two, call, {"meetingID": "room", "password": "mp", "fullName": "U", "role": "MODERATOR"})
        assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "notFound"), call
    assert on(two, "getMeetings", {}).text("messageKey") == "noMeetings"
    assert [m.findtext("meetingID") for m in on(one, "getMeetings", {}).xml.iter("meeting")] == ["room"]

    taken = on(two, "create", {"meetingID": "room", "name": "Two"})
    assert (taken.text("returncode"), taken.text("messageKey")) == ("FAILED", "idNotUnique")
    assert len(sims[0].calls("create")) == 1  # the other tenant's meeting was not touched
    assert store.get_meeting(T1.id, "room") is not None

    assert on(one, "end", {"meetingID": "room", "password": "mp"}).text("returncode") == "SUCCESS"
    assert on(two, "create", {"meetingID": "room", "name": "Two"}).text("returncode") == "SUCCESS"
    assert on(one, "isMeetingRunning", {"meetingID": "room"}).text("running") == "false"


def test_recordings_are_isolated(tenancy: Any) -> None:
    """B3LB 3.2.4's bug class: no recording call reaches another tenant's recording."""
    store = tenancy
    store.save_recording(_recording(T1.id), previous=None)
    one = ("t1.lb.example.com", "t1-old")
    two = ("t2.lb.example.com", "t2-secret")
    for params in ({}, {"recordID": RID}, {"meetingID": "rec-meeting"}):
        assert on(two, "getRecordings", params).text("messageKey") == "noRecordings", params
    for call in ("publishRecordings", "updateRecordings", "deleteRecordings"):
        reply = on(two, call, CALLS[call])
        assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "notFound"), call
    assert '"noRecordings"' in on(two, "getRecordingTextTracks", {"recordID": RID}).body
    assert '"noCaptionsFound"' in on(one, "getRecordingTextTracks", {"recordID": RID}).body  # found, no tracks
    stored = store.get_recording(RID)
    assert stored is not None and stored.published and stored.state is RecordingState.PUBLISHED

    listed = on(one, "getRecordings", {})
    assert [r.findtext("recordID") for r in listed.xml.iter("recording")] == [RID]


# ------------------------------------------------------------------------------------------ multitenancy off
def test_without_multitenancy_tenant_hosts_take_the_lb_secret(env: pytest.MonkeyPatch, store: Any) -> None:
    env.setenv("URL_HOST", URL_HOST)
    fresh_settings()
    store.add_tenant(T1)
    reply = api("isMeetingRunning", {"meetingID": "x"}, host="t1.lb.example.com", secret=TEST_SECRET)
    assert (reply.text("returncode"), reply.text("running")) == ("SUCCESS", "false")
    assert (
        api("isMeetingRunning", {"meetingID": "x"}, host="t1.lb.example.com", secret="t1-new").text("messageKey")
        == "checksumError"
    )


def _switch(env: pytest.MonkeyPatch, on: bool) -> None:
    """Multitenancy switched on or off: new settings, so a new container and app over the same tables."""
    env.setenv("MULTITENANCY_ENABLED", "true" if on else "false")
    fresh_settings()


def _listed(caller: tuple[str, str]) -> list[str]:
    return sorted(str(m.findtext("meetingID")) for m in on(caller, "getMeetings", {}).xml.iter("meeting"))


def test_get_meetings_scopes_by_the_tenant_id_metadata_with_and_without_multitenancy(
    env: pytest.MonkeyPatch, store: Any, sims: list[BBBSimulator]
) -> None:
    """As Scalelite (§1.2): without a tenant, meetings carrying a `tenant-id` metadata are not listed (an LMS's own
    `meta_tenant-id` included); switched on, such a meeting is listed only on the host of the tenant with that id."""
    env.setenv("URL_HOST", URL_HOST)
    _switch(env, on=False)
    store.add_tenant(T1)
    store.add_tenant(T2)
    register(store, sims[0], "a")
    lb = (URL_HOST, TEST_SECRET)
    for meeting_id, extra in (("lms-room", {"meta_tenant-id": T1.id}), ("plain", {})):
        assert on(lb, "create", {"meetingID": meeting_id, "name": "Room", **extra}).text("returncode") == "SUCCESS"
    assert sims[0].calls("create")[0].params["meta_tenant-id"] == [T1.id]  # passed through as the LMS sent it
    assert _listed(lb) == ["plain"]

    _switch(env, on=True)
    assert _listed(("t1.lb.example.com", "t1-new")) == ["lms-room"]
    assert on(("t2.lb.example.com", "t2-secret"), "getMeetings", {}).text("messageKey") == "noMeetings"
    unknown = on(("t9.lb.example.com", "t1-new"), "getMeetings", {})
    assert (unknown.text("returncode"), unknown.text("messageKey")) == ("FAILED", "checksumError")
    assert unknown.xml.find("meetings") is None


def test_multitenancy_switched_off_while_a_tenant_meeting_is_live(
    tenancy: Any, env: pytest.MonkeyPatch, sims: list[BBBSimulator]
) -> None:
    """The default tenant cannot take a meetingID a tenant's live meeting holds (one namespace, FAILED idNotUnique),
    and the tenant's meeting is untouched: still its, still running on its server once multitenancy is back."""
    store = tenancy
    register(store, sims[0], "a", load=0.0)
    register(store, sims[1], "b", load=50.0)
    one = ("t1.lb.example.com", "t1-new")
    created = on(one, "create", {"meetingID": "shared", "name": "One", "moderatorPW": "mp"})
    assert created.text("returncode") == "SUCCESS"
    held = store.get_meeting(T1.id, "shared")
    assert held is not None and held.server_id == "a"
    sims[0].add_attendee("shared", "Attendee")
    servers = {s.id: s.load_adjust for s in store.list_servers()}

    _switch(env, on=False)
    taken = on((URL_HOST, TEST_SECRET), "create", {"meetingID": "shared", "name": "Default"})
    assert (taken.text("returncode"), taken.text("messageKey")) == ("FAILED", "idNotUnique")
    assert [len(sim.calls("create")) for sim in sims[:2]] == [1, 0]  # BBB was not asked
    assert store.get_meeting(DEFAULT_TENANT, "shared") is None
    assert store.get_meeting(T1.id, "shared") == held
    assert {s.id: s.load_adjust for s in store.list_servers()} == servers

    _switch(env, on=True)
    store.update_server("a", {"load": 100.0})  # placement would now pick b: only the mapping keeps it on a
    assert on(one, "isMeetingRunning", {"meetingID": "shared"}).text("running") == "true"
    assert on(one, "create", {"meetingID": "shared", "name": "One"}).text("returncode") == "SUCCESS"
    assert [len(sim.calls("create")) for sim in sims[:2]] == [2, 0]
    again = store.get_meeting(T1.id, "shared")
    assert again is not None and (again.server_id, again.moderator_pw) == ("a", "mp")


def test_multitenancy_switched_on_while_a_default_meeting_is_live(
    env: pytest.MonkeyPatch, store: Any, sims: list[BBBSimulator]
) -> None:
    """The reverse: a meeting made with multitenancy off holds its meetingID against a tenant once it is switched
    on (one namespace), and stays the default tenant's, on its server."""
    env.setenv("URL_HOST", URL_HOST)
    _switch(env, on=False)
    store.add_tenant(T1)
    register(store, sims[0], "a", load=0.0)
    register(store, sims[1], "b", load=50.0)
    lb = (URL_HOST, TEST_SECRET)
    created = on(lb, "create", {"meetingID": "shared", "name": "Default", "moderatorPW": "mp"})
    assert created.text("returncode") == "SUCCESS"
    held = store.get_meeting(DEFAULT_TENANT, "shared")
    assert held is not None and held.server_id == "a"
    sims[0].add_attendee("shared", "Attendee")

    _switch(env, on=True)
    taken = on(("t1.lb.example.com", "t1-new"), "create", {"meetingID": "shared", "name": "One"})
    assert (taken.text("returncode"), taken.text("messageKey")) == ("FAILED", "idNotUnique")
    assert [len(sim.calls("create")) for sim in sims[:2]] == [1, 0]
    assert store.get_meeting(T1.id, "shared") is None
    assert store.get_meeting(DEFAULT_TENANT, "shared") == held

    _switch(env, on=False)
    assert on(lb, "isMeetingRunning", {"meetingID": "shared"}).text("running") == "true"
    again = store.get_meeting(DEFAULT_TENANT, "shared")
    assert again is not None and again.server_id == "a"


# --------------------------------------------------------------------------------- admin JSON API (§1.18)
def test_admin_api_tenant_calls(env: pytest.MonkeyPatch) -> None:
    from tests.integration.test_admin_api import api as admin

    env.setenv("ADMIN_API_ENABLED", "true")
    env.setenv("MULTITENANCY_ENABLED", "true")
    env.setenv("URL_HOST", URL_HOST)
    assert admin("GET", "getTenants").json() == {"message": "No tenants exist"}
    missing = admin("POST", "addTenant", body={"tenant": {"name": "t1"}})
    assert (missing.status, missing.json()) == (
        400,
        {"message": "Error: both name and secrets are required to create a Tenant"},
    )
    added = admin("POST", "addTenant", body={"tenant": {"name": "t1", "secrets": "a:b"}})
    assert added.status == 201
    tenant = added.json()["tenant"]
    assert (tenant["name"], tenant["secrets"]) == ("t1", "a:b")
    assert admin("POST", "addTenant", body={"tenant": {"name": "t1", "secrets": "c"}}).status == 409
    assert admin("GET", "getTenants").json() == [tenant]
    assert admin("GET", "getTenantInfo", f"id={tenant['id']}").json() == tenant
    gone = admin("GET", "getTenantInfo", "id=nope")
    assert (gone.status, gone.json()) == (404, {"error": "Couldn't find Tenant with id=nope"})

    renamed = admin("POST", "updateTenant", body={"id": tenant["id"], "tenant": {"name": "t9", "secrets": "z"}})
    assert renamed.json() == {"tenant": {**tenant, "name": "t9", "secrets": "z"}}
    assert admin("POST", "updateTenant", body={"id": tenant["id"], "tenant": {"name": "a.b"}}).status == 422
    assert admin("POST", "updateTenant", body={"id": "nope", "tenant": {"name": "x"}}).status == 404
    # The API resolves the renamed tenant with its new secret (a fresh container: no cached lookups).
    reply = api("isMeetingRunning", {"meetingID": "x"}, host="t9.lb.example.com", secret="z")
    assert reply.text("returncode") == "SUCCESS"

    deleted = admin("POST", "deleteTenant", body={"id": tenant["id"]})
    assert deleted.json() == {"success": f"Tenant id={tenant['id']} was destroyed"}
    assert admin("POST", "deleteTenant", body={"id": tenant["id"]}).status == 404


def test_tenant_settings_shape_the_forwarded_create(tenancy: Any, sims: list[BBBSimulator]) -> None:
    from scalelite_common.domain.tenants import SettingMode, TenantSetting

    store = tenancy
    register(store, sims[0], "a")
    store.add_setting(TenantSetting("s1", T1.id, "maxParticipants", "20", SettingMode.CAP))
    store.add_setting(TenantSetting("s2", T1.id, "disabledFeatures", "chat", SettingMode.APPEND))
    created = on(("t1.lb.example.com", "t1-new"), "create", {"meetingID": "m", "name": "M", "maxParticipants": "0"})
    assert created.text("returncode") == "SUCCESS"
    forwarded = sims[0].calls("create")[-1].params
    assert forwarded["maxParticipants"] == ["20"] and forwarded["disabledFeatures"] == ["chat"]
    on(("t2.lb.example.com", "t2-secret"), "create", {"meetingID": "n", "name": "N", "maxParticipants": "0"})
    forwarded = sims[0].calls("create")[-1].params
    assert forwarded["maxParticipants"] == ["0"] and "disabledFeatures" not in forwarded
