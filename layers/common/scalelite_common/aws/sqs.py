"""SQS behind the Notifier port: one message per callback, delivered by the CallbackFunction."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3

from scalelite_common.services.ports import AnalyticsCallback, RecordingReady

MAX_MESSAGE = 1_048_576  # bytes: SQS's largest message (the queue's default MaximumMessageSize)


class SqsNotifier:
    def __init__(self, queue_url: str, *, region: str, endpoint_url: str | None = None) -> None:
        self.queue_url = queue_url
        self._client: Any = boto3.client("sqs", region_name=region, endpoint_url=endpoint_url)

    def recording_ready(self, callback: RecordingReady) -> None:
        body = {"kind": "recording_ready", **dataclasses.asdict(callback)}
        self._client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))

    def analytics(self, callback: AnalyticsCallback) -> None:
        body = json.dumps({"kind": "analytics", **dataclasses.asdict(callback)}, ensure_ascii=False)
        if len(body.encode()) > MAX_MESSAGE:
            raise ValueError(f"the analytics message exceeds {MAX_MESSAGE} bytes")
        self._client.send_message(QueueUrl=self.queue_url, MessageBody=body)


class SqsRetryQueue:
    """The callback queue as the CallbackFunction sees it (the RetryQueue port of services/callbacks.py): a failed
    message comes back after its retry delay (ChangeMessageVisibility). The queue is named by the event's ARN."""

    def __init__(self, *, region: str, endpoint_url: str | None = None) -> None:
        self._client: Any = boto3.client("sqs", region_name=region, endpoint_url=endpoint_url)

    def retry_later(self, queue_arn: str, receipt_handle: str, delay: int) -> None:
        self._client.change_message_visibility(
            QueueUrl=queue_url(queue_arn), ReceiptHandle=receipt_handle, VisibilityTimeout=delay
        )


def queue_url(queue_arn: str) -> str:
    """`arn:<partition>:sqs:<region>:<account>:<name>` → the queue's URL."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise ValueError(f"not an SQS queue ARN: {queue_arn!r}")
    partition, region, account, name = parts[1], parts[3], parts[4], parts[5]
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{suffix}/{account}/{name}"
