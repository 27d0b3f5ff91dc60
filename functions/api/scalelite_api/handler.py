"""API Lambda entry point: the shared decorator stack around Mangum (API Gateway HTTP API payload v2 keeps the
raw query string byte for byte, which BBB checksums need)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from scalelite_common.observability import lambda_handler

_mangum: Any = None


def asgi_handler() -> Any:
    """FastAPI + Mangum, built on the container's first invocation and reused while it is warm."""
    global _mangum
    if _mangum is None:
        from mangum import Mangum

        from scalelite_api.app import create_app

        _mangum = Mangum(create_app(), lifespan="off")
    return _mangum


@lambda_handler(correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = asgi_handler()(event, context)
    return result
