"""Recording uploads from BBB servers: `POST /scalelite/api/recordingUpload` hands a server a presigned S3 PUT
for one recording's archive, so the bytes never pass through API Gateway or Lambda.

The request carries a JWT (HS256) signed with the uploading server's own secret: `iss` = its API URL as
registered, `sub` = the recordID, `exp` at most 10 minutes ahead, a unique `jti` (a replay is refused). The
server must be the one the balancer placed that meeting on: at create the balancer keeps the internal meeting id
BBB returned (the recordID) with its server and tenant (`RecordingOrigin`); the tenant always comes from there.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from scalelite_common.bbb.metadata import FORMAT, RECORD_ID
from scalelite_common.config import Settings
from scalelite_common.domain.entities import Server
from scalelite_common.observability import logger
from scalelite_common.services.ports import ObjectStore, PresignedUpload, Store

MAX_TOKEN_LIFETIME = 600  # seconds between now and `exp`
LEEWAY = 30  # seconds of clock skew tolerated
MAX_FORMATS = 32
MAX_SINGLE_PUT = 5 * 1024**3  # S3's limit for one PUT (presigned multipart uploads are not offered yet)
ARCHIVE_TYPE = "application/x-tar"
UPLOAD_PREFIX = "uploads/"


class UploadUnauthenticated(Exception):
    """The request is not provably from a registered BBB server (bad, expired or replayed token)."""


class UploadForbidden(Exception):
    """A registered server asked to upload a recording it may not upload."""


class UploadInvalid(Exception):
    """The request body is malformed."""


@dataclass(frozen=True)
class UploadRequest:
    record_id: str
    formats: tuple[str, ...]
    size: int

    @classmethod
    def parse(cls, body: Any, *, max_bytes: int) -> UploadRequest:
        if not isinstance(body, Mapping):
            raise UploadInvalid("The body must be a JSON object")
        record_id, formats, size = body.get("record_id"), body.get("formats"), body.get("size")
        if not isinstance(record_id, str) or not RECORD_ID.match(record_id):
            raise UploadInvalid("record_id must be a BBB recording id (<sha1>-<timestamp>)")
        if (
            not isinstance(formats, list)
            or not 1 <= len(formats) <= MAX_FORMATS
            or not all(isinstance(f, str) and FORMAT.match(f) for f in formats)
        ):
            raise UploadInvalid("formats must be a non-empty list of format names")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UploadInvalid("size must be the archive's size in bytes")
        if size > max_bytes:
            raise UploadInvalid(f"The archive is larger than RECORDING_IMPORT_MAX_BYTES ({max_bytes} bytes)")
        if size > MAX_SINGLE_PUT:
            raise UploadInvalid("The archive is larger than one S3 upload (5 GiB): send one format at a time (-f)")
        return cls(record_id=record_id, formats=tuple(dict.fromkeys(formats)), size=size)


def base_record_id(record_id: str) -> str:
    """The meeting instance a (possibly segmented, `<sha1>-<ts>-<ts>`) recordID belongs to."""
    return "-".join(record_id.split("-")[:2])


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


@dataclass(frozen=True)
class UploadGrant:
    upload: PresignedUpload
    key: str
    server_id: str


class UploadService:
    def __init__(self, store: Store, objects: ObjectStore, settings: Settings) -> None:
        self.store = store
        self.objects = objects
        self.settings = settings

    def authorize(self, token: str, body: Any, *, now: float | None = None) -> UploadGrant:
        moment = time.time() if now is None else now
        server, claims = self._verify(token, moment)
        request = UploadRequest.parse(body, max_bytes=self.settings.recording_import_max_bytes)
        if claims["sub"] != request.record_id:
            raise UploadUnauthenticated("The token was issued for another recording")
        origin = self.store.get_origin(base_record_id(request.record_id), now=moment)
        if origin is None:
            raise UploadForbidden(
                f"Recording {request.record_id} was not created through this load balancer (or too long ago)"
            )
        if origin.server_id != server.id:
            logger.warning("upload refused: another server hosted the meeting", server=server.id)
            raise UploadForbidden(f"Recording {request.record_id} was not hosted on server {server.id}")
        # Only now, with everything else valid, is the token spent (a refused request can be corrected and re-sent).
        if not self.store.claim_token(str(claims["jti"]), expires_at=int(claims["exp"]) + LEEWAY):
            raise UploadUnauthenticated("The token was used before")
        ttl = self.settings.recording_upload_url_ttl
        key = f"{UPLOAD_PREFIX}{server.id}/{request.record_id}/{uuid.uuid4().hex}.tar"
        upload = self.objects.presign_put(self.settings.spool_bucket, key, expires_in=ttl, content_type=ARCHIVE_TYPE)
        # Pending until imported (or for a day past the URL's expiry, when nothing was ever uploaded).
        self.store.add_pending_upload(server.id, request.record_id, key, expires_at=int(moment) + ttl + 86_400)
        logger.info("recording upload authorized", server=server.id, record_id=request.record_id, size=request.size)
        return UploadGrant(upload=upload, key=key, server_id=server.id)

    def _verify(self, token: str, now: float) -> tuple[Server, dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise UploadUnauthenticated("The token is not a JWT") from exc
        if header.get("alg") != "HS256":
            raise UploadUnauthenticated("The token must be signed with HS256")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise UploadUnauthenticated("The token names no issuer")
        server = next((s for s in self.store.list_servers() if _same_url(s.url, issuer)), None)
        if server is None:
            raise UploadUnauthenticated("The token's issuer is not a registered BBB server")
        try:
            with warnings.catch_warnings():  # BBB secrets are the operators' choice, often shorter than RFC 7518's
                warnings.simplefilter("ignore", InsecureKeyLengthWarning)
                claims: dict[str, Any] = jwt.decode(
                    token,
                    server.secret,
                    algorithms=["HS256"],
                    issuer=issuer,
                    leeway=LEEWAY,
                    options={"require": ["iss", "sub", "exp", "jti"]},
                )
        except jwt.ExpiredSignatureError as exc:
            raise UploadUnauthenticated("The token has expired") from exc
        except jwt.PyJWTError as exc:
            raise UploadUnauthenticated(f"The token is not valid for server {server.id}") from exc
        if not isinstance(claims["exp"], int | float) or claims["exp"] - now > MAX_TOKEN_LIFETIME + LEEWAY:
            raise UploadUnauthenticated(f"The token must expire within {MAX_TOKEN_LIFETIME} seconds")
        if not isinstance(claims["jti"], str) or not 8 <= len(claims["jti"]) <= 128:
            raise UploadUnauthenticated("The token's jti must be a unique id of 8 to 128 characters")
        if not isinstance(claims["sub"], str):
            raise UploadUnauthenticated("The token's sub must be the recordID")
        return server, claims
