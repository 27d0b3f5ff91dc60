"""The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) for every function of the template,
so `aws lambda invoke --endpoint-url …`, boto3 and the `scalelite` CLI work against it as against AWS."""

from __future__ import annotations

import json
import re
import sys
import time
import traceback
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from scalelite_local.invoker import Invoker, Throttled
from scalelite_local.server import LoopbackServer, MalformedRequest, QuietHandler
from scalelite_local.template import ACCOUNT, REGION, STACK_NAME

_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
MAX_PAYLOAD = 6 * 1024 * 1024  # synchronous request and response limit
_CFN_NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/00000000-0000-0000-0000-000000000000"


def error_payload(exc: BaseException) -> dict[str, Any]:
    """What the Python runtime reports for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": getattr(exc, "error_type", type(exc).__name__),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _decimal(value: Any) -> Any:
    """The Python runtime marshals Decimal (DynamoDB numbers), and nothing else beyond plain JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class _Handler(QuietHandler):
    server: LambdaApiServer

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "application/json", **(headers or {})}
        self.send_response(status)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, kind: str, message: str, **extra: str) -> None:
        body = json.dumps({"Type": "User", "Message": message, **extra}).encode()
        self._send(status, body, {"x-amzn-ErrorType": kind})

    def do_POST(self) -> None:
        try:
            raw = self.read_body()
        except MalformedRequest:
            self.close_connection = True  # the body's end is unknown: nothing after it can be read
            self._error(400, "InvalidRequestContentException", "Could not read the request body.")
            return
        path, _, query = self.path.partition("?")
        match = _PATH.match(path)
        if not match and path in ("", "/") and self.server.outputs is not None:
            self._cloudformation(raw)
            return
        if not match:
            self._error(404, "UnknownOperationException", f"Unknown operation {self.command} {path}")
            return
        name = unquote(match.group("name"))
        qualifier = parse_qs(query).get("Qualifier", ["$LATEST"])[0]
        function = self.server.invoker.resolve(name)
        if function is None or qualifier != "$LATEST":  # no versions or aliases locally
            arn = name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
            suffix = f":{qualifier}" if qualifier != "$LATEST" else ""
            self._error(404, "ResourceNotFoundException", f"Function not found: {arn}{suffix}")
            return
        if len(raw) > MAX_PAYLOAD:
            self._error(
                413,
                "RequestTooLargeException",
                f"Request must be smaller than {MAX_PAYLOAD} bytes for the InvokeFunction operation",
            )
            return
        kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind not in ("RequestResponse", "Event", "DryRun"):
            self._error(400, "InvalidParameterValueException", f"Unsupported invocation type {kind}")
            return
        try:
            event = json.loads(raw or b"{}")
        except ValueError:
            self._error(400, "InvalidRequestContentException", "Could not parse request body into json")
            return
        if kind == "DryRun":
            self._send(204, b"")
        elif kind == "Event":
            self.server.invoker.invoke_async(function.logical_id, event)
            self._send(202, b"")
        else:
            self._invoke(function.logical_id, event)

    def _cloudformation(self, raw: bytes) -> None:
        """CloudFormation's DescribeStacks (query protocol, XML) for the local stack, so `scalelite --stack-name`
        resolves its function from the stack outputs locally exactly as in AWS."""
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        action, name = form.get("Action", ""), form.get("StackName", "")
        if action != "DescribeStacks":
            self._xml_error(400, "InvalidAction", f"The action {action or '(none)'} is not valid for this endpoint.")
        elif name and name not in (STACK_NAME, STACK_ID):
            self._xml_error(400, "ValidationError", f"Stack with id {name} does not exist")
        else:
            outputs = "".join(
                f"<member><OutputKey>{escape(k)}</OutputKey><OutputValue>{escape(v)}</OutputValue></member>"
                for k, v in sorted((self.server.outputs or {}).items())
            )
            body = (
                f'<DescribeStacksResponse xmlns="{_CFN_NS}"><DescribeStacksResult><Stacks><member>'
                f"<StackName>{STACK_NAME}</StackName><StackId>{STACK_ID}</StackId>"
                f"<CreationTime>{self.server.created}</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>"
                f"<Outputs>{outputs}</Outputs></member></Stacks></DescribeStacksResult>"
                f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></DescribeStacksResponse>"
            )
            self._send(200, body.encode(), {"Content-Type": "text/xml"})

    def _xml_error(self, status: int, code: str, message: str) -> None:
        body = (
            f'<ErrorResponse xmlns="{_CFN_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        )
        self._send(status, body.encode(), {"Content-Type": "text/xml"})

    def _invoke(self, name: str, event: Any) -> None:
        version = {"X-Amz-Executed-Version": "$LATEST"}
        try:
            result = self.server.invoker.invoke(name, event)
        except Throttled:
            self._error(
                429,
                "TooManyRequestsException",
                "Rate Exceeded.",
                Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
            )
            return
        except Exception as exc:
            print(f"scalelite-local: {name} failed:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            failure = json.dumps(error_payload(exc)).encode()
            self._send(200, failure, {"X-Amz-Function-Error": "Unhandled", **version})
            return
        try:
            payload = json.dumps(result, default=_decimal).encode()
        except (TypeError, ValueError) as exc:
            marshal = {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError"}
            self._send(200, json.dumps(marshal).encode(), {"X-Amz-Function-Error": "Unhandled", **version})
            return
        if len(payload) > MAX_PAYLOAD:
            too_large = {
                "errorMessage": f"Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
            self._send(200, json.dumps(too_large).encode(), {"X-Amz-Function-Error": "Unhandled", **version})
            return
        self._send(200, payload, version)


class LambdaApiServer(LoopbackServer):
    """The Lambda Invoke API, and (given `outputs`) CloudFormation's DescribeStacks for the local stack."""

    def __init__(self, address: tuple[str, int], invoker: Invoker, outputs: dict[str, str] | None = None) -> None:
        super().__init__(address, _Handler, invoker)
        self.outputs = outputs
        self.created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
