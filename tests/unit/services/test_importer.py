"""RecordingImporter over the fakes: what lands where, what survives a re-import, what is refused."""

from __future__ import annotations

import dataclasses
import io
import tarfile
import time

import pytest

from scalelite_common.config import Settings
from scalelite_common.domain.entities import CallbackData, RecordingOrigin, RecordingState
from scalelite_common.services.importer import MAX_ATTEMPTS, SWEEP_AGE, RecordingImporter
from scalelite_common.services.recordings import RecordingService
from tests.fakes.objects import InMemoryObjectStore, RecordingEdgeCache, RecordingNotifier
from tests.fakes.store import InMemoryStore
from tests.recordings_support import archive_bytes, format_files, record_id_for

SPOOL, BUCKET = "spool", "recordings"
RID = record_id_for("class-1")


@pytest.fixture
def objects() -> InMemoryObjectStore:
    return InMemoryObjectStore()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def rec_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, spool_bucket=SPOOL, recordings_bucket=BUCKET)


@pytest.fixture
def importer(
    store: InMemoryStore, objects: InMemoryObjectStore, notifier: RecordingNotifier, rec_settings: Settings
) -> RecordingImporter:
    now = int(time.time())
    store.put_origin(RecordingOrigin(RID, "default", "class-1", "bbb1", now, now + 3600))
    store.put_callbacks(CallbackData("default", "class-1", recording_ready_url="https://lms.example/ready"))
    return RecordingImporter(store, objects, notifier, rec_settings)


def upload(objects: InMemoryObjectStore, data: bytes, name: str = "a.tar", server: str = "bbb1") -> str:
    key = f"uploads/{server}/{RID}/{name}"
    objects.put(SPOOL, key, io.BytesIO(data), content_type="application/x-tar")
    return key


def keys(objects: InMemoryObjectStore, bucket: str = BUCKET) -> set[str]:
    return set(objects.bucket(bucket))


def test_an_upload_lands_under_published_with_its_recording_and_one_callback(
    importer: RecordingImporter, store: InMemoryStore, objects: InMemoryObjectStore, notifier: RecordingNotifier
) -> None:
    store.add_pending_upload("bbb1", RID, f"uploads/bbb1/{RID}/a.tar", expires_at=int(time.time()) + 60)
    key = upload(objects, archive_bytes(RID))
    result = importer.import_object(SPOOL, key)
    assert (result.status, result.record_id, result.formats) == ("imported", RID, ["presentation", "video"])
    stored = keys(objects)
    assert f"published/presentation/{RID}/presentation/d1/thumbnails/thumb-1.png" in stored
    assert f"published/video/{RID}/video-0.m4v" in stored
    assert len(stored) == len(format_files(RID, "presentation")) + len(format_files(RID, "video"))
    pdf = objects.bucket(BUCKET)[f"published/presentation/{RID}/notes.pdf"]
    assert (pdf.content_type, pdf.content_disposition) == ("application/pdf", "attachment")
    assert objects.bucket(BUCKET)[f"published/video/{RID}/video-0.m4v"].content_type == "video/mp4"
    recording = store.get_recording(RID)
    assert recording is not None and recording.state is RecordingState.PUBLISHED and recording.published
    assert (recording.meeting_id, recording.tenant_id, recording.name, recording.server_id) == (
        "class-1",
        "default",
        "Class 1",
        "bbb1",
    )
    assert recording.metadata == {"bbb-origin": "Moodle", "gl-listed": "false"}
    assert recording.formats["presentation"].url == f"/playback/presentation/2.3/{RID}"
    assert recording.formats["presentation"].length == 78
    assert [n.record_id for n in notifier.sent] == [RID] and notifier.sent[0].url == "https://lms.example/ready"
    assert keys(objects, SPOOL) == set() and store.pending_uploads("bbb1") == []
    assert store.recording_counts("default")["published"] == 1


def test_a_redelivered_or_resent_archive_changes_nothing(
    importer: RecordingImporter, store: InMemoryStore, objects: InMemoryObjectStore, notifier: RecordingNotifier
) -> None:
    data = archive_bytes(RID)
    importer.import_object(SPOOL, upload(objects, data))
    before = (store.get_recording(RID), {k: o.body for k, o in objects.bucket(BUCKET).items()})
    assert importer.import_object(SPOOL, upload(objects, data, "b.tar")).status == "unchanged"
    assert (store.get_recording(RID), {k: o.body for k, o in objects.bucket(BUCKET).items()}) == before
    assert len(notifier.sent) == 1  # once per recording
    assert store.recording_counts("default")["published"] == 1


def test_a_newer_format_replaces_its_files_and_drops_stale_ones(
    importer: RecordingImporter, objects: InMemoryObjectStore
) -> None:
    importer.import_object(SPOOL, upload(objects, archive_bytes(RID)))
    rebuilt = {k: v for k, v in format_files(RID, "presentation", duration_ms=60_000).items() if k != "notes.pdf"}
    result = importer.import_object(
        SPOOL, upload(objects, archive_bytes(RID, ["presentation"], files={"presentation": rebuilt}), "b.tar")
    )
    assert result.formats == ["presentation"]
    stored = keys(objects)
    assert f"published/presentation/{RID}/notes.pdf" not in stored  # stale: gone
    assert f"published/video/{RID}/video-0.m4v" in stored  # the other format is untouched


def test_api_changes_survive_a_reimport(
    importer: RecordingImporter, store: InMemoryStore, objects: InMemoryObjectStore, rec_settings: Settings
) -> None:
    importer.import_object(SPOOL, upload(objects, archive_bytes(RID)))
    service = RecordingService(store, objects, BUCKET)
    recording = store.get_recording(RID)
    assert recording is not None
    service.set_published(recording, False)
    recording = store.get_recording(RID)
    assert recording is not None
    edited = dataclasses.replace(
        recording,
        metadata={**recording.metadata, "gl-listed": "true"},
        metadata_updates={"gl-listed": "true", "bbb-origin": None},
        protected=True,
        protect_updated=True,
    )
    store.save_recording(edited, previous=recording)
    rebuilt = format_files(RID, "presentation", duration_ms=120_000)
    importer.import_object(
        SPOOL, upload(objects, archive_bytes(RID, ["presentation"], files={"presentation": rebuilt}), "b.tar")
    )
    after = store.get_recording(RID)
    assert after is not None and not after.published and after.state is RecordingState.UNPUBLISHED
    assert after.protected and after.metadata == {"gl-listed": "true"}
    assert all(k.startswith("unpublished/") for k in keys(objects))


def test_a_recording_deleted_through_the_api_is_not_brought_back(
    importer: RecordingImporter, store: InMemoryStore, objects: InMemoryObjectStore
) -> None:
    importer.import_object(SPOOL, upload(objects, archive_bytes(RID)))
    recording = store.get_recording(RID)
    assert recording is not None
    RecordingService(store, objects, BUCKET).delete_recording(recording)
    assert keys(objects) == set()
    result = importer.import_object(SPOOL, upload(objects, archive_bytes(RID), "b.tar"))
    assert result.status == "failed" and "deleted through the API" in result.reason
    assert keys(objects) == set() and store.get_recording(RID).state is RecordingState.DELETED  # type: ignore[union-attr]
    assert objects.bucket(SPOOL)[f"failed/uploads/bbb1/{RID}/b.tar"].metadata["reason"] == result.reason


def _hostile() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in format_files(RID, "presentation").items():
            info = tarfile.TarInfo(f"presentation/{RID}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        evil = tarfile.TarInfo("../../etc/cron.d/x")
        evil.size = 3
        tar.addfile(evil, io.BytesIO(b"bad"))
    return out.getvalue()


def test_a_hostile_archive_is_moved_to_failed_and_nothing_is_written(
    importer: RecordingImporter, store: InMemoryStore, objects: InMemoryObjectStore, notifier: RecordingNotifier
) -> None:
    key = upload(objects, _hostile())
    result = importer.import_object(SPOOL, key)
    assert result.status == "failed" and "escapes" in result.reason
    assert keys(objects) == set() and store.get_recording(RID) is None and notifier.sent == []
    assert set(objects.bucket(SPOOL)) == {f"failed/{key}"}
    assert importer.import_object(SPOOL, f"failed/{key}").status == "ignored"  # the move's own event


def test_only_the_hosting_server_may_upload_a_recording(
    importer: RecordingImporter, store: InMemoryStore, objects: InMemoryObjectStore
) -> None:
    result = importer.import_object(SPOOL, upload(objects, archive_bytes(RID), server="bbb2"))
    assert result.status == "failed" and "not hosted on server bbb2" in result.reason
    other = record_id_for("other-meeting")
    key = f"uploads/bbb1/{RID}/c.tar"
    objects.put(SPOOL, key, io.BytesIO(archive_bytes(other)), content_type="application/x-tar")
    assert "the upload was for" in importer.import_object(SPOOL, key).reason
    assert store.get_recording(other) is None


def test_recording_import_unpublished(
    store: InMemoryStore, objects: InMemoryObjectStore, notifier: RecordingNotifier, rec_settings: Settings
) -> None:
    settings = dataclasses.replace(rec_settings, recording_import_unpublished=True, protected_recordings_enabled=True)
    importer = RecordingImporter(store, objects, notifier, settings)
    key = "imports/x.tar.gz"  # an operator import: no origin needed, the default tenant
    objects.put(SPOOL, key, io.BytesIO(archive_bytes(RID, gz=True)), content_type="application/x-tar")
    assert importer.import_object(SPOOL, key).status == "imported"
    recording = store.get_recording(RID)
    assert recording is not None and not recording.published and recording.protected
    assert recording.state is RecordingState.UNPUBLISHED and all(k.startswith("unpublished/") for k in keys(objects))


def test_the_sweep_imports_what_an_event_missed_and_gives_up_eventually(
    importer: RecordingImporter, objects: InMemoryObjectStore, store: InMemoryStore
) -> None:
    upload(objects, archive_bytes(RID))
    assert importer.sweep(SPOOL) == []  # too recent: its event is still on the way
    later = time.time() + SWEEP_AGE + 1
    assert [r.status for r in importer.sweep(SPOOL, now=later)] == ["imported"]
    stuck = upload(objects, archive_bytes(RID), "d.tar")
    store.attempts[stuck] = MAX_ATTEMPTS
    results = importer.sweep(SPOOL, now=later)
    assert [r.status for r in results] == ["failed"] and "gave up" in results[0].reason


def test_not_an_archive(importer: RecordingImporter, objects: InMemoryObjectStore) -> None:
    key = upload(objects, b"just text", "notes.txt")
    assert "not a .tar" in importer.import_object(SPOOL, key).reason
    assert "not a tar archive" in importer.import_object(SPOOL, upload(objects, b"garbage" * 100)).reason


def test_protected_recordings_land_under_protected_and_a_rebuild_invalidates_the_edge(
    store: InMemoryStore, objects: InMemoryObjectStore, notifier: RecordingNotifier, rec_settings: Settings
) -> None:
    now = int(time.time())
    store.put_origin(RecordingOrigin(RID, "default", "class-1", "bbb1", now, now + 3600))
    edge = RecordingEdgeCache()
    protecting = dataclasses.replace(rec_settings, protected_recordings_enabled=True)
    importer = RecordingImporter(store, objects, notifier, protecting, edge)
    importer.import_object(SPOOL, upload(objects, archive_bytes(RID)))
    assert {k.split("/")[0] for k in keys(objects)} == {"protected"}
    assert edge.invalidations == []  # a first import replaces nothing the edge could have cached
    rebuilt = format_files(RID, "presentation", duration_ms=60_000)
    importer.import_object(
        SPOOL, upload(objects, archive_bytes(RID, ["presentation"], files={"presentation": rebuilt}), "b.tar")
    )
    assert edge.paths == {f"{root}/presentation/{RID}/*" for root in ("", "/published", "/protected")}

    # PROTECTED_RECORDINGS_ENABLED turned off: a re-import puts every format back under published/
    importer = RecordingImporter(store, objects, notifier, rec_settings, edge)
    rebuilt = format_files(RID, "presentation", duration_ms=61_000)
    importer.import_object(
        SPOOL, upload(objects, archive_bytes(RID, ["presentation"], files={"presentation": rebuilt}), "c.tar")
    )
    stored = keys(objects)
    assert {k.split("/")[0] for k in stored} == {"published"}
    assert f"published/video/{RID}/video-0.m4v" in stored
