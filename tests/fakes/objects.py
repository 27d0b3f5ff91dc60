"""InMemoryObjectStore (the ObjectStore port) and RecordingNotifier (the Notifier port)."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from scalelite_common.errors import ObjectChanged
from scalelite_common.services.ports import AnalyticsCallback, PresignedUpload, RecordingReady, StoredObject


@dataclass
class FakeObject:
    body: bytes
    content_type: str = "application/octet-stream"
    content_disposition: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    last_modified: float = field(default_factory=time.time)
    cache_control: str | None = None

    @property
    def etag(self) -> str:
        return f'"{hashlib.md5(self.body).hexdigest()}"'  # S3's ETag of a single-part object


class InMemoryObjectStore:
    def __init__(self) -> None:
        self.buckets: dict[str, dict[str, FakeObject]] = {}
        self._lock = threading.Lock()

    def bucket(self, name: str) -> dict[str, FakeObject]:
        return self.buckets.setdefault(name, {})

    def open(self, bucket: str, key: str, *, etag: str | None = None) -> IO[bytes]:
        with self._lock:
            obj = self.bucket(bucket)[key]  # KeyError for a missing object, like S3's NoSuchKey
            if etag and obj.etag != etag:
                raise ObjectChanged(key)
            return io.BytesIO(obj.body)

    def head(self, bucket: str, key: str) -> StoredObject | None:
        with self._lock:
            obj = self.bucket(bucket).get(key)
            if obj is None:
                return None
            return StoredObject(key, len(obj.body), obj.etag, obj.last_modified, dict(obj.metadata))

    def put(
        self,
        bucket: str,
        key: str,
        body: IO[bytes],
        *,
        content_type: str,
        content_disposition: str | None = None,
        metadata: Mapping[str, str] | None = None,
        cache_control: str | None = None,
    ) -> None:
        data = body.read()
        with self._lock:
            self.bucket(bucket)[key] = FakeObject(
                data, content_type, content_disposition, dict(metadata or {}), cache_control=cache_control
            )

    def list(self, bucket: str, prefix: str) -> Iterator[StoredObject]:
        with self._lock:
            found = sorted((k, o) for k, o in self.bucket(bucket).items() if k.startswith(prefix))
        for key, obj in found:
            yield StoredObject(key, len(obj.body), obj.etag, obj.last_modified)

    def list_folders(self, bucket: str, prefix: str) -> Sequence[str]:
        with self._lock:
            keys = [k for k in self.bucket(bucket) if k.startswith(prefix)]
        return sorted({prefix + k[len(prefix) :].split("/", 1)[0] + "/" for k in keys if "/" in k[len(prefix) :]})

    def delete(self, bucket: str, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self.bucket(bucket).pop(key, None)

    def copy(self, bucket: str, source: str, target: str, *, metadata: Mapping[str, str] | None = None) -> None:
        with self._lock:
            obj = self.bucket(bucket)[source]
            kept = dict(obj.metadata if metadata is None else metadata)
            self.bucket(bucket)[target] = FakeObject(
                obj.body, obj.content_type, obj.content_disposition, kept, cache_control=obj.cache_control
            )

    def presign_put(
        self, bucket: str, key: str, *, expires_in: int, content_type: str, cache_control: str | None = None
    ) -> PresignedUpload:
        headers = {"Content-Type": content_type} | ({"Cache-Control": cache_control} if cache_control else {})
        return PresignedUpload(
            url=f"https://{bucket}.s3.example/{key}?X-Amz-Expires={expires_in}",
            method="PUT",
            headers=headers,
            expires=int(time.time()) + expires_in,
        )


class RecordingNotifier:
    """The Notifier port: remembers what was queued; `fail` makes `analytics` raise it."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[RecordingReady] = []
        self.analytics_sent: list[AnalyticsCallback] = []
        self.fail = fail

    def recording_ready(self, callback: RecordingReady) -> None:
        self.sent.append(callback)

    def analytics(self, callback: AnalyticsCallback) -> None:
        if self.fail is not None:
            raise self.fail
        self.analytics_sent.append(callback)


class RecordingEdgeCache:
    """The EdgeCache port: remembers each invalidation (one list of paths per call)."""

    def __init__(self) -> None:
        self.invalidations: list[list[str]] = []

    def invalidate(self, paths: Sequence[str]) -> None:
        self.invalidations.append(list(paths))

    @property
    def paths(self) -> set[str]:
        return {p for batch in self.invalidations for p in batch}
