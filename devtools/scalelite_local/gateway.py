"""HTTP → API Gateway HTTP API (payload 2.0) events → ApiFunction → HTTP, one thread per request (a slow BBB
server never holds up other requests, as with API Gateway + Lambda). The raw query string is passed byte for
byte: BBB checksums are computed over it."""

from __future__ import annotations

import base64
import sys
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from scalelite_local.invoker import Invoker, Throttled

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")

# Path rules, as the CloudFront distribution routes them (first match wins). Everything is the API for now;
# recording playback behaviours are added with the recordings work.
ROUTES: list[tuple[str, str]] = [("/", "ApiFunction")]


def build_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    raw_path, _, raw_query = target.partition("?")
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    now = time.time()
    content_type = merged.get("content-type", "")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path or "/",
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": merged.get("host", "localhost"),
            "domainPrefix": merged.get("host", "localhost").split(".")[0],
            "http": {
                "method": method,
                "path": raw_path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        event["queryStringParameters"] = {
            k: ",".join(v) for k, v in parse_qs(raw_query, keep_blank_values=True).items()
        }
    if body:
        if content_type.startswith(TEXT_TYPES):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: GatewayServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        event = build_event(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
        function = next(fn for prefix, fn in ROUTES if event["rawPath"].startswith(prefix))
        try:
            result = self.server.invoker.invoke(function, event)
        except Throttled:
            self._reply(429, {"content-type": "application/json"}, b'{"message":"Too Many Requests"}')
            return
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self._reply(502, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
            return
        status = int(result.get("statusCode", 200))
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        raw = result.get("body") or ""
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        self._reply(status, headers, data, cookies=result.get("cookies") or [])

    def _reply(self, status: int, headers: dict[str, str], data: bytes, cookies: list[str] | None = None) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        for cookie in cookies or []:
            self.send_header("set-cookie", cookie)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], invoker: Invoker) -> None:
        self.invoker = invoker
        super().__init__(address, _Handler)
