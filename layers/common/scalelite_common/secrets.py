"""Secrets Manager values, re-read every REFRESH_SECONDS so a rotation takes effect without a redeploy.

Each secret is read as two versions: AWSCURRENT and AWSPREVIOUS. The previous one is still accepted for
`grace` seconds after the current one was created (rotation: LMSs switch over one at a time), never afterwards.
Cost: two GetSecretValue calls per secret per warm container every 5 minutes (≈ 17,000 a month, $0.09 at
$0.05 per 10,000). A failed refresh keeps serving the last values read and retries a minute later: a Secrets
Manager hiccup must not take the API down. Nothing here touches AWS before the first `values` call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scalelite_common.observability import logger

REFRESH_SECONDS = 300.0
RETRY_SECONDS = 60.0
DEFAULT_GRACE = 0.0  # SECRET_ROTATION_GRACE's default: the previous value is not accepted


class SecretUnavailable(RuntimeError):
    """A secret could not be read and there is no earlier value to fall back on."""


@dataclass(frozen=True)
class _Entry:
    values: tuple[str, ...]  # current first, then previous (within its grace)
    expires: float


class SecretCache:
    def __init__(
        self,
        *,
        ttl: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.time,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._client_factory = client_factory or _default_client
        self._client: Any = None
        self._entries: dict[tuple[str, float], _Entry] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every value and the client (tests, and after a SnapStart restore: the snapshot's values and
        connections are as old as the snapshot)."""
        with self._lock:
            self._entries.clear()
            self._client = None

    def current(self, arn: str) -> str:
        return self.values(arn, grace=0)[0]

    def values(self, arn: str, *, grace: float = DEFAULT_GRACE) -> tuple[str, ...]:
        now = self.clock()
        key = (arn, grace)
        entry = self._entries.get(key)
        if entry is not None and now < entry.expires:
            return entry.values
        with self._lock:  # one refresh at a time; the others wait for it instead of calling too
            entry = self._entries.get(key)
            if entry is not None and now < entry.expires:
                return entry.values
            try:
                values = self._read(arn, grace, now)
            except Exception as exc:
                if entry is None:
                    raise SecretUnavailable(f"could not read the secret {arn}: {type(exc).__name__}") from exc
                logger.warning("secret refresh failed: keeping the last value", error=type(exc).__name__)
                self._entries[key] = _Entry(entry.values, now + RETRY_SECONDS)
                return entry.values
            self._entries[key] = _Entry(values, now + self.ttl)
            return values

    def _read(self, arn: str, grace: float, now: float) -> tuple[str, ...]:
        if self._client is None:
            self._client = self._client_factory()
        current = self._client.get_secret_value(SecretId=arn)
        values = [_text(current)]
        created = current.get("CreatedDate")
        if grace > 0 and created is not None and now - created.timestamp() < grace:
            try:
                previous = self._client.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")
            except self._client.exceptions.ResourceNotFoundException:
                pass  # never rotated
            else:
                values.append(_text(previous))
        return tuple(dict.fromkeys(v for v in values if v))


def _text(answer: dict[str, Any]) -> str:
    raw = answer.get("SecretString")
    if raw is None:
        raw = bytes(answer.get("SecretBinary") or b"").decode()
    return str(raw).strip()


def _default_client() -> Any:
    import boto3  # region and endpoint from the environment (AWS_REGION; AWS_ENDPOINT_URL locally)

    return boto3.client("secretsmanager")


_cache = SecretCache()


def cache() -> SecretCache:
    """The process's cache (SnapStart restore and `wiring.reset_all` clear it)."""
    return _cache
