"""RecordingService over the fakes: getRecordings' lookups and pages, publish, update, delete."""

from __future__ import annotations

import dataclasses
import io

import pytest

from scalelite_common.domain.entities import PlaybackFormat, Recording, RecordingState
from scalelite_common.errors import MissingPublishError, MissingRecordIDError, RecordingNotFoundError
from scalelite_common.services.context import RequestContext
from scalelite_common.services.recordings import MissingParametersError, RecordingService
from tests.fakes.objects import InMemoryObjectStore
from tests.fakes.store import InMemoryStore

BUCKET = "recordings"


def rid(n: int, meeting: str = "m") -> str:
    return f"{n:040x}-{1_700_000_000_000 + n}"


@pytest.fixture
def objects() -> InMemoryObjectStore:
    return InMemoryObjectStore()


@pytest.fixture
def service(store: InMemoryStore, objects: InMemoryObjectStore) -> RecordingService:
    return RecordingService(store, objects, BUCKET)


def add(store: InMemoryStore, objects: InMemoryObjectStore, n: int, meeting: str = "m", **kw: object) -> Recording:
    record_id = rid(n)
    fmt = PlaybackFormat("presentation", f"/playback/presentation/2.3/{record_id}", 1)
    recording = Recording(
        record_id=record_id,
        tenant_id=str(kw.pop("tenant_id", "default")),
        meeting_id=meeting,
        start_time=1_700_000_000_000 + n,
        formats={"presentation": fmt},
        **kw,  # type: ignore[arg-type]
    )
    prefix = "published" if recording.published else "unpublished"
    for name in ("metadata.xml", "shapes.svg"):
        objects.put(BUCKET, f"{prefix}/presentation/{record_id}/{name}", io.BytesIO(b"x"), content_type="text/plain")
    return store.save_recording(recording, previous=None)


def ids(listing: list[Recording]) -> list[str]:
    return [r.record_id for r in listing]


def test_lookups_by_meeting_by_record_prefix_and_for_the_tenant(
    service: RecordingService, store: InMemoryStore, objects: InMemoryObjectStore, ctx: RequestContext
) -> None:
    for n in range(1, 6):
        add(store, objects, n, meeting="m" if n <= 2 else "n")
    add(store, objects, 9, tenant_id="other")
    assert ids(service.get_recordings(ctx, [("meetingID", "m")]).recordings) == [rid(2), rid(1)]
    assert ids(service.get_recordings(ctx, [("recordID", rid(3)[:41])]).recordings) == [rid(3)]
    listing = service.get_recordings(ctx, [])
    assert ids(listing.recordings) == [rid(n) for n in (5, 4, 3, 2, 1)] and listing.total is None
    assert service.get_recordings(ctx, [("recordID", rid(9))]).recordings == []  # another tenant's


def test_pages_count_from_the_counters(
    service: RecordingService, store: InMemoryStore, objects: InMemoryObjectStore, ctx: RequestContext
) -> None:
    for n in range(1, 8):
        add(store, objects, n)
    page = service.get_recordings(ctx, [("limit", "3"), ("offset", "2")])
    assert ids(page.recordings) == [rid(5), rid(4), rid(3)] and page.total == 7
    deep = service.get_recordings(ctx, [("limit", "3"), ("offset", "6")])
    assert ids(deep.recordings) == [rid(1)] and deep.total == 7
    filtered = service.get_recordings(ctx, [("limit", "2"), ("meta_gl-listed", "true")])
    assert filtered.recordings == [] and filtered.total == 0


def test_filtered_mode_requires_an_id(service: RecordingService, ctx: RequestContext) -> None:
    strict = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, get_recordings_api_filtered=True))
    with pytest.raises(MissingParametersError):
        service.get_recordings(strict, [])


def test_publish_moves_every_file_and_remembers_it(
    service: RecordingService, store: InMemoryStore, objects: InMemoryObjectStore, ctx: RequestContext
) -> None:
    add(store, objects, 1)
    assert service.publish(ctx, [("recordID", rid(1)), ("publish", "false")]) is False
    assert set(objects.bucket(BUCKET)) == {
        f"unpublished/presentation/{rid(1)}/metadata.xml",
        f"unpublished/presentation/{rid(1)}/shapes.svg",
    }
    stored = store.get_recording(rid(1))
    assert stored is not None and stored.publish_updated and stored.state is RecordingState.UNPUBLISHED
    assert store.recording_counts("default")["unpublished"] == 1
    with pytest.raises(MissingPublishError):
        service.publish(ctx, [("recordID", rid(1))])
    with pytest.raises(MissingRecordIDError):
        service.publish(ctx, [("publish", "true")])
    with pytest.raises(RecordingNotFoundError):
        service.publish(ctx, [("recordID", rid(7)), ("publish", "true")])


def test_update_sets_metadata_and_protect_on_every_listed_id(
    service: RecordingService, store: InMemoryStore, objects: InMemoryObjectStore, ctx: RequestContext
) -> None:
    add(store, objects, 1, metadata={"gl-listed": "false", "old": "x"})
    add(store, objects, 2)
    params = [("recordID", f"{rid(1)},{rid(2)}"), ("meta_GL-Listed", "true"), ("meta_old", ""), ("protect", "true")]
    assert service.update(ctx, params) is True
    for n in (1, 2):
        stored = store.get_recording(rid(n))
        assert stored is not None and stored.protected and stored.metadata.get("gl-listed") == "true"
        assert "old" not in stored.metadata
    assert service.update(ctx, [("recordID", f"{rid(1)},{rid(8)}"), ("meta_x", "y")]) is False  # one is unknown


def test_delete_removes_every_file_and_leaves_a_tombstone(
    service: RecordingService, store: InMemoryStore, objects: InMemoryObjectStore, ctx: RequestContext
) -> None:
    add(store, objects, 1)
    objects.put(BUCKET, f"unpublished/presentation/{rid(1)}/left-over", io.BytesIO(b"x"), content_type="text/plain")
    assert service.delete(ctx, [("recordID", rid(1))]) is True
    assert objects.bucket(BUCKET) == {}
    assert service.get_recordings(ctx, [("recordID", rid(1))]).recordings == []
    gone = service.get_recordings(ctx, [("recordID", rid(1)), ("state", "any")]).recordings
    assert [r.state for r in gone] == [RecordingState.DELETED]
    assert service.delete(ctx, [("recordID", rid(1))]) is True  # already deleted rows match again (Scalelite)
    with pytest.raises(RecordingNotFoundError):
        service.delete(ctx, [("recordID", rid(5))])
