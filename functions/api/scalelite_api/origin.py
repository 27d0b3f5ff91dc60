"""Only CloudFront reaches the API: it adds `X-Origin-Verify` (template: OriginVerifySecret, the api origin's
OriginCustomHeaders); a request without the right value came to the execute-api endpoint directly, around the
WAF, the viewer-host handling and the security headers, and is answered 404 (not 403: CloudFront turns origin 403s
into the recording-not-found page). With neither ORIGIN_VERIFY_SECRET nor ORIGIN_VERIFY_SECRET_ARN set (local stack,
tests) nothing is checked."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from scalelite_common.config import Settings, get_settings, origin_verify_value
from scalelite_common.observability import logger

HEADER = b"x-origin-verify"


class OriginVerify:
    """ASGI middleware: the request's X-Origin-Verify must equal the configured value."""

    def __init__(self, app: Any, settings: Callable[[], Settings] = get_settings) -> None:
        self.app = app
        self._settings = settings

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            status = self._refusal(scope)
            if status is not None:
                await _plain(send, status)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: dict[str, Any]) -> int | None:
        try:
            expected = origin_verify_value(self._settings())
        except Exception:  # Secrets Manager unreachable: fail closed, with a log line rather than a traceback
            logger.exception("origin verification secret unavailable")
            return 503
        if not expected:
            return None
        given = next((v for k, v in scope.get("headers", ()) if k.lower() == HEADER), b"")
        if hmac.compare_digest(given, expected.encode()):
            return None
        logger.warning("request without CloudFront's origin header refused", path=scope.get("path", ""))
        return 404


async def _plain(send: Any, status: int) -> None:
    body = b"Not Found\n" if status == 404 else b"Service Unavailable\n"
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
