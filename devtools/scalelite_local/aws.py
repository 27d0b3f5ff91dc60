"""moto on loopback (DynamoDB, S3), with the tables and buckets of template.yaml."""

from __future__ import annotations

import logging
import socket
import threading
import urllib.request
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
