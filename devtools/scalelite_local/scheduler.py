"""The event sources moto stores but never delivers to Lambda: EventBridge schedules and S3 ObjectCreated
notifications, with the event shapes AWS sends."""

from __future__ import annotations

import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any
from urllib.parse import quote_plus

from scalelite_local.aws import client
from scalelite_local.invoker import Invoker, Throttled
from scalelite_local.template import ACCOUNT, REGION, STACK_NAME, S3Source


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
