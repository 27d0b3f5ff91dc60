"""Support for API integration tests: simulated BBB servers registered in moto, and calls through the real
Lambda handler (Mangum) with API Gateway HTTP API v2 events."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from urllib.request import urlopen

from tests.conftest import FakeLambdaContext
from tests.helpers import http_event, signed
from tests.integration.conftest import add_server as register

__all__ = ["Reply", "bbb", "call_api", "ensure_event_loop", "follow_join", "query_of", "register"]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str
    xml: Any = field(default=None)

    def text(self, path: str) -> str:
        node = self.xml.find(path) if self.xml is not None else None
        return (node.text or "") if node is not None else ""


_loops = threading.local()


def ensure_event_loop() -> None:
    """Mangum runs the app on the thread's current event loop; give each calling thread one (as a Lambda has)."""
    if getattr(_loops, "loop", None) is None:
        _loops.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loops.loop)


def call_api(
    method: str,
    path: str,
    raw_query: str = "",
    *,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    from defusedxml import ElementTree

    from scalelite_api.handler import asgi_handler, handler

    ensure_event_loop()
    event = http_event(method, path, raw_query, body=body, headers=headers)
    if threading.current_thread() is threading.main_thread():
        result = handler(event, FakeLambdaContext())
    else:
        # Concurrent calls from test threads (Lambda runs one invocation per process): the decorator stack keeps
        # per-invocation state process-wide (the Logger's context, cleared per invocation; the metrics buffer,
        # flushed per invocation), so threads skip it and call the app as it wraps it.
        result = asgi_handler()(event, FakeLambdaContext())
    text = result.get("body", "")
    if result.get("isBase64Encoded"):
        import base64

        text = base64.b64decode(text).decode()
    doc = None
    if text.startswith("<?xml") or text.startswith("<response"):
        doc = ElementTree.fromstring(text.encode())
    return Reply(result["statusCode"], {k.lower(): v for k, v in result.get("headers", {}).items()}, text, doc)


def bbb(call: str, params: dict[str, str] | list[tuple[str, str]] | None = None, method: str = "GET") -> Reply:
    return call_api(method, f"/bigbluebutton/api/{call}", signed(call, params or {}))


def follow_join(location: str) -> int:
    """A browser following the join redirect (the simulator adds the attendee)."""
    with urlopen(location) as resp:
        return int(resp.status)


def query_of(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))
