"""PollerFunction entry point: one EventBridge tick → `Poller.run_scheduled`, bounded by the time this invocation
has left (reserved concurrency 1, so runs never overlap)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from scalelite_common.observability import lambda_handler
from scalelite_common.services import wiring


@lambda_handler(correlation_paths.EVENT_BRIDGE)
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: Any) -> dict[str, Any]:
    return wiring.container().poller.run_scheduled(context.get_remaining_time_in_millis())
