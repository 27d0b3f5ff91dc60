"""Helpers shared by tests: BBB request signing and API Gateway HTTP API v2 events."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
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
    """An API Gateway HTTP API (payload 2.0) event, built exactly as the local stack's gateway builds it."""
    from scalelite_local.gateway import build_event

    hdrs = {"host": "lb.example.com", "user-agent": "pytest", **{k.lower(): v for k, v in (headers or {}).items()}}
    raw = body.encode() if isinstance(body, str) else (body or b"")
    target = f"{path}?{raw_query}" if raw_query else path
    return build_event(method, target, list(hdrs.items()), raw, "127.0.0.1")


def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait until `check()` is true, polling every 50 ms; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        time.sleep(0.05)
