"""The FastAPI application: BBB API, health check, optional admin JSON API."""

from __future__ import annotations

import importlib
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from scalelite_api.origin import OriginVerify
from scalelite_api.responses import error_response
from scalelite_api.routes import bigbluebutton, health, playback, recordings
from scalelite_common.errors import UnsupportedRequestError

_REPEATED_SLASHES = re.compile(r"/{2,}")


class CollapseSlashes:
    """`/bigbluebutton/api//create` is `/bigbluebutton/api/create`, as BBB's nginx front end treats it (clients
    that append `/create` to a base URL ending in `/` send the double slash)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and "//" in scope.get("path", ""):
            scope = dict(scope, path=_REPEATED_SLASHES.sub("/", scope["path"]))
            scope.pop("raw_path", None)
        await self.app(scope, receive, send)


def create_app() -> FastAPI:
    app = FastAPI(title="Scalelite Serverless", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(bigbluebutton.router)
    app.include_router(health.router)
    app.include_router(recordings.router)  # before the admin API's /scalelite/api/{call_name}
    app.include_router(playback.router)
    app.include_router(importlib.import_module("scalelite_api.routes.admin").router)

    @app.exception_handler(404)
    @app.exception_handler(405)
    async def not_supported(request: Request, exc: Exception) -> Response:
        # Unknown paths and verbs answer like Scalelite's catch-all route: BBB XML, HTTP 200.
        return error_response(UnsupportedRequestError())

    app.add_middleware(CollapseSlashes)
    app.add_middleware(OriginVerify)  # outermost: a request around CloudFront goes no further
    return app
