"""Services over in-memory fakes only: no sockets, no moto."""

from __future__ import annotations

import pytest

from scalelite_common.config import Settings
from scalelite_common.domain.entities import Server, ServerState
from scalelite_common.services import context
from scalelite_common.services.context import RequestContext
from scalelite_common.services.meetings import MeetingService
from scalelite_common.services.polling import Poller
from tests.fakes.bbb import FakeBBB
from tests.fakes.store import InMemoryStore


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env({"LOADBALANCER_SECRET": "lb-secret", "CONNECT_TIMEOUT": "1", "RESPONSE_TIMEOUT": "1"})


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def bbb() -> FakeBBB:
    return FakeBBB()


@pytest.fixture
def ctx(settings: Settings) -> RequestContext:
    return context.resolve(settings)


@pytest.fixture
def service(store: InMemoryStore, bbb: FakeBBB, settings: Settings) -> MeetingService:
    return MeetingService(store, bbb, settings)


@pytest.fixture
def poller(store: InMemoryStore, bbb: FakeBBB, settings: Settings) -> Poller:
    return Poller(store, bbb, settings)


def add_server(store: InMemoryStore, server_id: str, *, load: float = 0.0, online: bool = True) -> Server:
    server = Server(
        id=server_id,
        url=f"https://{server_id}.example.com/bigbluebutton/api/",
        secret=f"{server_id}-secret",
        state=ServerState.ENABLED,
        online=online,
        load=load if online else None,
    )
    store.add_server(server)
    return server
