"""Per-tenant limits through the real API handler over moto (DynamoStore and its tenant index) and a simulated BBB
server: `tenantLimitReached` on create and join, a running meeting's create still answered, another tenant
unaffected; and the store's usage count, the fake's and DynamoDB's alike."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from bbbsim import BBBSimulator
from scalelite_common.config import DEFAULT_TENANT
from scalelite_common.domain.entities import Meeting
from scalelite_common.domain.tenants import Tenant
from tests.fakes.store import InMemoryStore
from tests.helpers import sign
from tests.integration.api_support import Reply, call_api, register
from tests.integration.conftest import fresh_settings

pytestmark = pytest.mark.usefixtures("aws")

URL_HOST = "lb.example.com"
LIMITED = Tenant(id="0f5c7a52-0000-4000-8000-00000000000a", name="small", secrets=("small-secret",), max_meetings=1)
CROWDED = Tenant(id="0f5c7a52-0000-4000-8000-00000000000b", name="crowd", secrets=("crowd-secret",), max_attendees=1)
FREE = Tenant(id="0f5c7a52-0000-4000-8000-00000000000c", name="free", secrets=("free-secret",))


@pytest.fixture
def tenancy(env: pytest.MonkeyPatch, store: Any) -> Any:
    env.setenv("MULTITENANCY_ENABLED", "true")
    env.setenv("URL_HOST", URL_HOST)
    fresh_settings()
    for tenant in (LIMITED, CROWDED, FREE):
        store.add_tenant(tenant)
    return store


def on(tenant: Tenant, call: str, params: dict[str, str]) -> Reply:
    query = sign(call, urlencode(params), secret=tenant.secrets[0])
    return call_api("GET", f"/bigbluebutton/api/{call}", query, headers={"host": f"{tenant.name}.{URL_HOST}"})


def _failed(reply: Reply) -> tuple[str, str]:
    return reply.text("returncode"), reply.text("messageKey")


def test_create_beyond_max_meetings_answers_tenant_limit_reached(tenancy: Any, sims: list[BBBSimulator]) -> None:
    register(tenancy, sims[0], "a")
    assert on(LIMITED, "create", {"meetingID": "m1", "name": "One"}).text("returncode") == "SUCCESS"
    refused = on(LIMITED, "create", {"meetingID": "m2", "name": "Two"})
    assert (refused.status, *_failed(refused)) == (200, "FAILED", "tenantLimitReached")
    assert refused.text("message") == "The tenant has reached its maximum of 1 concurrent meetings."
    assert len(sims[0].calls("create")) == 1 and tenancy.get_meeting(LIMITED.id, "m2") is None
    # The meeting it runs is not a new one; another tenant is not limited by it.
    assert on(LIMITED, "create", {"meetingID": "m1", "name": "One"}).text("returncode") == "SUCCESS"
    assert on(FREE, "create", {"meetingID": "m2", "name": "Two"}).text("returncode") == "SUCCESS"
    assert on(FREE, "create", {"meetingID": "m3", "name": "Three"}).text("returncode") == "SUCCESS"


def test_join_beyond_max_attendees_answers_tenant_limit_reached(tenancy: Any, sims: list[BBBSimulator]) -> None:
    register(tenancy, sims[0], "a")
    assert on(CROWDED, "create", {"meetingID": "c1", "name": "C"}).text("returncode") == "SUCCESS"
    join = {"meetingID": "c1", "fullName": "U", "role": "VIEWER"}
    first = on(CROWDED, "join", join)
    assert first.status == 302, first.body
    refused = on(CROWDED, "join", join)
    assert _failed(refused) == ("FAILED", "tenantLimitReached"), refused.body
    assert refused.text("message") == "The tenant has reached its maximum of 1 concurrent attendees."
    meeting = tenancy.get_meeting(CROWDED.id, "c1")
    assert meeting is not None and meeting.joins == 1  # the refused join was not counted
    # A new meeting of the full tenant is refused too; another tenant's joins are not limited.
    assert _failed(on(CROWDED, "create", {"meetingID": "c2", "name": "C2"})) == ("FAILED", "tenantLimitReached")
    on(FREE, "create", {"meetingID": "f1", "name": "F"})
    assert [on(FREE, "join", {**join, "meetingID": "f1"}).status for _ in range(3)] == [302, 302, 302]


# ------------------------------------------------------------------------------------------ the store's count
@pytest.fixture(params=["memory", "dynamodb"])
def any_store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemoryStore()
    else:
        yield request.getfixturevalue("store")


def _place(store: Any, tenant_id: str, meeting_id: str, *, expires_in: int = 3600) -> Meeting:
    from scalelite_common.domain.entities import Server, ServerState

    if store.get_server("a") is None:
        store.add_server(
            Server(id="a", url="https://a.example/api/", secret="s", state=ServerState.ENABLED, online=True, load=0.0)
        )
    server = store.get_server("a")
    now = int(time.time())
    meeting = Meeting(tenant_id, meeting_id, "a", created_at=now, expires_at=now + expires_in)
    store.place_meeting(meeting, server, now=now, exact=False)
    return meeting


def test_tenant_usage_counts_live_meetings_and_attendees(any_store: Any) -> None:
    now = time.time()
    one = _place(any_store, "t1", "m1")
    _place(any_store, "t1", "m2")
    _place(any_store, "t1", "old", expires_in=-10)  # expired: not counted
    _place(any_store, "t2", "x")
    _place(any_store, DEFAULT_TENANT, "d")  # not in the (sparse) tenant index
    for _ in range(3):
        any_store.count_join("t1", "m1", now=now)
    any_store.count_join("t1", "m2", now=now)
    usage = any_store.tenant_usage("t1", now=now)
    assert (usage.meetings, usage.attendees) == (2, 4)
    assert any_store.tenant_usage("t1", now=now, exclude_meeting_id="m1").meetings == 1
    # The poller saw 1 user on m1 after its 3 joins; one more join since.
    assert any_store.record_attendance(one, 1, 3)
    any_store.count_join("t1", "m1", now=now)
    assert any_store.tenant_usage("t1", now=now).attendees == 1 + 1 + 1
    stored = any_store.get_meeting("t1", "m1")
    assert (stored.participants, stored.polled_joins, stored.joins) == (1, 3, 4)
    assert any_store.tenant_usage("t2", now=now).meetings == 1
    assert any_store.tenant_usage("nobody", now=now).meetings == 0
    assert any_store.tenant_usage(DEFAULT_TENANT, now=now).meetings == 0  # never asked: no limits without tenants
    # A mapping gone or moved is not written.
    assert not any_store.record_attendance(Meeting("t1", "gone", "a"), 1, 0)
    assert not any_store.record_attendance(Meeting("t1", "m1", "b", created_at=one.created_at), 9, 0)
    assert not any_store.record_attendance(Meeting("t1", "m1", "a", created_at=one.created_at - 5), 9, 0)
    assert any_store.get_meeting("t1", "m1").participants == 1
