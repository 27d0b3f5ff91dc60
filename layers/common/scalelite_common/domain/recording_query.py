"""getRecordings' parameters and their meaning (bbb-api.md §2.8), and the parameter readers of the other recording
calls, as pure functions over domain values. Tenant scoping is the caller's.

Where BBB and Scalelite differ, BBB wins (recordings-peers.md §D.10):
* `meta_<key>` filters are AND-ed (Scalelite OR-s them), each with BBB's `%` wildcards; a comma in a filter value is
  a plain character (Scalelite's "v1,v2 means either" is dropped);
* `offset`/`limit` page the answer (BBB 2.6+; Scalelite ignores them).
Decisions where neither says: see `_states`, `_integer`, `MetaFilter` and `parse_protect`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scalelite_common.domain.entities import Recording, RecordingState

DEFAULT_STATES: tuple[RecordingState, ...] = (RecordingState.PUBLISHED, RecordingState.UNPUBLISHED)
ALL_STATES: tuple[RecordingState, ...] = tuple(RecordingState)
MAX_LIMIT = 100
META_PREFIX = "meta_"
_BY_NAME = {s.value: s for s in RecordingState}
_INTEGER = re.compile(r"[+-]?[0-9]+")  # what Java's Integer.parseInt accepts (ASCII digits only)
_INT_MAX = 2**31 - 1  # beyond it Java's parseInt fails, i.e. "not a number" for BBB


@dataclass(frozen=True)
class MetaFilter:
    """One `meta_<key>=<pattern>` filter. The key is lower-cased (as create stores it) and looked up exactly; the value
    comparison is case-sensitive. `%x%` contains, `%x` ends with, `x%` starts with, anything else is exact (so `%`
    alone or `%%` matches any value, but the key must be present)."""

    key: str
    value: str

    def matches(self, metadata: Mapping[str, str]) -> bool:
        actual = metadata.get(self.key)
        if actual is None:
            return False
        pattern = self.value
        if len(pattern) >= 2 and pattern.startswith("%") and pattern.endswith("%"):
            return pattern[1:-1] in actual
        if pattern.startswith("%"):
            return actual.endswith(pattern[1:])
        if pattern.endswith("%"):
            return actual.startswith(pattern[:-1])
        return actual == pattern


@dataclass(frozen=True)
class RecordingQuery:
    meeting_ids: tuple[str, ...] = ()  # exact external meetingIDs; empty: any (always empty when record_ids is set)
    record_ids: tuple[str, ...] = ()  # recordID prefixes (case-sensitive); empty: any
    states: tuple[RecordingState, ...] = DEFAULT_STATES  # empty: nothing matches (only unknown names were given)
    meta: tuple[MetaFilter, ...] = ()  # all must match
    offset: int = 0
    limit: int | None = None  # None: not paginated

    @property
    def paginated(self) -> bool:
        return self.limit is not None


@dataclass(frozen=True)
class Page:
    items: list[Recording]
    total: int  # matches before paging (BBB's totalElements)
    paginated: bool


def record_ids(value: str | None) -> list[str]:
    """A comma list of ids: each stripped, empties dropped, order kept, duplicates dropped (first one kept)."""
    return list(dict.fromkeys(part.strip() for part in (value or "").split(",") if part.strip()))


def _states(value: str | None) -> tuple[RecordingState, ...]:
    """`state`: absent or blank → published and unpublished; a list containing `any` → every state, deleted too;
    names are case-insensitive and unknown ones ignored. A list of only unknown names matches nothing: BBB and
    Scalelite both filter by the names given, so neither falls back to the default there."""
    names = [part.strip().lower() for part in (value or "").split(",") if part.strip()]
    if not names:
        return DEFAULT_STATES
    if "any" in names:
        return ALL_STATES
    return tuple(dict.fromkeys(_BY_NAME[n] for n in names if n in _BY_NAME))


def _integer(value: str | None) -> int | None:
    """A number as BBB (Java's `Integer.parseInt`) reads one: optional sign, ASCII digits, within 32 bits; None for
    anything else (absent, blank, `abc`, `1.5`, too large)."""
    text = (value or "").strip()
    if not _INTEGER.fullmatch(text):
        return None
    number = int(text)
    return number if -_INT_MAX - 1 <= number <= _INT_MAX else None


def _meta_params(params: Mapping[str, str]) -> list[tuple[str, str]]:
    return [
        (key[len(META_PREFIX) :].lower(), value)
        for key, value in params.items()
        if key.startswith(META_PREFIX) and len(key) > len(META_PREFIX)
    ]


def parse_query(params: Mapping[str, str]) -> RecordingQuery:
    """getRecordings' parameters (one value each). `meetingID` is ignored when `recordID` is given (BBB and
    Scalelite). `limit` is clamped to 1..100 (0 and negatives → 1); absent or not a number → no pagination. `offset`
    below 0 or not a number → 0."""
    limit = _integer(params.get("limit"))
    offset = _integer(params.get("offset"))
    ids = tuple(record_ids(params.get("recordID")))
    return RecordingQuery(
        meeting_ids=() if ids else tuple(record_ids(params.get("meetingID"))),
        record_ids=ids,
        states=_states(params.get("state")),
        meta=tuple(MetaFilter(key, value) for key, value in _meta_params(params)),
        offset=max(0, offset or 0),
        limit=None if limit is None else min(max(limit, 1), MAX_LIMIT),
    )


def matches(recording: Recording, query: RecordingQuery) -> bool:
    """Whether the recording answers the query (state, ids, every metadata filter). Tenant scoping is the caller's."""
    if recording.state not in query.states:
        return False
    if query.record_ids and not any(recording.record_id.startswith(prefix) for prefix in query.record_ids):
        return False
    if query.meeting_ids and recording.meeting_id not in query.meeting_ids:
        return False
    return all(f.matches(recording.metadata) for f in query.meta)


def page(recordings: Sequence[Recording], query: RecordingQuery) -> Page:
    """The (already matched) recordings deduplicated by recordID (the last one given wins), newest first (Scalelite
    orders by start time descending; ties by recordID ascending, so pages are stable), then the requested page. An
    offset past the end gives an empty page with the total still set."""
    unique = {r.record_id: r for r in recordings}
    ordered = sorted(unique.values(), key=lambda r: (-r.start_time, r.record_id))
    if query.limit is None:
        return Page(ordered, len(ordered), paginated=False)
    return Page(ordered[query.offset : query.offset + query.limit], len(ordered), paginated=True)


def parse_publish(value: str | None) -> bool:
    """publishRecordings' `publish`: true only for `true`, case-insensitively (Scalelite); anything else is false."""
    return (value or "").strip().lower() == "true"


def parse_protect(value: str | None) -> bool | None:
    """updateRecordings' `protect`: None when absent or blank (leave the flag alone); otherwise true only for `true`,
    case-insensitively, as Scalelite reads it (so `yes` or `1` mean false)."""
    text = (value or "").strip().lower()
    if not text:
        return None
    return text == "true"


def metadata_updates(params: Mapping[str, str]) -> dict[str, str | None]:
    """updateRecordings' `meta_<key>=value` pairs: keys lower-cased; an empty value removes the key (None)."""
    return {key: (value or None) for key, value in _meta_params(params)}
