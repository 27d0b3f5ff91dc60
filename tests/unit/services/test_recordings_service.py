"""RecordingService over the fakes: getRecordings' lookups and pages, publish, update, delete."""

from __future__ import annotations

import dataclasses
import io

import pytest

from scalelite_common.domain.entities import PlaybackFormat, Recording, RecordingState
from scalelite_common.errors import MissingPublishError, MissingRecordIDError, RecordingNotFoundError
from scalelite_common.services.context import RequestContext
from scalelite_common.services.recordings import MissingParametersError, RecordingService
from tests.fakes.objects import InMemoryObjectStore, RecordingEdgeCache
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


# --- protected recordings: the files' prefix follows publish and protect; the edge's cache is invalidated ----------


@pytest.fixture
def edge() -> RecordingEdgeCache:
    return RecordingEdgeCache()


@pytest.fixture
def guarded(store: InMemoryStore, objects: InMemoryObjectStore, edge: RecordingEdgeCache) -> RecordingService:
    return RecordingService(store, objects, BUCKET, protection_enabled=True, edge=edge)


def placed(service: RecordingService, store: InMemoryStore, objects: InMemoryObjectStore, **kw: object) -> Recording:
    """Recording 1 with two presentation files and one video file where `files_prefix` puts them."""
    record_id = rid(1)
    recording = Recording(
        record_id=record_id,
        tenant_id="default",
        meeting_id="m",
        formats={
            "presentation": PlaybackFormat("presentation", f"/playback/presentation/2.3/{record_id}", 1),
            "video": PlaybackFormat("video", f"/playback/video/{record_id}/", 1),
        },
        **kw,  # type: ignore[arg-type]
    )
    prefix = service.prefix(recording)
    for name in ("presentation/{}/metadata.xml", "presentation/{}/shapes.svg", "video/{}/video.mp4"):
        key = f"{prefix}/{name.format(record_id)}"
        objects.put(BUCKET, key, io.BytesIO(b"x"), content_type="text/plain")
    return store.save_recording(recording, previous=None)


def prefixes(objects: InMemoryObjectStore) -> set[str]:
    return {key.split("/")[0] for key in objects.bucket(BUCKET)}


def edge_paths_of(*formats: str) -> set[str]:
    return {f"{root}/{fmt}/{rid(1)}/*" for fmt in formats for root in ("", "/published", "/protected")}


def test_protect_moves_the_files_to_protected_and_back(
    guarded: RecordingService,
    store: InMemoryStore,
    objects: InMemoryObjectStore,
    edge: RecordingEdgeCache,
    ctx: RequestContext,
) -> None:
    placed(guarded, store, objects)
    assert prefixes(objects) == {"published"} and len(objects.bucket(BUCKET)) == 3
    assert guarded.update(ctx, [("recordID", rid(1)), ("protect", "true")]) is True
    assert prefixes(objects) == {"protected"} and len(objects.bucket(BUCKET)) == 3
    assert edge.paths == edge_paths_of("presentation", "video")  # the cached public copies must go
    edge.invalidations.clear()
    assert guarded.update(ctx, [("recordID", rid(1)), ("meta_x", "y")]) is True  # no prefix change: nothing moves
    assert prefixes(objects) == {"protected"} and edge.invalidations == []
    assert guarded.update(ctx, [("recordID", rid(1)), ("protect", "false")]) is True
    assert prefixes(objects) == {"published"} and edge.paths == edge_paths_of("presentation", "video")


def test_unpublish_and_publish_of_a_protected_recording(
    guarded: RecordingService,
    store: InMemoryStore,
    objects: InMemoryObjectStore,
    edge: RecordingEdgeCache,
    ctx: RequestContext,
) -> None:
    placed(guarded, store, objects, protected=True)
    assert prefixes(objects) == {"protected"}
    guarded.publish(ctx, [("recordID", rid(1)), ("publish", "false")])
    assert prefixes(objects) == {"unpublished"} and edge.paths == edge_paths_of("presentation", "video")
    edge.invalidations.clear()
    guarded.publish(ctx, [("recordID", rid(1)), ("publish", "true")])
    assert prefixes(objects) == {"protected"}
    assert edge.invalidations == []  # nothing of an unpublished recording was ever on the edge


def test_delete_removes_every_prefix_and_invalidates(
    guarded: RecordingService,
    store: InMemoryStore,
    objects: InMemoryObjectStore,
    edge: RecordingEdgeCache,
    ctx: RequestContext,
) -> None:
    placed(guarded, store, objects, protected=True)
    for prefix in ("published", "unpublished"):  # left-overs of an interrupted move
        objects.put(BUCKET, f"{prefix}/video/{rid(1)}/old.mp4", io.BytesIO(b"x"), content_type="video/mp4")
    guarded.delete(ctx, [("recordID", rid(1))])
    assert objects.bucket(BUCKET) == {}
    assert edge.paths == edge_paths_of("presentation", "video")
    edge.invalidations.clear()
    guarded.delete(ctx, [("recordID", rid(1))])  # already deleted: nothing cached any more
    assert edge.invalidations == []


def test_protect_changes_nothing_on_s3_while_protection_is_disabled(
    store: InMemoryStore, objects: InMemoryObjectStore, edge: RecordingEdgeCache, ctx: RequestContext
) -> None:
    service = RecordingService(store, objects, BUCKET, protection_enabled=False, edge=edge)
    placed(service, store, objects)
    assert service.update(ctx, [("recordID", rid(1)), ("protect", "true")]) is True
    stored = store.get_recording(rid(1))
    assert stored is not None and stored.protected
    assert prefixes(objects) == {"published"} and edge.invalidations == []


def test_text_tracks_live_under_the_current_prefix(
    guarded: RecordingService,
    store: InMemoryStore,
    objects: InMemoryObjectStore,
    edge: RecordingEdgeCache,
    ctx: RequestContext,
) -> None:
    placed(guarded, store, objects, protected=True)
    params = [("recordID", rid(1)), ("kind", "captions"), ("lang", "de")]
    assert guarded.put_text_track(ctx, params, b"WEBVTT\n\n00:00.000 --> 00:01.000\nHallo\n") == rid(1)
    assert f"protected/presentation/{rid(1)}/caption_de.vtt" in objects.bucket(BUCKET)
    assert f"protected/presentation/{rid(1)}/captions.json" in objects.bucket(BUCKET)
    assert f"/presentation/{rid(1)}/captions.json" in edge.paths
    assert f"/protected/presentation/{rid(1)}/caption_de.vtt" in edge.paths
    [track] = guarded.text_tracks(ctx, rid(1))
    assert track.key == f"protected/presentation/{rid(1)}/caption_de.vtt"
    guarded.update(ctx, [("recordID", rid(1)), ("protect", "false")])
    assert [t.key for t in guarded.text_tracks(ctx, rid(1))] == [f"published/presentation/{rid(1)}/caption_de.vtt"]
