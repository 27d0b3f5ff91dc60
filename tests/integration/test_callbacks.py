"""CallbackFunction's handler with SQS events shaped like AWS's (events/callbacks/sqs_recording_ready.json), real
messages of a moto queue (their receipt handles, receive counts and visibility), and a real HTTP server as the LMS."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from scalelite_callbacks.handler import handler
from tests.conftest import TEST_SECRET, FakeLambdaContext
from tests.helpers import load_event
from tests.sink import CallbackSink
from tests.sqs_support import MotoQueue

RECORD_ID = "183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1700000000000"


class Queue(MotoQueue):
    """The callback queue in moto, its visibility timeout and redrive (after 6 receives) as in template.yaml."""

    def __init__(self) -> None:
        dlq = MotoQueue("CallbackDeadLetterQueue")
        redrive = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 6})
        super().__init__("CallbackQueue", {"VisibilityTimeout": "360", "RedrivePolicy": redrive})

    def send(self, url: str, record_id: str = RECORD_ID, meeting_id: str = "room-1") -> None:
        body = {"kind": "recording_ready", "url": url, "tenant_id": "default", "meeting_id": meeting_id}
        self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps({**body, "record_id": record_id}))

    def visible(self) -> list[dict[str, Any]]:
        """The messages visible now (received and then made visible again at once)."""
        messages = self.receive()
        for message in messages:
            self.sqs.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return messages


@pytest.fixture
def queue(env: pytest.MonkeyPatch) -> Iterator[Queue]:
    """moto's SQS in-process (the callback function touches no table or bucket)."""
    from moto import mock_aws

    from scalelite_common.services import wiring

    env.setenv("CALLBACK_RETRY_DELAYS", "1,2,3")
    with mock_aws():
        wiring.reset_all()
        yield Queue()


def run(event: dict[str, Any]) -> list[str]:
    result = handler(event, FakeLambdaContext(remaining_ms=30_000))
    assert set(result) == {"batchItemFailures"}
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


def test_the_sample_event_is_what_the_handler_reads() -> None:
    (record,) = load_event("callbacks/sqs_recording_ready.json")["Records"]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].startswith("arn:aws:sqs:us-east-1:")
    assert hashlib.md5(record["body"].encode()).hexdigest() == record["md5OfBody"]
    body = json.loads(record["body"])
    assert set(body) == {"kind", "url", "tenant_id", "meeting_id", "record_id"} and body["kind"] == "recording_ready"


def test_delivered_to_the_lms_as_scalelite_posts_it(queue: Queue) -> None:
    with CallbackSink(200) as sink:
        queue.send(sink.url)
        assert run(queue.event(queue.receive())) == []
        (request,) = sink.wait(1)
    assert request.method == "POST" and request.path == "/bigbluebutton/recording_ready?token=lms-token"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    (token,) = request.form["signed_parameters"]
    assert set(request.form) == {"signed_parameters"}
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert jwt.decode(token, TEST_SECRET, algorithms=["HS256"]) == {"meeting_id": "room-1", "record_id": RECORD_ID}


def test_a_failed_delivery_is_reported_and_comes_back_after_its_delay(queue: Queue) -> None:
    with CallbackSink(503, 200) as sink:
        queue.send(sink.url)
        first = queue.receive()
        assert run(queue.event(first)) == [first[0]["MessageId"]]
        assert queue.receive() == []  # invisible for CALLBACK_RETRY_DELAYS[0] = 1 s (not the queue's 360 s)
        time.sleep(1.2)
        second = queue.receive()
        assert [m["MessageId"] for m in second] == [first[0]["MessageId"]]
        assert second[0]["Attributes"]["ApproximateReceiveCount"] == "2"
        assert run(queue.event(second)) == []
        assert len(sink.wait(2)) == 2


def test_the_second_receive_waits_for_the_second_delay(queue: Queue) -> None:
    with CallbackSink(500) as sink:
        queue.send(sink.url)
        first = queue.receive()
        run(queue.event(first))
        time.sleep(1.2)
        second = queue.receive()
        assert run(queue.event(second)) == [first[0]["MessageId"]]
        time.sleep(1.2)
        assert queue.receive() == []  # 2 s this time
        time.sleep(1.0)
        assert len(queue.receive()) == 1


@pytest.mark.parametrize("status", [404, 410])
def test_an_lms_that_does_not_want_it_is_given_up_on(queue: Queue, status: int) -> None:
    with CallbackSink(status) as sink:
        queue.send(sink.url)
        assert run(queue.event(queue.receive())) == []  # deleted by Lambda, never retried
        assert len(sink.wait(1)) == 1


def test_redirects_are_not_followed(queue: Queue) -> None:
    with CallbackSink(302) as sink:
        queue.send(sink.url)
        messages = queue.receive()
        assert run(queue.event(messages)) == [messages[0]["MessageId"]]
        time.sleep(0.2)
        assert [r.path for r in sink.requests] == ["/bigbluebutton/recording_ready?token=lms-token"]


def test_an_lms_that_is_down_is_retried(queue: Queue) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    queue.send(f"http://127.0.0.1:{port}/ready")
    messages = queue.receive()
    assert run(queue.event(messages)) == [messages[0]["MessageId"]]


def test_a_batch_reports_only_its_failures(queue: Queue) -> None:
    with CallbackSink(200) as ok, CallbackSink(500) as failing, CallbackSink(410) as gone:
        queue.send(ok.url, record_id="r-ok")
        queue.send(failing.url, record_id="r-fail")
        queue.send(gone.url, record_id="r-gone")
        queue.send("ftp://lms.example.com/ready", record_id="r-ftp")
        messages = queue.receive()
        assert len(messages) == 4
        by_record = {json.loads(m["Body"])["record_id"]: m["MessageId"] for m in messages}
        assert run(queue.event(messages)) == [by_record["r-fail"]]
        assert len(ok.wait(1)) == len(gone.wait(1)) == 1
        assert len(failing.requests) == 1  # one secret configured: one attempt


def test_every_secret_is_tried_in_turn(queue: Queue, env: pytest.MonkeyPatch) -> None:
    from scalelite_common.services import wiring

    env.setenv("LOADBALANCER_SECRETS", "second-secret:third-secret")
    wiring.reset_all()
    with CallbackSink(401, 401, 200) as sink:
        queue.send(sink.url)
        assert run(queue.event(queue.receive())) == []
        requests = sink.wait(3)
    tokens = [r.form["signed_parameters"][0] for r in requests]
    for token, secret in zip(tokens, (TEST_SECRET, "second-secret", "third-secret"), strict=True):
        assert jwt.decode(token, secret, algorithms=["HS256"])["record_id"] == RECORD_ID


# ------------------------------------------------------------------------------------------ the HTTP adapter
def test_the_adapter_gives_up_waiting_after_its_timeout() -> None:
    from scalelite_common.callbacks_http import UrllibPoster

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)  # accepts, never answers
        port = server.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ConnectionError, match="timeout"):
            UrllibPoster(timeout=0.5).post_form(f"http://127.0.0.1:{port}/ready", {"signed_parameters": "x"})
        assert time.monotonic() - started < 3


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/ready", "file:///etc/passwd", "127.0.0.1:80/ready", "http:///x"])
def test_the_adapter_posts_only_to_http_urls(url: str) -> None:
    from scalelite_common.callbacks_http import UrllibPoster

    with pytest.raises(ConnectionError, match="not an http"):
        UrllibPoster().post_form(url, {"signed_parameters": "x"})


def test_the_adapter_answers_the_status_and_reports_refusals_in_plain_words() -> None:
    from scalelite_common.callbacks_http import UrllibPoster

    poster = UrllibPoster()
    with CallbackSink(202, 500, 301) as sink:
        assert [poster.post_form(sink.url, {"a": "1 2"}) for _ in range(3)] == [202, 500, 301]
        assert len(sink.requests) == 3 and sink.requests[0].form == {"a": ["1 2"]}
        assert sink.requests[0].headers["user-agent"].startswith("Scalelite Serverless")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionError, match="connection refused"):
        poster.post_form(f"http://127.0.0.1:{port}/ready", {})
