"""Outbound HTTP to LMSs (the HttpPoster port): recording-ready and analytics callbacks. urllib3, no retries, no
redirects followed, 10 s per request; a failure without an HTTP answer becomes a ConnectionError naming what went
wrong in plain words (never the URL's query, which may carry a token)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

USER_AGENT = "Scalelite Serverless (recording-ready callback)"
TIMEOUT = 10.0  # seconds for the whole request
MAX_READ = 64 * 1024  # the answer's body is not needed; at most this much is read before the connection is dropped


class UrllibPoster:
    def __init__(self, *, timeout: float = TIMEOUT, pool: urllib3.PoolManager | None = None) -> None:
        self._timeout = urllib3.Timeout(total=timeout)
        self._pool = pool or urllib3.PoolManager(num_pools=10, maxsize=10, retries=False, timeout=self._timeout)

    def post_form(self, url: str, fields: Mapping[str, str]) -> int:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT}
        return self._post(url, urlencode(dict(fields)).encode(), headers)

    def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        return self._post(url, body, {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})

    def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectionError("not an http(s) URL")
        try:
            response = self._pool.request(
                "POST",
                url,
                body=body,
                headers=dict(headers),
                redirect=False,
                retries=False,
                timeout=self._timeout,
                preload_content=False,
            )
        except NewConnectionError as exc:  # before TimeoutError: urllib3 derives it from ConnectTimeoutError
            raise ConnectionError(_reason(exc)) from None
        except TimeoutError:
            raise ConnectionError("timeout") from None
        except HTTPError as exc:
            raise ConnectionError(_reason(exc)) from None
        try:
            response.read(MAX_READ)
        except HTTPError:
            pass  # the status is what counts
        finally:
            response.close()
        return int(response.status)


def _reason(exc: HTTPError) -> str:
    text = str(getattr(exc, "reason", None) or exc).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service" in text or "nodename" in text or "resolve" in text or "getaddrinfo" in text:
        return "unknown host"
    if "ssl" in text or "certificate" in text:
        return "TLS error"
    return type(exc).__name__
