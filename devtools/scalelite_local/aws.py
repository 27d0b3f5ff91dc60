"""moto on loopback, with the tables and buckets of template.yaml."""

from __future__ import annotations

import logging
import threading
from typing import Any

import boto3

from scalelite_local.template import Template


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


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    def __init__(self, host: str, port: int) -> None:
        from moto.server import ThreadedMotoServer

        port = port or free_port(host)
        for name in ("werkzeug", "moto"):
            logging.getLogger(name).setLevel(logging.ERROR)
        serialize_moto()
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.host = host
        self.port = port

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


def client(service: str, endpoint: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_resources(template: Template, endpoint: str) -> tuple[list[str], list[str]]:
    """Create every DynamoDB table and S3 bucket the template declares (physical name = logical id / lower)."""
    dynamodb = client("dynamodb", endpoint)
    s3 = client("s3", endpoint)
    tables = []
    for logical_id, props in template.tables.items():
        kwargs: dict[str, Any] = {
            "TableName": logical_id,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = [
                {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
                for gsi in props["GlobalSecondaryIndexes"]
            ]
        dynamodb.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled") in (True, "true"):
            dynamodb.update_time_to_live(
                TableName=logical_id,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        tables.append(logical_id)
    buckets = []
    for logical_id in template.buckets:
        name = template.local_bucket_name(logical_id)
        s3.create_bucket(Bucket=name)
        buckets.append(name)
    return tables, buckets
