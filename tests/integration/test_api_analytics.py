"""The analytics callback relay end to end in-process: create through the real API handler (Mangum + FastAPI) over
moto and a simulated BBB server → the analytics URL BBB is handed → BBB's POST to it with its HS512 bearer token →
the message on moto's callback queue → the CallbackFunction's handler → the LMS (a loopback HTTP server) gets the
JSON with `customer` and a fresh HS512 JWT signed with the tenant's secret. Forged tokens and unknown hosts relay
nothing."""

from __future__ import annotations

import json
import time
import warnings
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from bbbsim import BBBSimulator
from scalelite_callbacks.handler import handler as callbacks_handler
from scalelite_common.domain.tenants import Tenant
from tests.conftest import TEST_SECRET, FakeLambdaContext
from tests.helpers import sign
from tests.integration.api_support import Reply, call_api, register
from tests.sink import CallbackSink
from tests.sqs_support import MotoQueue

pytestmark = pytest.mark.usefixtures("aws")

URL_HOST = "lb.example.com"
T1 = Tenant(id="0f5c7a52-0000-4000-8000-0000000000a1", name="t1", secrets=("t1-first", "t1-second"))
T2 = Tenant(id="0f5c7a52-0000-4000-8000-0000000000a2", name="t2", secrets=("t2-secret",))
PATH = "/bigbluebutton/api/analytics_callback"


class World:
    """moto's callback queue (CALLBACK_QUEUE_URL), the settings re-read, and one registered BBB simulator."""

    def __init__(self, env: pytest.MonkeyPatch, sim: BBBSimulator, *, multitenancy: bool) -> None:
        from scalelite_common.services import wiring

        self.queue = MotoQueue("CallbackQueue")
        env.setenv("CALLBACK_QUEUE_URL", self.queue.url)
        env.setenv("URL_HOST", URL_HOST)
        if multitenancy:
            env.setenv("MULTITENANCY_ENABLED", "true")
        wiring.reset_all()
        self.store = wiring.store()
        if multitenancy:
            self.store.add_tenant(T1)
            self.store.add_tenant(T2)
        self.sim = sim
        register(self.store, sim, "a")

    def create(self, host: str, secret: str, **params: str) -> dict[str, list[str]]:
        query = sign("create", urlencode({"meetingID": "room-1", "name": "Room", **params}), secret=secret)
        reply = call_api("GET", "/bigbluebutton/api/create", query, headers={"host": host})
        assert reply.text("returncode") == "SUCCESS", reply.body
        return self.sim.calls("create")[-1].params

    def messages(self) -> list[dict[str, Any]]:
        return self.queue.receive()

    def deliver(self, messages: list[dict[str, Any]]) -> list[str]:
        """The CallbackFunction's handler over an AWS-shaped SQS event of `messages`; the failed message ids."""
        result = callbacks_handler(self.queue.event(messages), FakeLambdaContext(remaining_ms=30_000))
        return [item["itemIdentifier"] for item in result["batchItemFailures"]]


def bbb_token(secret: str, exp_in: int = 86_400) -> str:
    """What BBB's post_events_analytics_callback.rb sends: HS512 over `{exp}`, signed with the server's secret."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode({"exp": int(time.time()) + exp_in}, secret, algorithm="HS512")


def analytics_body(meeting_id: str = "room-1") -> dict[str, Any]:
    return {"version": "1.0", "meeting_id": meeting_id, "internal_meeting_id": "int-1", "data": {"duration": 42}}


def post_analytics(host: str, token: str, body: dict[str, Any] | None = None) -> Reply:
    data = json.dumps(body or analytics_body())
    headers = {"host": host, "authorization": f"Bearer {token}", "content-type": "application/json"}
    return call_api("POST", PATH, body=data, headers=headers)


def lms_claims(request_headers: dict[str, str], secret: str) -> dict[str, Any]:
    scheme, _, token = request_headers["authorization"].partition(" ")
    assert scheme == "Bearer" and jwt.get_unverified_header(token)["alg"] == "HS512"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        claims: dict[str, Any] = jwt.decode(token, secret, algorithms=["HS512"], options={"require": ["exp"]})
    return claims


# ------------------------------------------------------------------------------------------------- end to end
def test_relayed_end_to_end_on_the_tenants_host(env: pytest.MonkeyPatch, sims: list[BBBSimulator]) -> None:
    world = World(env, sims[0], multitenancy=True)
    with CallbackSink(200) as sink:
        lms = f"http://127.0.0.1:{sink.port}/lms/analytics?token=lms-token"
        forwarded = world.create(
            "t1.lb.example.com",
            "t1-second",
            **{"meta_analytics-callback-url": lms, "meta_endCallbackUrl": "https://lms.example.com/ended?x=1"},
        )
        # BBB gets ours, on the tenant's host; the end callback passes through untouched.
        assert forwarded["meta_analytics-callback-url"] == [f"https://t1.{URL_HOST}{PATH}"]
        assert forwarded["meta_endCallbackUrl"] == ["https://lms.example.com/ended?x=1"]

        reply = post_analytics("t1.lb.example.com", bbb_token(sims[0].secret))
        assert (reply.status, reply.body) == (204, "")
        (queued,) = world.messages()
        body = json.loads(queued["Body"])
        assert (body["kind"], body["url"], body["tenant_id"], body["meeting_id"]) == ("analytics", lms, T1.id, "room-1")

        assert world.deliver([queued]) == []
        (request,) = sink.wait(1)
    assert request.method == "POST" and request.path == "/lms/analytics?token=lms-token"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {**analytics_body(), "customer": "t1"}
    claims = lms_claims(request.headers, T1.secrets[0])  # the tenant's first secret, answered 200 at once
    assert set(claims) == {"exp"} and claims["exp"] > time.time() + 86_000


def test_without_multitenancy_customer_is_scalelite_and_the_lb_secret_signs(
    env: pytest.MonkeyPatch, sims: list[BBBSimulator]
) -> None:
    world = World(env, sims[0], multitenancy=False)
    with CallbackSink(200) as sink:
        forwarded = world.create(
            URL_HOST, TEST_SECRET, **{"meta_analytics-callback-url": f"http://127.0.0.1:{sink.port}/an"}
        )
        assert forwarded["meta_analytics-callback-url"] == [f"https://{URL_HOST}{PATH}"]
        assert post_analytics(URL_HOST, bbb_token(sims[0].secret)).status == 204
        assert world.deliver(world.messages()) == []
        (request,) = sink.wait(1)
    assert json.loads(request.body)["customer"] == "scalelite"
    lms_claims(request.headers, TEST_SECRET)


# ---------------------------------------------------------------------------------------------- refused
@pytest.mark.parametrize(
    "token",
    [
        "forged",  # signed with a secret no server has
        "expired",  # signed by the server, expired beyond the leeway
        "tenant",  # signed with the tenant's (LMS's) secret, not the server's
    ],
)
def test_a_forged_or_expired_token_is_refused_and_nothing_is_queued(
    env: pytest.MonkeyPatch, sims: list[BBBSimulator], token: str
) -> None:
    world = World(env, sims[0], multitenancy=True)
    world.create("t1.lb.example.com", "t1-first", **{"meta_analytics-callback-url": "https://lms.example.com/an"})
    jwt_token = {
        "forged": bbb_token("not-a-server-secret"),
        "expired": bbb_token(sims[0].secret, exp_in=-120),
        "tenant": bbb_token("t1-first"),
    }[token]
    reply = post_analytics("t1.lb.example.com", jwt_token)
    # 204 as Scalelite (issue 12), the reason in a header; the token is never echoed.
    assert reply.status == 204 and reply.body == ""
    reason = reply.headers.get("x-analytics-refused", "")
    unsigned = "The token is not signed by a registered BBB server"
    assert reason == ("The token has expired" if token == "expired" else unsigned)
    assert jwt_token not in reason
    assert world.messages() == []


@pytest.mark.parametrize("host", ["t9.lb.example.com", URL_HOST, "192.0.2.7"])
def test_a_host_naming_no_tenant_answers_checksum_error(
    env: pytest.MonkeyPatch, sims: list[BBBSimulator], host: str
) -> None:
    world = World(env, sims[0], multitenancy=True)
    world.create("t1.lb.example.com", "t1-first", **{"meta_analytics-callback-url": "https://lms.example.com/an"})
    reply = post_analytics(host, bbb_token(sims[0].secret))
    assert reply.status == 200
    assert (reply.text("returncode"), reply.text("messageKey")) == ("FAILED", "checksumError")
    assert world.messages() == []


def test_another_tenants_host_relays_nothing(env: pytest.MonkeyPatch, sims: list[BBBSimulator]) -> None:
    world = World(env, sims[0], multitenancy=True)
    world.create("t1.lb.example.com", "t1-first", **{"meta_analytics-callback-url": "https://lms.example.com/an"})
    assert post_analytics("t2.lb.example.com", bbb_token(sims[0].secret)).status == 204
    assert world.messages() == []


def test_a_get_is_not_the_relay(env: pytest.MonkeyPatch, sims: list[BBBSimulator]) -> None:
    World(env, sims[0], multitenancy=False)
    reply = call_api("GET", PATH, headers={"authorization": f"Bearer {bbb_token(sims[0].secret)}"})
    assert reply.text("messageKey") == "unsupportedRequest"
