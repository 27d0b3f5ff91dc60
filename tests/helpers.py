"""Helpers shared by tests: BBB request signing and API Gateway HTTP API v2 events."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.conftest import TEST_SECRET

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def sign(call: str, query: str, secret: str = TEST_SECRET, algorithm: str = "sha1") -> str:
    """`query&checksum=…` exactly as a BBB client builds it (the query string is hashed as given)."""
    checksum = hashlib.new(algorithm, f"{call}{query}{secret}".encode()).hexdigest()
    return f"{query}&checksum={checksum}" if query else f"checksum={checksum}"


def signed(call: str, params: dict[str, str] | list[tuple[str, str]], **kw: Any) -> str:
    return sign(call, urlencode(params), **kw)


def http_event(
    method: str,
    path: str,
    raw_query: str = "",
    *,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the gateway and AWS build it."""
    hdrs = {"host": "lb.example.com", "user-agent": "pytest", **{k.lower(): v for k, v in (headers or {}).items()}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": hdrs,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "lb.example.com",
            "domainPrefix": "lb",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": "req",
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        raw = body.encode() if isinstance(body, str) else body
        event["body"] = base64.b64encode(raw).decode()
        event["isBase64Encoded"] = True
    return event
