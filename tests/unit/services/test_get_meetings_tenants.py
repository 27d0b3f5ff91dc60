"""getMeetings and the `tenant-id` metadata over the fakes (issue 12), as Scalelite (scalelite-behaviour.md §1.2):
a request without a tenant (multitenancy off) lists the meetings that carry no `tenant-id`; with multitenancy on, a
tenant sees only the meetings whose `tenant-id` is its id and a host naming no tenant sees none."""

from __future__ import annotations

import pytest

from scalelite_common.config import Settings
from scalelite_common.domain.tenants import Tenant
from scalelite_common.services import context
from scalelite_common.services.context import RequestContext
from scalelite_common.services.meetings import CreateRequest, MeetingService
from scalelite_common.services.tenants import TenantDirectory
from tests.fakes.bbb import FakeBBB, FakeMeeting
from tests.fakes.store import InMemoryStore
from tests.unit.services.conftest import add_server

URL_HOST = "lb.example.com"
T1 = Tenant(id="id-t1", name="t1", secrets=("one",))
T2 = Tenant(id="id-t2", name="t2", secrets=("two",))


@pytest.fixture
def pool(store: InMemoryStore, bbb: FakeBBB, settings: Settings) -> InMemoryStore:
    """Two servers; with multitenancy off an LMS created `lms-room` sending its own `meta_tenant-id` (T1's id) and
    `plain` without one; T2's `t2-room` still runs on BBB from before multitenancy was switched off."""
    a, b = add_server(store, "a"), add_server(store, "b", load=50.0)
    store.add_tenant(T1)
    store.add_tenant(T2)
    off = MeetingService(store, bbb, settings)
    ctx = context.resolve(settings)
    for meeting_id, params in (("lms-room", [("meta_tenant-id", T1.id)]), ("plain", [])):
        off.create(CreateRequest(ctx=ctx, params=[("meetingID", meeting_id), *params]))
    placed = {m: store.get_meeting("default", m) for m in ("lms-room", "plain")}
    assert {m.server_id for m in placed.values() if m is not None} == {"a"}
    assert bbb.server(a.url).meetings["lms-room"].metadata == {"tenant-id": T1.id}  # passed through as sent
    bbb.server(b.url).meetings["t2-room"] = FakeMeeting("t2-room", "pw", metadata={"tenant-id": T2.id})
    return store


def _listed(service: MeetingService, ctx: RequestContext) -> list[str]:
    return sorted(str(e.findtext("meetingID")) for e in service.get_meetings(ctx))


def test_without_multitenancy_meetings_carrying_a_tenant_id_are_not_listed(
    pool: InMemoryStore, bbb: FakeBBB, settings: Settings, ctx: RequestContext
) -> None:
    assert not settings.multitenancy_enabled
    assert _listed(MeetingService(pool, bbb, settings), ctx) == ["plain"]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("t1.lb.example.com", ["lms-room"]),  # its id is the meeting's `tenant-id`
        ("t2.lb.example.com", ["t2-room"]),
        ("t9.lb.example.com", []),  # unknown tenant
        (URL_HOST, []),  # the bare URL_HOST names no tenant
    ],
)
def test_with_multitenancy_a_tenant_sees_only_the_meetings_carrying_its_id(
    pool: InMemoryStore, bbb: FakeBBB, host: str, expected: list[str]
) -> None:
    mt = Settings.from_env({"LOADBALANCER_SECRET": "lb-secret", "URL_HOST": URL_HOST, "MULTITENANCY_ENABLED": "true"})
    ctx = context.resolve(mt, host, "https", tenants=TenantDirectory(pool))
    assert _listed(MeetingService(pool, bbb, mt), ctx) == expected
