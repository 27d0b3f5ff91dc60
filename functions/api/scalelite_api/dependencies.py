"""FastAPI dependencies: the settings, the composition root's container and the per-request context. Routes take
them with `Depends`, so tests can replace any of them through `app.dependency_overrides`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from scalelite_common.config import Settings, get_settings
from scalelite_common.services import context, wiring


async def settings() -> Settings:
    return get_settings()


async def container(s: Annotated[Settings, Depends(settings)]) -> wiring.Container:
    """The adapters and services; each is built on first use (after the checksum passed), not here."""
    return wiring.container(s)


async def request_context(request: Request, s: Annotated[Settings, Depends(settings)]) -> context.RequestContext:
    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    # Behind CloudFront the Host is the API's origin; the viewer's host comes in X-Forwarded-Host (set by api.js).
    host = context.viewer_host(request.headers.get("x-forwarded-host")) or request.headers.get("host")
    tenants = wiring.container(s).tenant_directory if s.multitenancy_enabled else None
    return context.resolve(s, host, scheme, tenants=tenants)


SettingsDep = Annotated[Settings, Depends(settings)]
ContainerDep = Annotated[wiring.Container, Depends(container)]
ContextDep = Annotated[context.RequestContext, Depends(request_context)]
