"""EventBridge schedules and S3 ObjectCreated notifications, which moto stores but never delivers to Lambda."""

from __future__ import annotations

import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from scalelite_local.aws import client
from scalelite_local.invoker import Invoker, Throttled


def scheduled_event(rule: str = "PollerSchedule") -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"],
        "detail": {},
    }


def object_created_event(bucket: str, key: str, size: int, etag: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:local"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": "local"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "ImporterFunctionSpoolUpload",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "local"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    # S3 URL-encodes keys in notifications (spaces as '+').
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": etag,
                        "sequencer": f"{time.time_ns():X}",
                    },
                },
            }
        ]
    }


class Ticker(threading.Thread):
    """Calls `tick` every `period` seconds until stopped."""

    def __init__(self, period: float, tick: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.period = period
        self.tick = tick
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.period):
            try:
                self.tick()
            except Exception:
                traceback.print_exc(file=sys.stderr)

    def stop(self) -> None:
        self._stop_event.set()


class PollerSchedule:
    """EventBridge `rate(...)`: invoke the poller every `period` s; skipped while a run is still going
    (reserved concurrency 1: EventBridge's invocation would be throttled)."""

    def __init__(self, invoker: Invoker, period: float, function: str = "PollerFunction") -> None:
        self.invoker = invoker
        self.function = function
        self.ticker = Ticker(period, self.fire, "poller-schedule")
        self.runs = 0

    def fire(self) -> None:
        if self.invoker.busy(self.function):
            return
        threading.Thread(target=self._run, name="poller-run", daemon=True).start()

    def _run(self) -> None:
        try:
            self.invoker.invoke(self.function, scheduled_event())
            self.runs += 1
        except Throttled:
            pass
        except Exception:
            traceback.print_exc(file=sys.stderr)


class SpoolWatcher:
    """Delivers one S3 ObjectCreated event per new object (key, ETag) in the bucket to the importer, one at a time
    (reserved concurrency 1)."""

    def __init__(
        self, invoker: Invoker, endpoint: str, bucket: str, function: str = "ImporterFunction", period: float = 1.0
    ) -> None:
        self.invoker = invoker
        self.bucket = bucket
        self.function = function
        self.s3 = client("s3", endpoint)
        self.seen: set[tuple[str, str]] = set()
        self.delivered: list[dict[str, Any]] = []
        self.ticker = Ticker(period, self.scan, "spool-watcher")

    def scan(self) -> None:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket):
            for obj in page.get("Contents", []):
                marker = (obj["Key"], obj["ETag"].strip('"'))
                if marker in self.seen:
                    continue
                event = object_created_event(self.bucket, obj["Key"], int(obj["Size"]), marker[1])
                try:
                    self.invoker.invoke(self.function, event)
                except Throttled:
                    return  # retried on the next scan, as S3 retries a throttled async invocation
                except Exception:
                    traceback.print_exc(file=sys.stderr)
                self.seen.add(marker)
                self.delivered.append(event)
