"""The HTTP server under the gateway and the Lambda API: a thread per connection (invocations themselves run on
the invoker's bounded pool), and a `close()` that also drops kept-alive connections, so stopping the stack
leaves no thread blocked on an idle socket and frees the port at once."""

from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scalelite_local.invoker import Invoker


class ConnectionTracking(socketserver.BaseServer):
    """Remembers open connections so `drop_connections()` can end them: a thread serving a kept-alive
    connection otherwise blocks on the idle socket after the server is closed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[Any] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already gone
                conn.shutdown(socket.SHUT_RDWR)


class ThreadedServer(ConnectionTracking, ThreadingHTTPServer):
    """A loopback HTTP server on its own thread: `start(name)`, `close()`, `port` (the bound one)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._thread: threading.Thread | None = None
        super().__init__(address, handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self, name: str) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()
        self.drop_connections()


class LoopbackServer(ThreadedServer):
    """A server whose handlers invoke functions (the gateway, the Lambda API)."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], invoker: Invoker) -> None:
        self.invoker = invoker
        super().__init__(address, handler)


MAX_LINE = 8192  # a chunk-size or trailer line longer than this is malformed
MAX_TRAILERS = 100
_DIGITS = re.compile(rb"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


class MalformedRequest(Exception):
    """The request's framing is malformed (400) or its body too large (413): refused before anything runs."""

    def __init__(self, status: int = 400) -> None:
        super().__init__(status)
        self.status = status


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle kept-alive connections are dropped, as load balancers do
    max_body: int | None = None  # bytes; a larger body is a 413

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the functions log; an access log per request would drown that

    def read_body(self) -> bytes:
        """The body as framed by Transfer-Encoding or Content-Length; `MalformedRequest` when the framing is
        malformed (a negative, non-numeric or conflicting length, a bad chunk size, a body cut short) or the body
        is larger than `max_body`."""
        codings = [c.strip().lower() for v in self.headers.get_all("Transfer-Encoding") or [] for c in v.split(",")]
        lengths = [v.strip() for h in self.headers.get_all("Content-Length") or [] for v in h.split(",")]
        if codings:
            if codings != ["chunked"] or lengths:  # only chunked is understood; both framings: smuggling
                raise MalformedRequest
            return self._read_chunked()
        if not lengths:
            return b""
        if len(set(lengths)) != 1 or not _DIGITS.fullmatch(lengths[0].encode()):
            raise MalformedRequest  # negative, non-numeric or conflicting: the body's end is unknown
        length = int(lengths[0])
        if self.max_body is not None and length > self.max_body:
            raise MalformedRequest(413)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise MalformedRequest  # the connection ended inside the body
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_token = self._line().split(b";", 1)[0].strip()
            if not _HEX.fullmatch(size_token):
                raise MalformedRequest
            size = int(size_token, 16)
            if size == 0:
                break
            total += size
            if self.max_body is not None and total > self.max_body:
                raise MalformedRequest(413)
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(2) not in (b"\r\n", b"\n"):
                raise MalformedRequest  # cut short, or the chunk is longer than its size says
            chunks.append(chunk)
        for _ in range(MAX_TRAILERS):
            if not self._line():
                return b"".join(chunks)
        raise MalformedRequest

    def _line(self) -> bytes:
        """One CRLF-terminated line, without its terminator; `MalformedRequest` if too long or cut short."""
        line = self.rfile.readline(MAX_LINE + 2)
        if not line.endswith(b"\n"):
            raise MalformedRequest
        return line.rstrip(b"\r\n")
