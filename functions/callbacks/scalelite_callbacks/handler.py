"""CallbackFunction entry point: one SQS batch of the callback queue → `CallbackDelivery.process`. Partial batch
responses (ReportBatchItemFailures): the failed messages are reported (and already made visible again after their
retry delay), the others are deleted by Lambda; after the queue's maxReceiveCount a message goes to its dead-letter
queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source

from scalelite_common.observability import lambda_handler
from scalelite_common.services import wiring
from scalelite_common.services.callbacks import QueuedMessage


@lambda_handler(
    correlation_id=lambda event, context: ",".join(r.get("messageId", "") for r in event.get("Records", []))
)
@event_source(data_class=SQSEvent)
def handler(event: SQSEvent, context: Any) -> dict[str, Any]:
    messages = [
        QueuedMessage(
            message_id=record.message_id,
            body=record.body,
            receipt_handle=record.receipt_handle,
            receive_count=int(record.attributes.approximate_receive_count or 1),
            queue_arn=record.event_source_arn,
        )
        for record in event.records
    ]
    failed = wiring.container().callbacks.process(messages, time_left=context.get_remaining_time_in_millis() / 1000)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
