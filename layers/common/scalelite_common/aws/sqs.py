"""SQS behind the Notifier port: one message per callback, delivered by the CallbackFunction."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3

from scalelite_common.services.ports import RecordingReady


class SqsNotifier:
    def __init__(self, queue_url: str, *, region: str, endpoint_url: str | None = None) -> None:
        self.queue_url = queue_url
        self._client: Any = boto3.client("sqs", region_name=region, endpoint_url=endpoint_url)

    def recording_ready(self, callback: RecordingReady) -> None:
        body = {"kind": "recording_ready", **dataclasses.asdict(callback)}
        self._client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))
