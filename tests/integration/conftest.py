"""Fixtures for the poller and admin tests: simulated BBB servers, servers registered in moto, a poller."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scalelite_common.domain.entities import Meeting, Server, ServerState

SimFactory = Callable[..., Any]


def fresh_settings() -> Any:
    """Settings re-read from env: the `store` fixture read them before the test changed env."""
    from scalelite_common.config import get_settings

    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def simulators() -> Iterator[SimFactory]:
    """`simulators()` starts one more simulated BBB server; all are stopped after the test."""
    from bbbsim import BBBSimulator

    started: list[Any] = []

    def start(**kw: Any) -> Any:
        kw.setdefault("secret", f"sim-secret-{len(started)}")
        sim = BBBSimulator(**kw).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.set_fault(None)  # release hung requests before stopping
        sim.stop()


def add_server(
    store: Any,
    sim: Any,
    sid: str,
    *,
    state: ServerState = ServerState.ENABLED,
    online: bool = True,
    load: float | None = 0.0,
    tag: str | None = None,
    multiplier: float = 1.0,
    **extra: Any,
) -> Server:
    server = Server(
        id=sid,
        url=sim.url,
        secret=sim.secret,
        state=state,
        online=online,
        load=load if online else None,
        tag=tag,
        load_multiplier=multiplier,
        **extra,
    )
    store.add_server(server)
    return server


def add_mapping(
    store: Any,
    server_id: str,
    meeting_id: str,
    *,
    age: float = 3600,
    ttl: float = 86400,
    voice_bridge: str = "",
    moderator_pw: str = "",
) -> Meeting:
    """A mapping as create stores it (placed `age` seconds ago), with its voice bridge claimed."""
    from scalelite_common.db.models import MeetingItem, VoiceBridgeItem
    from scalelite_common.db.repositories import meeting_pk

    now = time.time()
    meeting = Meeting(
        tenant_id="default",
        meeting_id=meeting_id,
        server_id=server_id,
        moderator_pw=moderator_pw,
        voice_bridge=voice_bridge,
        created_at=int(now - age),
        expires_at=int(now - age + ttl),
    )
    pk = meeting_pk("default", meeting_id)
    MeetingItem(
        pk,
        tenant_id="default",
        meeting_id=meeting_id,
        server_id=server_id,
        moderator_pw=moderator_pw,
        voice_bridge=voice_bridge or None,
        created_at=meeting.created_at,
        expires_at=meeting.expires_at,
    ).save()
    if voice_bridge:
        VoiceBridgeItem(voice_bridge, meeting_pk=pk, expires_at=meeting.expires_at).save()
    return meeting


@pytest.fixture
def make_poller(store: Any) -> Callable[..., Any]:
    """A Poller over moto and the current settings (call it after changing env)."""

    def build(**kw: Any) -> Any:
        from scalelite_common.config import get_settings
        from scalelite_common.services import wiring
        from scalelite_common.services.polling import Poller

        get_settings.cache_clear()  # the store fixture read the settings before the test changed env
        settings = get_settings()
        return Poller(store, wiring.bbb_client(settings), settings, **kw)

    return build


@pytest.fixture
def admin_ctx(store: Any) -> Callable[[], Any]:
    def build() -> Any:
        from scalelite_common.config import get_settings
        from scalelite_common.services import wiring
        from scalelite_common.services.admin.context import AdminContext

        get_settings.cache_clear()
        settings = get_settings()
        return AdminContext(store=store, client=wiring.bbb_client(settings), settings=settings)

    return build
