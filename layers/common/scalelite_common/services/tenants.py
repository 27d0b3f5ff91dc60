"""Tenant lookups for request resolution, cached per process for at most TENANT_CACHE_SECONDS: every BBB request
resolves its tenant, and a tenant added, renamed, re-keyed or removed must take effect within that time on every
warm Lambda without a restart. Unknown names are cached too (a flood of made-up hosts costs one read per name per
period), in a bounded cache."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from scalelite_common.domain.tenants import Tenant, TenantSetting
from scalelite_common.services.ports import TenantRepository

TENANT_CACHE_SECONDS = 10.0
MAX_CACHED = 4096


class _Expiring[K, V]:
    """A small LRU of values that expire `ttl` seconds after they were read from the store."""

    def __init__(self, ttl: float, clock: Callable[[], float], size: int = MAX_CACHED) -> None:
        self._ttl = ttl
        self._clock = clock
        self._size = size
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        now = self._clock()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                self._items.move_to_end(key)
                return hit[1]
        value = load()  # outside the lock: a slow read does not hold up other keys
        with self._lock:
            self._items[key] = (now + self._ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


class TenantDirectory:
    def __init__(
        self,
        repository: TenantRepository,
        *,
        ttl: float = TENANT_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._repository = repository
        self._by_name: _Expiring[str, Tenant | None] = _Expiring(ttl, clock)
        self._settings: _Expiring[str, tuple[TenantSetting, ...]] = _Expiring(ttl, clock)

    def by_name(self, name: str) -> Tenant | None:
        return self._by_name.get(name, lambda: self._repository.tenant_by_name(name))

    def settings(self, tenant_id: str) -> tuple[TenantSetting, ...]:
        """The tenant's settings (for create and join), cached like the tenants."""
        return self._settings.get(tenant_id, lambda: tuple(self._repository.list_settings(tenant_id)))
