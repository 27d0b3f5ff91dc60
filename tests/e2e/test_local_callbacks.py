"""The callback queue in the local stack: a message queued as the importer queues it reaches an LMS (a local HTTP
server) through the real CallbackFunction, run from the template's SQS event source; failed deliveries come back
after CALLBACK_RETRY_DELAYS (1 s here, tests/e2e/conftest.py) and end in the dead-letter queue after the redrive
policy's six receives; partial batch responses are honoured."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from scalelite_common.aws.sqs import SqsNotifier
from scalelite_common.services.ports import RecordingReady
from scalelite_local.scheduler import QueuePoller
from scalelite_local.stack import LocalStack
from tests.e2e.conftest import E2E_SECRET, sqs_client
from tests.helpers import eventually
from tests.sink import CallbackSink

pytestmark = pytest.mark.e2e

RECORD_ID = "183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1700000000000"


@pytest.fixture
def sqs(stack: LocalStack) -> Iterator[Any]:
    """The stack's SQS, the callback queues empty before and after."""
    client = sqs_client(stack)

    def purge() -> None:
        for name in ("CallbackQueue", "CallbackDeadLetterQueue"):
            client.purge_queue(QueueUrl=stack.template.queue_urls[name])

    purge()
    yield client
    purge()
    client.close()


@pytest.fixture
def poller(stack: LocalStack) -> QueuePoller:
    return stack.queue_pollers["CallbackFunction"]


def notify(url: str, record_id: str = RECORD_ID) -> None:
    """Queue a callback exactly as the importer does (its adapter, the functions' CALLBACK_QUEUE_URL)."""
    notifier = SqsNotifier(
        os.environ["CALLBACK_QUEUE_URL"], region="us-east-1", endpoint_url=os.environ["AWS_ENDPOINT_URL"]
    )
    notifier.recording_ready(RecordingReady(url=url, tenant_id="default", meeting_id="room-1", record_id=record_id))


def counts(sqs: Any, stack: LocalStack, queue: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.template.queue_urls[queue],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_event_source_comes_from_the_template(stack: LocalStack, poller: QueuePoller) -> None:
    source = poller.source
    assert (source.function, source.queue, source.batch_size, source.report_failures) == (
        "CallbackFunction",
        "CallbackQueue",
        10,
        True,
    )
    assert poller.queue_arn == "arn:aws:sqs:us-east-1:123456789012:CallbackQueue"
    assert poller.timeout == stack.template.functions["CallbackFunction"].timeout == 60
    assert "CallbackFunction" not in stack.load_errors, stack.load_errors


def test_a_queued_callback_reaches_the_lms(stack: LocalStack, sqs: Any) -> None:
    with CallbackSink(200) as sink:
        notify(sink.url)
        (request,) = sink.wait(1)
        eventually(lambda: counts(sqs, stack, "CallbackQueue") == (0, 0), what="message deleted")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    (token,) = request.form["signed_parameters"]
    assert jwt.decode(token, E2E_SECRET, algorithms=["HS256"]) == {"meeting_id": "room-1", "record_id": RECORD_ID}


def test_an_lms_down_at_first_gets_it_once_it_is_back(stack: LocalStack, sqs: Any, poller: QueuePoller) -> None:
    port = free_port()
    failed = poller.failed
    notify(f"http://127.0.0.1:{port}/bigbluebutton/recording_ready?token=lms-token")
    eventually(lambda: poller.failed > failed, what="a failed first attempt")  # connection refused
    with CallbackSink(200, port=port) as sink:
        (request,) = sink.wait(1, timeout=15)  # the retry, CALLBACK_RETRY_DELAYS[0] = 1 s later
        eventually(lambda: counts(sqs, stack, "CallbackQueue") == (0, 0), what="message deleted")
    assert jwt.decode(request.form["signed_parameters"][0], E2E_SECRET, algorithms=["HS256"])["record_id"] == RECORD_ID
    assert counts(sqs, stack, "CallbackDeadLetterQueue") == (0, 0)


def test_a_callback_that_always_fails_ends_in_the_dead_letter_queue(stack: LocalStack, sqs: Any) -> None:
    with CallbackSink(503) as sink:
        notify(sink.url, record_id="r-always-failing")
        eventually(lambda: counts(sqs, stack, "CallbackDeadLetterQueue")[0] == 1, timeout=30, what="dead-lettered")
        time.sleep(0.5)
        assert len(sink.requests) == 6  # maxReceiveCount: the first attempt and five retries
    assert counts(sqs, stack, "CallbackQueue") == (0, 0)
    (message,) = sqs.receive_message(
        QueueUrl=stack.template.queue_urls["CallbackDeadLetterQueue"], AttributeNames=["All"]
    )["Messages"]
    assert json.loads(message["Body"])["record_id"] == "r-always-failing"


def test_partial_batch_responses_and_the_event_shape(stack: LocalStack, sqs: Any, poller: QueuePoller) -> None:
    assert stack.invoker is not None
    events: list[dict[str, Any]] = []

    def stand_in(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        failed = [r["messageId"] for r in event["Records"] if json.loads(r["body"])["record_id"] == "r-fail"]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    url = stack.template.queue_urls["CallbackQueue"]
    with stack.invoker.override("CallbackFunction", stand_in):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": "a", "MessageBody": json.dumps({"record_id": "r-ok"})},
                {"Id": "b", "MessageBody": json.dumps({"record_id": "r-fail"})},
                {
                    "Id": "c",
                    "MessageBody": json.dumps({"record_id": "r-ok-2"}),
                    "MessageAttributes": {"origin": {"DataType": "String", "StringValue": "test"}},
                },
            ],
        )
        eventually(lambda: counts(sqs, stack, "CallbackQueue") == (0, 1) and poller.idle(), what="two deleted")
    records = [r for e in events for r in e["Records"]]
    assert sorted(json.loads(r["body"])["record_id"] for r in records) == ["r-fail", "r-ok", "r-ok-2"]
    record = records[0]
    assert set(record) >= {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        "arn:aws:sqs:us-east-1:123456789012:CallbackQueue",
        "us-east-1",
    )
    assert record["attributes"]["ApproximateReceiveCount"] == "1" and "SentTimestamp" in record["attributes"]
    (with_attributes,) = [r for r in records if r["messageAttributes"]]
    assert with_attributes["messageAttributes"]["origin"]["stringValue"] == "test"
    assert with_attributes["messageAttributes"]["origin"]["dataType"] == "String"


@pytest.mark.parametrize(
    "reply",
    [RuntimeError("handler crashed"), {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]}, "junk"],
)
def test_a_failed_invocation_or_invalid_response_fails_the_whole_batch(
    stack: LocalStack, sqs: Any, poller: QueuePoller, reply: Any
) -> None:
    assert stack.invoker is not None
    calls: list[Any] = []

    def stand_in(event: dict[str, Any], context: Any) -> Any:
        calls.append(event)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    with stack.invoker.override("CallbackFunction", stand_in):
        sqs.send_message(QueueUrl=stack.template.queue_urls["CallbackQueue"], MessageBody="{}")
        eventually(lambda: bool(calls) and poller.idle(), what="one invocation")
        time.sleep(0.3)
    assert counts(sqs, stack, "CallbackQueue") == (0, 1)  # left in flight until the queue's visibility timeout
