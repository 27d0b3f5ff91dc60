"""`/scalelite/api/*` (Scalelite §1.18) through Mangum with API Gateway HTTP API v2 events, the router mounted on a
bare FastAPI app. The checksum covers the body too (our deviation, docs/admin-api.md)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from defusedxml import ElementTree

from tests.conftest import TEST_SECRET, FakeLambdaContext
from tests.helpers import http_event
from tests.integration.conftest import SimFactory, add_mapping, add_server, fresh_settings

pytestmark = pytest.mark.usefixtures("aws")
URL = "https://bbb1.example.com/bigbluebutton/api"


class Reply:
    def __init__(self, status: int, body: str, content_type: str) -> None:
        self.status, self.body, self.content_type = status, body, content_type

    def json(self) -> Any:
        return json.loads(self.body)

    def xml_key(self) -> str:
        doc = ElementTree.fromstring(self.body.encode())
        return str(doc.findtext("messageKey"))


def checksum(call: str, query: str, body: str = "", secret: str = TEST_SECRET) -> str:
    return hashlib.sha256(f"{call}{query}{body}{secret}".encode()).hexdigest()


def api(
    method: str,
    call: str,
    query: str = "",
    body: Any = None,
    *,
    sign: str | None = None,
    content_type: str = "application/json",
) -> Reply:
    """Call `/scalelite/api/<call>` signed over query + body (or with the given checksum)."""
    from fastapi import FastAPI
    from mangum import Mangum

    from scalelite_api.routes.admin import router

    fresh_settings()  # the test may have changed env after the fixtures read the settings
    raw_body = body if isinstance(body, str) else json.dumps(body) if body is not None else ""
    value = sign if sign is not None else checksum(call, query, raw_body)
    raw_query = f"{query}&checksum={value}" if query else f"checksum={value}"
    app = FastAPI()
    app.include_router(router)
    event = http_event(
        method,
        f"/scalelite/api/{call}",
        raw_query,
        body=raw_body or None,
        headers={"content-type": content_type} if raw_body else None,
    )
    result = Mangum(app, lifespan="off")(event, FakeLambdaContext())
    text = result.get("body", "")
    if result.get("isBase64Encoded"):
        import base64

        text = base64.b64decode(text).decode()
    headers = {k.lower(): v for k, v in result.get("headers", {}).items()}
    return Reply(result["statusCode"], text, headers.get("content-type", ""))


@pytest.fixture(autouse=True)
def enabled(env: pytest.MonkeyPatch) -> Iterator[None]:
    env.setenv("ADMIN_API_ENABLED", "true")
    loop = asyncio.new_event_loop()  # Mangum runs the app on the current thread's event loop
    asyncio.set_event_loop(loop)
    yield
    loop.close()
    asyncio.set_event_loop(asyncio.new_event_loop())  # leave a usable loop for the tests that follow


def test_off_by_default(env: pytest.MonkeyPatch) -> None:
    env.setenv("ADMIN_API_ENABLED", "false")
    reply = api("GET", "getServers")
    assert reply.status == 200 and reply.xml_key() == "unsupportedRequest"


def test_get_servers(store: Any) -> None:
    empty = api("GET", "getServers")
    assert (empty.status, empty.json()) == (404, {"error": "No servers are configured"})
    add_server(store, type("Sim", (), {"url": URL, "secret": "s"})(), "bbb1", load=2.0)
    servers = api("GET", "getServers").json()
    assert servers[0]["id"] == "bbb1" and servers[0]["load"] == 2 and servers[0]["online"] == "online"


def test_checksum_rules() -> None:
    assert api("GET", "getServers", sign="0" * 64).xml_key() == "checksumError"
    assert api("GET", "getServers", sign=checksum("getServers", "", secret="wrong")).xml_key() == "checksumError"
    # Scalelite's unsigned-body weakness is closed: a checksum over the query alone does not cover a body.
    body = {"server": {"url": URL, "secret": "s"}}
    replay = api("POST", "addServer", body=body, sign=checksum("addServer", ""))
    assert replay.status == 200 and replay.xml_key() == "checksumError"
    # Content type is checked before the checksum (Scalelite's order).
    wrong_type = api("POST", "addServer", body="url=x", sign="0" * 64, content_type="application/x-www-form-urlencoded")
    assert wrong_type.xml_key() == "unsupportedContentType"


def test_add_server() -> None:
    added = api("POST", "addServer", body={"server": {"url": URL, "secret": "s", "load_multiplier": 0, "tag": ""}})
    assert added.status == 201
    server = added.json()
    assert (server["state"], server["online"], server["load_multiplier"], server["tag"]) == (
        "disabled",
        "offline",
        1.0,
        "",
    )
    missing = api("POST", "addServer", body={"server": {"url": URL}})
    assert (missing.status, missing.json()) == (400, {"error": "Server needs a URL and a secret"})
    bad_url = api("POST", "addServer", body={"server": {"url": "bbb1", "secret": "s"}})
    assert bad_url.status == 400 and bad_url.json()["error"] == "Server URL must start with http:// or https://"
    not_json = api("POST", "addServer", body="{oops")
    assert not_json.status == 400


def test_get_server_info() -> None:
    sid = api("POST", "addServer", body={"server": {"url": URL, "secret": "s"}}).json()["id"]
    assert api("GET", "getServerInfo", f"id={sid}").json()["id"] == sid
    missing = api("GET", "getServerInfo", "id=nope")
    assert (missing.status, missing.json()) == (404, {"error": "Couldn't find server with id=nope"})


def test_update_server(store: Any) -> None:
    sid = api("POST", "addServer", body={"server": {"url": URL, "secret": "s", "tag": "big"}}).json()["id"]
    updated = api(
        "POST",
        "updateServer",
        body={"id": sid, "server": {"state": "enable", "load_multiplier": 2, "secret": "new", "tag": ""}},
    )
    assert updated.status == 200
    assert {k: updated.json()[k] for k in ("state", "load_multiplier", "secret", "tag")} == {
        "state": "enabled",
        "load_multiplier": 2.0,
        "secret": "new",
        "tag": "",
    }
    bad_state = api("POST", "updateServer", body={"id": sid, "server": {"state": "paused", "secret": "x"}})
    assert (bad_state.status, bad_state.json()) == (400, {"error": "Invalid state parameter: paused"})
    zero = api("POST", "updateServer", body={"id": sid, "server": {"state": "cordon", "load_multiplier": 0}})
    assert zero.status == 400 and zero.json()["error"].startswith("Load-multiplier must be a non-zero number")
    server = store.get_server(sid)
    assert (server.state.value, server.secret) == ("enabled", "new")  # nothing half-applied
    missing = api("POST", "updateServer", body={"id": "nope", "server": {"state": "enable"}})
    assert (missing.status, missing.json()) == (404, {"error": "Couldn't find server with id=nope"})


def test_delete_server() -> None:
    sid = api("POST", "addServer", body={"server": {"url": URL, "secret": "s"}}).json()["id"]
    assert api("POST", "deleteServer", body={"id": sid}).json() == {"success": f"Server id={sid} was destroyed"}
    assert api("POST", "deleteServer", body={"id": sid}).status == 404


def test_panic_server(store: Any, simulators: SimFactory) -> None:
    sim = simulators()
    sim.add_meeting("m1", participants=1, create_time_ms=int((time.time() - 3600) * 1000))
    add_server(store, sim, "bbb1")
    add_mapping(store, "bbb1", "m1")
    reply = api("POST", "panicServer", body={"id": "bbb1", "keep_state": True})
    assert reply.json() == {"success": "Server id=bbb1 has been disabled and the meetings have been destroyed"}
    assert store.get_meeting("default", "m1") is None and store.get_server("bbb1").state.value == "enabled"
    api("POST", "panicServer", body={"id": "bbb1"})
    assert store.get_server("bbb1").state.value == "disabled"
    assert api("POST", "panicServer", body={"id": "nope"}).status == 404


def test_tenants_wrong_verbs_and_unknown_calls() -> None:
    tenants = api("GET", "getTenants")
    assert (tenants.status, tenants.json()) == (412, {"message": "Multitenancy is disabled"})
    assert api("POST", "getServers").xml_key() == "unsupportedRequest"
    assert api("GET", "addServer").xml_key() == "unsupportedRequest"
    assert api("GET", "dropDatabase").xml_key() == "unsupportedRequest"
