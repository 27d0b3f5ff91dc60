"""The API refuses requests that did not come through CloudFront (X-Origin-Verify), and checks nothing when no
value is configured (local stack)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scalelite_api.origin import OriginVerify
from scalelite_common.config import Settings


async def _inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"inner"})


def call(settings: Settings, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    app = OriginVerify(_inner, settings=lambda: settings)
    scope = {"type": "http", "path": "/bigbluebutton/api", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])


SECRET = "x" * 48


def test_no_value_configured_checks_nothing() -> None:
    assert call(Settings(), []) == (200, b"inner")


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"x-origin-verify", b"wrong")],
        [(b"x-origin-verify", SECRET[:-1].encode())],
        [(b"x-other", SECRET.encode())],
    ],
)
def test_requests_around_cloudfront_are_not_found(headers: list[tuple[bytes, bytes]]) -> None:
    status, body = call(Settings(origin_verify_secret=SECRET), headers)
    assert (status, body) == (404, b"Not Found\n")


def test_cloudfronts_header_passes() -> None:
    assert call(Settings(origin_verify_secret=SECRET), [(b"x-origin-verify", SECRET.encode())]) == (200, b"inner")


def test_unreadable_secret_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(arn: str) -> str:
        raise RuntimeError("Secrets Manager unreachable")

    monkeypatch.setattr("scalelite_common.config._fetch_secret", unavailable)
    status, _ = call(Settings(origin_verify_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:x"), [])
    assert status == 503
