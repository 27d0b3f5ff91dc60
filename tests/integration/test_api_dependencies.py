"""The API routes take settings, the container and the request context through FastAPI `Depends`: replacing the
container reaches every BBB route and the health check (here: the whole API over in-memory fakes, no moto)."""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from scalelite_api import dependencies
from scalelite_api.app import create_app
from scalelite_common.bbb import xml
from scalelite_common.config import get_settings
from scalelite_common.domain.entities import Server, ServerState
from scalelite_common.services import wiring
from tests.conftest import FakeLambdaContext
from tests.fakes.bbb import FakeBBB
from tests.fakes.store import InMemoryStore
from tests.helpers import http_event, signed


class FakeContainer(wiring.Container):
    def __init__(self, store: Any, bbb: FakeBBB) -> None:
        super().__init__(get_settings())
        self.__dict__.update(store=store, bbb=bbb)  # the cached properties, filled in advance


def _api(container: wiring.Container) -> Mangum:
    app = create_app()
    app.dependency_overrides[dependencies.container] = lambda: container
    return Mangum(app, lifespan="off")


def _call(api: Mangum, path: str, query: str = "") -> dict[str, Any]:
    result: dict[str, Any] = api(http_event("GET", path, query), FakeLambdaContext())
    return result


def test_the_bbb_routes_use_the_injected_container(env: Any) -> None:
    store, bbb = InMemoryStore(), FakeBBB()
    store.add_server(
        Server(
            id="a",
            url="https://a.example/bigbluebutton/api/",
            secret="s",
            state=ServerState.ENABLED,
            online=True,
            load=0.0,
        )
    )
    api = _api(FakeContainer(store, bbb))
    answer = _call(api, "/bigbluebutton/api/create", signed("create", {"meetingID": "m1", "name": "M"}))
    assert xml.text(xml.parse(answer["body"].encode()), "returncode") == "SUCCESS"
    assert (
        store.get_meeting("default", "m1") is not None
        and "m1" in bbb.server("https://a.example/bigbluebutton/api/").meetings
    )

    listed = _call(api, "/bigbluebutton/api/getMeetings", signed("getMeetings", {}))
    assert xml.parse(listed["body"].encode()).findtext("meetings/meeting/meetingID") == "m1"


def test_the_health_check_reports_a_failing_store(env: Any) -> None:
    class BrokenStore(InMemoryStore):
        def get_server(self, server_id: str) -> Server | None:
            raise ConnectionError("DynamoDB unreachable")

    answer = _call(_api(FakeContainer(BrokenStore(), FakeBBB())), "/health_check")
    assert answer["statusCode"] == 503 and "ConnectionError" in answer["body"]
    assert _call(_api(FakeContainer(InMemoryStore(), FakeBBB())), "/health_check")["statusCode"] == 200
