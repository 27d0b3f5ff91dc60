"""CallbackDelivery over fakes: the recording-ready callback as Scalelite sends it (secrets in turn, 2xx delivers,
404/410 give up, anything else tries the next secret), and the queue batch (failed messages retried after their
delay)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

import jwt
import pytest

from scalelite_common.config import Settings
from scalelite_common.services.callbacks import CallbackDelivery, Outcome, QueuedMessage
from tests.fakes.http import Answer, FakePoster, FakeRetryQueue

URL = "https://lms.example.com/bigbluebutton/recording_ready?token=lms-token-123"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:CallbackQueue"
SECRETS = ("secret-one", "secret-two", "secret-three")


def settings(**env: str) -> Settings:
    base = {"LOADBALANCER_SECRET": SECRETS[0], "LOADBALANCER_SECRETS": ":".join(SECRETS[1:])}
    return Settings.from_env({**base, **env})


def message(**changes: Any) -> str:
    body = {"kind": "recording_ready", "url": URL, "tenant_id": "default", "meeting_id": "room 1", "record_id": "r-1"}
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not None})


def queued(message_id: str, body: str, receive_count: int = 1) -> QueuedMessage:
    return QueuedMessage(message_id, body, f"receipt-{message_id}", receive_count, QUEUE_ARN)


def signed_with(fields: Mapping[str, str]) -> str:
    """The secret that signed the POSTed JWT (verifying with each in turn)."""
    for secret in SECRETS:
        try:
            jwt.decode(fields["signed_parameters"], secret, algorithms=["HS256", "HS512"])
        except jwt.InvalidSignatureError:
            continue
        return secret
    raise AssertionError("signed with none of the secrets")


# --------------------------------------------------------------------------------------------- one message
def test_delivered_on_the_first_2xx_with_the_jwt_scalelite_sends() -> None:
    poster = FakePoster(204)
    assert CallbackDelivery(poster, settings()).deliver(message()) is Outcome.DELIVERED
    (post,) = poster.posts
    assert post.url == URL  # as the LMS gave it, query included
    assert set(post.fields) == {"signed_parameters"}
    token = post.fields["signed_parameters"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    payload = jwt.decode(token, SECRETS[0], algorithms=["HS256"])
    assert payload == {"meeting_id": "room 1", "record_id": "r-1"}  # exactly: no exp, no iat


def test_each_secret_in_turn_until_a_2xx() -> None:
    poster = FakePoster(500, 401, 200)
    assert CallbackDelivery(poster, settings()).deliver(message()) is Outcome.DELIVERED
    assert [signed_with(p.fields) for p in poster.posts] == list(SECRETS)


@pytest.mark.parametrize("status", [404, 410])
def test_404_and_410_give_up_at_once(status: int) -> None:
    poster = FakePoster(status, 200)
    assert CallbackDelivery(poster, settings()).deliver(message()) is Outcome.GAVE_UP
    assert len(poster.posts) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 400, 401, 403, 301, 302, 307, 100])
def test_other_statuses_try_every_secret_then_retry(status: int) -> None:
    poster = FakePoster(status)
    assert CallbackDelivery(poster, settings()).deliver(message()) is Outcome.RETRY
    assert [signed_with(p.fields) for p in poster.posts] == list(SECRETS)


def test_a_later_secret_can_still_give_up() -> None:
    poster = FakePoster(500, 410, 200)
    assert CallbackDelivery(poster, settings()).deliver(message()) is Outcome.GAVE_UP
    assert len(poster.posts) == 2


@pytest.mark.parametrize("error", [ConnectionError("connection refused"), TimeoutError(), OSError("reset")])
def test_no_answer_retries_without_trying_the_other_secrets(error: BaseException) -> None:
    poster = FakePoster(error, 200)
    assert CallbackDelivery(poster, settings()).deliver(message()) is Outcome.RETRY
    assert len(poster.posts) == 1


@pytest.mark.parametrize(
    ("algorithms", "expected"),
    [
        ("SHA1:SHA256:SHA384:SHA512", "HS256"),
        ("SHA256", "HS256"),
        ("SHA256:SHA512", "HS256"),
        ("SHA512", "HS512"),
        ("SHA1:SHA512", "HS512"),
        ("SHA384:SHA512", "HS512"),
        ("SHA1", "HS256"),
        ("SHA1:SHA384", "HS256"),
    ],
)
def test_hs512_only_when_sha512_is_accepted_and_sha256_is_not(algorithms: str, expected: str) -> None:
    poster = FakePoster(200)
    delivery = CallbackDelivery(poster, settings(LOADBALANCER_CHECKSUM_ALGORITHM=algorithms))
    assert delivery.algorithm == expected
    assert delivery.deliver(message()) is Outcome.DELIVERED
    token = poster.posts[0].fields["signed_parameters"]
    assert jwt.get_unverified_header(token)["alg"] == expected
    assert jwt.decode(token, SECRETS[0], algorithms=[expected]) == {"meeting_id": "room 1", "record_id": "r-1"}


def test_a_decoded_message_is_accepted_too() -> None:
    poster = FakePoster(200)
    assert CallbackDelivery(poster, settings()).deliver(json.loads(message())) is Outcome.DELIVERED


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        json.dumps({"kind": "analytics", "url": URL}),
        message(kind=None),
        message(url=None),
        message(url=""),
        message(meeting_id=None),
        message(record_id=""),
        message(record_id=7),
        message(url="ftp://lms.example.com/ready"),
        message(url="javascript:alert(1)"),
        message(url="/relative/path"),
        message(url="http://lms.example.com:notaport/x"),
        message(url="https:///no-host"),
    ],
)
def test_messages_that_can_never_be_delivered_are_dropped(body: str) -> None:
    poster = FakePoster(200)
    assert CallbackDelivery(poster, settings()).deliver(body) is Outcome.GAVE_UP
    assert poster.posts == []


def test_without_a_secret_nothing_is_sent_and_it_is_retried() -> None:
    poster = FakePoster(200)
    assert CallbackDelivery(poster, Settings.from_env({})).deliver(message()) is Outcome.RETRY
    assert poster.posts == []


def test_neither_the_jwt_nor_a_secret_nor_the_query_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    for answers in ((200,), (404,), (500,), (ConnectionError("connection refused"),)):
        caplog.clear()
        poster = FakePoster(*answers)
        CallbackDelivery(poster, settings()).deliver(message())
        tokens = [p.fields["signed_parameters"] for p in poster.posts]
        logged = "\n".join(repr(vars(record)) for record in caplog.records)  # the message and every key
        assert "r-1" in logged and "lms.example.com/bigbluebutton/recording_ready" in logged
        for secret in (*SECRETS, *tokens, "lms-token-123"):
            assert secret not in logged


# ------------------------------------------------------------------------------------------------ a batch
def test_batch_reports_only_the_retries_and_delays_them_by_receive_count() -> None:
    def pick(url: str, fields: Mapping[str, str]) -> Answer:
        record = jwt.decode(fields["signed_parameters"], options={"verify_signature": False})["record_id"]
        return {"ok": 200, "gone": 410}.get(record, 503)

    poster, queue = FakePoster(pick=pick), FakeRetryQueue()
    delivery = CallbackDelivery(poster, settings(CALLBACK_RETRY_DELAYS="30,120,600,1800,3600"), queue)
    batch = [
        queued("m1", message(record_id="ok")),
        queued("m2", message(record_id="down"), receive_count=1),
        queued("m3", message(record_id="gone")),
        queued("m4", message(record_id="down"), receive_count=2),
        queued("m5", "junk"),
        queued("m6", message(record_id="down"), receive_count=5),
        queued("m7", message(record_id="down"), receive_count=6),  # past the list: the last delay again
    ]
    assert delivery.process(batch, time_left=60) == ["m2", "m4", "m6", "m7"]
    assert sorted(queue.calls) == [
        (QUEUE_ARN, "receipt-m2", 30),
        (QUEUE_ARN, "receipt-m4", 120),
        (QUEUE_ARN, "receipt-m6", 3600),
        (QUEUE_ARN, "receipt-m7", 3600),
    ]


def test_retry_delays_in_turn() -> None:
    delivery = CallbackDelivery(FakePoster(), settings(CALLBACK_RETRY_DELAYS="1,5,9"))
    assert [delivery.retry_delay(n) for n in (0, 1, 2, 3, 4, 10)] == [1, 1, 5, 9, 9, 9]
    assert CallbackDelivery(FakePoster(), settings()).settings.callback_retry_delays == (30, 120, 600, 1800, 3600)


def test_a_failing_visibility_change_still_reports_the_failure() -> None:
    delivery = CallbackDelivery(FakePoster(500), settings(), FakeRetryQueue(fail=RuntimeError("sqs down")))
    assert delivery.process([queued("m1", message())], time_left=60) == ["m1"]


def test_a_crashing_delivery_is_retried() -> None:
    delivery = CallbackDelivery(FakePoster(RuntimeError("bug")), settings(), queue := FakeRetryQueue())
    assert delivery.process([queued("m1", message())], time_left=60) == ["m1"]
    assert queue.calls == [(QUEUE_ARN, "receipt-m1", 30)]


def test_deliveries_still_running_at_the_deadline_are_retried() -> None:
    release = threading.Event()

    def pick(url: str, fields: Mapping[str, str]) -> Answer:
        record = jwt.decode(fields["signed_parameters"], options={"verify_signature": False})["record_id"]
        if record == "slow":
            release.wait(10)
        return 200

    queue = FakeRetryQueue()
    delivery = CallbackDelivery(FakePoster(pick=pick), settings(), queue)
    try:
        failed = delivery.process(
            [queued("fast", message(record_id="fast")), queued("slow", message(record_id="slow"))], time_left=0
        )
    finally:
        release.set()
    assert failed == ["slow"]
    assert queue.calls == [(QUEUE_ARN, "receipt-slow", 30)]


def test_batch_deliveries_run_concurrently() -> None:
    started = threading.Barrier(5, timeout=5)

    def pick(url: str, fields: Mapping[str, str]) -> Answer:
        started.wait()  # all five at once, or BrokenBarrierError → retried
        return 200

    delivery = CallbackDelivery(FakePoster(pick=pick), settings(), FakeRetryQueue())
    assert delivery.process([queued(f"m{i}", message(record_id=f"r{i}")) for i in range(5)], time_left=30) == []
