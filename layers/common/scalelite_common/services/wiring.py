"""Builds the real adapters once per container (warm Lambdas reuse pools and connections)."""

from __future__ import annotations

from functools import cache

from scalelite_common.bbb.client import BBBClient
from scalelite_common.config import Settings, get_settings
from scalelite_common.services.meetings import MeetingService


@cache
def bbb_client(settings: Settings) -> BBBClient:
    return BBBClient(
        connect_timeout=settings.connect_timeout,
        response_timeout=settings.response_timeout,
        algorithm=settings.outbound_algorithm,
    )


@cache
def _meeting_service(settings: Settings) -> MeetingService:
    from scalelite_common.db import get_store  # PynamoDB is imported on first use, not at module import

    return MeetingService(get_store(settings), bbb_client(settings), settings)


def meeting_service(settings: Settings | None = None) -> MeetingService:
    return _meeting_service(settings or get_settings())


def reset() -> None:
    bbb_client.cache_clear()
    _meeting_service.cache_clear()


def reset_all() -> None:
    """Re-read settings from the environment and rebuild the store and services (tests, benches, local stack)."""
    from scalelite_common import db

    get_settings.cache_clear()
    db.reset()
    reset()
