"""Raw HTTP for tests of the local stack's servers (gateway, edge): one request over http.client with its target
sent exactly as given (urllib would normalise it), or bytes written to a socket as they are."""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    port: int, method: str, target: str, headers: list[tuple[str, str]] | None = None, body: bytes = b""
) -> Answer:
    """`method target` to 127.0.0.1:`port` with `headers` in order (Host added only when they have none), no
    Accept-Encoding of http.client's, and Content-Length only with a body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        names = {n.lower() for n, _ in headers or []}
        conn.putrequest(method, target, skip_host="host" in names, skip_accept_encoding=True)
        for name, value in headers or []:
            conn.putheader(name, value)
        if body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        conn.close()


def exchange(port: int, raw: bytes) -> bytes:
    """Sends `raw` to 127.0.0.1:`port`, ends the sending side, and returns everything the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while data := conn.recv(65536):
            answer += data
    return answer
