"""A moto SQS queue for tests: the messages it hands out, and AWS-shaped SQS events of them (Lambda's SQS event
source, as events/callbacks/sqs_recording_ready.json shows it)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3

from tests.helpers import load_event

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType


class MotoQueue:
    """One queue created in moto (inside `mock_aws`), its URL and ARN."""

    def __init__(self, name: str, attributes: Mapping[QueueAttributeNameType, str] | None = None) -> None:
        self.sqs: Any = boto3.client("sqs", region_name="us-east-1")
        self.url: str = self.sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
        self.arn: str = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def receive(self) -> list[dict[str, Any]]:
        """Up to 10 visible messages, with all their attributes (receive counts), without waiting."""
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        return messages

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The sample event's record, one per message, with that message's id, receipt handle, body and counts."""
        (template,) = load_event("callbacks/sqs_recording_ready.json")["Records"]
        records = []
        for message in messages:
            record = copy.deepcopy(template)
            record.update(
                messageId=message["MessageId"],
                receiptHandle=message["ReceiptHandle"],
                body=message["Body"],
                md5OfBody=hashlib.md5(message["Body"].encode()).hexdigest(),
                eventSourceARN=self.arn,
            )
            record["attributes"].update(message["Attributes"])
            records.append(record)
        return {"Records": records}
