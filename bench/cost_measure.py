"""Measures what each operation costs on the real Lambda handlers (for `bench/cost_model.py`, `make cost`).

In-process moto (DynamoDB, S3, SQS) and simulated BBB servers answering after BBB_LATENCY (a BBB server in or
near the region). Every AWS request the handlers make goes through botocore's one API-call method, which is wrapped
to count it:

* DynamoDB: request units computed from item sizes with DynamoDB's on-demand rules (`cost_model.read_units`,
  `write_units`, `item_size`). moto's `ReturnConsumedCapacity` answers a constant per request, not the units of
  the items, so the sizes are read from moto's own table: a write is billed on the larger of the item before and
  after it (also when its condition fails), a Query/Scan on the items it read, a transaction at double rate, a
  global secondary index write (projection ALL) on top of the table's.
* S3, SQS, Secrets Manager: one request per call (S3 split into its two price tiers).

Per operation it also records the handler's wall time (in this process, with moto's and the simulators' latencies:
an approximation of the Lambda's billed duration at its configured memory), the bytes it wrote to stdout (the
CloudWatch Logs it would ingest: JSON logs at the template's LogLevel and the EMF metric lines) and the size of its
answer. The median of REPEAT runs is kept.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.common import use_bench_env
from bench.cost_model import Fixed, Function, OpCost, item_size, read_units, write_units

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
SECRET = "cost-model-load-balancer-secret-0123456789"
SPOOL, BUCKET = "cost-spool", "cost-recordings"
REPEAT = 5
BBB_LATENCY = 0.02  # seconds per BBB answer
SLIDES = 30  # slides of the measured recording (each: png, svg, thumbnail, text)
MEDIA_MB = 20  # its webcams.webm: above the importer's 8 MiB part size, so copied in parts

MOTO_ACCOUNT = "123456789012"  # moto's default account
S3_FREE = frozenset({"DeleteObject", "DeleteObjects", "AbortMultipartUpload"})
S3_TIER1_PREFIXES = ("Put", "Copy", "Post", "List", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")

HANDLERS = {
    "ApiFunction": "scalelite_api.handler",
    "PollerFunction": "scalelite_poller.handler",
    "ImporterFunction": "scalelite_importer.handler",
    "CallbackFunction": "scalelite_callbacks.handler",
    "AdminFunction": "scalelite_admin.handler",
}


# --------------------------------------------------------------------------------------------- counting
@dataclass
class Counts:
    rru: float = 0.0
    wru: float = 0.0
    s3_tier1: float = 0.0
    s3_tier2: float = 0.0
    sqs: float = 0.0
    secrets: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)


class Meter:
    """Counts the AWS requests made while `window()` is open (from any thread: the poller fans out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Counts | None = None

    @contextlib.contextmanager
    def window(self) -> Iterator[Counts]:
        counts = Counts()
        self._current = counts
        try:
            yield counts
        finally:
            self._current = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from botocore.client import BaseClient

        original = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private: the one method every request takes
        meter = self

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            counts = meter._current
            if counts is None:
                return original(client, operation, params)
            service = client.meta.service_model.service_name
            if service != "dynamodb":
                meter._count(counts, service, operation)
                return original(client, operation, params)
            before = _before_write(operation, params)
            response: Any = None
            try:
                response = original(client, operation, params)
                return response
            finally:  # a refused condition or a cancelled transaction still consumes its units
                rru, wru = _dynamodb_units(operation, params, response, before)
                with meter._lock:
                    counts.rru += rru
                    counts.wru += wru
                    counts.calls[f"dynamodb.{operation}"] = counts.calls.get(f"dynamodb.{operation}", 0) + 1

        setattr(BaseClient, "_make_api_call", counted)  # noqa: B010
        try:
            yield
        finally:
            setattr(BaseClient, "_make_api_call", original)  # noqa: B010

    def _count(self, counts: Counts, service: str, operation: str) -> None:
        with self._lock:
            counts.calls[f"{service}.{operation}"] = counts.calls.get(f"{service}.{operation}", 0) + 1
            if service == "s3" and operation not in S3_FREE:
                if operation.startswith(S3_TIER1_PREFIXES):
                    counts.s3_tier1 += 1
                else:
                    counts.s3_tier2 += 1
            elif service == "sqs":
                counts.sqs += 1
            elif service == "secretsmanager":
                counts.secrets += 1


# moto's tables: the stored items (DynamoDB JSON) by key
def _table(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[MOTO_ACCOUNT]["us-east-1"].get_table(name)


def _stored(table_name: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = _table(table_name)
    if table.hash_key_attr not in key:
        return None
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    item = table.get_item(DynamoType(key[table.hash_key_attr]), range_key)
    return None if item is None else dict(item.to_json()["Attributes"])


def _key_of(table_name: str, item: Mapping[str, Any]) -> dict[str, Any]:
    table = _table(table_name)
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {n: item[n] for n in names if n in item}


def _write_targets(operation: str, params: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    """(table, key, transactional) of every item a write request touches."""
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        table = params["TableName"]
        key = _key_of(table, params["Item"]) if operation == "PutItem" else dict(params["Key"])
        return [(table, key, False)]
    if operation == "BatchWriteItem":
        out = []
        for table, requests in params.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    out.append((table, _key_of(table, request["PutRequest"]["Item"]), False))
                else:
                    out.append((table, dict(request["DeleteRequest"]["Key"]), False))
        return out
    if operation == "TransactWriteItems":
        out = []
        for entry in params.get("TransactItems", []):
            (kind, body), *_ = entry.items()
            table = body["TableName"]
            out.append((table, _key_of(table, body["Item"]) if kind == "Put" else dict(body["Key"]), True))
        return out
    return []


def _before_write(operation: str, params: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], bool, Any]]:
    return [(t, k, tx, _stored(t, k)) for t, k, tx in _write_targets(operation, params)]


def _gsi_writes(table_name: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> int:
    """Index entries written: 1 when the item is (or stays) in an index, 2 when its index key changed."""
    writes = 0
    for index in _table(table_name).global_indexes:
        attrs = index.schema_key_attrs

        def key(item: Mapping[str, Any] | None, attrs: list[str] = attrs) -> Any:
            return None if item is None or not all(a in item for a in attrs) else [item[a] for a in attrs]

        before, after = key(old), key(new)
        if before is None and after is None:
            continue
        writes += 1 if before == after or before is None or after is None else 2
    return writes


def _dynamodb_units(
    operation: str, params: Mapping[str, Any], response: Any, before: list[tuple[str, dict[str, Any], bool, Any]]
) -> tuple[float, float]:
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        item = _stored(params["TableName"], params["Key"])
        return read_units(item_size(item) if item else 0, consistent=consistent), 0.0
    if operation == "BatchGetItem":
        rru = 0.0
        for table, spec in params.get("RequestItems", {}).items():
            for key in spec.get("Keys", []):
                item = _stored(table, key)
                rru += read_units(item_size(item) if item else 0, consistent=bool(spec.get("ConsistentRead")))
        return rru, 0.0
    if operation == "TransactGetItems":
        rru = 0.0
        for entry in params.get("TransactItems", []):
            item = _stored(entry["Get"]["TableName"], entry["Get"]["Key"])
            rru += read_units(item_size(item) if item else 0, transactional=True)
        return rru, 0.0
    if operation in ("Query", "Scan"):
        table = params["TableName"]
        items = (response or {}).get("Items", [])
        total = 0
        for returned in items:
            full = _stored(table, _key_of(table, returned))
            total += item_size(full if full is not None else returned)
        filtered_out = int((response or {}).get("ScannedCount", len(items))) - len(items)
        if filtered_out > 0:  # read, then dropped by the filter: billed at the table's average item size
            stored = list(_table(table).all_items())
            average = sum(item_size(i.to_json()["Attributes"]) for i in stored) / max(1, len(stored))
            total += int(filtered_out * average)
        return read_units(total, consistent=consistent), 0.0
    wru = 0.0
    for table, key, transactional, old in before:
        new = _stored(table, key)
        size = max(item_size(old) if old else 0, item_size(new) if new else 0)
        wru += write_units(size, transactional=transactional)
        wru += _gsi_writes(table, old, new) * write_units(size)
    return 0.0, wru


# --------------------------------------------------------------------------------------------- invoking
class Context:
    """The Lambda context the handlers read (Powertools' inject_lambda_context, Mangum, the poller's deadline)."""

    function_version = "$LATEST"
    log_stream_name = "cost"
    identity: Any = None
    client_context: Any = None

    def __init__(self, function_name: str, memory_mb: int, timeout_s: int) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextlib.contextmanager
def stdout_bytes() -> Iterator[list[bytes]]:
    """What is written to file descriptor 1 meanwhile (Lambda ships a function's stdout to CloudWatch Logs)."""
    sys.stdout.flush()
    saved = os.dup(1)
    out: list[bytes] = []
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield out
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            out.append(sink.read())


@dataclass
class Sample:
    counts: Counts
    seconds: float
    log: bytes
    response_bytes: int


class Runner:
    def __init__(self, meter: Meter, functions: Mapping[str, tuple[Function, int]]) -> None:
        self.meter = meter
        self.functions = functions
        self.samples: dict[str, list[Sample]] = {}
        self.metrics_seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    def invoke(self, op: str, function: str, event: Mapping[str, Any], module: str) -> Any:
        import importlib

        handler = importlib.import_module(module).handler
        fn, timeout = self.functions[function]
        context = Context(function, fn.memory_mb, timeout)
        with stdout_bytes() as log, self.meter.window() as counts:
            t0 = time.perf_counter()
            result = handler(copy.deepcopy(dict(event)), context)
            seconds = time.perf_counter() - t0
        body = result.get("body", "") if isinstance(result, dict) else ""
        self._record(op, Sample(counts, seconds, log[0], len(str(body).encode()) + 200))  # + ~200 B of headers
        return result

    def outside_lambda(self, op: str, work: Callable[[], Any]) -> Any:
        """Requests made by something other than our functions (a BBB server's PUT to the spool)."""
        with self.meter.window() as counts:
            t0 = time.perf_counter()
            result = work()
            seconds = time.perf_counter() - t0
        self._record(op, Sample(counts, seconds, b"", 0))
        return result

    def _record(self, op: str, sample: Sample) -> None:
        self.samples.setdefault(op, []).append(sample)
        for line in sample.log.splitlines():
            if b'"_aws"' not in line:
                continue
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                for directive in doc["_aws"]["CloudWatchMetrics"]:
                    dims = tuple(sorted((d, str(doc.get(d, ""))) for group in directive["Dimensions"] for d in group))
                    for metric in directive["Metrics"]:
                        self.metrics_seen.add((metric["Name"], dims))

    def op_costs(self, spec: Mapping[str, tuple[str, float, bool]]) -> dict[str, OpCost]:
        """The median sample of each op, as an OpCost; spec: op → (function, invocations, through the HTTP API)."""
        out = {}
        for op, samples in self.samples.items():
            function, invocations, http_api = spec[op]

            def median(get: Callable[[Sample], float], samples: list[Sample] = samples) -> float:
                return float(statistics.median(get(s) for s in samples))

            out[op] = OpCost(
                function=function,
                invocations=invocations,
                duration_ms=median(lambda s: s.seconds * 1000),
                rru=median(lambda s: s.counts.rru),
                wru=median(lambda s: s.counts.wru),
                s3_tier1=median(lambda s: s.counts.s3_tier1),
                s3_tier2=median(lambda s: s.counts.s3_tier2),
                sqs=median(lambda s: s.counts.sqs),
                secrets_calls=median(lambda s: s.counts.secrets),
                log_bytes=median(lambda s: len(s.log)),
                response_bytes=median(lambda s: s.response_bytes),
                http_api=http_api,
            )
        return out

    def calls(self, op: str) -> dict[str, int]:
        """The AWS requests of the op's median-duration sample, by service.operation."""
        samples = sorted(self.samples[op], key=lambda s: s.seconds)
        return samples[len(samples) // 2].counts.calls


# --------------------------------------------------------------------------------------------- the template
def template_functions() -> tuple[dict[str, tuple[Function, int]], Fixed]:
    """Memory, architecture and timeout of each function, and the fixed resources, from template.yaml."""
    from scalelite_local.template import load

    template = load()
    globals_fn = template.get("Globals", {}).get("Function", {})
    resources = template["Resources"]

    def arch(props: Mapping[str, Any]) -> str:
        value = props.get("Architectures", globals_fn.get("Architectures", ["x86_64"]))
        return str(value[0]) if isinstance(value, list) and isinstance(value[0], str) else "x86_64"

    functions = {}
    for name, resource in resources.items():
        if resource.get("Type") == "AWS::Serverless::Function":
            props = resource.get("Properties", {})
            memory = props.get("MemorySize", globals_fn.get("MemorySize", 128))
            timeout = props.get("Timeout", globals_fn.get("Timeout", 3))
            snapstart = (props.get("SnapStart") or globals_fn.get("SnapStart") or {}).get("ApplyOn", "None") != "None"
            functions[name] = (Function(int(memory), arch(props), snapstart), int(timeout))

    def count(kind: str) -> int:
        return sum(1 for r in resources.values() if r.get("Type") == kind)

    sqs_sources = sum(
        1
        for r in resources.values()
        if r.get("Type") == "AWS::Serverless::Function"
        for e in (r.get("Properties", {}).get("Events") or {}).values()
        if e.get("Type") == "SQS"
    )
    fixed = Fixed(
        secrets=count("AWS::SecretsManager::Secret"),
        alarms=count("AWS::CloudWatch::Alarm"),
        dashboards=count("AWS::CloudWatch::Dashboard"),
        sqs_event_sources=sqs_sources,
    )
    return functions, fixed


def init_seconds(modules: Mapping[str, str]) -> dict[str, float]:
    """Each handler module's import in a fresh interpreter (the INIT phase of a cold start, without SnapStart)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "LOADBALANCER_SECRET": "x",
    }
    out = {}
    for function, module in modules.items():
        code = f"import time; t0 = time.perf_counter(); import {module}; print(time.perf_counter() - t0)"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
        out[function] = float(proc.stdout.strip() or "nan") if proc.returncode == 0 else float("nan")
    return out


# --------------------------------------------------------------------------------------------- the scenario
def _api_event(method: str, target: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> Any:
    from scalelite_local.gateway import build_event

    return build_event(method, target, [("Host", "lb.example.com"), *(headers or [])], body, "127.0.0.1")


def _signed(call: str, params: Mapping[str, str]) -> str:
    import hashlib

    query = urlencode(params)
    checksum = hashlib.sha256(f"{call}{query}{SECRET}".encode()).hexdigest()
    return f"/bigbluebutton/api/{call}?{query}&checksum={checksum}"


def _text(xml: str, tag: str) -> str:
    start = xml.find(f"<{tag}>")
    end = xml.find(f"</{tag}>")
    return xml[start + len(tag) + 2 : end] if start >= 0 and end > start else ""


def _archive(record_id: str, meeting_id: str) -> bytes:
    """A presentation recording as BBB publishes it: SLIDES slides (png, svg, thumbnail, text), the event files,
    and one webcams.webm of MEDIA_MB."""
    from tests.recordings_support import archive_bytes, format_files

    files = dict(format_files(record_id, "presentation", meeting_id=meeting_id))
    for name in ("panzooms.xml", "cursor.xml", "deskshare.xml", "presentation_text.json", "captions.json"):
        files[name] = b"<recording/>" * 50
    for n in range(1, SLIDES + 1):
        files[f"presentation/d1/slide-{n}.png"] = b"\x89PNG" + bytes(20_000)
        files[f"presentation/d1/svgs/slide{n}.svg"] = b"<svg/>" + bytes(5_000)
        files[f"presentation/d1/thumbnails/thumb-{n}.png"] = b"\x89PNG" + bytes(3_000)
        files[f"presentation/d1/textfiles/slide-{n}.txt"] = b"text " * 40
    files["video/webcams.webm"] = b"\x1aE\xdf\xa3" + bytes(MEDIA_MB * 1024**2)
    return archive_bytes(record_id, ("presentation",), files={"presentation": files})


@dataclass
class Measurement:
    ops: dict[str, OpCost]
    functions: dict[str, Function]
    fixed: Fixed
    init_s: dict[str, float]
    metrics_seen: int
    calls: dict[str, dict[str, int]]
    table_bytes_per_recording: float
    seconds: float


SPEC: dict[str, tuple[str, float, bool]] = {
    "create (new)": ("ApiFunction", 1, True),
    "create (existing)": ("ApiFunction", 1, True),
    "join": ("ApiFunction", 1, True),
    "isMeetingRunning": ("ApiFunction", 1, True),
    "getMeetingInfo": ("ApiFunction", 1, True),
    "end": ("ApiFunction", 1, True),
    "getRecordings": ("ApiFunction", 1, True),
    "recordingUpload": ("ApiFunction", 1, True),
    "spool PUT (BBB server)": ("", 0, False),
    "import": ("ImporterFunction", 1, False),
    "callback": ("CallbackFunction", 1, False),
    "import sweep": ("ImporterFunction", 1, False),
    "poll cycle (busy)": ("PollerFunction", 1, False),
    "poll cycle (idle)": ("PollerFunction", 1, False),
}
# Lambda's event source mapping receives the callback message and deletes it once the function succeeded.
ESM_SQS_REQUESTS = 2


def measure(*, busy_meetings_per_server: int = 4) -> Measurement:
    import boto3
    import jwt
    from moto import mock_aws

    from bbbsim import start_simulators
    from scalelite_common.domain.entities import Meeting, Server, ServerState
    from scalelite_local.aws import serialize_moto
    from tests.sink import CallbackSink

    started = time.monotonic()
    functions, fixed = template_functions()
    use_bench_env(SECRET)
    os.environ.update(
        {
            "POWERTOOLS_METRICS_DISABLED": "false",  # their EMF lines are log bytes too
            "POWERTOOLS_METRICS_NAMESPACE": "ScaleliteServerless",
            "POWERTOOLS_LOG_LEVEL": "INFO",  # the template's LogLevel default
            "LOG_LEVEL": "INFO",
            "SPOOL_BUCKET": SPOOL,
            "RECORDINGS_BUCKET": BUCKET,
            "POLL_INTERVAL": "60",
        }
    )
    serialize_moto()
    sims = start_simulators(20, secret=None, latency=BBB_LATENCY)
    sink = CallbackSink(200).start()
    meter = Meter()
    runner = Runner(meter, functions)
    try:
        with mock_aws(), meter.installed():
            s3 = boto3.client("s3", region_name="us-east-1")
            for bucket in (SPOOL, BUCKET):
                s3.create_bucket(Bucket=bucket)
            sqs = boto3.client("sqs", region_name="us-east-1")
            queue_url = sqs.create_queue(QueueName="cost-callbacks")["QueueUrl"]
            os.environ["CALLBACK_QUEUE_URL"] = queue_url
            from scalelite_common.db.models import create_tables
            from scalelite_common.observability import logger
            from scalelite_common.services import wiring

            wiring.reset_all()
            store = wiring.store()
            create_tables()
            logger.setLevel("INFO")
            for i, sim in enumerate(sims):
                store.add_server(
                    Server(
                        id=f"bbb{i:02d}",
                        url=sim.url,
                        secret=sim.secret,
                        state=ServerState.ENABLED,
                        online=True,
                        load=0.0,
                    )
                )
            scheduled = json.loads((EVENTS / "poller" / "scheduled.json").read_text())
            poller = HANDLERS["PollerFunction"]
            api = HANDLERS["ApiFunction"]

            def api_call(op: str, call: str, params: Mapping[str, str]) -> dict[str, Any]:
                result: dict[str, Any] = runner.invoke(op, "ApiFunction", _api_event("GET", _signed(call, params)), api)
                return result

            # Warm-up (first-use work is the cold start's, not the operation's): app, pools, versions, one of each.
            runner.invoke("warm", "PollerFunction", scheduled, poller)
            api_call("warm", "getMeetings", {})
            for _ in range(REPEAT):  # idle: no meeting anywhere, nothing changed since the last cycle
                runner.invoke("poll cycle (idle)", "PollerFunction", scheduled, poller)

            hook = f"{sink.url}/recording_ready"
            internal: dict[str, str] = {}
            for n in range(REPEAT):
                meeting = f"class-{n}"
                params = {"meetingID": meeting, "name": f"Class {n}", "record": "true"}
                reply = api_call("create (new)", "create", {**params, "meta_bbb-recording-ready-url": hook})
                internal[meeting] = _text(str(reply.get("body", "")), "internalMeetingID")
                api_call("create (existing)", "create", params)
                api_call("join", "join", {"meetingID": meeting, "fullName": "Student", "role": "VIEWER"})
                api_call("isMeetingRunning", "isMeetingRunning", {"meetingID": meeting})
                api_call("getMeetingInfo", "getMeetingInfo", {"meetingID": meeting})

            # Recordings: the BBB server asks for an upload URL, PUTs the archive, the importer imports it and
            # queues the recording-ready callback, the callback function delivers it.
            sims_by_url = {sim.url.rstrip("/"): sim for sim in sims}
            object_created = json.loads((EVENTS / "importer" / "object_created.json").read_text())
            sqs_event = json.loads((EVENTS / "callbacks" / "sqs_recording_ready.json").read_text())
            for meeting, record_id in internal.items():
                server = store.get_server(store.get_meeting("default", meeting).server_id)  # type: ignore[union-attr]
                sim = sims_by_url[server.url.rstrip("/")]  # type: ignore[union-attr]
                now = int(time.time())
                claims = {"iss": server.url, "sub": record_id, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}  # type: ignore[union-attr]
                body = json.dumps({"record_id": record_id, "formats": ["presentation"], "size": 1}).encode()
                headers = [
                    ("Authorization", f"Bearer {jwt.encode(claims, sim.secret, algorithm='HS256')}"),
                    ("Content-Type", "application/json"),
                ]
                event = _api_event("POST", "/scalelite/api/recordingUpload", body, headers)
                grant = json.loads(runner.invoke("recordingUpload", "ApiFunction", event, api)["body"])
                data = _archive(record_id, meeting)
                put = runner.outside_lambda(
                    "spool PUT (BBB server)",
                    functools.partial(s3.put_object, Bucket=SPOOL, Key=grant["key"], Body=data),
                )
                event = copy.deepcopy(object_created)
                event["Records"][0]["s3"]["bucket"]["name"] = SPOOL
                event["Records"][0]["s3"]["object"].update(
                    key=grant["key"], size=len(data), eTag=put["ETag"].strip('"')
                )
                result = runner.invoke("import", "ImporterFunction", event, HANDLERS["ImporterFunction"])
                assert [r["status"] for r in result["results"]] == ["imported"], result
                message = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"])["Messages"][0]
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                event = copy.deepcopy(sqs_event)
                event["Records"][0].update(body=message["Body"], receiptHandle=message["ReceiptHandle"])
                runner.invoke("callback", "CallbackFunction", event, HANDLERS["CallbackFunction"])
                api_call("getRecordings", "getRecordings", {"meetingID": meeting})
            delivered = len(sink.requests)
            for _ in range(REPEAT):
                runner.invoke("import sweep", "ImporterFunction", scheduled, HANDLERS["ImporterFunction"])
            recording_bytes = _table_bytes("RECORDINGS_TABLE") / max(1, len(internal))
            for meeting in internal:
                api_call("end", "end", {"meetingID": meeting})

            # Busy: every server runs meetings (mapped, as create left them) that gain an attendee each cycle.
            now_s = time.time()
            for i, sim in enumerate(sims):
                server = store.get_server(f"bbb{i:02d}")
                for m in range(busy_meetings_per_server):
                    meeting_id = f"busy-{i}-{m}"
                    sim.add_meeting(meeting_id, participants=15, moderators=1, videos=2)
                    store.place_meeting(
                        Meeting(
                            tenant_id="default",
                            meeting_id=meeting_id,
                            server_id=server.id,  # type: ignore[union-attr]
                            created_at=int(now_s - 600),
                            expires_at=int(now_s) + 86_400,
                        ),
                        server,  # type: ignore[arg-type]
                        now=now_s,
                    )
            runner.invoke("warm", "PollerFunction", scheduled, poller)
            for _ in range(REPEAT):
                for i, sim in enumerate(sims):
                    for m in range(busy_meetings_per_server):
                        sim.add_attendee(f"busy-{i}-{m}", "Late student")
                runner.invoke("poll cycle (busy)", "PollerFunction", scheduled, poller)
    finally:
        for sim in sims:
            sim.stop()
        sink.stop()
        for name in ("CALLBACK_QUEUE_URL", "SPOOL_BUCKET", "RECORDINGS_BUCKET", "POWERTOOLS_METRICS_DISABLED"):
            os.environ.pop(name, None)
    if delivered < len(internal):
        raise RuntimeError(f"only {delivered} of {len(internal)} recording-ready callbacks reached the LMS")
    runner.samples.pop("warm", None)
    ops = runner.op_costs(SPEC)
    ops["callback"] = _plus_sqs(ops["callback"], ESM_SQS_REQUESTS)
    return Measurement(
        ops=ops,
        functions={name: fn for name, (fn, _) in functions.items()},
        fixed=fixed,
        init_s=init_seconds({f: m for f, m in HANDLERS.items() if f != "AdminFunction"}),
        metrics_seen=len(runner.metrics_seen),
        calls={op: runner.calls(op) for op in runner.samples},
        table_bytes_per_recording=recording_bytes,
        seconds=time.monotonic() - started,
    )


def _plus_sqs(op: OpCost, requests: float) -> OpCost:
    from dataclasses import replace

    return replace(op, sqs=op.sqs + requests)


def _table_bytes(env_name: str) -> float:
    """Bytes stored in the table named by the settings (items as DynamoDB sizes them, + 100 B of overhead each)."""
    from scalelite_common.config import get_settings

    name = {"RECORDINGS_TABLE": get_settings().recordings_table}[env_name]
    return float(sum(item_size(i.to_json()["Attributes"]) + 100 for i in _table(name).all_items()))
