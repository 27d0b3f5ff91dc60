"""The FastAPI application: BBB API, health check, optional admin JSON API."""

from __future__ import annotations

import importlib

from fastapi import FastAPI, Request
from fastapi.responses import Response

from scalelite_api.routes import bigbluebutton, health
from scalelite_common.bbb import xml
from scalelite_common.errors import UnsupportedRequestError


def create_app() -> FastAPI:
    app = FastAPI(title="Scalelite Serverless", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(bigbluebutton.router)
    app.include_router(health.router)
    app.include_router(importlib.import_module("scalelite_api.routes.admin").router)

    @app.exception_handler(404)
    @app.exception_handler(405)
    async def not_supported(request: Request, exc: Exception) -> Response:
        # Unknown paths and verbs answer like Scalelite's catch-all route: BBB XML, HTTP 200.
        return Response(xml.error_document(UnsupportedRequestError()), media_type="application/xml")

    return app
