"""CloudFront behind the EdgeCache port: recording files CloudFront cached are invalidated when a recording is
unpublished, deleted or its protection changes (docs/playback.md). Without a distribution (the local stack, whose
edge does not cache) `NoEdgeCache` stands in."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import boto3

from scalelite_common.observability import logger

MAX_PATHS = 3000  # CloudFront's limit of paths in one invalidation batch (wildcards: 15 in progress at once)


class NoEdgeCache:
    """Nothing caches the recordings (CLOUDFRONT_DISTRIBUTION_ID unset)."""

    def invalidate(self, paths: Sequence[str]) -> None:
        return None


class CloudFrontEdgeCache:
    """CreateInvalidation on one distribution. The distribution id is given, or read on first use from the SSM
    parameter the template writes it to (the API function cannot name the distribution in its own environment:
    the distribution's origin is the API, so that would be a dependency cycle)."""

    def __init__(
        self,
        distribution_id: Callable[[], str] | str,
        *,
        region: str,
        endpoint_url: str | None = None,
    ) -> None:
        self._distribution = distribution_id
        self._resolved: str | None = distribution_id if isinstance(distribution_id, str) else None
        self._lock = threading.Lock()
        self._client: Any = boto3.client("cloudfront", region_name=region, endpoint_url=endpoint_url)

    def _distribution_id(self) -> str:
        with self._lock:
            if self._resolved is None and callable(self._distribution):
                self._resolved = self._distribution()
            return self._resolved or ""

    def invalidate(self, paths: Sequence[str]) -> None:
        unique = list(dict.fromkeys(paths))
        if not unique:
            return
        try:
            distribution = self._distribution_id()
            for start in range(0, len(unique), MAX_PATHS):
                batch = unique[start : start + MAX_PATHS]
                self._client.create_invalidation(
                    DistributionId=distribution,
                    InvalidationBatch={
                        "Paths": {"Quantity": len(batch), "Items": batch},
                        # Unique per call: CloudFront treats a repeated reference as the same request.
                        "CallerReference": f"{int(time.time())}-{uuid.uuid4().hex}",
                    },
                )
        except Exception as exc:  # the change is made; a stale copy expires with the cache's TTL
            logger.error("CloudFront invalidation failed", error=type(exc).__name__, paths=len(unique))


def ssm_parameter(name: str, *, region: str, endpoint_url: str | None = None) -> Callable[[], str]:
    """A reader of one SSM String parameter (the distribution id), called on first use."""

    def read() -> str:
        client: Any = boto3.client("ssm", region_name=region, endpoint_url=endpoint_url)
        return str(client.get_parameter(Name=name)["Parameter"]["Value"]).strip()

    return read
