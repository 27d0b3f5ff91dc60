"""DynamoDB access: the only package that imports PynamoDB."""

from __future__ import annotations

from functools import cache

from scalelite_common.config import Settings, get_settings
from scalelite_common.db.repositories import DynamoStore


@cache
def _store_for(settings: Settings) -> DynamoStore:
    return DynamoStore(settings)


def get_store(settings: Settings | None = None) -> DynamoStore:
    return _store_for(settings or get_settings())


def reset() -> None:
    _store_for.cache_clear()
