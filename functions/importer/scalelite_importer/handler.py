"""Importer Lambda entry point (S3 ObjectCreated on the spool bucket, reserved concurrency 1).

Until the recordings work lands it only logs what arrived (bucket, decoded key, size, ETag) and returns that
list; it does not read, move or delete the object, so nothing is lost when the real importer is deployed."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source

from scalelite_common.observability import lambda_handler, logger, metrics


@lambda_handler()
@event_source(data_class=S3Event)
def handler(event: S3Event, context: Any) -> dict[str, Any]:
    arrived = []
    for record in event.records:
        item = {
            "bucket": record.s3.bucket.name,
            "key": unquote_plus(record.s3.get_object.key),  # S3 URL-encodes keys in events
            "size": record.s3.get_object.size,
            "etag": record.s3.get_object.etag,
        }
        logger.info("recording archive arrived (import not implemented yet)", extra=item)
        arrived.append(item)
    metrics.add_metric(name="ArchivesArrived", unit="Count", value=len(arrived))
    return {"arrived": arrived, "imported": 0}
