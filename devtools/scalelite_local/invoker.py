"""Runs the real Lambda handlers in-process with a Lambda-like context, honouring reserved concurrency."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

from scalelite_local.template import Function, Template


class Throttled(Exception):
    """Reserved concurrency reached (Lambda answers 429 TooManyRequestsException)."""


class LambdaContext:
    def __init__(self, function: Function) -> None:
        self.function_name = function.logical_id
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = function.memory
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function.logical_id}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.logical_id}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + function.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


_loops = threading.local()


def _ensure_event_loop() -> None:
    # Mangum drives the ASGI app on the thread's current event loop; a Lambda container always has one.
    if getattr(_loops, "loop", None) is None:
        _loops.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loops.loop)


class Invoker:
    def __init__(self, template: Template) -> None:
        self.functions = template.functions
        raw = template.of_type("AWS::Serverless::Function")
        self._slots: dict[str, threading.BoundedSemaphore] = {
            name: threading.BoundedSemaphore(int(props["ReservedConcurrentExecutions"]))
            for name, props in raw.items()
            if props.get("ReservedConcurrentExecutions")
        }
        self._handlers: dict[str, Any] = {}

    def resolve(self, name: str) -> Function | None:
        """By logical id, or an ARN / `function:Name[:qualifier]` ending in one."""
        if name in self.functions:
            return self.functions[name]
        parts = name.split(":")
        if "function" in parts:
            candidate = parts[parts.index("function") + 1]
            return self.functions.get(candidate)
        return None

    def busy(self, name: str) -> bool:
        slot = self._slots.get(name)
        if slot is None:
            return False
        if slot.acquire(blocking=False):
            slot.release()
            return False
        return True

    def invoke(self, name: str, event: Any) -> Any:
        function = self.resolve(name)
        if function is None:
            raise KeyError(name)
        slot = self._slots.get(function.logical_id)
        if slot is not None and not slot.acquire(blocking=False):
            raise Throttled(function.logical_id)
        try:
            handler = self._handlers.get(function.logical_id)
            if handler is None:
                handler = self._handlers[function.logical_id] = function.load_handler()
            _ensure_event_loop()
            return handler(event, LambdaContext(function))
        finally:
            if slot is not None:
                slot.release()
