"""The BBB recording calls, answered from the balancer's own data (DynamoDB + S3; no BBB server is asked):
getRecordings, publishRecordings, updateRecordings, deleteRecordings (Scalelite §1.9–1.12, bbb-api.md §2.8–2.11,
with Scalelite's bugs fixed: pagination, AND of `meta_` filters, publish on S3, delete of every object under
every prefix, `protect` on every listed id).

A recording's files live under the prefix `domain.storage.files_prefix` names (published, protected, unpublished):
publishing, unpublishing and changing `protect` move them, and every change that takes files away from the edge
invalidates the edge's cached copies (the EdgeCache port).

Every read is a GetItem, BatchGetItem or Query (docs/data-model.md); no path scans a table.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import time
from collections.abc import Callable

from scalelite_common.bbb import params as P
from scalelite_common.concurrency import fan_out
from scalelite_common.domain import recording_query as rq
from scalelite_common.domain.entities import Recording, RecordingState
from scalelite_common.domain.storage import PREFIXES, files_prefix
from scalelite_common.errors import (
    BBBError,
    InternalError,
    MissingPublishError,
    MissingRecordIDError,
    RecordingNotFoundError,
    StoreConflict,
)
from scalelite_common.observability import logger
from scalelite_common.services.context import RequestContext
from scalelite_common.services.ports import EdgeCache, ObjectStore, Store

TENANT_PAGE = 100  # recordings per Query of the tenant listing
MOVE_WORKERS = 32  # parallel S3 copies when moving files between prefixes: 2,000 files fit well inside the API's 30 s
MOVE_TIMEOUT = 25.0
SAVE_ATTEMPTS = 3  # optimistic-lock retries against a concurrent import or API call


class MissingParametersError(BBBError):
    message_key = "missingParameters"


class TextTrackError(Exception):
    """A text-track call refused, with BBB's JSON messageKey (bbb-api.md §2.12–2.13)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


@dataclasses.dataclass(frozen=True)
class TextTrackFile:
    """One caption file of a recording, as BBB's caption script lays it out next to the presentation."""

    kind: str
    lang: str
    label: str
    key: str  # the object in the recordings bucket


TEXT_TRACK_KINDS = ("subtitles", "captions")
MAX_TEXT_TRACK_BYTES = 4 * 1024 * 1024
LANG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")  # BCP-47 shape
_SRT_TIME = re.compile(r"(\d{2}:\d{2}:\d{2}),(\d{3})")


def to_webvtt(data: bytes) -> bytes:
    """A WebVTT track as is; an SRT track converted (header added, `,` → `.` in cue times). Anything else (SSA/ASS,
    binary) is refused: BBB converts those with ffmpeg, which a Lambda does not have."""
    text = data.decode("utf-8-sig", errors="strict").replace("\r\n", "\n")
    if text.lstrip().startswith("WEBVTT"):
        return text.encode()
    if "-->" in text and _SRT_TIME.search(text):
        return ("WEBVTT\n\n" + _SRT_TIME.sub(r"\1.\2", text.strip()) + "\n").encode()
    raise TextTrackError("paramError", "Only WebVTT and SRT text tracks can be uploaded")


AfterSave = Callable[[], None] | None  # cleanup to run once the change is stored (e.g. delete the old copies)
Change = Callable[[Recording], tuple[Recording, AfterSave]]


@dataclasses.dataclass(frozen=True)
class Listing:
    recordings: list[Recording]
    total: int | None  # totalElements when the call was paginated (`limit`), else None


def edge_paths(recording: Recording, formats: set[str] | None = None) -> list[str]:
    """What to invalidate for a recording's formats: the viewer's path and, as CloudFront advises when a viewer
    function rewrites the URI, the rewritten ones (recording.js maps `/<f>/<id>/…` to `published/` or `protected/`)."""
    names = sorted(formats if formats is not None else set(recording.formats) | set(recording.imported))
    return [f"{root}/{fmt}/{recording.record_id}/*" for fmt in names for root in ("", "/published", "/protected")]


class RecordingService:
    def __init__(
        self,
        store: Store,
        objects: ObjectStore,
        bucket: str,
        *,
        protection_enabled: bool = False,
        edge: EdgeCache | None = None,
    ) -> None:
        self.store = store
        self.objects = objects
        self.bucket = bucket
        self.protection_enabled = protection_enabled  # PROTECTED_RECORDINGS_ENABLED: where protected files live
        self.edge = edge

    def prefix(self, recording: Recording) -> str:
        return files_prefix(recording, self.protection_enabled)

    def _invalidate(self, paths: list[str]) -> None:
        if self.edge is not None and paths:
            self.edge.invalidate(paths)

    # ------------------------------------------------------------------ getRecordings
    def get_recordings(self, ctx: RequestContext, params: P.Params) -> Listing:
        single = P.single(params)
        if ctx.settings.get_recordings_api_filtered and not (single.get("meetingID") or single.get("recordID")):
            raise MissingParametersError("param meetingID or recordID must be included.")
        query = rq.parse_query(single)
        if query.record_ids or query.meeting_ids:
            found: dict[str, Recording] = {}
            if query.record_ids:
                for prefix in query.record_ids:
                    for r in self.store.recordings_with_prefix(ctx.tenant_id, prefix):
                        found[r.record_id] = r
            else:
                for meeting_id in query.meeting_ids:
                    for r in self.store.meeting_recordings(ctx.tenant_id, meeting_id):
                        found[r.record_id] = r
            page = rq.page([r for r in found.values() if rq.matches(r, query)], query)
            return Listing(page.items, page.total if page.paginated else None)
        return self._tenant_listing(ctx, query)

    def _tenant_listing(self, ctx: RequestContext, query: rq.RecordingQuery) -> Listing:
        """The tenant's recordings newest first, read page by page only as far as the requested page needs; the total
        comes from the per-state counters when no `meta_` filter applies (else every page is read to count)."""
        wanted = query.offset + query.limit if query.limit is not None and not query.meta else None
        matched: list[Recording] = []
        cursor: str | None = None
        while True:
            chunk = self.store.tenant_recordings(ctx.tenant_id, limit=TENANT_PAGE, cursor=cursor)
            matched.extend(r for r in chunk.items if rq.matches(r, query))
            cursor = chunk.cursor
            if cursor is None or (wanted is not None and len(matched) >= wanted):
                break
        page = rq.page(matched, query)
        if not page.paginated:
            return Listing(page.items, None)
        if query.meta:
            return Listing(page.items, page.total)
        counts = self.store.recording_counts(ctx.tenant_id)
        return Listing(page.items, sum(counts.get(state.value, 0) for state in query.states))

    # ---------------------------------------------------------------- publishRecordings
    def publish(self, ctx: RequestContext, params: P.Params) -> bool:
        single = P.single(params)
        ids = rq.record_ids(single.get("recordID", ""))
        if not ids:
            raise MissingRecordIDError()
        if not single.get("publish"):
            raise MissingPublishError()
        publish = rq.parse_publish(single["publish"])
        recordings = [
            r for r in self._owned(ctx, ids) if r.state in (RecordingState.PUBLISHED, RecordingState.UNPUBLISHED)
        ]
        if not recordings:
            raise RecordingNotFoundError("We could not find recordings")
        for recording in recordings:
            self.set_published(recording, publish)
        return publish

    def set_published(self, recording: Recording, publish: bool) -> Recording:
        """Publish or unpublish one recording (its files move to the prefix of the new state); a no-op when it is
        so."""
        if recording.published == publish:
            return recording
        return self._change(recording, lambda r: self._set_published(r, publish))

    def _set_published(self, recording: Recording, publish: bool) -> tuple[Recording, AfterSave]:
        state = RecordingState.PUBLISHED if publish else RecordingState.UNPUBLISHED
        changed = dataclasses.replace(
            recording, published=publish, state=state, publish_updated=True, updated_at=int(time.time())
        )
        return changed, self.move_files(recording, changed, "publish" if publish else "unpublish")

    def move_files(
        self,
        before: Recording,
        after: Recording,
        action: str,
        *,
        source: str | None = None,
        formats: set[str] | None = None,
    ) -> AfterSave:
        """Copy every file from `before`'s prefix (or `source`) to `after`'s, in parallel; the returned cleanup (run
        once `after` is stored) deletes the old copies and, when they were on the edge, its cached ones. A crash in
        between leaves both copies, and repeating the change (or `recordings check --fix`) finishes the move."""
        origin, target = source or self.prefix(before), self.prefix(after)
        if origin == target:
            return None
        moves = [
            (obj.key, target + obj.key[len(origin) :])
            for fmt in sorted(formats if formats is not None else set(before.formats) | set(after.formats))
            for obj in self.objects.list(self.bucket, f"{origin}/{fmt}/{before.record_id}/")
        ]
        if moves:
            results = fan_out(
                moves, lambda m: self.objects.copy(self.bucket, m[0], m[1]), workers=MOVE_WORKERS, timeout=MOVE_TIMEOUT
            )
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                logger.error(f"{action}: copies failed", record_id=before.record_id, failed=len(failures))
                raise InternalError(f"Unable to {action} recording.")
        old = [m[0] for m in moves]
        # Files leaving the edge (unpublish, protect, unprotect) may be cached: invalidate. Files coming out of
        # unpublished/ were never served (publishing a recording invalidates nothing).
        paths = edge_paths(after, formats) if old and origin != "unpublished" else []

        def cleanup() -> None:
            if old:
                self.objects.delete(self.bucket, old)
            self._invalidate(paths)

        return cleanup if old or paths else None

    # ----------------------------------------------------------------- updateRecordings
    def update(self, ctx: RequestContext, params: P.Params) -> bool:
        single = P.single(params)
        ids = rq.record_ids(single.get("recordID", ""))
        if not ids:
            raise MissingRecordIDError()
        recordings = self._owned(ctx, ids)
        if not recordings:
            raise RecordingNotFoundError("We could not find recordings")
        if len(recordings) != len(ids):  # Scalelite: every listed id must exist for the tenant, else nothing changes
            return False
        updates = rq.metadata_updates(single)
        protect = rq.parse_protect(single.get("protect"))
        if not updates and protect is None:
            return False

        def apply(r: Recording) -> tuple[Recording, AfterSave]:  # files move when `protect` changes their prefix
            metadata = dict(r.metadata)
            for name, value in updates.items():
                if value is None:
                    metadata.pop(name, None)
                else:
                    metadata[name] = value
            changed = dataclasses.replace(
                r,
                metadata=metadata,
                metadata_updates={**r.metadata_updates, **updates},
                protected=r.protected if protect is None else protect,
                protect_updated=r.protect_updated or protect is not None,
                updated_at=int(time.time()),
            )
            return changed, self.move_files(r, changed, "protect" if changed.protected else "unprotect")

        for recording in recordings:  # `protect` applies to every listed id (Scalelite: only the first)
            self._change(recording, apply)
        return True

    # ----------------------------------------------------------------- deleteRecordings
    def delete(self, ctx: RequestContext, params: P.Params) -> bool:
        ids = rq.record_ids(P.single(params).get("recordID", ""))
        if not ids:
            raise MissingRecordIDError()
        recordings = self._owned(ctx, ids)
        if not recordings:
            raise RecordingNotFoundError("We could not find recordings")
        for recording in recordings:
            self.delete_recording(recording)
        return True

    def delete_recording(self, recording: Recording) -> Recording:
        return self._change(recording, self._delete_files)

    def _delete_files(self, recording: Recording) -> tuple[Recording, AfterSave]:
        """Every object of every format under every prefix (all pages of the listing), then the tombstone: the
        recording answers `state=deleted` for `state=any`, and an import never brings it back. The edge's cached
        copies are invalidated."""
        formats = set(recording.formats) | set(recording.imported)
        keys = [
            obj.key
            for fmt in sorted(formats)
            for prefix in PREFIXES
            for obj in self.objects.list(self.bucket, f"{prefix}/{fmt}/{recording.record_id}/")
        ]
        if keys:
            self.objects.delete(self.bucket, keys)
        tombstone = dataclasses.replace(
            recording,
            state=RecordingState.DELETED,
            published=False,
            metadata={},
            formats={},
            updated_at=int(time.time()),
        )
        paths = edge_paths(recording, formats) if recording.state is not RecordingState.DELETED else []
        return tombstone, (lambda: self._invalidate(paths)) if paths else None

    # ---------------------------------------------------------------------- helpers
    def _owned(self, ctx: RequestContext, ids: list[str]) -> list[Recording]:
        return [r for r in self.store.get_recordings(ids) if r.tenant_id == ctx.tenant_id]

    def _change(self, recording: Recording, change: Change) -> Recording:
        """Apply `change` and store it, re-reading and re-applying when a concurrent writer won the race."""
        current = recording
        for attempt in range(SAVE_ATTEMPTS):
            changed, after = change(current)
            try:
                saved = self.store.save_recording(changed, previous=current)
            except StoreConflict:
                fresh = self.store.get_recording(recording.record_id)
                if fresh is None or attempt + 1 == SAVE_ATTEMPTS:
                    raise InternalError("The recording changed meanwhile; try again.") from None
                current = fresh
                continue
            if after is not None:
                after()
            return saved
        raise InternalError("The recording changed meanwhile; try again.")

    # ------------------------------------------------------------------ text tracks
    def _captions_prefix(self, recording: Recording) -> str:
        return f"{self.prefix(recording)}/presentation/{recording.record_id}/"

    def _owned_one(self, ctx: RequestContext, record_id: str | None) -> Recording:
        if not record_id:
            raise TextTrackError("missingParameter", "Missing param recordID.")
        recording = next(iter(self._owned(ctx, [record_id])), None)
        if recording is None or recording.state is RecordingState.DELETED or "presentation" not in recording.formats:
            raise TextTrackError("noRecordings", f"No recording found for {record_id}")
        return recording

    def _captions(self, recording: Recording) -> list[dict[str, str]]:
        key = self._captions_prefix(recording) + "captions.json"
        if self.objects.head(self.bucket, key) is None:
            return []
        try:
            entries = json.loads(self.objects.open(self.bucket, key).read())
        except ValueError:
            return []
        return (
            [e for e in entries if isinstance(e, dict) and isinstance(e.get("locale"), str)]
            if isinstance(entries, list)
            else []
        )

    def text_tracks(self, ctx: RequestContext, record_id: str | None) -> list[TextTrackFile]:
        """getRecordingTextTracks: the caption files listed in the presentation's captions.json."""
        recording = self._owned_one(ctx, record_id)
        prefix = self._captions_prefix(recording)
        tracks = [
            TextTrackFile(
                kind=str(e.get("kind") or "captions"),
                lang=e["locale"],
                label=str(e.get("localeName") or e["locale"]),
                key=f"{prefix}caption_{e['locale']}.vtt",
            )
            for e in self._captions(recording)
        ]
        if not tracks:
            raise TextTrackError("noCaptionsFound", "No captions found for " + recording.record_id)
        return tracks

    def put_text_track(self, ctx: RequestContext, params: P.Params, data: bytes | None) -> str:
        """putRecordingTextTrack, done as BBB's caption script does it: `caption_<lang>.vtt` beside the presentation
        and its entry in captions.json (kind, locale, localeName), so the player lists it at once."""
        single = P.single(params)
        for name in ("kind", "lang"):
            if not single.get(name):
                raise TextTrackError("paramError", f"Missing param {name}.")
        recording = self._owned_one(ctx, single.get("recordID"))
        kind, lang = single["kind"], single["lang"]
        if kind not in TEXT_TRACK_KINDS:
            raise TextTrackError(
                "invalidKind", f"Invalid kind parameter, expected one of {', '.join(TEXT_TRACK_KINDS)}"
            )
        if not LANG.match(lang):
            raise TextTrackError("invalidLang", "Malformed lang param.")
        if not data:
            raise TextTrackError("empty_uploaded_text_track", "Empty uploaded text track.")
        if len(data) > MAX_TEXT_TRACK_BYTES:
            raise TextTrackError("paramError", f"The text track is larger than {MAX_TEXT_TRACK_BYTES} bytes")
        try:
            vtt = to_webvtt(data)
        except UnicodeDecodeError:
            raise TextTrackError("paramError", "The text track must be UTF-8 text") from None
        prefix = self._captions_prefix(recording)
        self.objects.put(self.bucket, f"{prefix}caption_{lang}.vtt", io.BytesIO(vtt), content_type="text/vtt")
        entries = [e for e in self._captions(recording) if e.get("locale") != lang]
        entries.append(
            {
                "kind": kind,
                "label": single.get("label") or lang,
                "locale": lang,
                "localeName": single.get("label") or lang,
            }
        )
        body = json.dumps(sorted(entries, key=lambda e: str(e["locale"]))).encode()
        self.objects.put(self.bucket, prefix + "captions.json", io.BytesIO(body), content_type="application/json")
        if self.prefix(recording) != "unpublished":  # the player may have cached the old list (or a 404 for the file)
            base = f"/presentation/{recording.record_id}/"
            self._invalidate(
                [
                    f"{root}{base}{name}"
                    for root in ("", "/" + self.prefix(recording))
                    for name in ("captions.json", f"caption_{lang}.vtt")
                ]
            )
        return recording.record_id
