"""API Gateway HTTP API (payload format 2.0) in front of the functions: each HTTP request becomes a v2 event,
the routed function's real handler runs on the invoker's pool (concurrently, like Lambda scaling out, so a slow
BBB server never holds up other requests), and its v2 response becomes the HTTP response.

The raw query string is passed byte for byte: BBB checksums are computed over it."""

from __future__ import annotations

import base64
import json
import socket
import sys
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scalelite_local.invoker import FunctionTimeout, Invoker, Throttled
from scalelite_local.server import LoopbackServer, MalformedRequest, QuietHandler
from scalelite_local.template import ACCOUNT

INTEGRATION_TIMEOUT = 30.0  # HTTP API's maximum: a slower integration is answered 503
MAX_BODY = 10 * 1024 * 1024  # HTTP API's payload limit
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/x-www-form-")
TEXT_SUFFIXES = ("+json", "+xml")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te", "trailer"}
LINGER = 2.0  # seconds spent draining a rejected request's unread bytes, so the answer is not lost to a reset


@dataclass(frozen=True)
class Route:
    prefix: str
    function: str


# The HTTP API's routes, first match wins (plain prefixes). Everything is ApiFunction; CloudFront's behaviours
# (recording files from the bucket, the player) are the local edge's, in front of this gateway (edge.py).
ROUTES: tuple[Route, ...] = (
    Route("/bigbluebutton/api", "ApiFunction"),
    Route("/scalelite/api", "ApiFunction"),
    Route("/", "ApiFunction"),
)


def route(path: str, routes: Sequence[Route] = ROUTES) -> str | None:
    return next((r.function for r in routes if path.startswith(r.prefix)), None)


def is_text(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media.startswith(TEXT_TYPES) or media.endswith(TEXT_SUFFIXES)


def build_event(
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    source_ip: str,
    *,
    port: int | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The HTTP API v2 event for one request; `target` is the request-target exactly as received."""
    if target.startswith(("http://", "https://")):  # absolute-form: keep path and query, still undecoded
        parts = urlsplit(target)
        target = (parts.path or "/") + (f"?{parts.query}" if "?" in target else "")
    raw_path, _, raw_query = target.partition("?")
    raw_path = raw_path or "/"
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":  # v2 moves cookies out of the headers
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    # Added by API Gateway.
    forwarded = merged.get("x-forwarded-for")
    merged["x-forwarded-for"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
    merged["x-forwarded-proto"] = "http"
    if port is not None:
        merged["x-forwarded-port"] = str(port)
    merged.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}")
    now = time.time()
    host = merged.get("host", "localhost")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": request_id or uuid.uuid4().hex[:16],
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if raw_query:  # values decoded, repeated keys comma-joined (as API Gateway does); rawQueryString untouched
        parsed = parse_qs(raw_query, keep_blank_values=True)
        event["queryStringParameters"] = {k: ",".join(v) for k, v in parsed.items()}
    if body:
        if is_text(merged.get("content-type", "")):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


class MalformedResponse(Exception):
    pass


def http_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A v2 integration response as (status, headers, body). Without `statusCode`, HTTP API treats the whole
    result as a JSON 200 body."""
    if not isinstance(result, dict) or "statusCode" not in result:
        text = result if isinstance(result, str) else json.dumps(result)
        return 200, [("content-type", "application/json")], text.encode()
    try:
        status = int(result["statusCode"])
        headers = [(str(k).lower(), _header_value(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(name).lower(), _header_value(v)) for v in values)
        headers.extend(("set-cookie", str(c)) for c in result.get("cookies") or [])
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    except (TypeError, ValueError, AttributeError) as exc:
        raise MalformedResponse(str(exc)) from exc
    if not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status}")
    return status, [(k, v) for k, v in headers if k not in HOP_BY_HOP], body


def _header_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


_INTERNAL_ERROR = b'{"message":"Internal Server Error"}'
# API Gateway's messages for the requests it refuses itself (the JSON body is `{"message": ...}`).
_MESSAGES = {400: "Bad Request", 413: "Request Entity Too Large"}


class RefusingHandler(QuietHandler):
    """Refuses malformed HTTP the way API Gateway does (a small JSON error body, then the connection closed);
    the gateway's handler and the local edge's (which answers such requests the same way) build on it."""

    max_body = MAX_BODY

    def _check_headers(self) -> None:
        if len(self.headers.get_all("Host") or []) > 1:  # RFC 9112 §3.2: more than one Host is a 400
            raise MalformedRequest

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Every error the gateway itself answers (also the HTTP parser's: a bad request line, oversized
        headers) gets API Gateway's small JSON body; the connection is then closed, after draining what the
        client still sends so the answer is not lost to a TCP reset."""
        self.close_connection = True
        self.request_version = "HTTP/1.1"  # a status line even when the request line could not be parsed
        phrase = _MESSAGES.get(code) or (self.responses[code][0] if code in self.responses else "Error")
        body = json.dumps({"message": phrase}, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._linger()

    def _linger(self) -> None:
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER
            drained = 0
            while drained <= MAX_BODY and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                data = self.connection.recv(65536)
                if not data:
                    break
                drained += len(data)
        except OSError:
            pass  # the client is gone or slow: the answer has been sent either way


class GatewayHandler(RefusingHandler):
    server: GatewayServer

    def _serve(self) -> None:
        request_id = uuid.uuid4().hex[:16]
        try:
            self._check_headers()
            body = self.read_body()
        except MalformedRequest as exc:
            self.send_error(exc.status)
            return
        event = build_event(
            self.command,
            self.path,
            list(self.headers.items()),
            body,
            self.client_address[0],
            port=self.server.port,
            request_id=request_id,
        )
        function = route(event["rawPath"], self.server.routes)
        if function is None or self.server.invoker.resolve(function) is None:  # no route: API Gateway's 404
            self._reply(404, [("content-type", "application/json")], b'{"message":"Not Found"}', request_id)
            return
        status, headers, data = self._invoke(function, event)
        self._reply(status, headers, data, request_id)

    def _invoke(self, function: str, event: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        json_type = [("content-type", "application/json")]
        try:
            return http_response(self.server.invoker.invoke(function, event, timeout=self.server.timeout_for(function)))
        except Throttled:  # Lambda refused the invocation: API Gateway answers 500
            return 500, json_type, _INTERNAL_ERROR
        except FunctionTimeout as exc:
            print(f"scalelite-local: {exc} ({self.command} {event['rawPath']})", file=sys.stderr)
            if self.server.timeout_for(function) >= INTEGRATION_TIMEOUT:  # API Gateway gave up first
                return 503, json_type, b'{"message":"Service Unavailable"}'
            return 502, json_type, _INTERNAL_ERROR  # the function timed out: a function error
        except Exception:  # a function error or a malformed response: 502
            print(f"scalelite-local: {function} failed on {self.command} {event['rawPath']}:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            return 502, json_type, _INTERNAL_ERROR

    def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes, request_id: str = "") -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if request_id:
            self.send_header("apigw-requestid", request_id)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve


class GatewayServer(LoopbackServer):
    def __init__(self, address: tuple[str, int], invoker: Invoker, routes: Sequence[Route] = ROUTES) -> None:
        self.routes = tuple(routes)
        super().__init__(address, GatewayHandler, invoker)

    def timeout_for(self, function: str) -> float:
        fn = self.invoker.resolve(function)
        return min(float(fn.timeout), INTEGRATION_TIMEOUT) if fn is not None else INTEGRATION_TIMEOUT
