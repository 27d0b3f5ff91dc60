"""The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) for every function of the template,
so `aws lambda invoke --endpoint-url …`, boto3 and the `scalelite` CLI work against it as against AWS."""

from __future__ import annotations

import json
import re
import sys
import threading
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from scalelite_local.invoker import Invoker, Throttled

_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?(?:\?.*)?$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LambdaApiServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, kind: str, message: str) -> None:
        body = json.dumps({"Type": "User", "message": message}).encode()
        self._send(status, body, {"x-amzn-ErrorType": kind})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        match = _PATH.match(self.path)
        if not match:
            self._error(404, "UnknownOperationException", f"Unknown operation {self.path}")
            return
        name = unquote(match.group("name"))
        invoker = self.server.invoker
        function = invoker.resolve(name)
        if function is None:
            self._error(
                404,
                "ResourceNotFoundException",
                f"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{name}",
            )
            return
        try:
            event = json.loads(raw or b"{}")
        except ValueError:
            self._error(400, "InvalidRequestContentException", "Could not parse request body into json")
            return
        kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind == "DryRun":
            self._send(204, b"")
            return
        if kind == "Event":
            threading.Thread(target=self._run_quietly, args=(function.logical_id, event), daemon=True).start()
            self._send(202, b"")
            return
        try:
            result = invoker.invoke(function.logical_id, event)
        except Throttled:
            self._error(429, "TooManyRequestsException", "Rate Exceeded.")
            return
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            payload = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            self._send(
                200,
                json.dumps(payload).encode(),
                {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"},
            )
            return
        self._send(200, json.dumps(result, default=str).encode(), {"X-Amz-Executed-Version": "$LATEST"})

    def _run_quietly(self, name: str, event: Any) -> None:
        try:
            self.server.invoker.invoke(name, event)
        except Exception:
            traceback.print_exc(file=sys.stderr)


class LambdaApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], invoker: Invoker) -> None:
        self.invoker = invoker
        super().__init__(address, _Handler)
