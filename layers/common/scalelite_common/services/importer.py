"""The recording importer: a spool-bucket object (an archive of `<format>/<recordID>/…`) → files in the recordings
bucket + the recording in DynamoDB (Scalelite §5.2, with its bugs fixed: recordings-peers.md §B.1, §D).

Per object, in order:
1. Validate without writing anything: the key's shape, the server that may upload it, then one streamed pass
   over the archive (`bbb.archive.scan`: member rules, limits, every metadata.xml). A rejection moves the object
   to `failed/<key>` with the reason in its metadata `reason`; the recordings bucket and the table stay untouched.
2. Merge with the stored recording: publish state, `protect` and updateRecordings edits made through the API win
   over the archive; a recording deleted through the API is not brought back; a format whose archive content is
   the one already imported is not copied again (redelivered events and re-sent archives are no-ops).
3. Stream the changed formats' files to `<prefix>/<format>/<recordID>/…` (a second pass; the prefix is
   `domain.storage.files_prefix`: published, protected or unpublished), delete that format's stale objects under
   every prefix, then store the recording (one transaction, with counters); a re-imported format's files cached at
   the edge are invalidated.
4. Queue the recording-ready callback once per recording, delete the spool object and its pending-upload entry.
Errors of S3 or DynamoDB propagate (the Lambda retries; the scheduled sweep picks up what is left, and gives up
into `failed/` after MAX_ATTEMPTS).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass, field
from typing import IO

from scalelite_common.bbb import archive
from scalelite_common.bbb.metadata import FormatImport, MetadataError
from scalelite_common.config import DEFAULT_TENANT, Settings
from scalelite_common.domain.entities import Recording, RecordingOrigin, RecordingState
from scalelite_common.domain.storage import PREFIXES, files_prefix
from scalelite_common.errors import ObjectChanged
from scalelite_common.observability import emit, logger, traced
from scalelite_common.services.ports import EdgeCache, Notifier, ObjectStore, RecordingReady, Store
from scalelite_common.services.recordings import RecordingService, edge_paths
from scalelite_common.services.uploads import UPLOAD_PREFIX, base_record_id

FAILED_PREFIX = "failed/"
IMPORT_PREFIX = "imports/"  # operator uploads (`scalelite recordings import`): no origin required
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")
MAX_ATTEMPTS = 5  # imports of one object that failed transiently before the sweep gives up on it
SWEEP_AGE = 900.0  # seconds an object may sit in the spool before the sweep imports it


class Rejected(Exception):
    """The object will never import: it goes to failed/ with this reason."""


@dataclass
class ImportResult:
    key: str
    status: str  # imported | unchanged | failed | ignored
    record_id: str = ""
    reason: str = ""
    formats: list[str] = field(default_factory=list)


def _fingerprint(fmt: FormatImport, members: list[archive.Member]) -> str:
    """What identifies a format's content: its parsed metadata.xml and its files' names and sizes (a rebuild
    rewrites metadata.xml, so it yields a new fingerprint)."""
    digest = hashlib.sha256(repr(fmt).encode())
    for member in members:
        digest.update(f"\0{member.path}\0{member.size}".encode())
    return digest.hexdigest()


def _ascii(text: str, limit: int = 1024) -> str:
    """S3 user metadata must be US-ASCII."""
    return text.encode("ascii", "backslashreplace").decode("ascii")[:limit]


class RecordingImporter:
    def __init__(
        self,
        store: Store,
        objects: ObjectStore,
        notifier: Notifier | None,
        settings: Settings,
        edge: EdgeCache | None = None,
    ) -> None:
        self.store = store
        self.objects = objects
        self.notifier = notifier
        self.settings = settings
        self.edge = edge

    # ------------------------------------------------------------------ entry points
    @traced
    def import_object(self, bucket: str, key: str, *, etag: str | None = None) -> ImportResult:
        if key.startswith(FAILED_PREFIX) or key.endswith("/"):
            return ImportResult(key, "ignored")
        try:
            result = self._import(bucket, key, etag)
        except (Rejected, archive.ArchiveRejected, MetadataError) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            self._fail(bucket, key, reason)
            return ImportResult(key, "failed", reason=reason)
        except ObjectChanged:
            # Replaced while we read it: the newer object has its own event.
            logger.info("spool object replaced during import; the newer one is imported by its own event", key=key)
            return ImportResult(key, "ignored", reason="replaced during import")
        self._done(bucket, key, result.record_id)
        return result

    def sweep(self, bucket: str, *, now: float | None = None) -> list[ImportResult]:
        """Import what an event missed: every spool object older than SWEEP_AGE (oldest first). An object that keeps
        failing transiently is counted, and moved to failed/ after MAX_ATTEMPTS tries."""
        moment = time.time() if now is None else now
        stale = [
            o
            for o in self.objects.list(bucket, "")
            if not o.key.startswith(FAILED_PREFIX) and moment - o.last_modified >= SWEEP_AGE
        ]
        results = []
        for obj in sorted(stale, key=lambda o: o.last_modified):
            attempts = self.store.count_import_attempt(obj.key, expires_at=int(moment) + 7 * 86_400)
            if attempts > MAX_ATTEMPTS:
                reason = f"gave up after {MAX_ATTEMPTS} failed import attempts (see the importer's logs)"
                self._fail(bucket, obj.key, reason)
                results.append(ImportResult(obj.key, "failed", reason=reason))
                continue
            try:
                results.append(self.import_object(bucket, obj.key, etag=obj.etag))
            except Exception:  # counted; the next sweep tries again
                logger.exception("sweep: import failed", key=obj.key)
        return results

    # --------------------------------------------------------------------- the work
    def _import(self, bucket: str, key: str, etag: str | None) -> ImportResult:
        s = self.settings
        if not key.endswith(ARCHIVE_SUFFIXES):
            raise Rejected("not a .tar, .tar.gz or .tgz archive")
        origin, server_id, key_record_id = self._origin(key)
        manifest = archive.scan(
            self.objects.open(bucket, key, etag=etag),
            max_members=s.recording_import_max_members,
            max_bytes=s.recording_import_max_bytes,
        )
        record_id = manifest.record_id
        if key_record_id and record_id != key_record_id:
            raise Rejected(f"the archive holds recording {record_id}, the upload was for {key_record_id}")
        if origin is None and key.startswith(IMPORT_PREFIX):
            origin = self.store.get_origin(base_record_id(record_id))
        existing = self.store.get_recording(record_id)
        if existing is not None and existing.state is RecordingState.DELETED:
            raise Rejected(f"recording {record_id} was deleted through the API; it is not imported again")
        tenant_id = origin.tenant_id if origin else existing.tenant_id if existing else DEFAULT_TENANT
        if existing is not None and existing.tenant_id != tenant_id:
            raise Rejected(f"recording {record_id} belongs to another tenant")

        by_format: dict[str, list[archive.Member]] = {}
        for member in manifest.members:
            by_format.setdefault(member.format, []).append(member)
        fingerprints = {f: _fingerprint(fmt, by_format.get(f, [])) for f, fmt in manifest.formats.items()}
        recording = self._merge(existing, manifest, tenant_id, origin, server_id, fingerprints)
        enabled = s.protected_recordings_enabled
        prefix = files_prefix(recording, enabled)
        moved = existing is not None and files_prefix(existing, enabled) != prefix
        changed = [
            f for f in manifest.formats if existing is None or existing.imported.get(f) != fingerprints[f] or moved
        ]
        if not changed:
            return ImportResult(key, "unchanged", record_id, formats=sorted(manifest.formats))

        written: dict[str, set[str]] = {f: set() for f in changed}

        def write(member: archive.Member, body: IO[bytes]) -> None:
            if member.format not in written:
                return  # unchanged format: the stream skips its bytes
            target = f"{prefix}/{member.format}/{record_id}/{member.path}"
            self.objects.put(
                s.recordings_bucket,
                target,
                body,
                content_type=archive.content_type(member.path),
                content_disposition=archive.content_disposition(member.path),
            )
            written[member.format].add(target)

        archive.copy(self.objects.open(bucket, key, etag=etag), manifest, write)
        for fmt in changed:
            stale = [
                o.key
                for p in PREFIXES
                for o in self.objects.list(s.recordings_bucket, f"{p}/{fmt}/{record_id}/")
                if o.key not in written[fmt]
            ]
            if stale:
                self.objects.delete(s.recordings_bucket, stale)
        # The formats not in this archive join the others' prefix (after a publish change, or when
        # PROTECTED_RECORDINGS_ENABLED was toggled since they were stored): moved, as publishing moves them.
        mover = RecordingService(
            self.store, self.objects, s.recordings_bucket, protection_enabled=enabled, edge=self.edge
        )
        before = existing or recording
        relocations = [
            mover.move_files(before, recording, "relocate", source=p, formats={fmt})
            for fmt in sorted(set(before.formats) - set(changed))
            for p in PREFIXES
            if p != prefix
        ]
        recording = self._notify(recording, existing)
        self.store.save_recording(recording, previous=existing)
        for cleanup in relocations:
            if cleanup is not None:
                cleanup()
        served_before = existing is not None and files_prefix(existing, enabled) != "unpublished"
        replaced = {f for f in changed if existing is not None and f in existing.imported}
        if self.edge is not None and served_before and replaced:  # a rebuilt format: cached old files must go
            self.edge.invalidate(edge_paths(recording, replaced))
        emit("RecordingsImported")
        logger.info("recording imported", record_id=record_id, formats=changed, tenant=tenant_id)
        return ImportResult(key, "imported", record_id, formats=sorted(changed))

    def _origin(self, key: str) -> tuple[RecordingOrigin | None, str, str]:
        """For an upload (`uploads/<server>/<recordID>/…`): its origin, which must name that server."""
        if key.startswith(IMPORT_PREFIX):
            return None, "", ""
        parts = key.split("/")
        if not key.startswith(UPLOAD_PREFIX) or len(parts) != 4:
            raise Rejected("not an upload of a BBB server (uploads/<server>/<recordID>/…) nor an import (imports/…)")
        _, server_id, record_id, _ = parts
        origin = self.store.get_origin(base_record_id(record_id))
        if origin is None or origin.server_id != server_id:
            raise Rejected(f"recording {record_id} was not hosted on server {server_id}")
        return origin, server_id, record_id

    def _merge(
        self,
        existing: Recording | None,
        manifest: archive.Manifest,
        tenant_id: str,
        origin: RecordingOrigin | None,
        server_id: str,
        fingerprints: dict[str, str],
    ) -> Recording:
        s = self.settings
        first = next(iter(manifest.formats.values()))
        base = existing or Recording(record_id=manifest.record_id, tenant_id=tenant_id, meeting_id=first.meeting_id)
        metadata = dict(base.metadata)
        for fmt in manifest.formats.values():
            metadata.update(fmt.metadata)
        for name, value in base.metadata_updates.items():  # the API's edits win
            if value is None:
                metadata.pop(name, None)
            else:
                metadata[name] = value
        if base.publish_updated:
            published = base.published
        elif s.recording_import_unpublished:
            published = False
        else:
            published = all(fmt.published for fmt in manifest.formats.values())
        formats = dict(base.formats)
        formats.update({name: fmt.playback for name, fmt in manifest.formats.items()})
        return dataclasses.replace(
            base,
            tenant_id=tenant_id,
            meeting_id=origin.meeting_id if origin else first.meeting_id or base.meeting_id,
            name=first.name or base.name,
            state=RecordingState.PUBLISHED if published else RecordingState.UNPUBLISHED,
            published=published,
            protected=base.protected if base.protect_updated else s.protected_recordings_enabled,
            start_time=first.start_time or base.start_time,
            end_time=first.end_time or base.end_time,
            participants=first.participants if first.participants is not None else base.participants,
            raw_size=first.raw_size if first.raw_size is not None else base.raw_size,
            is_breakout=first.is_breakout,
            internal_meeting_id=first.internal_meeting_id or base.internal_meeting_id,
            metadata=metadata,
            formats=formats,
            imported={**base.imported, **fingerprints},
            server_id=server_id or base.server_id,
            updated_at=int(time.time()),
        )

    def _notify(self, recording: Recording, existing: Recording | None) -> Recording:
        """Queue the recording-ready callback the first time the recording becomes available (at least once: it is
        queued before the recording is stored, so a crash in between queues it again on the retry)."""
        if recording.ready_notified or self.notifier is None:
            return recording
        callbacks = self.store.get_callbacks(recording.tenant_id, recording.meeting_id)
        if callbacks is None or not callbacks.recording_ready_url:
            return recording
        self.notifier.recording_ready(
            RecordingReady(
                url=callbacks.recording_ready_url,
                tenant_id=recording.tenant_id,
                meeting_id=recording.meeting_id,
                record_id=recording.record_id,
            )
        )
        return dataclasses.replace(recording, ready_notified=True)

    # ------------------------------------------------------------------- bookkeeping
    def _done(self, bucket: str, key: str, record_id: str) -> None:
        self.objects.delete(bucket, [key])
        parts = key.split("/")
        if key.startswith(UPLOAD_PREFIX) and len(parts) == 4:
            self.store.remove_pending_upload(parts[1], parts[2], key)

    def _fail(self, bucket: str, key: str, reason: str) -> None:
        logger.warning("recording archive rejected", key=key, reason=reason)
        emit("RecordingsRejected")
        self.objects.copy(bucket, key, FAILED_PREFIX + key, metadata={"reason": _ascii(reason)})
        self._done(bucket, key, "")
