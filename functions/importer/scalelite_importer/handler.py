"""ImporterFunction entry point (reserved concurrency 1): S3 ObjectCreated events of the spool bucket import one
archive each; the scheduled event (EventBridge, every 15 minutes) sweeps the spool for what an event missed.
Rejected archives are answered, not raised (they move to failed/); S3/DynamoDB errors raise, so Lambda retries
the event and, after its retries, hands it to the on-failure destination (the sweep still finds the object)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event

from scalelite_common.observability import lambda_handler, logger
from scalelite_common.services import wiring


@lambda_handler()
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    container = wiring.container()
    if event.get("source") == "aws.events":  # the scheduled sweep
        results = container.importer.sweep(container.settings.spool_bucket)
        return {"swept": [asdict(r) for r in results]}
    results = []
    for record in S3Event(event).records:
        key = unquote_plus(record.s3.get_object.key)  # S3 URL-encodes keys in events
        logger.append_keys(spool_key=key)
        logger.set_correlation_id(record.s3.get_object.sequencer or key)
        etag = record.s3.get_object.etag
        results.append(container.importer.import_object(record.s3.bucket.name, key, etag=f'"{etag}"' if etag else None))
    return {"results": [asdict(r) for r in results]}
