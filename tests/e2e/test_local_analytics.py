"""The analytics callback relay through the local stack, over HTTP: create through the edge with the LMS's
`meta_analytics-callback-url` → the simulated BBB server is handed our relay URL instead → BBB's POST to it (its JSON,
`Authorization: Bearer <HS512 JWT signed with the server's secret>`) answers 204 → the message on the stack's
callback queue → the CallbackFunction, run by the stack's SQS event source → the LMS (a CallbackSink) gets the JSON
with `customer` and a fresh HS512 JWT signed with the load balancer's secret (a tenant's, on a tenant's host). A
forged or expired token is answered 204 (as Scalelite; the reason in `X-Analytics-Refused`) and relays nothing.

The e2e stack has no URL_HOST (without it the relay URL is left out of create), so each test sets URL_HOST (and
MULTITENANCY_ENABLED for the tenant case) in the functions' environment, which is this process's, as the stack itself
configures them, and restores it afterwards."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import pytest
from defusedxml import ElementTree
from jwt.warnings import InsecureKeyLengthWarning

from bbbsim import BBBSimulator
from scalelite_common.services import wiring
from scalelite_local.scheduler import QueuePoller
from scalelite_local.stack import LocalStack
from tests import raw_http
from tests.e2e.conftest import E2E_SECRET, sqs_client
from tests.helpers import eventually, sign
from tests.raw_http import Answer
from tests.sink import CallbackSink, Received

pytestmark = pytest.mark.e2e

URL_HOST = "lb.example.test"
RELAY_PATH = "/bigbluebutton/api/analytics_callback"
ANALYTICS_PARAM = "meta_analytics-callback-url"  # BBB's name (bbb-api.md §4.3)
TENANT = "acme"
TENANT_SECRETS = ("acme-first-secret", "acme-second-secret")
LMS_PATH = "/lms/analytics?token=lms-token"
SETTLE = 1.0  # seconds the event source gets to pick up anything queued (it polls every 0.2 s here)


# ------------------------------------------------------------------------------------------------------ helpers
def send(stack: LocalStack, method: str, target: str, *, host: str, body: bytes = b"", **headers: str) -> Answer:
    """One HTTP request to the stack's edge (CloudFront in front of the gateway) as if `host` resolved to it."""
    port = urlsplit(stack.gateway_url).port or 80
    return raw_http.send(port, method, target, [("Host", host), *headers.items()], body)


def create(stack: LocalStack, meeting_id: str, lms_url: str, *, host: str, secret: str) -> None:
    query = sign(
        "create",
        urlencode({"meetingID": meeting_id, "name": meeting_id, ANALYTICS_PARAM: lms_url}),
        secret=secret,
    )
    reply = send(stack, "GET", f"/bigbluebutton/api/create?{query}", host=host)
    assert reply.status == 200, reply.body
    assert ElementTree.fromstring(reply.body).findtext("returncode") == "SUCCESS", reply.body


def hosting(stack: LocalStack, meeting_id: str) -> tuple[BBBSimulator, dict[str, list[str]]]:
    """The simulated server that got the meeting's create, and the parameters it got."""
    found = [
        (sim, call.params)
        for sim in stack.simulators
        for call in sim.calls("create")
        if call.params.get("meetingID") == [meeting_id]
    ]
    assert len(found) == 1, f"{len(found)} creates of {meeting_id} reached BBB"
    return found[0]


def bbb_token(secret: str, exp_in: int = 86_400) -> str:
    """What BBB's post_events_analytics_callback.rb sends: HS512 over `{exp}`, signed with the server's secret."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode({"exp": int(time.time()) + exp_in}, secret, algorithm="HS512")


def analytics_json(meeting_id: str) -> dict[str, Any]:
    return {
        "version": "1.0",
        "meeting_id": meeting_id,
        "internal_meeting_id": f"{meeting_id}-internal",
        "data": {"duration": 42, "attendees": [{"ext_user_id": "u1", "engagement": {"chats": 2}}]},
    }


def post_analytics(stack: LocalStack, relay_url: str, token: str, payload: dict[str, Any]) -> Answer:
    """BBB's POST to the relay URL it was handed at create (its host pointed at the local edge)."""
    relay = urlsplit(relay_url)
    return send(
        stack,
        "POST",
        relay.path,
        host=relay.netloc,
        body=json.dumps(payload).encode(),
        **{
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "User-Agent": "BigBlueButton Analytics Callback",
        },
    )


def lms_claims(request: Received, secret: str) -> dict[str, Any]:
    scheme, _, token = request.headers["authorization"].partition(" ")
    assert scheme == "Bearer" and jwt.get_unverified_header(token)["alg"] == "HS512"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        claims: dict[str, Any] = jwt.decode(token, secret, algorithms=["HS512"], options={"require": ["exp"]})
    return claims


def signed_by(request: Received, secret: str) -> bool:
    try:
        lms_claims(request, secret)
    except jwt.InvalidSignatureError:
        return False
    return True


class Queue:
    """The stack's callback queue and the CallbackFunction's SQS event source."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.poller: QueuePoller = stack.queue_pollers["CallbackFunction"]
        self.sqs: Any = sqs_client(stack)

    def counts(self, name: str = "CallbackQueue") -> tuple[int, int]:
        """(visible, in flight) messages."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.stack.template.queue_urls[name],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def purge(self) -> None:
        for name in ("CallbackQueue", "CallbackDeadLetterQueue"):
            self.sqs.purge_queue(QueueUrl=self.stack.template.queue_urls[name])

    def drain(self) -> None:
        """Drive the event source until the queue is empty and no batch runs (it also polls on its own)."""
        self.poller.poll()
        eventually(lambda: self.counts() == (0, 0) and self.poller.idle(), what="callback queue drained")


@pytest.fixture
def queue(stack: LocalStack) -> Iterator[Queue]:
    q = Queue(stack)
    q.purge()
    yield q
    q.purge()
    q.sqs.close()


@contextlib.contextmanager
def functions_env(**values: str) -> Iterator[None]:
    """The functions' environment (this process's) with `values`, settings and services re-read; restored after."""
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in values.items():
                patch.setenv(name, value)
            wiring.reset_all()
            yield
    finally:
        wiring.reset_all()


@pytest.fixture
def single(stack: LocalStack) -> Iterator[list[str]]:
    """URL_HOST set, multitenancy off; the meetingIDs the test appends are ended afterwards."""
    meetings: list[str] = []
    with functions_env(URL_HOST=URL_HOST, MULTITENANCY_ENABLED="false"):
        yield meetings
        if meetings:
            stack.admin("meetings.end", meeting_ids=meetings)


@pytest.fixture
def tenant(stack: LocalStack) -> Iterator[dict[str, Any]]:
    """Multitenancy on with one tenant; removed afterwards (its meetings ended)."""
    with functions_env(URL_HOST=URL_HOST, MULTITENANCY_ENABLED="true"):
        added: dict[str, Any] = stack.admin("tenants.add", name=TENANT, secrets=":".join(TENANT_SECRETS))
        try:
            yield added
        finally:
            stack.admin("tenants.remove", id=added["id"], force=True)


def nothing_relayed(queue: Queue, sink: CallbackSink, batches_before: int) -> None:
    """The event source, driven and given time, found nothing: no batch ran and the LMS got nothing."""
    queue.drain()
    time.sleep(SETTLE)
    assert queue.poller.batches == batches_before
    assert queue.counts() == (0, 0)
    assert sink.requests == []


# -------------------------------------------------------------------------------------------------------- tests
def test_relayed_to_the_lms_signed_with_the_load_balancer_secret(
    stack: LocalStack, queue: Queue, single: list[str]
) -> None:
    meeting_id = "analytics-e2e-1"
    with CallbackSink(200) as sink:
        lms_url = f"http://127.0.0.1:{sink.port}{LMS_PATH}"
        create(stack, meeting_id, lms_url, host=URL_HOST, secret=E2E_SECRET)
        single.append(meeting_id)
        sim, params = hosting(stack, meeting_id)
        # BBB is handed our relay URL, built from URL_HOST; the LMS's URL never reaches it.
        relay_url = f"https://{URL_HOST}{RELAY_PATH}"
        assert params[ANALYTICS_PARAM] == [relay_url]
        assert all(lms_url not in values for values in params.values())

        batches = queue.poller.batches
        payload = analytics_json(meeting_id)
        reply = post_analytics(stack, relay_url, bbb_token(sim.secret), payload)
        assert (reply.status, reply.body) == (204, b"")
        queue.drain()
        (request,) = sink.wait(1)
        time.sleep(SETTLE)
        assert len(sink.requests) == 1  # delivered once
    assert queue.poller.batches > batches
    assert queue.counts("CallbackDeadLetterQueue") == (0, 0)
    assert (request.method, request.path) == ("POST", LMS_PATH)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "BigBlueButton Analytics Callback"
    assert json.loads(request.body) == {**payload, "customer": "scalelite"}
    claims = lms_claims(request, E2E_SECRET)  # a fresh token, signed with the load balancer's secret
    assert set(claims) == {"exp"}
    assert time.time() + 86_400 - 120 < claims["exp"] <= time.time() + 86_400 + 5
    assert not signed_by(request, sim.secret)  # not BBB's token passed on


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda sim: bbb_token("not-a-registered-server-secret"), id="forged"),
        pytest.param(lambda sim: bbb_token(E2E_SECRET), id="load-balancer-secret"),
        pytest.param(lambda sim: bbb_token(sim.secret, exp_in=-120), id="expired-beyond-leeway"),
    ],
)
def test_a_forged_or_expired_token_is_refused_and_nothing_is_relayed(
    stack: LocalStack, queue: Queue, single: list[str], token: Callable[[BBBSimulator], str]
) -> None:
    meeting_id = f"analytics-e2e-refused-{uuid.uuid4().hex[:8]}"
    with CallbackSink(200) as sink:
        create(stack, meeting_id, f"http://127.0.0.1:{sink.port}{LMS_PATH}", host=URL_HOST, secret=E2E_SECRET)
        single.append(meeting_id)
        sim, params = hosting(stack, meeting_id)
        (relay_url,) = params[ANALYTICS_PARAM]
        payload = analytics_json(meeting_id)

        batches = queue.poller.batches
        reply = post_analytics(stack, relay_url, token(sim), payload)
        assert (reply.status, reply.body) == (204, b"")  # as Scalelite (issue 12): 204, nothing relayed
        assert reply.headers["X-Analytics-Refused"] in (
            "The token is not signed by a registered BBB server",
            "The token has expired",
        )
        nothing_relayed(queue, sink, batches)

        # The same callback with BBB's real token is relayed: the refusal is what kept the LMS from getting it.
        reply = post_analytics(stack, relay_url, bbb_token(sim.secret), payload)
        assert reply.status == 204, reply.body
        queue.drain()
        (request,) = sink.wait(1)
    assert json.loads(request.body)["meeting_id"] == meeting_id


def test_on_a_tenants_host_the_tenant_is_the_customer_and_its_secret_signs(
    stack: LocalStack, queue: Queue, tenant: dict[str, Any]
) -> None:
    meeting_id = "analytics-e2e-tenant"
    tenant_host = f"{TENANT}.{URL_HOST}"
    with CallbackSink(200) as sink:
        create(stack, meeting_id, f"http://127.0.0.1:{sink.port}{LMS_PATH}", host=tenant_host, secret=TENANT_SECRETS[1])
        sim, params = hosting(stack, meeting_id)
        relay_url = f"https://{tenant_host}{RELAY_PATH}"
        assert params[ANALYTICS_PARAM] == [relay_url]
        payload = analytics_json(meeting_id)

        # The bare URL_HOST names no tenant: a checksumError, as every BBB call there, and nothing relayed.
        batches = queue.poller.batches
        refused = post_analytics(stack, f"https://{URL_HOST}{RELAY_PATH}", bbb_token(sim.secret), payload)
        assert refused.status == 200
        assert ElementTree.fromstring(refused.body).findtext("messageKey") == "checksumError"
        nothing_relayed(queue, sink, batches)

        reply = post_analytics(stack, relay_url, bbb_token(sim.secret), payload)
        assert (reply.status, reply.body) == (204, b"")
        queue.drain()
        (request,) = sink.wait(1)
    assert json.loads(request.body) == {**payload, "customer": TENANT}
    assert set(lms_claims(request, TENANT_SECRETS[0])) == {"exp"}  # the tenant's first secret got a 200 at once
    assert not signed_by(request, E2E_SECRET)
