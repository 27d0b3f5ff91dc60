"""S3 behind the ObjectStore port: bodies streamed both ways, listings and deletes across every page."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, cast

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from scalelite_common.errors import ObjectChanged
from scalelite_common.services.ports import PresignedUpload, StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

# Parts of 8 MiB, 4 in flight and at most 4 read ahead (boto3 reads 10 ahead of a stream by default): a member costs
# at most ~64 MiB of memory, whatever its size (bench_recordings measures the importer's peak).
PART = 8 * 1024**2
TRANSFER = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=4)
TRANSFER.max_in_memory_upload_chunks = 4  # s3transfer's setting; boto3's constructor does not take it
POOL = 64  # connections: publishRecordings copies 32 objects at a time
DELETE_BATCH = 1000  # DeleteObjects' limit


class _ForwardOnly(io.RawIOBase):
    """A body read front to back. boto3's uploader asks `seekable()`, which some streams cannot answer (a member of a
    stream-mode tarfile raises AttributeError): it then uploads part by part, never holding the whole body."""

    def __init__(self, raw: IO[bytes], head: bytes = b"") -> None:
        self._raw = raw
        self._head = memoryview(head)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        if self._head:  # the bytes read ahead first
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_up_to(body: IO[bytes], size: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < size:
        chunk = body.read(size - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


class S3ObjectStore:
    def __init__(self, *, region: str, endpoint_url: str | None = None) -> None:
        self._client: S3Client = boto3.client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(
                retries={"mode": "standard", "max_attempts": 5}, signature_version="s3v4", max_pool_connections=POOL
            ),
        )

    def open(self, bucket: str, key: str, *, etag: str | None = None) -> IO[bytes]:
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if etag:
            args["IfMatch"] = etag
        try:
            body = cast(IO[bytes], self._client.get_object(**args)["Body"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                raise ObjectChanged(key) from exc
            raise
        return body

    def head(self, bucket: str, key: str) -> StoredObject | None:
        try:
            head = self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredObject(
            key=key,
            size=int(head.get("ContentLength", 0)),
            etag=str(head.get("ETag", "")),
            last_modified=head["LastModified"].timestamp() if "LastModified" in head else time.time(),
            metadata=dict(head.get("Metadata", {})),
        )

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
        extra: dict[str, Any] = {"ContentType": content_type}
        if content_disposition:
            extra["ContentDisposition"] = content_disposition
        if cache_control:
            extra["CacheControl"] = cache_control
        if metadata:
            extra["Metadata"] = dict(metadata)
        head = _read_up_to(body, PART + 1)
        if len(head) <= PART:  # a small file (most of a recording): one PutObject, no transfer manager
            self._client.put_object(Bucket=bucket, Key=key, Body=head, **extra)
            return
        stream = io.BufferedReader(_ForwardOnly(body, head), buffer_size=1024 * 1024)
        self._client.upload_fileobj(stream, bucket, key, ExtraArgs=extra, Config=TRANSFER)

    def list(self, bucket: str, prefix: str) -> Iterator[StoredObject]:
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield StoredObject(
                    key=obj["Key"],
                    size=int(obj.get("Size", 0)),
                    etag=str(obj.get("ETag", "")),
                    last_modified=obj["LastModified"].timestamp() if "LastModified" in obj else 0.0,
                )

    def list_folders(self, bucket: str, prefix: str) -> Sequence[str]:
        folders: list[str] = []
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            folders.extend(p["Prefix"] for p in page.get("CommonPrefixes", []) if "Prefix" in p)
        return folders

    def delete(self, bucket: str, keys: Sequence[str]) -> None:
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), DELETE_BATCH):
            batch: list[ObjectIdentifierTypeDef] = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
            answer = self._client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            errors = answer.get("Errors", [])
            if errors:
                raise RuntimeError(f"S3 refused to delete {len(errors)} object(s), e.g. {errors[0].get('Key')}")

    def copy(self, bucket: str, source: str, target: str, *, metadata: Mapping[str, str] | None = None) -> None:
        extra: dict[str, Any] = {}
        if metadata is not None:  # REPLACE drops the content type too: keep the source's
            source_type = self._client.head_object(Bucket=bucket, Key=source).get("ContentType")
            extra = {"Metadata": dict(metadata), "MetadataDirective": "REPLACE"}
            if source_type:
                extra["ContentType"] = source_type
        try:  # one CopyObject (up to 5 GB); the managed copy (a HEAD, then parts) only for larger objects
            self._client.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source}, **extra)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("InvalidRequest", "EntityTooLarge"):
                raise
            self._client.copy({"Bucket": bucket, "Key": source}, bucket, target, ExtraArgs=extra, Config=TRANSFER)

    def presign_put(
        self, bucket: str, key: str, *, expires_in: int, content_type: str, cache_control: str | None = None
    ) -> PresignedUpload:
        params: dict[str, Any] = {"Bucket": bucket, "Key": key, "ContentType": content_type}
        headers = {"Content-Type": content_type}
        if cache_control:  # signed: the PUT must carry exactly this header
            params["CacheControl"] = headers["Cache-Control"] = cache_control
        url = self._client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in)
        return PresignedUpload(url=url, method="PUT", headers=headers, expires=int(time.time()) + expires_in)
