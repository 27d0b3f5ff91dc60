"""Playback routes: `GET /recording/<recordID>/<format>` (the URL getRecordings lists; for a protected recording it
carries a one-time `token` and answers with the recording's cookie, services/playback.py) and the Recording Not
Found page CloudFront shows for every file the bucket refuses (`/errors/recording-not-found.html`). Every refusal is
the same 404 page (never 403: CloudFront rewrites an origin's 403 into that page anyway)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from scalelite_api.dependencies import ContainerDep, ContextDep
from scalelite_common.config import ConfigError
from scalelite_common.observability import logger
from scalelite_common.presenters import pages
from scalelite_common.presenters.bbb_recordings import absolute_url
from scalelite_common.services.playback import PlaybackRefused

router = APIRouter()

NO_STORE = {"cache-control": "no-store"}


def not_found() -> Response:
    return Response(pages.recording_not_found(), status_code=404, media_type="text/html", headers=NO_STORE)


@router.api_route("/errors/recording-not-found.html", methods=["GET", "HEAD"], include_in_schema=False)
async def recording_not_found_page() -> Response:
    return Response(pages.recording_not_found(), media_type="text/html")


@router.api_route("/recording/{record_id}/{fmt}", methods=["GET", "HEAD"], include_in_schema=False)
async def play(record_id: str, fmt: str, request: Request, container: ContainerDep, ctx: ContextDep) -> Response:
    if container.settings.recording_disabled:
        return not_found()
    token = request.query_params.get("token")
    try:
        grant = await run_in_threadpool(container.playback.open, ctx, record_id, fmt, token)
    except PlaybackRefused as exc:
        logger.info("playback refused", record_id=record_id[:256], format=fmt[:32], reason=str(exc))
        return not_found()
    except ConfigError as exc:  # no cookie key configured: nothing protected can play
        logger.error("playback refused: configuration", error=str(exc))
        return not_found()
    headers = dict(NO_STORE, location=absolute_url(ctx.base_url, grant.path))
    response = Response(status_code=307, headers=headers)
    if grant.cookie is not None:
        response.headers.append("set-cookie", grant.cookie.header())
    return response
