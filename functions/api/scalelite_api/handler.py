"""API Lambda entry point: the shared decorator stack around Mangum (API Gateway HTTP API payload v2 keeps the
raw query string byte for byte, which BBB checksums need).

The FastAPI app is built here, at import: Lambda's init (and SnapStart's snapshot) pays for it, not the first
request; so do the adapters' imports and botocore's parsed models. Settings, secrets and AWS clients are built at
init only inside Lambda, dropped and built again after a SnapStart restore; elsewhere (tests, local stack) on first
use (`scalelite_common.lifecycle`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from mangum import Mangum

from scalelite_api.app import create_app
from scalelite_common.lifecycle import in_lambda, prime_clients, prime_first_request, register_restore_hooks
from scalelite_common.observability import get_tracer, lambda_handler

_mangum = Mangum(create_app(), lifespan="off")
get_tracer()  # the X-Ray SDK import (~0.3 s) belongs to init too
# What every BBB call uses: the secrets and DynamoDB (`make bench`: bench_coldstart). S3 and SQS, used by fewer
# calls, stay on first use (≈ 50 ms more init for their models).
prime_first_request("dynamodb", "secretsmanager")
if in_lambda():
    # Inside Lambda only: the environment is the function's for the container's life, so settings, secrets and the
    # DynamoDB client are built at init instead of in the first request (and again after a SnapStart restore).
    prime_clients()
register_restore_hooks(prime=True)


def asgi_handler() -> Any:
    """FastAPI + Mangum, built at init and reused while the container is warm."""
    return _mangum


@lambda_handler(correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = _mangum(event, context)
    return result
