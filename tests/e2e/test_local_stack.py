"""The local stack as a user meets it: the HTTP API v2 gateway, the Lambda Invoke API (boto3, the CLI),
schedules, S3 events, the environment built from template.yaml, and `scalelite-local` start/stop."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import urlopen

import boto3
import pytest
from botocore.config import Config as BotoConfig
from defusedxml import ElementTree

from scalelite_local.gateway import build_event
from scalelite_local.scheduler import Schedule
from scalelite_local.stack import LocalStack
from tests.e2e.conftest import CLI, E2E_SECRET
from tests.raw_http import Answer, send

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def aws_client(service: str, endpoint: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=BotoConfig(retries={"max_attempts": 1}),
    )


def raw_request(
    stack: LocalStack, method: str, target: str, headers: list[tuple[str, str]] | None = None, body: bytes = b""
) -> Answer:
    """Sends `target` exactly as given (urllib would normalise it)."""
    return send(urlsplit(stack.gateway_url).port or 80, method, target, headers, body)


class Recorder:
    """A stand-in handler: records (event, context) and returns `reply` (or raises it)."""

    def __init__(self, reply: Any = None, delay: float = 0.0) -> None:
        self.reply = reply
        self.delay = delay
        self.calls: list[tuple[Any, Any]] = []
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def __call__(self, event: Any, context: Any) -> Any:
        with self._lock:
            self.calls.append((event, context))
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            time.sleep(self.delay)
            if isinstance(self.reply, BaseException):
                raise self.reply
            return self.reply
        finally:
            with self._lock:
                self.running -= 1

    def wait(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.calls) >= count, f"{len(self.calls)} of {count} invocations"


@contextlib.contextmanager
def stand_in[H: Callable[[Any, Any], Any]](stack: LocalStack, function: str, handler: H) -> Iterator[H]:
    """`function` runs `handler` instead of its real handler while inside."""
    assert stack.invoker is not None
    with stack.invoker.override(function, handler):
        yield handler


# ------------------------------------------------------------------------------------------------- resources
def test_resources_and_environment_come_from_the_template(stack: LocalStack) -> None:
    ports = {urlsplit(url).port for url in (stack.gateway_url, stack.lambda_url, stack.aws_url)}
    assert len(ports) == 3 and not ports & {5000, 8080, 3001}
    dynamodb = aws_client("dynamodb", stack.aws_url)
    assert sorted(dynamodb.list_tables()["TableNames"]) == [
        "CallbacksTable",
        "MeetingsTable",
        "RecordingsTable",
        "ServersTable",
        "TenantsTable",
        "UploadsTable",
        "VoiceBridgesTable",
    ]
    meetings = dynamodb.describe_table(TableName="MeetingsTable")["Table"]
    assert meetings["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in meetings["GlobalSecondaryIndexes"]] == ["server-index", "tenant-index"]
    ttl = dynamodb.describe_time_to_live(TableName="MeetingsTable")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    buckets = {b["Name"] for b in aws_client("s3", stack.aws_url).list_buckets()["Buckets"]}
    assert buckets == {"spoolbucket", "recordingsbucket"}
    queues = aws_client("sqs", stack.aws_url).list_queues()["QueueUrls"]
    assert sorted(q.rsplit("/", 1)[1] for q in queues) == [
        "CallbackDeadLetterQueue",
        "CallbackQueue",
        "ImporterDeadLetterQueue",
        "PollerDeadLetterQueue",
        "ScheduleDeadLetterQueue",
    ]

    env = os.environ
    assert env["AWS_ENDPOINT_URL"] == stack.aws_url and env["AWS_REGION"] == "us-east-1"
    assert (env["SERVERS_TABLE"], env["MEETINGS_TABLE"]) == ("ServersTable", "MeetingsTable")
    assert (env["SPOOL_BUCKET"], env["RECORDINGS_BUCKET"]) == ("spoolbucket", "recordingsbucket")  # !Sub, !Ref
    assert env["CALLBACK_QUEUE_URL"] == f"{stack.aws_url}/123456789012/CallbackQueue"  # !Ref of a queue: its URL
    assert env["LOADBALANCER_CHECKSUM_ALGORITHM"] == "SHA1:SHA256:SHA384:SHA512"  # parameter default
    assert env["CONNECT_TIMEOUT"] == "1"  # set before the stack started (tests/conftest.py): wins over the template
    assert env["POLL_INTERVAL"] == "3600" and env["LOADBALANCER_SECRET"] == E2E_SECRET
    assert "LOADBALANCER_SECRET_ARN" not in env


STAND_IN_TEMPLATE = """
Parameters:
  Interval: {Type: Number, Default: 30}
  Secret: {Type: String}
Conditions:
  Never: !Equals [!Ref Interval, 0]
Globals:
  Function:
    Timeout: 7
    Environment:
      Variables:
        TABLE: !Ref Things
        INTERVAL: !Ref Interval
        SECRET: !Ref Secret
        PREFIX: !Sub "${AWS::StackName}-${AWS::Region}"
        PICKED: !If [Never, !Select [0, [a, b]], !Join ["-", [x, y]]]
        ARN: !GetAtt Things.Arn
Resources:
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
  Inbox:
    Type: AWS::S3::Bucket
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: pkg.mod.handler
      ReservedConcurrentExecutions: 1
      Environment: {Variables: {BUCKET: !Ref Inbox, FLAG: true}}
      Events:
        Tick: {Type: Schedule, Properties: {Schedule: rate(5 minutes)}}
        Off: {Type: Schedule, Properties: {Schedule: rate(1 minute), State: DISABLED}}
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Inbox
            Events: [s3:ObjectCreated:*]
            Filter: {S3Key: {Rules: [{Name: suffix, Value: .tar}]}}
"""


def test_template_reader_understands_short_tags_and_event_sources() -> None:
    import yaml

    from scalelite_local.template import CfnLoader, Template, rate_seconds

    raw = yaml.load(STAND_IN_TEMPLATE, Loader=CfnLoader)  # noqa: S506 - a SafeLoader subclass
    assert raw["Conditions"]["Never"] == {"Fn::Equals": [{"Ref": "Interval"}, 0]}
    template = Template(raw)
    worker = template.functions["Worker"]
    assert (worker.handler, worker.timeout, worker.reserved_concurrency) == ("pkg.mod.handler", 7, 1)
    assert template.environment(worker) == {
        "TABLE": "Things",
        "INTERVAL": "30",
        "PREFIX": "scalelite-local-us-east-1",
        "BUCKET": "inbox",
        "FLAG": "true",
    }  # SECRET has no default, PICKED and ARN are not resolvable locally: not set
    assert [(s.function, s.rule, rate_seconds(s.expression)) for s in template.schedules] == [
        ("Worker", "WorkerTick", 300.0)
    ]
    (source,) = template.s3_sources
    assert (source.bucket, source.function) == ("Inbox", "Worker")
    assert source.matches("a/b.tar") and not source.matches("a/b.txt")


# --------------------------------------------------------------------------------------------------- gateway
def test_version_through_the_gateway(stack: LocalStack) -> None:
    with urlopen(stack.api_url, timeout=30) as resp:
        doc = ElementTree.fromstring(resp.read())
    assert (doc.findtext("returncode"), doc.findtext("version")) == ("SUCCESS", "2.0")


def test_event_builder_keeps_the_raw_query_string_byte_for_byte() -> None:
    query = "name=a%20b+c&x=%2F&x=2&empty=&checksum=abc"
    event = build_event(
        "GET",
        f"/bigbluebutton/api/create?{query}",
        [("Host", "h:1"), ("Cookie", "a=1; b=2"), ("X-Dup", "1"), ("x-dup", "2"), ("Content-Type", "text/xml")],
        b"<xml/>",
        "127.0.0.1",
        port=1,
    )
    assert event["rawQueryString"] == query
    assert event["rawPath"] == "/bigbluebutton/api/create"
    assert event["queryStringParameters"] == {"name": "a b c", "x": "/,2", "empty": "", "checksum": "abc"}
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-dup"] == "1,2"
    assert (event["body"], event["isBase64Encoded"]) == ("<xml/>", False)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    binary = build_event("POST", "/x", [("Content-Type", "application/octet-stream")], b"\x00\xff", "127.0.0.1")
    assert (binary["body"], binary["isBase64Encoded"]) == ("AP8=", True)
    assert "queryStringParameters" not in binary and binary["rawQueryString"] == ""


def test_gateway_event_and_response_over_http(stack: LocalStack) -> None:
    reply = {
        "statusCode": 201,
        "headers": {"content-type": "application/octet-stream", "x-one": "1"},
        "multiValueHeaders": {"x-many": ["a", "b"]},
        "cookies": ["s=1; Path=/", "t=2"],
        "body": base64.b64encode(b"\x00\x01").decode(),
        "isBase64Encoded": True,
    }
    target = "/bigbluebutton/api/join?fullName=A%20B+C&meetingID=m%2F1&x=1&x=2&checksum=0f"
    with stand_in(stack, "ApiFunction", Recorder(reply)) as api:
        resp = raw_request(
            stack,
            "POST",
            target,
            [("Cookie", "k=v; k2=v2"), ("X-Dup", "1"), ("X-Dup", "2"), ("Content-Type", "image/png")],
            b"\x89PNG",
        )
    assert resp.status == 201
    assert resp.headers["x-one"] == "1" and resp.headers.get_all("x-many") == ["a", "b"]
    assert resp.headers.get_all("set-cookie") == ["s=1; Path=/", "t=2"]
    event, context = api.calls[0]
    assert event["rawQueryString"] == target.split("?", 1)[1]
    assert event["rawPath"] == "/bigbluebutton/api/join"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["requestContext"]["stage"] == "$default" and event["requestContext"]["timeEpoch"] > 0
    assert event["headers"]["x-dup"] == "1,2" and event["cookies"] == ["k=v", "k2=v2"]
    assert (base64.b64decode(event["body"]), event["isBase64Encoded"]) == (b"\x89PNG", True)
    assert context.function_name == "ApiFunction" and context.memory_limit_in_mb == 1024
    assert 0 < context.get_remaining_time_in_millis() <= 30_000
    assert context.invoked_function_arn.endswith(":function:ApiFunction") and context.aws_request_id


def test_gateway_maps_function_errors_and_bare_results(stack: LocalStack) -> None:
    with stand_in(stack, "ApiFunction", Recorder(RuntimeError("boom"))), pytest.raises(HTTPError) as err:
        urlopen(stack.gateway_url + "/scalelite/api/servers", timeout=30)
    assert err.value.code == 502
    assert json.loads(err.value.read()) == {"message": "Internal Server Error"}
    with stand_in(stack, "ApiFunction", Recorder({"hello": "world"})):
        resp = raw_request(stack, "GET", "/anything")
    assert resp.status == 200 and resp.headers["content-type"] == "application/json"
    assert json.loads(resp.body) == {"hello": "world"}  # no statusCode: the result is the JSON body


def test_requests_are_served_concurrently(stack: LocalStack) -> None:
    """Ten requests to a function that takes 1 s finish together, as API Gateway + Lambda scale out."""
    with stand_in(stack, "ApiFunction", Recorder({"statusCode": 200, "body": "ok"}, delay=1.0)) as api:
        started = time.monotonic()
        with ThreadPoolExecutor(10) as pool:
            bodies = list(pool.map(lambda i: urlopen(f"{stack.api_url}?i={i}", timeout=30).read(), range(10)))
        elapsed = time.monotonic() - started
    assert bodies == [b"ok"] * 10 and api.max_running == 10
    assert elapsed < 2.5, f"10 concurrent 1 s requests took {elapsed:.2f} s"


def test_a_hung_bbb_server_does_not_hold_up_other_requests(stack: LocalStack) -> None:
    from bbbsim import BBBSimulator
    from scalelite_common.domain.entities import ServerState
    from scalelite_common.services import wiring
    from tests.helpers import signed

    hung = BBBSimulator("hung-secret").start()
    try:
        stack.admin("servers.add", url=hung.url, secret=hung.secret, id="hung", tag="slow")
        wiring.store().update_server("hung", {"state": ServerState.ENABLED, "online": True, "load": 0.0})
        hung.set_fault("hang")
        query = signed("create", {"meetingID": "slow", "name": "S", "meta_server-tag": "slow!"}, secret=E2E_SECRET)
        threading.Thread(target=_quietly, args=(f"{stack.api_url}create?{query}",), daemon=True).start()
        time.sleep(0.3)
        started = time.monotonic()
        for _ in range(5):
            with urlopen(stack.api_url, timeout=30) as resp:
                assert resp.status == 200
        assert time.monotonic() - started < 2
    finally:
        hung.set_fault(None)
        hung.stop()
        stack.admin("servers.remove", id="hung")


def _quietly(url: str) -> None:
    with contextlib.suppress(Exception):  # only its concurrency matters
        urlopen(url, timeout=30).read()


# ------------------------------------------------------------------------------------------------ Lambda API
def test_boto3_invokes_admin_function_by_name_and_arn(stack: LocalStack) -> None:
    client = aws_client("lambda", stack.lambda_url)
    reply = client.invoke(FunctionName="AdminFunction", Payload=json.dumps({"command": "servers.list", "args": {}}))
    assert reply["StatusCode"] == 200 and "FunctionError" not in reply
    assert reply["ExecutedVersion"] == "$LATEST"
    servers = json.loads(reply["Payload"].read())["result"]["servers"]
    assert len(servers) == 2 and {s["online"] for s in servers} == {"online"}
    arn = "arn:aws:lambda:us-east-1:123456789012:function:AdminFunction"
    assert json.loads(client.invoke(FunctionName=arn, Payload=b'{"command": "status"}')["Payload"].read())["ok"]
    for missing in ("NoSuchFunction", f"{arn}:prod"):
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.invoke(FunctionName=missing, Payload=b"{}")


def test_lambda_api_errors_event_and_dry_run(stack: LocalStack) -> None:
    client = aws_client("lambda", stack.lambda_url)
    with stand_in(stack, "AdminFunction", Recorder(ValueError("bad input"))):
        reply = client.invoke(FunctionName="AdminFunction", Payload=b"{}")
    assert reply["StatusCode"] == 200 and reply["FunctionError"] == "Unhandled"
    error = json.loads(reply["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "bad input")
    assert isinstance(error["stackTrace"], list)

    with stand_in(stack, "AdminFunction", Recorder({"ok": True})) as admin:
        assert client.invoke(FunctionName="AdminFunction", InvocationType="DryRun")["StatusCode"] == 204
        queued = client.invoke(FunctionName="AdminFunction", InvocationType="Event", Payload=b'{"command": "x"}')
        assert queued["StatusCode"] == 202
        admin.wait(1)
    assert admin.calls[0][0] == {"command": "x"}
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="AdminFunction", Payload=b"not json")


def test_reserved_concurrency_throttles_a_second_synchronous_call(stack: LocalStack) -> None:
    client = aws_client("lambda", stack.lambda_url)
    assert stack.invoker is not None
    with stand_in(stack, "PollerFunction", Recorder({}, delay=1.0)):
        running = stack.invoker.submit("PollerFunction", {})
        with pytest.raises(client.exceptions.TooManyRequestsException):
            client.invoke(FunctionName="PollerFunction", Payload=b"{}")
        assert running.result(timeout=10) == {}


def test_cli_lists_two_enabled_servers_online(cli: CLI) -> None:
    """The installed `scalelite` command, as an operator runs it, with no AWS configuration at all."""
    servers = cli("servers", "list", "--json").json()
    assert len(servers) == 2
    assert {s["state"] for s in servers} == {"enabled"} and {s["online"] for s in servers} == {"online"}


# ------------------------------------------------------------------------------------------ event sources
def test_schedule_sends_scheduled_events_and_skips_while_busy(stack: LocalStack) -> None:
    assert stack.invoker is not None
    with stand_in(stack, "PollerFunction", Recorder({"cycles": 1}, delay=0.5)) as poller:
        schedule = stack.schedules["PollerFunction"]
        assert schedule.fire() is not None
        assert schedule.fire() is None and schedule.skipped >= 1  # reserved concurrency 1: never overlaps
        poller.wait(1)
        event, context = poller.calls[0]
        assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
        assert event["detail"] == {} and event["account"] == "123456789012" and event["region"] == "us-east-1"
        assert re.fullmatch(r"arn:aws:events:us-east-1:123456789012:rule/.+EveryMinute", event["resources"][0])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"]) and event["version"] == "0"
        assert context.function_name == "PollerFunction" and context.get_remaining_time_in_millis() > 50_000

        ticking = Schedule(stack.invoker, "PollerFunction", "Test", period=0.2)  # the stack's one ticks hourly
        poller.delay = 0.0
        before = len(poller.calls)
        ticking.ticker.start()
        try:
            poller.wait(before + 2)
        finally:
            ticking.ticker.stop()
    assert poller.max_running == 1


def test_spool_upload_reaches_the_importer_once_with_an_encoded_key(stack: LocalStack) -> None:
    s3 = aws_client("s3", stack.aws_url)
    with stand_in(stack, "ImporterFunction", Recorder({"arrived": []}, delay=0.3)) as importer:
        s3.put_object(Bucket="spoolbucket", Key="spool/rec one+1.tar", Body=b"tar")
        s3.put_object(Bucket="spoolbucket", Key="spool/b.tar", Body=b"b")
        s3.put_object(Bucket="spoolbucket", Key="spool/c.tar", Body=b"c")
        importer.wait(3)
        time.sleep(0.6)  # a few more scans: nothing is delivered twice
        assert len(importer.calls) == 3
        s3.put_object(Bucket="spoolbucket", Key="spool/b.tar", Body=b"b, new version")
        importer.wait(4)
    assert importer.max_running == 1  # reserved concurrency 1: one import at a time
    records = {e["Records"][0]["s3"]["object"]["key"]: e["Records"][0] for e, _ in importer.calls}
    assert set(records) == {"spool/rec+one%2B1.tar", "spool/b.tar", "spool/c.tar"}
    record = records["spool/rec+one%2B1.tar"]
    assert (record["eventSource"], record["eventName"]) == ("aws:s3", "ObjectCreated:Put")
    assert record["s3"]["bucket"]["name"] == "spoolbucket"
    assert (
        record["s3"]["object"]["size"] == 3 and record["s3"]["object"]["eTag"] and record["s3"]["object"]["sequencer"]
    )
    assert importer.calls[-1][0]["Records"][0]["s3"]["object"]["size"] == len(b"b, new version")


def test_the_real_importer_handler_accepts_the_event(stack: LocalStack) -> None:
    """Whatever ImporterFunction's handler does today, a spool upload reaches it and it does not fail."""
    assert "ImporterFunction" not in stack.load_errors, stack.load_errors
    real = stack.template.functions["ImporterFunction"].load_handler()
    spy = Recorder()

    def importer(event: Any, context: Any) -> Any:
        spy(event, context)
        spy.reply = real(event, context)
        return spy.reply

    with stand_in(stack, "ImporterFunction", importer):
        aws_client("s3", stack.aws_url).put_object(Bucket="spoolbucket", Key="real/rec 2.tar", Body=b"x")
        spy.wait(1)
        deadline = time.monotonic() + 10
        while spy.reply is None and time.monotonic() < deadline:
            time.sleep(0.05)
    assert isinstance(spy.reply, dict)


# ---------------------------------------------------------------------------------------------- the command
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pump(proc: subprocess.Popen[str], lines: queue.SimpleQueue[str]) -> None:
    for line in proc.stdout or []:
        lines.put(line)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_scalelite_local_starts_serves_and_stops_on_signal(signum: int) -> None:
    """`make run` as a user runs it: no AWS configuration, ready quickly, Ctrl-C/SIGTERM frees every port."""
    ports = {name: _free_port() for name in ("SCALELITE_PORT", "SCALELITE_LAMBDA_PORT", "SCALELITE_AWS_PORT")}
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "SIMULATED_SERVERS": "1",
        "POLL_INTERVAL": "5",
        **{k: str(v) for k, v in ports.items()},
    }
    if os.environ.get("PYTHONPATH"):  # not installed: run from the source folders
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scalelite_local"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()
    threading.Thread(target=_pump, args=(proc, lines), daemon=True).start()
    try:
        output = ""
        while "Ctrl-C stops everything" not in output:
            try:
                output += lines.get(timeout=max(0.0, started + 30 - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"not ready after 30 s (exit code {proc.poll()}):\n{output}")
        ready = time.monotonic() - started
        assert ready < 15, f"ready after {ready:.1f} s"
        api = f"http://127.0.0.1:{ports['SCALELITE_PORT']}/bigbluebutton/api"
        assert api in output and f"{api}/" not in output  # printed as the stack output has it: no trailing slash
        assert f"scalelite --endpoint-url http://127.0.0.1:{ports['SCALELITE_LAMBDA_PORT']} servers list" in output
        with urlopen(f"http://127.0.0.1:{ports['SCALELITE_PORT']}/bigbluebutton/api", timeout=30) as resp:
            assert b"<returncode>SUCCESS</returncode>" in resp.read()
        proc.send_signal(signum)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for port in ports.values():
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


def test_cannot_start_a_second_stack_in_one_process(stack: LocalStack) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        LocalStack().start()
