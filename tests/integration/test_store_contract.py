"""One contract, two stores: the in-memory fake (tests/fakes) must behave as DynamoStore does on moto, so service
tests over the fake mean what they say."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest

from scalelite_common.domain.entities import (
    CallbackData,
    Meeting,
    PlaybackFormat,
    Recording,
    RecordingOrigin,
    RecordingState,
    Server,
    ServerState,
    Thumbnail,
)
from scalelite_common.errors import PlacementConflict, ServerExists, ServerGone, StoreConflict
from scalelite_common.services.ports import PollWrite
from tests.fakes.store import InMemoryStore


@pytest.fixture(params=["memory", "dynamodb"])
def any_store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemoryStore()
    else:
        yield request.getfixturevalue("store")


def _server(store: Any, server_id: str = "a", **kw: Any) -> Server:
    fields: dict[str, Any] = {"state": ServerState.ENABLED, "online": True, "load": 0.0, **kw}
    server = Server(id=server_id, url=f"https://{server_id}.example/bigbluebutton/api/", secret="s", **fields)
    store.add_server(server)
    return server


def _meeting(meeting_id: str = "m", server_id: str = "a", **kw: Any) -> Meeting:
    now = int(time.time())
    fields: dict[str, Any] = {"tenant_id": "t", "created_at": now, "expires_at": now + 3600, "reservation": 2.0, **kw}
    return Meeting(meeting_id=meeting_id, server_id=server_id, **fields)


def test_servers_add_update_remove(any_store: Any) -> None:
    _server(any_store, tag="blue", bbb_version="3.0")
    with pytest.raises(ServerExists):
        _server(any_store)
    updated = any_store.update_server("a", {"tag": None, "last_error": "", "state": ServerState.CORDONED})
    assert (updated.tag, updated.last_error, updated.state, updated.bbb_version) == (
        None,
        "",
        ServerState.CORDONED,
        "3.0",
    )
    assert any_store.disable_if_cordoned("a") and any_store.get_server("a").load is None
    assert not any_store.disable_if_cordoned("a")
    any_store.delete_server("a")
    with pytest.raises(ServerGone):
        any_store.update_server("a", {"tag": "x"})
    with pytest.raises(ServerGone):
        any_store.delete_server("a")
    assert any_store.get_server("a") is None and any_store.list_servers() == []


def test_load_adjust_and_poll_results(any_store: Any) -> None:
    _server(any_store)
    assert any_store.add_load("a", 3.0).load_adjust == 3.0
    assert any_store.record_polls([PollWrite("a", {"load": 7.0, "users": 4}, adjust_seen=2.0)]) == [True]
    polled = any_store.get_server("a")
    assert (polled.load, polled.users, polled.load_adjust) == (7.0, 4, 1.0)
    assert any_store.record_polls([PollWrite("gone", {"load": 1.0})]) == [False]
    assert any_store.get_server("gone") is None
    any_store.update_server("a", {"online": False})
    with pytest.raises(ServerGone):
        any_store.add_load("a", 1.0, require_joinable=True)
    with pytest.raises(ServerGone):
        any_store.add_load("gone", 1.0)


def test_poll_results_in_bulk_skip_only_the_removed_servers(any_store: Any) -> None:
    """More results than one transaction holds, with removed servers in both batches: every other result is
    stored (a cancelled batch is settled item by item), and nothing is created for the removed ones."""
    ids = [f"s{i:02d}" for i in range(40)]
    for sid in ids:
        _server(any_store, sid)
        any_store.add_load(sid, 2.0)
    gone = {"s03", "s31"}
    for sid in gone:
        any_store.delete_server(sid)
    polls = [PollWrite(sid, {"users": i, "load": float(i)}, adjust_seen=2.0) for i, sid in enumerate(ids)]
    assert any_store.record_polls(polls) == [sid not in gone for sid in ids]
    for i, sid in enumerate(ids):
        server = any_store.get_server(sid)
        if sid in gone:
            assert server is None
        else:
            assert (server.users, server.load, server.load_adjust) == (i, float(i), 0.0)
    assert any_store.record_polls([]) == []


def test_place_meeting_is_all_or_nothing_and_names_its_conflicts(any_store: Any) -> None:
    server = _server(any_store)
    now = time.time()
    callbacks = CallbackData(
        tenant_id="t", meeting_id="m", recording_ready_url="https://lms/r", expires_at=int(now) + 60
    )
    any_store.place_meeting(_meeting(voice_bridge="123"), server, now=now, callbacks=callbacks)
    assert any_store.get_server("a").load_adjust == 2.0
    assert any_store.get_callbacks("t", "m").recording_ready_url == "https://lms/r"
    assert any_store.voice_bridge_owner("123") == "t#m"

    with pytest.raises(PlacementConflict) as twice:  # same meetingID; server read before the first reservation
        any_store.place_meeting(_meeting(voice_bridge="456"), server, now=now)
    assert twice.value.reasons == {"meeting", "server"}
    with pytest.raises(PlacementConflict) as number:
        any_store.place_meeting(_meeting("other", voice_bridge="123"), any_store.get_server("a"), now=now)
    assert number.value.reasons == {"voice_bridge"}
    assert any_store.get_meeting("t", "other") is None and any_store.get_server("a").load_adjust == 2.0

    any_store.place_meeting(_meeting("loose"), server, now=now, exact=False)  # stale read, but still available
    any_store.update_server("a", {"state": ServerState.CORDONED})
    with pytest.raises(PlacementConflict) as cordoned:
        any_store.place_meeting(_meeting("late"), any_store.get_server("a"), now=now)
    assert cordoned.value.reasons == {"server"}


def test_an_expired_mapping_is_gone_and_can_be_placed_over(any_store: Any) -> None:
    server = _server(any_store)
    now = time.time()
    any_store.place_meeting(_meeting(expires_at=int(now) - 10), server, now=now - 100)
    assert any_store.get_meeting("t", "m") is None
    assert any_store.count_join("t", "m", now=now) is None
    assert any_store.lock_meeting("t", "m", "me", now=now, until=now + 30) is None
    any_store.place_meeting(_meeting(), any_store.get_server("a"), now=now)
    assert any_store.get_meeting("t", "m") is not None


def test_locks_joins_and_release(any_store: Any) -> None:
    server = _server(any_store)
    now = time.time()
    meeting = _meeting(voice_bridge="123")
    any_store.place_meeting(meeting, server, now=now)
    held = any_store.lock_meeting("t", "m", "me", now=now, until=now + 30, touch=True)
    assert held is not None and held.lock_owner == "me" and held.touched_at == now
    assert any_store.lock_meeting("t", "m", "you", now=now, until=now + 30) is None
    assert any_store.lock_meeting("t", "m", "you", now=now + 31, until=now + 60) is not None  # stale: taken over
    assert not any_store.unlock_meeting("t", "m", "me")
    assert any_store.unlock_meeting("t", "m", "you")
    assert any_store.count_join("t", "m", now=now).joins == 1

    assert not any_store.release_meeting(meeting, owner="me")  # not its holder
    assert not any_store.release_meeting(meeting, idle=True)  # a create touched it since `meeting` was read
    moved = _meeting(voice_bridge="123", server_id="elsewhere")
    assert not any_store.release_meeting(moved)  # the mapping points at another server
    current = any_store.get_meeting("t", "m")
    assert any_store.release_meeting(current, idle=True, now=now)
    assert any_store.get_meeting("t", "m") is None and any_store.voice_bridge_owner("123") is None
    assert not any_store.release_meeting(current)


def test_release_can_keep_the_voice_bridge_and_extend_moves_its_claim(any_store: Any) -> None:
    server = _server(any_store)
    now = time.time()
    meeting = _meeting(voice_bridge="123")
    any_store.place_meeting(meeting, server, now=now)
    assert any_store.extend_meeting(meeting, int(now) + 7200)
    assert any_store.get_meeting("t", "m").expires_at == int(now) + 7200
    assert [m.meeting_id for m in any_store.meetings_on_server("a")] == ["m"]
    assert [m.meeting_id for m in any_store.all_meetings()] == ["m"]
    assert any_store.release_meeting(meeting, voice_bridge=False)
    assert any_store.voice_bridge_owner("123") == "t#m"  # left to its TTL
    assert not any_store.extend_meeting(meeting, int(now) + 9000)


def test_callback_data_outlives_the_mapping_until_its_ttl(any_store: Any) -> None:
    now = time.time()
    data = CallbackData(tenant_id="t", meeting_id="m", analytics_callback_url="https://lms/a", expires_at=int(now) + 5)
    any_store.put_callbacks(data)
    assert any_store.get_callbacks("t", "m", now=now) == data
    assert any_store.get_callbacks("t", "m", now=now + 10) is None
    assert any_store.get_callbacks("t", "other") is None


# ------------------------------------------------------------------------------------------------ recordings
def _recording(record_id: str, meeting_id: str = "m", start: int = 1_000, **kw: Any) -> Recording:
    fields: dict[str, Any] = {"tenant_id": "t", "name": "R", "start_time": start, "end_time": start + 60_000, **kw}
    return Recording(record_id=record_id, meeting_id=meeting_id, **fields)


def test_recordings_round_trip_with_their_formats(any_store: Any) -> None:
    fmt = PlaybackFormat(
        "presentation",
        "/playback/presentation/2.3/r1",
        3,
        120,
        99,
        [Thumbnail("/presentation/r1/t.png", "1", "2", "a")],
    )
    recording = _recording(
        "r1",
        metadata={"gl-listed": "true", "empty": ""},
        formats={"presentation": fmt},
        participants=4,
        metadata_updates={"x": None},
        imported={"presentation": "abc"},
    )
    saved = any_store.save_recording(recording, previous=None)
    assert saved.version == 1
    loaded = any_store.get_recording("r1")
    assert loaded == saved
    assert any_store.get_recording("nope") is None
    assert [r.record_id for r in any_store.get_recordings(["nope", "r1", "r1"])] == ["r1"]


def test_saving_a_recording_is_optimistic_and_moves_the_counters(any_store: Any) -> None:
    first = any_store.save_recording(_recording("r1"), previous=None)
    with pytest.raises(StoreConflict):
        any_store.save_recording(_recording("r1"), previous=None)  # exists already
    assert any_store.recording_counts("t")["published"] == 1
    unpublished = dataclasses.replace(first, state=RecordingState.UNPUBLISHED, published=False)
    second = any_store.save_recording(unpublished, previous=first)
    with pytest.raises(StoreConflict):
        any_store.save_recording(unpublished, previous=first)  # a stale read loses
    counts = any_store.recording_counts("t")
    assert (counts["published"], counts["unpublished"], second.version) == (0, 1, 2)
    assert any_store.recording_counts("other") == dict.fromkeys([s.value for s in RecordingState], 0)


def test_recordings_by_meeting_prefix_and_tenant_pages(any_store: Any) -> None:
    for i in range(7):
        any_store.save_recording(
            _recording(f"abc{i}", meeting_id="m" if i < 3 else "n", start=1_000 + i), previous=None
        )
    any_store.save_recording(_recording("abc9", tenant_id="other"), previous=None)
    assert [r.record_id for r in any_store.meeting_recordings("t", "m")] == ["abc2", "abc1", "abc0"]
    assert [r.record_id for r in any_store.recordings_with_prefix("t", "abc")] == [f"abc{i}" for i in range(7)]
    assert any_store.recordings_with_prefix("t", "abd") == []
    seen, cursor, pages = [], None, 0
    while True:
        page = any_store.tenant_recordings("t", limit=3, cursor=cursor)
        seen += [r.record_id for r in page.items]
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == [f"abc{i}" for i in range(6, -1, -1)] and pages in (3, 4)


def test_origins_tokens_and_pending_uploads(any_store: Any) -> None:
    now = int(time.time())
    origin = RecordingOrigin("int-1", "t", "m", "bbb1", created_at=now, expires_at=now + 60)
    any_store.put_origin(origin)
    assert any_store.get_origin("int-1") == origin
    assert any_store.get_origin("int-1", now=now + 120) is None
    assert any_store.get_origin("int-2") is None
    assert any_store.claim_token("j1", expires_at=now + 600)
    assert not any_store.claim_token("j1", expires_at=now + 600)
    any_store.add_pending_upload("bbb1", "r1", "uploads/bbb1/r1/a.tar", expires_at=now + 60)
    any_store.add_pending_upload("bbb1", "r2", "uploads/bbb1/r2/b.tar", expires_at=now - 1)
    assert any_store.pending_uploads("bbb1") == [("r1", "uploads/bbb1/r1/a.tar")]
    any_store.remove_pending_upload("bbb1", "r1", "uploads/bbb1/r1/a.tar")
    assert any_store.pending_uploads("bbb1") == [] and any_store.pending_uploads("bbb2") == []
    assert [any_store.count_import_attempt("uploads/x.tar", expires_at=now + 60) for _ in range(3)] == [1, 2, 3]


def test_releasing_a_lock_can_store_the_meeting_instances_origin(any_store: Any) -> None:
    """One round trip: the lock released, the origin stored and its internal id noted on the mapping; a lost lock
    still stores the origin (the meeting runs on BBB whatever the lock)."""
    server = _server(any_store)
    now = time.time()
    any_store.place_meeting(_meeting(lock_owner="me", lock_until=now + 30), server, now=now)
    first = RecordingOrigin("int-1", "t", "m", "a", created_at=int(now), expires_at=int(now) + 60)
    assert any_store.unlock_meeting("t", "m", "me", origin=first)
    held = any_store.get_meeting("t", "m")
    assert (held.lock_owner, held.internal_meeting_id) == ("", "int-1")
    assert any_store.get_origin("int-1") == first
    second = dataclasses.replace(first, internal_meeting_id="int-2")
    assert not any_store.unlock_meeting("t", "m", "someone-else", origin=second)  # not the holder
    assert any_store.get_origin("int-2") == second
    assert any_store.get_meeting("t", "m").internal_meeting_id == "int-1"


def test_tenants_share_one_meeting_id_namespace(any_store: Any) -> None:
    """A live meeting of one tenant keeps its meetingID from every other tenant; ending it frees the id, and the
    claim follows the mapping's TTL (extend, expiry). The default tenant (no multitenancy) claims nothing."""
    server = _server(any_store)
    now = time.time()
    mine = _meeting("shared", tenant_id="t1")
    any_store.place_meeting(mine, server, now=now, exact=False)
    with pytest.raises(PlacementConflict) as taken:
        any_store.place_meeting(_meeting("shared", tenant_id="t2"), server, now=now, exact=False)
    assert taken.value.reasons == {"meeting_id"}
    assert any_store.get_meeting("t2", "shared") is None and any_store.get_meeting("t1", "shared") is not None
    assert any_store.get_server("a").load_adjust == 2.0  # the refused placement reserved nothing

    assert any_store.extend_meeting(mine, int(now) + 7200)
    with pytest.raises(PlacementConflict):  # still claimed an hour later: the claim moved with the mapping
        any_store.place_meeting(_meeting("shared", tenant_id="t2"), server, now=now + 3700, exact=False)

    assert any_store.release_meeting(any_store.get_meeting("t1", "shared"), voice_bridge=False)
    any_store.place_meeting(_meeting("shared", tenant_id="t2"), server, now=now, exact=False)  # free again
    assert any_store.get_meeting("t2", "shared") is not None

    expired = _meeting("old", tenant_id="t1", expires_at=int(now) - 5)
    any_store.place_meeting(expired, server, now=now - 100, exact=False)
    any_store.place_meeting(_meeting("old", tenant_id="t2"), server, now=now, exact=False)  # an expired claim

    any_store.place_meeting(_meeting("free", tenant_id="t1"), server, now=now, exact=False)
    assert any_store.voice_bridge_owner("id#free") == "t1#free"


def test_the_default_tenant_and_tenants_keep_out_of_each_others_meeting_ids(any_store: Any) -> None:
    """Multitenancy switched on or off while meetings run: the default tenant claims nothing, but neither side
    takes an id the other's live meeting has; once that meeting ends the id is free."""
    server = _server(any_store)
    now = time.time()
    any_store.place_meeting(_meeting("plain", tenant_id="default"), server, now=now, exact=False)
    assert any_store.voice_bridge_owner("id#plain") is None
    with pytest.raises(PlacementConflict) as taken:
        any_store.place_meeting(_meeting("plain", tenant_id="t1"), server, now=now, exact=False)
    assert taken.value.reasons == {"meeting_id"}
    assert any_store.get_meeting("t1", "plain") is None and any_store.get_server("a").load_adjust == 2.0
    assert any_store.release_meeting(any_store.get_meeting("default", "plain"))
    any_store.place_meeting(_meeting("plain", tenant_id="t1"), server, now=now, exact=False)

    with pytest.raises(PlacementConflict) as claimed:
        any_store.place_meeting(_meeting("plain", tenant_id="default"), server, now=now, exact=False)
    assert claimed.value.reasons == {"meeting_id"}
    assert any_store.get_meeting("default", "plain") is None and any_store.get_meeting("t1", "plain") is not None


def test_a_placement_with_callback_data_names_its_conflict(any_store: Any) -> None:
    """The callback data is one more put in the transaction: a conflict after it is still named."""
    server = _server(any_store)
    now = time.time()
    any_store.update_server("a", {"state": ServerState.CORDONED})
    callbacks = CallbackData(tenant_id="t", meeting_id="m", recording_ready_url="https://lms/r", expires_at=int(now))
    with pytest.raises(PlacementConflict) as cordoned:
        any_store.place_meeting(_meeting(voice_bridge="123"), server, now=now, callbacks=callbacks)
    assert cordoned.value.reasons == {"server"}
    assert any_store.get_callbacks("t", "m") is None and any_store.get_meeting("t", "m") is None


def test_tenants_names_are_unique_and_renames_move_them(any_store: Any) -> None:
    from scalelite_common.domain.tenants import SettingMode, Tenant, TenantSetting
    from scalelite_common.errors import TenantGone, TenantNameTaken

    t1 = Tenant(id="id-1", name="t1", secrets=("a", "b"), max_meetings=3)
    any_store.add_tenant(t1)
    any_store.add_tenant(Tenant(id="id-2", name="t2", secrets=("c",)))
    with pytest.raises(TenantNameTaken):
        any_store.add_tenant(Tenant(id="id-3", name="t1", secrets=("x",)))
    assert [t.name for t in any_store.list_tenants()] == ["t1", "t2"]
    assert any_store.tenant_by_name("t1") == t1 and any_store.get_tenant("id-1") == t1
    assert any_store.tenant_by_name("nope") is None and any_store.get_tenant("nope") is None

    with pytest.raises(TenantNameTaken):
        any_store.update_tenant(dataclasses.replace(t1, name="t2"), previous=t1)
    renamed = dataclasses.replace(t1, name="t9", secrets=("z",), max_attendees=5)
    any_store.update_tenant(renamed, previous=t1)
    assert any_store.tenant_by_name("t1") is None and any_store.tenant_by_name("t9") == renamed
    with pytest.raises(TenantGone):  # `previous` is stale: the tenant was renamed since
        any_store.update_tenant(dataclasses.replace(t1, secrets=("q",)), previous=t1)
    any_store.add_tenant(Tenant(id="id-3", name="t1", secrets=("x",)))  # the old name is free

    setting = TenantSetting(id="s1", tenant_id="id-2", param="maxParticipants", value="50", mode=SettingMode.CAP)
    any_store.add_setting(setting)
    any_store.add_setting(TenantSetting(id="s2", tenant_id="id-3", param="record", value="false"))
    assert any_store.list_settings("id-2") == [setting] and len(any_store.list_settings()) == 2
    assert any_store.delete_setting("s1") == setting and any_store.delete_setting("s1") is None

    any_store.delete_tenant(renamed)
    with pytest.raises(TenantGone):
        any_store.delete_tenant(renamed)
    assert any_store.tenant_by_name("t9") is None and [t.id for t in any_store.list_tenants()] == ["id-3", "id-2"]
