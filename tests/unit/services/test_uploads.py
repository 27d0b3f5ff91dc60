"""UploadService over the fakes: who may upload which recording, and what they get."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest

from scalelite_common.config import Settings
from scalelite_common.domain.entities import RecordingOrigin, Server
from scalelite_common.services.uploads import (
    UploadForbidden,
    UploadInvalid,
    UploadService,
    UploadUnauthenticated,
)
from tests.fakes.objects import InMemoryObjectStore
from tests.fakes.store import InMemoryStore
from tests.unit.services.conftest import add_server

RECORD_ID = "a" * 40 + "-1700000000000"


@pytest.fixture
def uploads(store: InMemoryStore, settings: Settings) -> UploadService:
    return UploadService(store, InMemoryObjectStore(), settings)


def token(server: Server, *, secret: str | None = None, **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {"iss": server.url, "sub": RECORD_ID, "iat": now, "exp": now + 300}
    payload["jti"] = uuid.uuid4().hex
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret or server.secret, algorithm="HS256")


def body(**kw: Any) -> dict[str, Any]:
    return {"record_id": RECORD_ID, "formats": ["presentation"], "size": 1234, **kw}


def hosted(store: InMemoryStore, server: Server, record_id: str = RECORD_ID, tenant: str = "default") -> None:
    now = int(time.time())
    store.put_origin(RecordingOrigin(record_id, tenant, "m1", server.id, now, now + 3600))


def test_the_hosting_server_gets_a_presigned_put_and_a_pending_upload(
    uploads: UploadService, store: InMemoryStore, settings: Settings
) -> None:
    server = add_server(store, "bbb1")
    hosted(store, server)
    grant = uploads.authorize(token(server), body())
    assert grant.upload.method == "PUT" and grant.upload.headers == {"Content-Type": "application/x-tar"}
    assert grant.key.startswith(f"uploads/bbb1/{RECORD_ID}/") and grant.key.endswith(".tar")
    assert grant.upload.expires > time.time()
    assert store.pending_uploads("bbb1") == [(RECORD_ID, grant.key)]


def test_a_segmented_recording_belongs_to_its_meeting_instance(uploads: UploadService, store: InMemoryStore) -> None:
    server = add_server(store, "bbb1")
    hosted(store, server)
    segmented = RECORD_ID + "-1700000100000"
    assert uploads.authorize(token(server, sub=segmented), body(record_id=segmented)).server_id == "bbb1"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: token(s, secret="wrong-secret"), "not valid for server"),
        (lambda s: token(s, iss="https://other.example/bigbluebutton/api/"), "not a registered"),
        (lambda s: token(s, exp=int(time.time()) - 120), "expired"),
        (lambda s: token(s, exp=int(time.time()) + 3600), "within 600"),
        (lambda s: token(s, jti=None), "not valid"),
        (lambda s: token(s, sub="b" * 40 + "-1700000000000"), "another recording"),
        (lambda s: jwt.encode({"iss": s.url}, s.secret, algorithm="HS512"), "HS256"),
        (lambda s: "not-a-jwt", "not a JWT"),
    ],
)
def test_bad_tokens_are_refused(uploads: UploadService, store: InMemoryStore, make: Any, message: str) -> None:
    server = add_server(store, "bbb1")
    hosted(store, server)
    with pytest.raises(UploadUnauthenticated, match=message):
        uploads.authorize(make(server), body())
    assert store.pending_uploads("bbb1") == []


def test_a_replayed_token_is_refused(uploads: UploadService, store: InMemoryStore) -> None:
    server = add_server(store, "bbb1")
    hosted(store, server)
    once = token(server)
    uploads.authorize(once, body())
    with pytest.raises(UploadUnauthenticated, match="used before"):
        uploads.authorize(once, body())


def test_only_the_server_that_hosted_the_meeting_may_upload(uploads: UploadService, store: InMemoryStore) -> None:
    first, second = add_server(store, "bbb1"), add_server(store, "bbb2")
    hosted(store, first)
    with pytest.raises(UploadForbidden, match="not hosted on server bbb2"):
        uploads.authorize(token(second), body())
    unknown = "c" * 40 + "-1700000000000"
    with pytest.raises(UploadForbidden, match="not created through this load balancer"):
        uploads.authorize(token(first, sub=unknown), body(record_id=unknown))


@pytest.mark.parametrize(
    "bad",
    [
        [],
        body(record_id="../etc"),
        body(formats=[]),
        body(formats=["../x"]),
        body(size=-1),
        body(size="12"),
        body(size=11 * 1024**3),
        body(size=6 * 1024**3),  # within RECORDING_IMPORT_MAX_BYTES, beyond one PUT
    ],
)
def test_malformed_bodies_are_refused(uploads: UploadService, store: InMemoryStore, bad: Any) -> None:
    server = add_server(store, "bbb1")
    hosted(store, server)
    with pytest.raises(UploadInvalid):
        uploads.authorize(token(server), bad)
