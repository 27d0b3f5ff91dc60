"""moto on loopback (DynamoDB, S3, SQS), with the tables, buckets and queues of template.yaml."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import socket
import threading
import types
import urllib.request
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3

from scalelite_local.server import ConnectionTracking
from scalelite_local.template import REGION, Template


def serialize_moto() -> None:
    """Real DynamoDB applies each request (a transaction included) atomically; moto's backends do not lock, so
    concurrent requests could interleave inside one transaction. One lock per request restores that
    (idempotent, process-wide; used by the local stack and the tests)."""
    from moto.core.responses import BaseResponse

    if getattr(BaseResponse.call_action, "_serialized", False):
        return
    lock = threading.RLock()
    original = BaseResponse.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    call_action._serialized = True  # type: ignore[attr-defined]
    BaseResponse.call_action = call_action  # type: ignore[method-assign]


def untrack_moto_models() -> None:
    """moto's `BaseModel.__new__` appends every model instance it ever creates to a class-level list
    (`instances_tracked`, read only by its /moto-api dashboard and S3's reset), so nothing moto creates is ever
    freed: every DynamoDB item version, every S3 object body, and the deep copy of each whole table that
    `TransactWriteItems` takes for its rollback. Over a long local run that is most of the stack's memory. Stop
    tracking (idempotent, process-wide); what the backends still reference lives on as before, and S3 objects are
    disposed of when they are collected (`FakeKey.__del__`)."""
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import reset_model_data

    if getattr(BaseModel.__new__, "_untracked", False):
        return

    def __new__(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
        instance: BaseModel = super(BaseModel, cls).__new__(cls)
        return instance

    __new__._untracked = True  # type: ignore[attr-defined]
    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[method-assign]
    reset_model_data()  # and forget what was tracked so far


def cheap_transaction_rollback() -> None:
    """moto's `TransactWriteItems` deep-copies every table it writes to before it starts, for the rollback: a
    transaction then costs time and memory in proportion to the whole table (≈ 25 µs per item: 50 ms for a
    2,000-item table, under the one moto lock, so every other AWS call waits too), where DynamoDB's cost depends only
    on the items written. Here the rollback copy is the table with its item index copied shallowly and only the
    items the transaction names deep-copied: the same rollback, since a transaction touches nothing else (each
    item at most once). A table with a stream keeps the full copy (its records roll back too). Idempotent,
    process-wide."""
    from moto.dynamodb import models as dynamodb
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    backend = dynamodb.DynamoDBBackend
    if getattr(backend.transact_write_items, "_cheap_rollback", False):
        return
    written = threading.local()  # {table name: [key, …]} of the transaction running on this thread

    def snapshot(table: Table, keys: list[dict[str, Any]]) -> Table:
        copied: Table = copy.copy(table)
        items: defaultdict[Any, Any] = defaultdict(dict)
        for hash_value, entry in table.items.items():
            items[hash_value] = dict(entry) if table.range_key_attr else entry
        for key in keys:
            hash_value = DynamoType(key[table.hash_key_attr])
            if table.range_key_attr:
                range_value = DynamoType(key[table.range_key_attr])
                if range_value in items.get(hash_value, {}):
                    items[hash_value][range_value] = copy.deepcopy(items[hash_value][range_value])
            elif hash_value in items:
                items[hash_value] = copy.deepcopy(items[hash_value])
        copied.items = items
        return copied

    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        keys = getattr(written, "keys", None)
        if keys is not None and isinstance(value, Table) and value.name in keys and value.stream_shard is None:
            with contextlib.suppress(Exception):  # a key moto cannot hash: its full copy, and its own answer
                return snapshot(value, keys[value.name])
        return copy.deepcopy(value, memo)

    # moto.dynamodb.models reaches `deepcopy` through its module global `copy`: give it one that knows the keys.
    shim = types.ModuleType("copy")
    shim.__dict__.update(copy.__dict__)
    shim.deepcopy = deepcopy  # type: ignore[attr-defined]
    dynamodb.copy = shim  # type: ignore[attr-defined]
    original = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _written_keys(written, _keys_by_table(self.tables, transact_items)):
            original(self, transact_items)

    transact_write_items._cheap_rollback = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _keys_by_table(tables: Mapping[str, Any], transact_items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The key of every item a transaction names, by table; a table whose keys cannot all be read here (a malformed
    request: moto answers it) is left out, so it gets moto's full copy."""
    keys: dict[str, list[dict[str, Any]]] = {}
    unreadable: set[str] = set()
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        name = op.get("TableName", "")
        try:
            table = tables[name]
            source = op["Item"] if op_type == "Put" else op["Key"]
            names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
            keys.setdefault(name, []).append({n: source[n] for n in names})
        except (KeyError, TypeError, AttributeError):
            unreadable.add(name)
    return {name: k for name, k in keys.items() if name not in unreadable}


@contextmanager
def _written_keys(written: threading.local, keys: dict[str, list[dict[str, Any]]]) -> Iterator[None]:
    written.keys = keys
    try:
        yield
    finally:
        written.keys = None


class MotoServer:
    """moto's WSGI app on a werkzeug server owned here rather than `ThreadedMotoServer`: that one binds in its
    thread (a busy port hangs `start()` forever) and never closes its socket. Here a busy port raises OSError at
    once, port 0 picks a free one, and `stop()` frees the port."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        from moto.moto_server import werkzeug_app
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

        # moto ≥ 5.2 ships a handler that keeps underscores in S3 metadata header names; 5.1 (pinned: see
        # pyproject.toml) does not, and werkzeug's own handler is what its moto_server uses.
        handler = getattr(werkzeug_app, "MotoRequestHandler", WSGIRequestHandler)

        class Server(ConnectionTracking, ThreadedWSGIServer):
            pass

        for name in ("werkzeug", "moto"):  # one access-log line per AWS call otherwise
            logging.getLogger(name).setLevel(logging.ERROR)
        serialize_moto()
        untrack_moto_models()
        cheap_transaction_rollback()
        app = DomainDispatcherApplication(create_backend_app)
        # Bound here, not by werkzeug: on a busy port it prints and calls sys.exit() instead of raising.
        with socket.create_server((self.host, self.port), backlog=128) as sock:
            self._server = Server(self.host, sock.getsockname()[1], app, handler=handler, fd=sock.fileno())
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="local-moto", daemon=True
        )
        self._thread.start()
        # moto's backends are process-global: start from an empty account, as a fresh moto_server would.
        reset = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(reset, timeout=10):
            pass

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            if self._thread is not None:  # shutdown() waits forever for a serve_forever() that never ran
                server.shutdown()
            server.server_close()
            server.drop_connections()  # the functions' clients keep connections alive
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def client(service: str, endpoint: str) -> Any:
    return boto3.session.Session().client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _table_kwargs(name: str, props: dict[str, Any]) -> dict[str, Any]:
    billing = props.get("BillingMode", "PROVISIONED" if "ProvisionedThroughput" in props else "PAY_PER_REQUEST")
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": billing,
    }
    keep = ["IndexName", "KeySchema", "Projection"]
    if billing == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        keep.append("ProvisionedThroughput")
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(kind):
            kwargs[kind] = [{k: v for k, v in index.items() if k in keep} for index in props[kind]]
    if (props.get("StreamSpecification") or {}).get("StreamViewType"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return kwargs


def create_resources(template: Template, endpoint: str) -> tuple[list[str], list[str]]:
    """Create every DynamoDB table and S3 bucket the template declares (physical name = logical id, buckets
    lower-cased), with their key schemas, indexes and TTL."""
    dynamodb = client("dynamodb", endpoint)
    s3 = client("s3", endpoint)
    tables, buckets = [], []
    try:
        for logical_id, props in template.tables.items():
            dynamodb.create_table(**_table_kwargs(logical_id, props))
            ttl = props.get("TimeToLiveSpecification") or {}
            if ttl.get("Enabled") in (True, "true") and ttl.get("AttributeName"):
                dynamodb.update_time_to_live(
                    TableName=logical_id,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
            tables.append(logical_id)
        for logical_id in template.buckets:
            name = template.local_bucket_name(logical_id)
            s3.create_bucket(Bucket=name)
            buckets.append(name)
    finally:
        dynamodb.close()
        s3.close()
    return tables, buckets


# Queue properties that mean the same to moto (SQS attribute = CloudFormation property).
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def _queue_attributes(template: Template, props: dict[str, Any]) -> dict[str, str]:
    attributes = {name: _attribute(props[name]) for name in _QUEUE_ATTRIBUTES if name in props}
    redrive = props.get("RedrivePolicy")
    if isinstance(redrive, dict):
        target = template.resolve(redrive.get("deadLetterTargetArn"))
        if target is None:
            raise ValueError(f"RedrivePolicy names a queue the local stack cannot resolve: {redrive!r}")
        policy = {"deadLetterTargetArn": target, "maxReceiveCount": int(redrive.get("maxReceiveCount", 10))}
        attributes["RedrivePolicy"] = json.dumps(policy)
    return attributes


def _attribute(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def create_queues(template: Template, endpoint: str) -> dict[str, str]:
    """Create every SQS queue the template declares (physical name = logical id) with its visibility timeout,
    retention and redrive policy (dead-letter queues first); returns {logical id: queue URL}."""
    sqs = client("sqs", endpoint)
    urls: dict[str, str] = {}
    pending = dict(template.queues)
    try:
        while pending:
            # A queue whose dead-letter queue is still to be created waits for it.
            ready = [
                name
                for name, props in pending.items()
                if _dead_letter_target(props) is None or _dead_letter_target(props) not in pending
            ]
            if not ready:
                raise ValueError(f"queues redrive to each other: {sorted(pending)}")
            for name in ready:
                props = pending.pop(name)
                attributes = _queue_attributes(template, props)
                urls[name] = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    finally:
        sqs.close()
    return urls


def _dead_letter_target(props: dict[str, Any]) -> str | None:
    target = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
    if isinstance(target, dict) and isinstance(target.get("Fn::GetAtt"), list):
        return str(target["Fn::GetAtt"][0])
    return None
