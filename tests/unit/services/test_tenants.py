"""Multitenancy over the fakes: request resolution (host → tenant, secrets), the tenant cache, meeting scoping with
one meetingID namespace, and the tenant admin commands."""

from __future__ import annotations

import dataclasses

import pytest

from scalelite_common.config import DEFAULT_TENANT, Settings
from scalelite_common.domain.tenants import Tenant, TenantValueError, parse_secrets, tenant_label, valid_name
from scalelite_common.errors import (
    AdminConflict,
    AdminError,
    AdminNotFound,
    MeetingIDNotUniqueError,
    MeetingNotFoundError,
)
from scalelite_common.services import context
from scalelite_common.services.admin.context import AdminContext
from scalelite_common.services.admin.registry import dispatch
from scalelite_common.services.context import RequestContext
from scalelite_common.services.meetings import CreateRequest, MeetingService
from scalelite_common.services.tenants import TenantDirectory
from tests.fakes.bbb import FakeBBB
from tests.fakes.store import InMemoryStore
from tests.unit.services.conftest import add_server

URL_HOST = "lb.example.com"
T1 = Tenant(id="id-t1", name="t1", secrets=("one-old", "one-new"))
T2 = Tenant(id="id-t2", name="t2", secrets=("two",))


@pytest.fixture
def mt_settings() -> Settings:
    return Settings.from_env({"LOADBALANCER_SECRET": "lb-secret", "URL_HOST": URL_HOST, "MULTITENANCY_ENABLED": "true"})


@pytest.fixture
def tenants(store: InMemoryStore) -> TenantDirectory:
    store.add_tenant(T1)
    store.add_tenant(T2)
    return TenantDirectory(store)


def _ctx(settings: Settings, tenants: TenantDirectory, host: str | None) -> RequestContext:
    return context.resolve(settings, host, "https", tenants=tenants)


# ----------------------------------------------------------------------------------------------- resolution
@pytest.mark.parametrize(
    ("host", "tenant"),
    [
        ("t1.lb.example.com", T1),
        ("T1.LB.Example.COM", T1),  # case-insensitive
        ("t1.lb.example.com:8443", T1),  # port ignored
        ("t1.lb.example.com.", T1),  # the absolute form
        ("t2.lb.example.com", T2),
        ("t3.lb.example.com", None),  # unknown tenant
        ("lb.example.com", None),  # the bare URL_HOST
        ("a.t1.lb.example.com", None),  # more than one label in front
        ("t1.lb.example.com.evil.org", None),  # another domain
        ("t1lb.example.com", None),
        ("192.0.2.7", None),  # an IP
        ("[2001:db8::1]:443", None),
        ("", None),  # an empty Host
        (None, None),
    ],
)
def test_the_tenant_is_the_label_in_front_of_url_host(
    mt_settings: Settings, tenants: TenantDirectory, host: str | None, tenant: Tenant | None
) -> None:
    ctx = _ctx(mt_settings, tenants, host)
    if tenant is None:
        # No secrets: every checksum fails (checksumError), the LB secret included; the context owns nothing.
        assert ctx.secrets == () and ctx.tenant_id == context.UNRESOLVED_TENANT and ctx.base_url == ""
    else:
        assert (ctx.tenant_id, ctx.secrets, ctx.tenant_name) == (tenant.id, tenant.secrets, tenant.name)
        assert ctx.base_url == f"https://{tenant.name}.{URL_HOST}" and ctx.metadata_tenant == tenant.id
        assert "lb-secret" not in ctx.secrets


def test_without_multitenancy_every_host_is_the_default_tenant(store: InMemoryStore, settings: Settings) -> None:
    store.add_tenant(T1)
    directory = TenantDirectory(store)
    for host in ("t1.lb.example.com", "192.0.2.7", None):
        ctx = context.resolve(settings, host, "https", tenants=directory)
        assert (ctx.tenant_id, ctx.secrets, ctx.tenant_name) == (DEFAULT_TENANT, ("lb-secret",), "")


def test_multitenancy_without_url_host_resolves_no_tenant(store: InMemoryStore) -> None:
    store.add_tenant(T1)
    settings = Settings.from_env({"LOADBALANCER_SECRET": "lb", "MULTITENANCY_ENABLED": "true"})
    assert context.resolve(settings, "t1.lb.example.com", tenants=TenantDirectory(store)).secrets == ()


def test_secret_rotation_any_of_the_tenants_secrets_signs(mt_settings: Settings, tenants: TenantDirectory) -> None:
    from scalelite_common.bbb import checksum
    from scalelite_common.errors import ChecksumError

    ctx = _ctx(mt_settings, tenants, "t1.lb.example.com")
    query = "meetingID=m1"
    for secret in ("one-old", "one-new"):
        signed = f"{query}&checksum={checksum.digest('SHA256', f'isMeetingRunning{query}{secret}')}"
        checksum.verify("isMeetingRunning", signed, ctx.secrets, ("SHA256",))
    for secret in ("two", "lb-secret"):  # another tenant's secret, the LB's
        signed = f"{query}&checksum={checksum.digest('SHA256', f'isMeetingRunning{query}{secret}')}"
        with pytest.raises(ChecksumError):
            checksum.verify("isMeetingRunning", signed, ctx.secrets, ("SHA256",))


def test_tenant_changes_take_effect_within_the_cache_period(store: InMemoryStore, mt_settings: Settings) -> None:
    now = [1000.0]
    directory = TenantDirectory(store, clock=lambda: now[0])
    assert _ctx(mt_settings, directory, "t1.lb.example.com").secrets == ()  # not yet added: cached as unknown
    store.add_tenant(T1)
    now[0] += 9.9
    assert _ctx(mt_settings, directory, "t1.lb.example.com").secrets == ()
    now[0] += 0.2
    assert _ctx(mt_settings, directory, "t1.lb.example.com").secrets == T1.secrets
    store.update_tenant(dataclasses.replace(T1, secrets=("rotated",)), previous=T1)
    now[0] += 10.1
    assert _ctx(mt_settings, directory, "t1.lb.example.com").secrets == ("rotated",)


def test_tenant_names_and_secret_lists() -> None:
    assert valid_name(" Team-7 ") == "team-7"
    for bad in ("", "a.b", "a_b", "x" * 64, "ünï"):
        with pytest.raises(TenantValueError):
            valid_name(bad)
    assert parse_secrets("a:b::a") == ("a", "b")
    for bad in ("", ":", "a b"):
        with pytest.raises(TenantValueError):
            parse_secrets(bad)
    assert tenant_label("X.lb.example.com:80", "LB.example.com") == "x"


# ------------------------------------------------------------------------------------------- meeting scoping
@pytest.fixture
def mt_service(store: InMemoryStore, bbb: FakeBBB, mt_settings: Settings) -> MeetingService:
    add_server(store, "a", load=1.0)
    return MeetingService(store, bbb, mt_settings)


def _create(service: MeetingService, ctx: RequestContext, meeting_id: str, **params: str) -> str:
    reply = service.create(CreateRequest(ctx=ctx, params=[("meetingID", meeting_id), *params.items()]))
    return reply.returncode


def test_meetings_are_scoped_by_tenant(
    mt_service: MeetingService, mt_settings: Settings, tenants: TenantDirectory, bbb: FakeBBB
) -> None:
    one = _ctx(mt_settings, tenants, "t1.lb.example.com")
    two = _ctx(mt_settings, tenants, "t2.lb.example.com")
    assert _create(mt_service, one, "m1", name="One", **{"meta_tenant-id": "spoofed"}) == "SUCCESS"
    created = bbb.server("https://a.example.com/bigbluebutton/api/").meetings["m1"]
    assert created.metadata["tenant-id"] == T1.id and created.metadata["tenant-name"] == "t1"

    assert mt_service.is_meeting_running(two, [("meetingID", "m1")]) is None  # running=false
    for call in (mt_service.get_meeting_info, mt_service.end, mt_service.join):
        with pytest.raises(MeetingNotFoundError):
            call(two, [("meetingID", "m1"), ("fullName", "x"), ("password", "p")])
    assert mt_service.is_meeting_running(one, [("meetingID", "m1")]) is not None

    assert [e.findtext("meetingID") for e in mt_service.get_meetings(one)] == ["m1"]
    assert mt_service.get_meetings(two) == []


def test_meeting_ids_share_one_namespace_across_tenants(
    mt_service: MeetingService, store: InMemoryStore, mt_settings: Settings, tenants: TenantDirectory, bbb: FakeBBB
) -> None:
    one = _ctx(mt_settings, tenants, "t1.lb.example.com")
    two = _ctx(mt_settings, tenants, "t2.lb.example.com")
    _create(mt_service, one, "shared", name="One", moderatorPW="mod1")
    creates = len([c for c in bbb.calls if c[1] == "create"])
    with pytest.raises(MeetingIDNotUniqueError) as refused:
        _create(mt_service, two, "shared", name="Two")
    assert refused.value.message_key == "idNotUnique"
    # The other tenant's meeting is untouched: no BBB call, same mapping, its load as it was.
    assert len([c for c in bbb.calls if c[1] == "create"]) == creates
    mapping = store.get_meeting(T1.id, "shared")
    assert mapping is not None and mapping.moderator_pw == "mod1" and store.get_meeting(T2.id, "shared") is None
    assert store.get_server("a").load_adjust == mt_settings.load_min_user_count  # type: ignore[union-attr]

    assert _create(mt_service, one, "shared") == "SUCCESS"  # its own tenant still reaches it
    mt_service.end(one, [("meetingID", "shared"), ("password", "mod1")])
    assert _create(mt_service, two, "shared", name="Two") == "SUCCESS"  # ended: free again
    assert store.get_meeting(T2.id, "shared") is not None


# ----------------------------------------------------------------------------------------------- admin commands
@pytest.fixture
def admin(store: InMemoryStore, bbb: FakeBBB, mt_settings: Settings) -> AdminContext:
    return AdminContext(store=store, client=bbb, settings=mt_settings)


def test_tenant_commands(admin: AdminContext, store: InMemoryStore) -> None:
    added = dispatch("tenants.add", {"name": "Acme", "secrets": "s1:s2"}, admin)
    assert set(added) == {"id", "name", "secrets", "max_meetings", "max_attendees"}
    assert (added["name"], added["secrets"], added["max_meetings"], added["max_attendees"]) == ("acme", "s1:s2", 0, 0)
    assert dispatch("tenants.list", {}, admin) == {"tenants": [added]}
    with pytest.raises(AdminConflict):
        dispatch("tenants.add", {"name": "acme", "secrets": "x"}, admin)
    with pytest.raises(AdminError, match="DNS label"):
        dispatch("tenants.add", {"name": "a.b", "secrets": "x"}, admin)
    with pytest.raises(AdminError, match="secret"):
        dispatch("tenants.add", {"name": "b", "secrets": ":"}, admin)

    updated = dispatch(
        "tenants.update", {"id": added["id"], "name": "acme2", "max_meetings": 5, "max_attendees": "100"}, admin
    )
    assert (updated["name"], updated["secrets"], updated["max_meetings"], updated["max_attendees"]) == (
        "acme2",
        "s1:s2",
        5,
        100,
    )
    assert store.tenant_by_name("acme2") is not None and store.tenant_by_name("acme") is None
    with pytest.raises(AdminError, match="whole number"):
        dispatch("tenants.update", {"id": added["id"], "max_meetings": -1}, admin)
    with pytest.raises(AdminError, match="nothing to change"):
        dispatch("tenants.update", {"id": added["id"]}, admin)
    with pytest.raises(AdminNotFound):
        dispatch("tenants.update", {"id": "nope", "name": "x"}, admin)
    assert dispatch("tenants.remove", {"id": added["id"]}, admin) == {"removed": added["id"], "meetings_ended": []}
    assert dispatch("tenants.list", {}, admin) == {"tenants": []}


def test_removing_a_tenant_with_live_meetings_needs_force(
    admin: AdminContext, store: InMemoryStore, bbb: FakeBBB, mt_settings: Settings
) -> None:
    add_server(store, "a")
    tenant = dispatch("tenants.add", {"name": "t1", "secrets": "s"}, admin)
    ctx = context.resolve(mt_settings, "t1.lb.example.com", tenants=TenantDirectory(store))
    service = MeetingService(store, bbb, mt_settings)
    _create(service, ctx, "live")
    with pytest.raises(AdminConflict, match="1 live meeting"):
        dispatch("tenants.remove", {"id": tenant["id"]}, admin)
    assert store.get_tenant(tenant["id"]) is not None and store.get_meeting(tenant["id"], "live") is not None
    result = dispatch("tenants.remove", {"id": tenant["id"], "force": True}, admin)
    assert result == {"removed": tenant["id"], "meetings_ended": ["live"]}
    assert store.get_meeting(tenant["id"], "live") is None and store.get_tenant(tenant["id"]) is None
    assert "live" not in bbb.server("https://a.example.com/bigbluebutton/api/").meetings


# ----------------------------------------------------------------------------------------- tenant settings
def test_caps_and_appends() -> None:
    from scalelite_common.domain.tenants import ParamRules, SettingMode, TenantSetting

    rules = ParamRules.of(
        [
            TenantSetting("1", "t", "maxParticipants", "50", SettingMode.CAP),
            TenantSetting("2", "t", "maxParticipants", "80", SettingMode.CAP),  # the lower cap wins
            TenantSetting("3", "t", "disabledFeatures", "chat, polls", SettingMode.APPEND),
        ]
    )
    for given, expected in [(None, "50"), ("0", "50"), ("junk", "50"), ("-3", "50"), ("200", "50"), ("20", "20")]:
        params = {} if given is None else {"maxParticipants": given}
        rules.apply(params)
        assert params["maxParticipants"] == expected, given
    params = {"disabledFeatures": "polls,layouts"}
    rules.apply(params)
    assert params["disabledFeatures"] == "polls,layouts,chat"  # the request's order first, deduplicated
    params = {}
    rules.apply(params)
    assert params["disabledFeatures"] == "chat,polls"


@pytest.fixture
def with_settings(admin: AdminContext) -> TenantDirectory:
    dispatch("tenant_settings.add", {"tenant_id": T1.id, "param": "record", "value": "false"}, admin)
    dispatch("tenant_settings.add", {"tenant_id": T1.id, "param": "welcome", "value": "Hi", "mode": "override"}, admin)
    dispatch("tenant_settings.add", {"tenant_id": T1.id, "param": "duration", "value": "60", "mode": "cap"}, admin)
    dispatch(
        "tenant_settings.add",
        {"tenant_id": T1.id, "param": "disabledFeatures", "value": "chat", "mode": "append"},
        admin,
    )
    dispatch(
        "tenant_settings.add",
        {"tenant_id": T1.id, "param": "meta_server-tag", "value": "blue", "mode": "override"},
        admin,
    )
    return TenantDirectory(admin.store)


def test_settings_shape_create_and_join_of_their_tenant_only(
    tenants: TenantDirectory, with_settings: TenantDirectory, store: InMemoryStore, bbb: FakeBBB, mt_settings: Settings
) -> None:
    plain = add_server(store, "plain", load=0.0)
    blue = add_server(store, "blue", load=50.0)
    store.update_server("blue", {"tag": "blue"})
    service = MeetingService(store, bbb, mt_settings)
    one = _ctx(mt_settings, with_settings, "t1.lb.example.com")
    two = _ctx(mt_settings, with_settings, "t2.lb.example.com")

    _create(service, one, "m1", record="true", welcome="Mine", duration="0", disabledFeatures="polls")
    url, _, sent = [c for c in bbb.calls if c[1] == "create"][-1]
    assert url == blue.url  # meta_server-tag from the settings fed placement
    assert (sent["record"], sent["welcome"], sent["duration"], sent["disabledFeatures"]) == (
        "true",  # a default: the request wins
        "Hi",  # an override beats it
        "60",  # a cap also applies to 0 (BBB: unlimited)
        "polls,chat",
    )
    _create(service, one, "m2")
    sent = [c for c in bbb.calls if c[1] == "create"][-1][2]
    assert (sent["record"], sent["duration"], sent["disabledFeatures"]) == ("false", "60", "chat")

    joined = service.join(one, [("meetingID", "m1"), ("fullName", "U"), ("role", "VIEWER"), ("welcome", "x")])
    assert "welcome=Hi" in joined.location  # one settings list for create and join, as in Scalelite

    _create(service, two, "m3", record="true", duration="0")
    url, _, sent = [c for c in bbb.calls if c[1] == "create"][-1]
    assert url == plain.url and sent["duration"] == "0" and "welcome" not in sent and "disabledFeatures" not in sent


def test_setting_commands(admin: AdminContext, tenants: TenantDirectory) -> None:
    added = dispatch(
        "tenant_settings.add", {"tenant_id": T1.id, "param": "maxParticipants", "value": "25", "mode": "cap"}, admin
    )
    assert set(added) == {"id", "tenant_id", "param", "value", "mode"} and added["mode"] == "cap"
    assert dispatch("tenant_settings.list", {"tenant_id": T1.id}, admin) == {"settings": [added]}
    assert dispatch("tenant_settings.list", {"tenant_id": T2.id}, admin) == {"settings": []}
    for bad in ({"mode": "cap", "value": "0"}, {"mode": "cap", "value": "x"}, {"mode": "sideways"}, {"param": "a b"}):
        args = {"tenant_id": T1.id, "param": "maxParticipants", "value": "1", **bad}
        with pytest.raises(AdminError):
            dispatch("tenant_settings.add", args, admin)
    with pytest.raises(AdminNotFound):
        dispatch("tenant_settings.add", {"tenant_id": "nope", "param": "record", "value": "x"}, admin)
    assert dispatch("tenant_settings.remove", {"id": added["id"]}, admin) == {"removed": added["id"]}
    with pytest.raises(AdminNotFound):
        dispatch("tenant_settings.remove", {"id": added["id"]}, admin)


def test_recordings_add_to_tenant_moves_only_the_recordings_without_one(
    admin: AdminContext, store: InMemoryStore, tenants: TenantDirectory
) -> None:
    from scalelite_common.domain.entities import Recording, RecordingState

    def recording(record_id: str, tenant_id: str) -> Recording:
        r = Recording(record_id=record_id, tenant_id=tenant_id, meeting_id="m", state=RecordingState.PUBLISHED)
        return store.save_recording(r, previous=None)

    for i in range(150):  # more than one page of the default tenant's listing
        recording(f"r{i:03d}", DEFAULT_TENANT)
    recording("theirs", T2.id)
    result = dispatch("recordings.add_to_tenant", {"tenant_id": T1.id}, admin)
    assert sorted(result["moved"]) == [f"r{i:03d}" for i in range(150)] and result["skipped"] == []
    moved = store.get_recording("r007")
    assert moved is not None and moved.tenant_id == T1.id and moved.metadata["tenant-id"] == T1.id
    assert store.get_recording("theirs").tenant_id == T2.id  # type: ignore[union-attr]
    assert (
        store.recording_counts(T1.id)["published"] == 150 and store.recording_counts(DEFAULT_TENANT)["published"] == 0
    )
    assert dispatch("recordings.add_to_tenant", {"tenant_id": T1.id}, admin)["moved"] == []
    with pytest.raises(AdminNotFound):
        dispatch("recordings.add_to_tenant", {"tenant_id": "nope"}, admin)


# ------------------------------------------------------------------------------- recording-ready signatures
def test_recording_ready_callbacks_are_signed_with_their_tenants_secrets(
    store: InMemoryStore, tenants: TenantDirectory, mt_settings: Settings
) -> None:
    import json

    from scalelite_common.services.callbacks import CallbackDelivery, Outcome
    from tests.fakes.http import FakePoster

    def deliver(settings: Settings, tenant_id: str, *answers: int) -> list[str]:
        poster = FakePoster(*answers)
        body = {"kind": "recording_ready", "url": "https://lms/cb", "tenant_id": tenant_id, "meeting_id": "m"}
        outcome = CallbackDelivery(poster, settings, tenants=store).deliver(json.dumps({**body, "record_id": "r"}))
        signers = []
        for post in poster.posts:
            token = post.fields["signed_parameters"]
            signers += [s for s in (*T1.secrets, *T2.secrets, "lb-secret") if _verifies(token, s)]
        return [outcome.value, *signers]

    assert deliver(mt_settings, T1.id, 500, 200) == [Outcome.DELIVERED.value, "one-old", "one-new"]  # each in turn
    assert deliver(mt_settings, T2.id, 200) == [Outcome.DELIVERED.value, "two"]
    assert deliver(mt_settings, "removed-tenant", 200) == [Outcome.RETRY.value]  # nothing signed, nothing sent
    off = Settings.from_env({"LOADBALANCER_SECRET": "lb-secret"})
    assert deliver(off, T1.id, 200) == [Outcome.DELIVERED.value, "lb-secret"]  # multitenancy off: the LB's


def _verifies(token: str, secret: str) -> bool:
    import jwt

    try:
        jwt.decode(token, secret, algorithms=["HS256", "HS512"])
    except jwt.InvalidSignatureError:
        return False
    return True
