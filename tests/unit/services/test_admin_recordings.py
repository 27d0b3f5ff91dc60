"""The recordings admin commands over the fakes: `recordings.check` finds files under the wrong prefix (e.g. after
PROTECTED_RECORDINGS_ENABLED was toggled) and, with `fix`, moves them; publish/delete invalidate the edge."""

from __future__ import annotations

import dataclasses
import io

from scalelite_common.config import Settings
from scalelite_common.domain.entities import PlaybackFormat, Recording
from scalelite_common.services.admin import registry
from scalelite_common.services.admin.context import AdminContext
from tests.fakes.bbb import FakeBBB
from tests.fakes.objects import InMemoryObjectStore, RecordingEdgeCache
from tests.fakes.store import InMemoryStore

BUCKET = "recordings"
RID = "0123456789abcdef0123456789abcdef01234567-1700000000000"


def admin(store: InMemoryStore, objects: InMemoryObjectStore, edge: RecordingEdgeCache, enabled: bool) -> AdminContext:
    settings = dataclasses.replace(
        Settings.from_env({}), recordings_bucket=BUCKET, protected_recordings_enabled=enabled
    )
    return AdminContext(store=store, client=FakeBBB(), settings=settings, objects=objects, edge=edge)


def stored_protected(store: InMemoryStore, objects: InMemoryObjectStore, prefix: str) -> None:
    recording = Recording(
        record_id=RID,
        tenant_id="default",
        meeting_id="m",
        protected=True,
        formats={"presentation": PlaybackFormat("presentation", f"/playback/presentation/2.3/{RID}", 1)},
    )
    store.save_recording(recording, previous=None)
    for name in ("metadata.xml", "shapes.svg"):
        objects.put(BUCKET, f"{prefix}/presentation/{RID}/{name}", io.BytesIO(b"x"), content_type="text/plain")


def test_check_reports_and_fixes_files_under_the_wrong_prefix() -> None:
    store, objects, edge = InMemoryStore(), InMemoryObjectStore(), RecordingEdgeCache()
    stored_protected(store, objects, "published")  # imported while protection was off; now it is on
    ctx = admin(store, objects, edge, enabled=True)

    report = registry.dispatch("recordings.check", {}, ctx)
    assert report["ok"] is False and report["recordings_without_files"] == []
    assert report["misplaced"] == [
        {"record_id": RID, "format": "presentation", "prefix": "published", "expected": "protected", "files": 2}
    ]
    assert set(objects.bucket(BUCKET)) == {f"published/presentation/{RID}/{n}" for n in ("metadata.xml", "shapes.svg")}

    fixed = registry.dispatch("recordings.check", {"fix": True}, ctx)
    assert fixed["ok"] is True and fixed["misplaced"] == [] and len(fixed["relocated"]) == 1
    assert set(objects.bucket(BUCKET)) == {f"protected/presentation/{RID}/{n}" for n in ("metadata.xml", "shapes.svg")}
    assert f"/presentation/{RID}/*" in edge.paths  # the public copies the edge may hold
    assert registry.dispatch("recordings.check", {}, ctx)["ok"] is True

    # Protection turned off again: the same files now belong under published/.
    off = admin(store, objects, edge, enabled=False)
    assert registry.dispatch("recordings.check", {}, off)["misplaced"][0]["expected"] == "published"
    registry.dispatch("recordings.check", {"fix": True}, off)
    assert {k.split("/")[0] for k in objects.bucket(BUCKET)} == {"published"}


def test_check_reports_orphans_and_missing_files_without_touching_them() -> None:
    store, objects, edge = InMemoryStore(), InMemoryObjectStore(), RecordingEdgeCache()
    stored_protected(store, objects, "protected")
    objects.delete(BUCKET, list(objects.bucket(BUCKET)))
    objects.put(BUCKET, "protected/video/ffff/x.mp4", io.BytesIO(b"x"), content_type="video/mp4")
    report = registry.dispatch("recordings.check", {"fix": True}, admin(store, objects, edge, enabled=True))
    assert report["files_without_recording"] == [{"prefix": "protected/video/ffff/", "files": 1}]
    assert report["recordings_without_files"] == [{"record_id": RID, "format": "presentation", "prefix": "protected"}]
    assert report["ok"] is False and "protected/video/ffff/x.mp4" in objects.bucket(BUCKET)


def test_unpublish_and_delete_through_admin_invalidate_the_edge() -> None:
    store, objects, edge = InMemoryStore(), InMemoryObjectStore(), RecordingEdgeCache()
    stored_protected(store, objects, "protected")
    ctx = admin(store, objects, edge, enabled=True)
    registry.dispatch("recordings.publish", {"record_ids": [RID], "publish": False}, ctx)
    assert {k.split("/")[0] for k in objects.bucket(BUCKET)} == {"unpublished"}
    assert f"/protected/presentation/{RID}/*" in edge.paths
    edge.invalidations.clear()
    registry.dispatch("recordings.delete", {"record_ids": [RID]}, ctx)
    assert objects.bucket(BUCKET) == {} and f"/presentation/{RID}/*" in edge.paths
