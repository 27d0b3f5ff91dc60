"""DynamoDB access for recordings (RecordingsTable) and upload bookkeeping (UploadsTable). Mixed into DynamoStore.

Every read path is a GetItem, BatchGetItem or Query on a key or an index (docs/data-model.md): no Scan."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from scalelite_common.db.models import RecordingCountsItem, RecordingItem, UploadItem, cancelled_by_condition
from scalelite_common.domain.entities import (
    PlaybackFormat,
    Recording,
    RecordingOrigin,
    RecordingState,
    Thumbnail,
)
from scalelite_common.errors import StoreConflict
from scalelite_common.services.ports import RecordingPage

_STATES = tuple(s.value for s in RecordingState)
_INDEXED = ("record_id", "tenant_id", "meeting_id", "state", "published", "start_time", "version")


def counts_key(tenant_id: str) -> str:
    return f"#counts#{tenant_id}"


def listing_key(start_time: int, record_id: str) -> str:
    return f"{max(0, start_time):015d}#{record_id}"


def _doc(recording: Recording) -> dict[str, Any]:
    doc = dataclasses.asdict(recording)
    for name in _INDEXED:
        doc.pop(name)
    return doc


def _recording(item: RecordingItem) -> Recording:
    doc: dict[str, Any] = dict(item.doc or {})
    formats = {
        name: PlaybackFormat(**{**fmt, "thumbnails": [Thumbnail(**t) for t in fmt.get("thumbnails", [])]})
        for name, fmt in doc.pop("formats", {}).items()
    }
    return Recording(
        record_id=item.record_id,
        tenant_id=item.tenant_id or "",
        meeting_id=item.meeting_id or "",
        state=RecordingState(item.state) if item.state in _STATES else RecordingState.PUBLISHED,
        published=bool(item.published),
        start_time=int(item.start_time or 0),
        version=int(item.version or 0),
        formats=formats,
        **doc,
    )


def _item(recording: Recording) -> RecordingItem:
    return RecordingItem(
        recording.record_id,
        tenant_id=recording.tenant_id,
        tenant_meeting=f"{recording.tenant_id}#{recording.meeting_id}",
        listing_key=listing_key(recording.start_time, recording.record_id),
        start_time=recording.start_time,
        meeting_id=recording.meeting_id,
        state=recording.state.value,
        published=recording.published,
        doc=_doc(recording),
        version=recording.version,
    )


def origin_item(origin: RecordingOrigin) -> UploadItem:
    pk, sk = _origin_key(origin.internal_meeting_id)
    return UploadItem(
        pk,
        sk,
        tenant_id=origin.tenant_id,
        meeting_id=origin.meeting_id,
        server_id=origin.server_id,
        created_at=origin.created_at,
        expires_at=origin.expires_at,
    )


def _origin_key(internal_meeting_id: str) -> tuple[str, str]:
    return f"origin#{internal_meeting_id}", "origin"


class RecordingsMixin:
    _connection: Connection

    # ------------------------------------------------------------------ recordings
    def get_recording(self, record_id: str) -> Recording | None:
        try:
            return _recording(RecordingItem.get(record_id, consistent_read=True))
        except DoesNotExist:
            return None

    def get_recordings(self, record_ids: Sequence[str]) -> list[Recording]:
        wanted = list(dict.fromkeys(r for r in record_ids if r and not r.startswith("#")))
        found: dict[str, Recording] = {}
        for start in range(0, len(wanted), 100):
            for item in RecordingItem.batch_get(wanted[start : start + 100], consistent_read=True):
                found[item.record_id] = _recording(item)
        return [found[r] for r in wanted if r in found]

    def save_recording(self, recording: Recording, *, previous: Recording | None) -> Recording:
        """One transaction: the recording (conditional on the stored version), and the counters of its tenant moved
        from the previous state to the new one."""
        saved = dataclasses.replace(recording, version=(previous.version if previous else 0) + 1)
        condition = (
            RecordingItem.record_id.does_not_exist() if previous is None else RecordingItem.version == previous.version
        )
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(_item(saved), condition=condition)
                # One update per counters item (a transaction may touch an item once).
                moves: dict[str, dict[str, int]] = {}
                if previous is not None:
                    tenant = moves.setdefault(previous.tenant_id, {})
                    tenant[previous.state.value] = tenant.get(previous.state.value, 0) - 1
                tenant = moves.setdefault(saved.tenant_id, {})
                tenant[saved.state.value] = tenant.get(saved.state.value, 0) + 1
                for tenant_id, deltas in moves.items():
                    actions = [getattr(RecordingCountsItem, state).add(d) for state, d in deltas.items() if d]
                    if actions:
                        tx.update(RecordingCountsItem(counts_key(tenant_id)), actions=actions)
        except TransactWriteError as exc:
            if cancelled_by_condition(exc)[:1] == [True]:
                raise StoreConflict(f"recording {recording.record_id} changed meanwhile") from exc
            raise
        return saved

    def meeting_recordings(self, tenant_id: str, meeting_id: str) -> list[Recording]:
        query = RecordingItem.meeting_index.query(f"{tenant_id}#{meeting_id}", scan_index_forward=False)
        return [_recording(item) for item in query]

    def recordings_with_prefix(self, tenant_id: str, prefix: str) -> list[Recording]:
        query = RecordingItem.tenant_record_index.query(
            tenant_id, RecordingItem.record_id.startswith(prefix) if prefix else None
        )
        return [_recording(item) for item in query]

    def tenant_recordings(self, tenant_id: str, *, limit: int, cursor: str | None = None) -> RecordingPage:
        query = RecordingItem.tenant_index.query(
            tenant_id,
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=json.loads(cursor) if cursor else None,
        )
        items = [_recording(item) for item in query]
        last = query.last_evaluated_key
        return RecordingPage(items=items, cursor=json.dumps(last, sort_keys=True) if last else None)

    def recording_counts(self, tenant_id: str) -> dict[str, int]:
        try:
            item = RecordingCountsItem.get(counts_key(tenant_id), consistent_read=True)
        except DoesNotExist:
            return dict.fromkeys(_STATES, 0)
        return {state: max(0, int(getattr(item, state) or 0)) for state in _STATES}

    # ------------------------------------------------------------------- uploads
    def put_origin(self, origin: RecordingOrigin) -> None:
        origin_item(origin).save()

    def get_origin(self, internal_meeting_id: str, *, now: float | None = None) -> RecordingOrigin | None:
        try:
            item = UploadItem.get(*_origin_key(internal_meeting_id), consistent_read=True)
        except DoesNotExist:
            return None
        if item.expires_at and item.expires_at < (now or time.time()):
            return None
        return RecordingOrigin(
            internal_meeting_id=internal_meeting_id,
            tenant_id=item.tenant_id or "",
            meeting_id=item.meeting_id or "",
            server_id=item.server_id or "",
            created_at=int(item.created_at or 0),
            expires_at=int(item.expires_at or 0),
        )

    def claim_token(self, jti: str, *, expires_at: int) -> bool:
        try:
            UploadItem(f"jti#{jti}", "jti", expires_at=expires_at).save(condition=UploadItem.pk.does_not_exist())
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def add_pending_upload(self, server_id: str, record_id: str, key: str, *, expires_at: int) -> None:
        UploadItem(
            f"pending#{server_id}",
            f"{record_id}#{key}",
            server_id=server_id,
            record_id=record_id,
            created_at=int(time.time()),
            expires_at=expires_at,
        ).save()

    def remove_pending_upload(self, server_id: str, record_id: str, key: str) -> None:
        UploadItem(f"pending#{server_id}", f"{record_id}#{key}").delete()

    def pending_uploads(self, server_id: str, *, now: float | None = None) -> list[tuple[str, str]]:
        moment = now or time.time()
        out = []
        for item in UploadItem.query(f"pending#{server_id}", consistent_read=True):
            if item.expires_at and item.expires_at < moment:
                continue
            record_id, _, key = item.sk.partition("#")
            out.append((record_id, key))
        return out

    def count_import_attempt(self, key: str, *, expires_at: int) -> int:
        item = UploadItem(f"attempt#{key}", "attempt")
        item.update(actions=[UploadItem.attempts.add(1), UploadItem.expires_at.set(expires_at)])
        return int(item.attempts or 0)
