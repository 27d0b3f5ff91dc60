"""The local gateway answers malformed HTTP as API Gateway does: a 400 with a small JSON body, never a 5xx and
never a connection dropped without an answer. Only the gateway runs, in front of a stub function."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from scalelite_local.gateway import GatewayServer
from scalelite_local.invoker import Invoker
from scalelite_local.template import Template
from tests import raw_http

TEMPLATE = Template(
    {
        "Resources": {
            "ApiFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Handler": "stub.handler", "Timeout": 5},
            }
        }
    }
)


def stub(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"body": event.get("body", ""), "host": event["headers"].get("host")}),
    }


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayServer]:
    invoker = Invoker(TEMPLATE, 4, {"ApiFunction": stub})
    server = GatewayServer(("127.0.0.1", 0), invoker)
    server.start("test-gateway")
    try:
        yield server
    finally:
        server.close()
        invoker.close()


def exchange(server: GatewayServer, raw: bytes) -> bytes:
    """Sends `raw`, ends the sending side, and returns everything the gateway answers."""
    return raw_http.exchange(server.port, raw)


def split(answer: bytes) -> tuple[bytes, dict[str, str], bytes]:
    head, sep, body = answer.partition(b"\r\n\r\n")
    assert sep, f"no complete answer: {answer!r}"
    status, *lines = head.split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.decode().partition(":") for line in lines)}
    return status, headers, body


POST = b"POST /bigbluebutton/api/create HTTP/1.1\r\nHost: x\r\n"
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"

MALFORMED = {
    "duplicate Host": b"GET /bigbluebutton/api HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
    "negative Content-Length": POST + b"Content-Length: -5\r\n\r\nabcde",
    "non-numeric Content-Length": POST + b"Content-Length: abc\r\n\r\n",
    "signed Content-Length": POST + b"Content-Length: +3\r\n\r\nabc",
    "conflicting Content-Lengths": POST + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "Content-Length beyond the body": POST + b"Content-Length: 10\r\n\r\nabc",
    "bad chunk size": CHUNKED + b"zz\r\nabc\r\n0\r\n\r\n",
    "negative chunk size": CHUNKED + b"-3\r\nabc\r\n0\r\n\r\n",
    "truncated chunk": CHUNKED + b"10\r\nabc",
    "chunk longer than its size": CHUNKED + b"3\r\nabcdef\r\n0\r\n\r\n",
    "missing last chunk": CHUNKED + b"3\r\nabc\r\n",
    "truncated trailers": CHUNKED + b"0\r\nX-Trailer: 1",
    "chunked and Content-Length": (
        POST + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    ),
    "unknown transfer coding": POST + b"Transfer-Encoding: gzip\r\n\r\n",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_request_is_a_400_with_a_json_body(gateway: GatewayServer, raw: bytes) -> None:
    status, headers, body = split(exchange(gateway, raw))
    assert status.startswith((b"HTTP/1.1 400", b"HTTP/1.0 400")), status
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "Bad Request"}
    assert int(headers["content-length"]) == len(body)


def test_answer_arrives_while_the_client_keeps_its_side_open(gateway: GatewayServer) -> None:
    """The gateway drains the unread body before closing, so its 400 is not lost to a TCP reset."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as conn:
        conn.sendall(POST + b"Content-Length: -1\r\n\r\n" + b"x" * 200_000)
        answer = b""
        while data := conn.recv(65536):
            answer += data
    status, _, body = split(answer)
    assert status.startswith(b"HTTP/1.1 400")
    assert json.loads(body) == {"message": "Bad Request"}


def test_parser_errors_get_the_json_body_too(gateway: GatewayServer) -> None:
    status, headers, body = split(exchange(gateway, b"GET /a HTTP/9.9\r\nHost: x\r\n\r\n"))
    assert status.split(b" ")[1] == b"505"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "HTTP Version Not Supported"}


def test_oversized_chunked_body_is_a_413(gateway: GatewayServer) -> None:
    raw = CHUNKED + b"A00001\r\n"
    status, _, body = split(exchange(gateway, raw))
    assert status.split(b" ")[1] == b"413"
    assert json.loads(body) == {"message": "Request Entity Too Large"}


@pytest.mark.parametrize(
    "raw",
    [
        POST + b"Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        POST + b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"2;ext=1\r\nhe\r\n3\r\nllo\r\n0\r\nX-Trailer: 1\r\n\r\n",
    ],
    ids=["content-length", "chunked"],
)
def test_well_formed_request_reaches_the_function(gateway: GatewayServer, raw: bytes) -> None:
    status, headers, body = split(exchange(gateway, raw))
    assert status.startswith(b"HTTP/1.1 200"), status
    assert "apigw-requestid" in headers
    assert json.loads(body) == {"body": "hello", "host": "x"}


def test_keep_alive_survives_a_well_formed_request(gateway: GatewayServer) -> None:
    request = b"GET /bigbluebutton/api HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as conn:
        reader = conn.makefile("rb")
        for _ in range(2):
            conn.sendall(request)
            assert reader.readline().startswith(b"HTTP/1.1 200")
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert json.loads(reader.read(length))["host"] == "x"
