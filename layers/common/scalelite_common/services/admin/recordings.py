"""Recordings commands: list, info, publish/unpublish, delete, the rejected uploads (`failed`), an S3↔DynamoDB
consistency check (which can also move misplaced files, e.g. after PROTECTED_RECORDINGS_ENABLED was toggled), and
presigned spool uploads for `scalelite recordings import`."""

from __future__ import annotations

import uuid
from typing import Any

from scalelite_common.config import DEFAULT_TENANT
from scalelite_common.domain.entities import Recording, RecordingState
from scalelite_common.domain.storage import PREFIXES
from scalelite_common.errors import AdminError, AdminNotFound
from scalelite_common.presenters.admin_json import recording_json
from scalelite_common.services.admin.context import AdminContext
from scalelite_common.services.importer import FAILED_PREFIX, IMPORT_PREFIX
from scalelite_common.services.ports import ObjectStore
from scalelite_common.services.recordings import RecordingService

LIST_LIMIT = 10_000  # recordings a `recordings list` without --meeting-id shows at most
STATES = {s.value for s in RecordingState}


def _objects(ctx: AdminContext) -> ObjectStore:
    if ctx.objects is None:
        raise AdminError("recordings commands need the object store (not configured)")
    return ctx.objects


def _service(ctx: AdminContext) -> RecordingService:
    s = ctx.settings
    return RecordingService(
        ctx.store, _objects(ctx), s.recordings_bucket, protection_enabled=s.protected_recordings_enabled, edge=ctx.edge
    )


def _states(state: str | None) -> set[str] | None:
    if state is None or state == "":
        return None
    wanted = {part.strip().lower() for part in state.split(",") if part.strip()}
    if "any" in wanted:
        return None
    unknown = wanted - STATES
    if unknown:
        raise AdminError(f"Unknown state(s): {', '.join(sorted(unknown))} (choose: any, {', '.join(sorted(STATES))})")
    return wanted


def recordings_list(
    ctx: AdminContext, meeting_id: str | None = None, state: str | None = None, tenant_id: str | None = None
) -> dict[str, Any]:
    return {"recordings": [recording_json(r) for r in _list(ctx, meeting_id, state, tenant_id)]}


def _list(ctx: AdminContext, meeting_id: str | None, state: str | None, tenant_id: str | None) -> list[Recording]:
    tenant = tenant_id or DEFAULT_TENANT
    states = _states(state)
    if meeting_id:
        found = ctx.store.meeting_recordings(tenant, meeting_id)
    else:
        found, cursor = [], None
        while len(found) < LIST_LIMIT:
            page = ctx.store.tenant_recordings(tenant, limit=500, cursor=cursor)
            found.extend(page.items)
            cursor = page.cursor
            if cursor is None:
                break
    return [r for r in found if states is None or r.state.value in states][:LIST_LIMIT]


def _get(ctx: AdminContext, record_id: str) -> Recording:
    recording = ctx.store.get_recording(record_id)
    if recording is None:
        raise AdminNotFound(f"No recording found with id: {record_id}")
    return recording


def recordings_info(ctx: AdminContext, record_id: str) -> dict[str, Any]:
    return recording_json(_get(ctx, record_id), detail=True)


def _many(ctx: AdminContext, record_ids: list[str]) -> tuple[list[Recording], list[str]]:
    found = ctx.store.get_recordings(record_ids)
    known = {r.record_id for r in found}
    return found, [r for r in record_ids if r not in known]


def recordings_publish(ctx: AdminContext, record_ids: list[str], publish: bool = True) -> dict[str, Any]:
    found, missing = _many(ctx, record_ids)
    service = _service(ctx)
    changed = []
    for recording in found:
        if recording.state not in (RecordingState.PUBLISHED, RecordingState.UNPUBLISHED):
            raise AdminError(f"Recording {recording.record_id} is {recording.state.value}: it cannot be (un)published")
    for recording in found:
        changed.append(recording_json(service.set_published(recording, publish)))
    return {"recordings": changed, "not_found": missing}


def recordings_delete(ctx: AdminContext, record_ids: list[str]) -> dict[str, Any]:
    found, missing = _many(ctx, record_ids)
    service = _service(ctx)
    return {"recordings": [recording_json(service.delete_recording(r)) for r in found], "not_found": missing}


def recordings_failed(ctx: AdminContext) -> dict[str, Any]:
    """Archives the importer rejected (moved to failed/ in the spool bucket), with its reason."""
    objects = _objects(ctx)
    bucket = ctx.settings.spool_bucket
    failed = []
    for obj in objects.list(bucket, FAILED_PREFIX):
        head = objects.head(bucket, obj.key)
        reason = head.metadata.get("reason", "") if head else ""
        failed.append({"key": obj.key, "reason": reason, "size": obj.size, "last_modified": int(obj.last_modified)})
    return {"failed": failed}


def recordings_check(ctx: AdminContext, tenant_id: str | None = None, fix: bool = False) -> dict[str, Any]:
    """S3 and DynamoDB compared: recording folders in the bucket that no recording claims, folders of a recording
    under another prefix than `files_prefix` names (`misplaced`: e.g. PROTECTED_RECORDINGS_ENABLED was toggled, or
    a move was interrupted), and recordings (published or unpublished) with a format that has no files anywhere.
    With `fix`, misplaced folders are moved where they belong (`relocated`); nothing is ever deleted outright."""
    objects = _objects(ctx)
    service = _service(ctx)
    bucket = ctx.settings.recordings_bucket
    folders: dict[tuple[str, str, str], int] = {}  # (prefix, format, record_id) → files
    for prefix in PREFIXES:
        for obj in objects.list(bucket, f"{prefix}/"):
            parts = obj.key.split("/")
            if len(parts) >= 4:
                folders[(parts[0], parts[1], parts[2])] = folders.get((parts[0], parts[1], parts[2]), 0) + 1
    stored = {r.record_id: r for r in ctx.store.get_recordings(sorted({k[2] for k in folders}))}
    orphans: list[dict[str, Any]] = []
    misplaced: list[dict[str, Any]] = []
    for (where, fmt, record_id), count in sorted(folders.items()):
        recording = stored.get(record_id)
        if recording is None or recording.state is RecordingState.DELETED:
            orphans.append({"prefix": f"{where}/{fmt}/{record_id}/", "files": count})
        elif (expected := service.prefix(recording)) != where:
            misplaced.append(
                {"record_id": record_id, "format": fmt, "prefix": where, "expected": expected, "files": count}
            )
    relocated: list[dict[str, Any]] = []
    if fix:  # the move publish and protect use; its cleanup deletes the misplaced copies and invalidates the edge
        for entry in misplaced:
            recording = stored[str(entry["record_id"])]
            fmt, source = str(entry["format"]), str(entry["prefix"])
            cleanup = service.move_files(recording, recording, "relocate", source=source, formats={fmt})
            if cleanup is not None:
                cleanup()
            folders[(str(entry["expected"]), fmt, recording.record_id)] = int(entry["files"])
            relocated.append(entry)
        misplaced = []
    missing: list[dict[str, Any]] = []
    for recording in _list(ctx, None, None, tenant_id):
        if recording.state not in (RecordingState.PUBLISHED, RecordingState.UNPUBLISHED):
            continue
        for fmt in recording.formats:
            if not any((prefix, fmt, recording.record_id) in folders for prefix in PREFIXES):
                missing.append({"record_id": recording.record_id, "format": fmt, "prefix": service.prefix(recording)})
    return {
        "files_without_recording": orphans,
        "misplaced": misplaced,
        "relocated": relocated,
        "recordings_without_files": missing,
        "ok": not orphans and not missing and not misplaced,
    }


def recordings_upload_url(ctx: AdminContext, name: str = "archive.tar") -> dict[str, Any]:
    """A presigned PUT into the spool's imports/ prefix (operator imports; the importer takes it from there)."""
    suffix = next((s for s in (".tar.gz", ".tgz", ".tar") if name.endswith(s)), None)
    if suffix is None:
        raise AdminError("Only .tar, .tar.gz and .tgz archives can be imported")
    key = f"{IMPORT_PREFIX}{uuid.uuid4().hex}{suffix}"
    upload = _objects(ctx).presign_put(
        ctx.settings.spool_bucket,
        key,
        expires_in=ctx.settings.recording_upload_url_ttl,
        content_type="application/x-tar",
    )
    return {
        "key": key,
        "url": upload.url,
        "method": upload.method,
        "headers": upload.headers,
        "expires": upload.expires,
    }
