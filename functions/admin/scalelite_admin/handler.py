"""AdminFunction entry point: `{"command": ..., "args": {...}}` → `{"ok": true, "result": ...}` or
`{"ok": false, "error": ..., "status": ...}` (CONVENTIONS.md, `envelope`). Never raises for bad input."""

from __future__ import annotations

from typing import Any

from scalelite_admin import envelope
from scalelite_common.observability import lambda_handler


@lambda_handler(correlation_id=lambda event, context: getattr(context, "aws_request_id", None))
def handler(event: Any, context: Any) -> dict[str, Any]:
    return envelope.handle_event(event, request_id=getattr(context, "aws_request_id", ""))
