"""The event sources moto stores but never delivers to Lambda: EventBridge schedules, S3 ObjectCreated
notifications and SQS event source mappings, with the event shapes AWS sends."""

from __future__ import annotations

import hashlib
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any
from urllib.parse import quote_plus

from scalelite_local.aws import client
from scalelite_local.invoker import Invoker, Throttled
from scalelite_local.template import ACCOUNT, REGION, STACK_NAME, S3Source, SqsSource


def scheduled_event(rule: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK_NAME}-{rule}"],
        "detail": {},
    }


def object_created_event(
    bucket: str, key: str, size: int, etag: str, configuration_id: str = "local"
) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:LOCAL"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": "local"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": configuration_id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "LOCAL"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),  # S3 URL-encodes keys in notifications, spaces as '+'
                        "size": size,
                        "eTag": etag,
                        "sequencer": f"{time.time_ns():018X}",
                    },
                },
            }
        ]
    }


class Ticker:
    """Calls `tick` every `period` seconds on its own thread until stopped."""

    def __init__(self, period: float, tick: Callable[[], object], name: str) -> None:
        self.period = period
        self.tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.tick()
            except Exception:
                traceback.print_exc(file=sys.stderr)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


class Schedule:
    """An EventBridge schedule rule: a Scheduled Event to `function` every `period` seconds. A tick that finds
    the function at its reserved concurrency (the previous run still going) is skipped, never queued."""

    def __init__(self, invoker: Invoker, function: str, rule: str, period: float) -> None:
        self.invoker = invoker
        self.function = function
        self.rule = rule
        self.fired = 0
        self.skipped = 0
        self.ticker = Ticker(period, self.fire, f"schedule-{rule}")

    @property
    def period(self) -> float:
        return self.ticker.period

    def fire(self) -> Future[Any] | None:
        try:
            future = self.invoker.submit(self.function, scheduled_event(self.rule))
        except Throttled:
            self.skipped += 1
            return None
        self.fired += 1
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        exc = None if future.cancelled() else future.exception()
        if exc is not None:
            print(f"scalelite-local: scheduled {self.function} failed:", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)


class BucketNotifier:
    """S3 event notifications of one bucket: one ObjectCreated event per new object version (key, ETag,
    LastModified) to each matching function, through Lambda's asynchronous queue (so a reserved-concurrency-1
    importer gets them one at a time). moto cannot invoke Lambda, so the bucket is listed every `period`."""

    def __init__(
        self, invoker: Invoker, endpoint: str, bucket: str, sources: Sequence[S3Source], period: float = 1.0
    ) -> None:
        self.invoker = invoker
        self.bucket = bucket
        self.sources = list(sources)
        self.s3 = client("s3", endpoint)
        self.seen: set[tuple[str, str, str]] = set()
        self.delivered = 0
        self._lock = threading.Lock()  # scan() from the ticker and from tests
        self.ticker = Ticker(period, self.scan, f"s3-notify-{bucket}")

    def scan(self) -> None:
        with self._lock:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
                for obj in page.get("Contents", []):
                    etag = obj["ETag"].strip('"')
                    version = (obj["Key"], etag, obj["LastModified"].isoformat())
                    if version in self.seen:
                        continue
                    self.seen.add(version)
                    for source in self.sources:
                        if source.matches(obj["Key"]):
                            event = object_created_event(
                                self.bucket,
                                obj["Key"],
                                int(obj["Size"]),
                                etag,
                                configuration_id=source.function + source.event_id,
                            )
                            self.invoker.invoke_async(source.function, event)
                            self.delivered += 1

    def stop(self) -> None:
        self.ticker.stop()
        self.s3.close()


def sqs_event(queue_arn: str, messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Lambda's SQS event for messages as ReceiveMessage returned them (AttributeNames/MessageAttributeNames All)."""
    records = []
    for message in messages:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": list(value.get("StringListValues") or []),
                    "binaryListValues": list(value.get("BinaryListValues") or []),
                    "dataType": value.get("DataType", "String"),
                }
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": REGION,
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


class QueuePoller:
    """Lambda's SQS event source mapping: polls the queue (short polls every `period`: a long poll would hold moto's
    one lock), invokes the function with batches of up to BatchSize messages, at most `max_batches` at once, and
    deletes what succeeded: the whole batch, or with ReportBatchItemFailures all but the `batchItemFailures`. A
    failed message is left alone: it comes back when its visibility timeout ends (the function may have changed it),
    and the queue's redrive policy (moto applies it on receive) moves it to the dead-letter queue in the end. A
    function error, an invalid partial response or a run past the function's timeout fails the whole batch."""

    def __init__(
        self,
        invoker: Invoker,
        endpoint: str,
        source: SqsSource,
        queue_url: str,
        queue_arn: str,
        *,
        timeout: float,
        period: float = 0.5,
    ) -> None:
        self.invoker = invoker
        self.source = source
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.timeout = timeout
        self.max_batches = source.max_concurrency or 5  # Lambda starts with five concurrent batches
        self.sqs = client("sqs", endpoint)
        self.batches = 0  # invocations
        self.deleted = 0  # messages done with
        self.failed = 0  # messages left to come back
        self._in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.ticker = Ticker(period, self.poll, f"sqs-{source.queue}")

    @property
    def period(self) -> float:
        return self.ticker.period

    def poll(self) -> int:
        """Receive and dispatch batches while there are messages and room; returns how many batches started."""
        started = 0
        while not self._stopping.is_set():
            with self._lock:
                if self._in_flight >= self.max_batches:
                    break
            messages = self._receive()
            if not messages:
                break
            if self._dispatch(messages):
                started += 1
        return started

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < self.source.batch_size:
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.source.batch_size - len(messages)),
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                break
            messages += got
        return messages

    def _dispatch(self, messages: list[dict[str, Any]]) -> bool:
        event = sqs_event(self.queue_arn, messages)
        with self._lock:
            self._in_flight += 1
        try:
            future = self.invoker.submit(self.source.function, event, wait_for_slot=True)
        except (Throttled, RuntimeError):  # closing: the messages come back after their visibility timeout
            with self._lock:
                self._in_flight -= 1
            return False
        with self._lock:
            self.batches += 1
        began = time.monotonic()
        future.add_done_callback(lambda f: self._done(messages, f, time.monotonic() - began))
        return True

    def _done(self, messages: list[dict[str, Any]], future: Future[Any], elapsed: float) -> None:
        try:
            done = self._succeeded(messages, future, elapsed)
            self._delete([m for m in messages if m["MessageId"] in done])
            with self._lock:
                self.failed += len(messages) - len(done)
        except Exception:
            if not self._stopping.is_set():
                traceback.print_exc(file=sys.stderr)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _succeeded(self, messages: list[dict[str, Any]], future: Future[Any], elapsed: float) -> set[str]:
        """The ids of the messages the invocation is done with."""
        function = self.source.function
        if future.cancelled():
            return set()
        exc = future.exception()
        if exc is not None:
            print(f"scalelite-local: {function} failed on an SQS batch (left in the queue):", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)
            return set()
        if elapsed > self.timeout:
            print(f"scalelite-local: {function} ran past its timeout on an SQS batch (left)", file=sys.stderr)
            return set()
        ids = {m["MessageId"] for m in messages}
        if not self.source.report_failures:
            return ids
        failed = _batch_item_failures(future.result(), ids)
        if failed is None:
            print(f"scalelite-local: {function}: invalid batchItemFailures, the whole batch failed", file=sys.stderr)
            return set()
        return ids - failed

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            with self._lock:
                self.deleted += len(chunk)

    def idle(self) -> bool:
        with self._lock:
            return self._in_flight == 0

    def stop(self) -> None:
        self._stopping.set()
        self.ticker.stop()
        self.sqs.close()


def _batch_item_failures(result: Any, ids: set[str]) -> set[str] | None:
    """The failed ids of a partial batch response; None when it is invalid (Lambda then fails the whole batch). An
    empty or missing `batchItemFailures` (or a None result) means all succeeded."""
    if result is None:
        return set()
    if not isinstance(result, dict):
        return None
    items = result.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return None
    failed = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in ids:
            return None
        failed.add(identifier)
    return failed
