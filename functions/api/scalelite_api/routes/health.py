"""`/health_check` and `/`: checks the data store answers. Unlike Scalelite (always 200), a failure is a 503."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from scalelite_api.dependencies import ContainerDep
from scalelite_common.observability import logger

router = APIRouter()


@router.api_route("/health_check", methods=["GET", "HEAD"], include_in_schema=False)
@router.api_route("/", methods=["GET", "HEAD", "POST"], include_in_schema=False)
async def health_check(container: ContainerDep) -> PlainTextResponse:
    try:
        container.store.get_server("__health_check__")
    except Exception as exc:
        logger.exception("health check failed")
        return PlainTextResponse(f"Health Check Failure: {type(exc).__name__}", status_code=503)
    return PlainTextResponse("success")
