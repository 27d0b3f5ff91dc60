"""The analytics callback relay over fakes: BBB's bearer JWT verified against the registered servers' secrets (HS512
only, exp required, 60 s leeway), the meeting found within the host's tenant, `customer` added, the payload queued;
then CallbackDelivery POSTs it as JSON with a fresh HS512 JWT signed by the tenant's secrets in turn."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest

from scalelite_common.config import Settings
from scalelite_common.domain.entities import CallbackData, Server, ServerState
from scalelite_common.domain.tenants import Tenant
from scalelite_common.services import context
from scalelite_common.services.analytics import (
    BAD_REQUEST,
    MAX_BODY,
    RELAYED,
    TOO_LARGE,
    UNAUTHORIZED,
    UNAVAILABLE,
    AnalyticsRelay,
    bearer_token,
)
from scalelite_common.services.callbacks import CallbackDelivery, Outcome
from scalelite_common.services.context import RequestContext
from scalelite_common.services.ports import AnalyticsCallback
from tests.fakes.http import FakePoster
from tests.fakes.objects import RecordingNotifier
from tests.fakes.store import InMemoryStore

LMS_URL = "https://lms.example.com/mod/bigbluebuttonbn/analytics?token=lms-token-1"
BBB_SECRETS = ("bbb-1-secret", "bbb-2-secret")
LB_SECRETS = ("lb-secret-one", "lb-secret-two")
TENANT = Tenant(id="t-acme", name="acme", secrets=("acme-one", "acme-two", "acme-three"))


def lb_settings(**env: str) -> Settings:
    base = {"LOADBALANCER_SECRET": LB_SECRETS[0], "LOADBALANCER_SECRETS": LB_SECRETS[1], "URL_HOST": "lb.example.com"}
    return Settings.from_env({**base, **env})


def mt_settings() -> Settings:
    return lb_settings(MULTITENANCY_ENABLED="true")


def tenant_ctx(settings: Settings) -> RequestContext:
    return RequestContext(tenant_id=TENANT.id, secrets=TENANT.secrets, settings=settings, tenant_name=TENANT.name)


def bbb_store(*, tenant_id: str = "default", meeting_id: str = "room-1", url: str = LMS_URL) -> InMemoryStore:
    store = InMemoryStore()
    for i, secret in enumerate(BBB_SECRETS, 1):
        store.add_server(
            Server(
                id=f"bbb-{i}",
                url=f"https://bbb-{i}.example.com/bigbluebutton/api/",
                secret=secret,
                state=ServerState.ENABLED,
            )
        )
    store.add_tenant(TENANT)
    now = int(time.time())
    store.put_callbacks(
        CallbackData(tenant_id=tenant_id, meeting_id=meeting_id, analytics_callback_url=url, expires_at=now + 3600)
    )
    return store


def bbb_token(secret: str = BBB_SECRETS[1], *, exp: float | None = None, alg: str = "HS512", **claims: Any) -> str:
    payload: dict[str, Any] = dict(claims)
    payload["exp"] = int(time.time()) + 86_400 if exp is None else int(exp)
    return jwt.encode(payload, secret, algorithm=alg, headers={"typ": "JWT"})


def analytics_body(meeting_id: str = "room-1", **extra: Any) -> bytes:
    data = {"duration": 61, "attendees": [{"ext_user_id": "u1", "name": "Zoë", "engagement": {"chats": 2}}]}
    body = {"version": "1.0", "meeting_id": meeting_id, "internal_meeting_id": "int-abc-123", "data": data, **extra}
    return json.dumps(body).encode()


def relay(store: InMemoryStore, settings: Settings, notifier: RecordingNotifier | None = None) -> AnalyticsRelay:
    return AnalyticsRelay(store, notifier if notifier is not None else RecordingNotifier(), settings)


# --------------------------------------------------------------------------------------------- inbound
def test_a_token_signed_by_any_registered_server_queues_the_payload_with_customer() -> None:
    notifier, s = RecordingNotifier(), lb_settings()
    result = relay(bbb_store(), s, notifier).relay(context.resolve(s), f"Bearer {bbb_token()}", analytics_body())
    assert (result.status, result.message) == (RELAYED, "")
    (sent,) = notifier.analytics_sent
    assert (sent.url, sent.tenant_id, sent.meeting_id) == (LMS_URL, "default", "room-1")
    assert sent.payload == {**json.loads(analytics_body()), "customer": "scalelite"}


def test_with_multitenancy_customer_is_the_tenant_name_and_the_meeting_is_the_tenants() -> None:
    notifier, s = RecordingNotifier(), mt_settings()
    store = bbb_store(tenant_id=TENANT.id)
    assert relay(store, s, notifier).relay(tenant_ctx(s), f"bearer {bbb_token()}", analytics_body()).status == RELAYED
    (sent,) = notifier.analytics_sent
    assert (sent.tenant_id, sent.payload["customer"]) == (TENANT.id, "acme")


def test_another_tenants_meeting_relays_nothing() -> None:
    notifier, s = RecordingNotifier(), mt_settings()
    store = bbb_store(tenant_id="t-other")  # the same meetingID, kept under another tenant
    assert relay(store, s, notifier).relay(tenant_ctx(s), f"Bearer {bbb_token()}", analytics_body()).status == RELAYED
    assert notifier.analytics_sent == []


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        f"Bearer {bbb_token('not-a-server-secret')}",  # forged
        f"Bearer {bbb_token(LB_SECRETS[0])}",  # the LB's secret is not a BBB server's
        f"Bearer {bbb_token(alg='HS256')}",  # wrong algorithm
        f"Bearer {bbb_token(alg='HS384')}",
        f"Bearer {jwt.encode({'exp': int(time.time()) + 60}, '', algorithm='none')}",
        f"Bearer {jwt.encode({'meeting_id': 'room-1'}, BBB_SECRETS[0], algorithm='HS512')}",  # no exp
        f"Bearer {bbb_token(exp=time.time() - 120)}",  # expired beyond the leeway
        "Bearer not.a.jwt",
        "Bearer " + "a" * 9000,
    ],
    # Tokens carry exp = now, so their text must not be the test id (pytest-xdist compares ids across workers).
    ids=[
        "none",
        "empty",
        "scheme-only",
        "basic",
        "forged",
        "lb-secret",
        "hs256",
        "hs384",
        "alg-none",
        "no-exp",
        "expired",
        "not-a-jwt",
        "too-long",
    ],
)
def test_a_token_no_server_signed_or_that_expired_relays_nothing(authorization: str | None) -> None:
    notifier, s = RecordingNotifier(), lb_settings()
    result = relay(bbb_store(), s, notifier).relay(context.resolve(s), authorization, analytics_body())
    assert result.status == UNAUTHORIZED and result.message
    assert notifier.analytics_sent == []


def test_expired_within_the_leeway_is_accepted_and_beyond_says_expired() -> None:
    notifier, s = RecordingNotifier(), lb_settings()
    service = relay(bbb_store(), s, notifier)
    ctx = context.resolve(s)
    assert service.relay(ctx, f"Bearer {bbb_token(exp=time.time() - 30)}", analytics_body()).status == RELAYED
    late = service.relay(ctx, f"Bearer {bbb_token(exp=time.time() - 90)}", analytics_body())
    assert (late.status, late.message) == (UNAUTHORIZED, "The token has expired")
    assert len(notifier.analytics_sent) == 1


def test_without_registered_servers_no_token_verifies() -> None:
    s = lb_settings()
    store = InMemoryStore()
    result = relay(store, s).relay(context.resolve(s), f"Bearer {bbb_token()}", analytics_body())
    assert result.status == UNAUTHORIZED


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'"room-1"', b"\xff\xfe", b"[" * 100_000, json.dumps({"version": "1.0"}).encode()]
    + [analytics_body(meeting_id=""), analytics_body(meeting_id="m" * 257), json.dumps({"meeting_id": 7}).encode()],
)
def test_a_body_that_is_not_bbbs_json_is_a_bad_request_never_a_crash(body: bytes) -> None:
    notifier, s = RecordingNotifier(), lb_settings()
    result = relay(bbb_store(), s, notifier).relay(context.resolve(s), f"Bearer {bbb_token()}", body)
    assert result.status == BAD_REQUEST
    assert notifier.analytics_sent == []


def test_a_body_over_the_limit_is_refused_before_the_token_is_looked_at() -> None:
    notifier, s = RecordingNotifier(), lb_settings()
    body = analytics_body(padding="x" * MAX_BODY)
    assert relay(bbb_store(), s, notifier).relay(context.resolve(s), None, body).status == TOO_LARGE
    assert notifier.analytics_sent == []


@pytest.mark.parametrize("stored", ["missing", "no analytics url", "expired"])
def test_a_meeting_without_a_stored_analytics_url_relays_nothing(stored: str) -> None:
    notifier, s = RecordingNotifier(), lb_settings()
    store = bbb_store(meeting_id="other-room") if stored == "missing" else bbb_store(url="")
    if stored == "expired":
        store = bbb_store()
        store.put_callbacks(CallbackData("default", "room-1", analytics_callback_url=LMS_URL, expires_at=1))
    assert relay(store, s, notifier).relay(context.resolve(s), f"Bearer {bbb_token()}", analytics_body()).status == 204
    assert notifier.analytics_sent == []


def test_a_queue_that_refuses_the_message_is_answered() -> None:
    s = lb_settings()
    ctx, token = context.resolve(s), f"Bearer {bbb_token()}"
    down = relay(bbb_store(), s, RecordingNotifier(fail=ConnectionError("sqs down")))
    assert down.relay(ctx, token, analytics_body()).status == UNAVAILABLE
    too_big = relay(bbb_store(), s, RecordingNotifier(fail=ValueError("the analytics message exceeds 1048576 bytes")))
    assert too_big.relay(ctx, token, analytics_body()).status == TOO_LARGE


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("  BEARER   abc ") == "abc"
    assert bearer_token("Bearer") is None
    assert bearer_token("Token abc") is None
    assert bearer_token(None) is None


# --------------------------------------------------------------------------------------------- delivery
def analytics_message(tenant_id: str = "default", url: str = LMS_URL, **payload: Any) -> str:
    callback = AnalyticsCallback(
        url=url, tenant_id=tenant_id, meeting_id="room-1", payload={"meeting_id": "room-1", "customer": "c", **payload}
    )
    return json.dumps({"kind": "analytics", **callback.__dict__})


def signer(token: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        try:
            jwt.decode(token, secret, algorithms=["HS512"])
        except jwt.InvalidSignatureError:
            continue
        return secret
    raise AssertionError("signed with none of the secrets")


def test_delivered_as_json_with_a_fresh_hs512_bearer_token() -> None:
    poster = FakePoster(200)
    before = int(time.time())
    assert CallbackDelivery(poster, lb_settings()).deliver(analytics_message(name="Zoë")) is Outcome.DELIVERED
    (post,) = poster.posts
    assert post.url == LMS_URL and post.fields == {}
    assert json.loads(post.body) == {"meeting_id": "room-1", "customer": "c", "name": "Zoë"}
    assert post.headers["User-Agent"] == "BigBlueButton Analytics Callback"
    scheme, _, token = post.headers["Authorization"].partition(" ")
    assert scheme == "Bearer" and jwt.get_unverified_header(token)["alg"] == "HS512"
    claims = jwt.decode(token, LB_SECRETS[0], algorithms=["HS512"])
    assert set(claims) == {"exp"} and before + 86_400 <= claims["exp"] <= int(time.time()) + 86_400


def test_each_lb_secret_in_turn_until_a_2xx() -> None:
    poster = FakePoster(401, 204)
    assert CallbackDelivery(poster, lb_settings()).deliver(analytics_message()) is Outcome.DELIVERED
    tokens = [p.headers["Authorization"].removeprefix("Bearer ") for p in poster.posts]
    assert [signer(t, LB_SECRETS) for t in tokens] == list(LB_SECRETS)


def test_signed_with_the_tenants_secrets_falling_back_to_the_next() -> None:
    store = bbb_store()
    poster = FakePoster(500, 403, 200)
    delivery = CallbackDelivery(poster, mt_settings(), tenants=store)
    assert delivery.deliver(analytics_message(tenant_id=TENANT.id)) is Outcome.DELIVERED
    tokens = [p.headers["Authorization"].removeprefix("Bearer ") for p in poster.posts]
    assert [signer(t, TENANT.secrets) for t in tokens] == list(TENANT.secrets)


@pytest.mark.parametrize(
    ("answers", "outcome"),
    [
        ((404,), Outcome.GAVE_UP),
        ((410,), Outcome.GAVE_UP),
        ((500,), Outcome.RETRY),
        ((ConnectionError("x"),), Outcome.RETRY),
    ],
)
def test_same_retry_rules_as_recording_ready(answers: tuple[int | BaseException, ...], outcome: Outcome) -> None:
    assert CallbackDelivery(FakePoster(*answers), lb_settings()).deliver(analytics_message()) is outcome


def test_a_removed_tenant_is_retried_and_a_malformed_message_dropped() -> None:
    poster = FakePoster(200)
    delivery = CallbackDelivery(poster, mt_settings(), tenants=InMemoryStore())
    assert delivery.deliver(analytics_message(tenant_id="t-gone")) is Outcome.RETRY
    bad = json.loads(analytics_message())
    bad["payload"] = "not an object"
    assert delivery.deliver(bad) is Outcome.GAVE_UP
    assert delivery.deliver(analytics_message(url="ftp://lms/x")) is Outcome.GAVE_UP
    assert poster.posts == []


def test_neither_token_secret_nor_url_query_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    poster = FakePoster(500)
    CallbackDelivery(poster, lb_settings()).deliver(analytics_message())
    s = lb_settings()
    relay(bbb_store(), s).relay(context.resolve(s), f"Bearer {bbb_token('forged')}", analytics_body())
    logged = "\n".join(repr(vars(record)) for record in caplog.records)  # the message and every key
    token = poster.posts[0].headers["Authorization"].removeprefix("Bearer ")
    assert "lms.example.com/mod/bigbluebuttonbn/analytics" in logged  # the place is logged
    for secret_text in (token, "lms-token-1", *LB_SECRETS, *BBB_SECRETS):
        assert secret_text not in logged
