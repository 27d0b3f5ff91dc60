"""getRecordings' parameters and the other recording calls' readers (bbb-api.md §2.8–2.11)."""

from __future__ import annotations

import pytest

from scalelite_common.domain import recording_query as rq
from scalelite_common.domain.entities import Recording, RecordingState

S = RecordingState


def rec(
    record_id: str = "abc-1",
    *,
    meeting_id: str = "m1",
    state: RecordingState = S.PUBLISHED,
    start: int = 0,
    metadata: dict[str, str] | None = None,
) -> Recording:
    return Recording(
        record_id=record_id,
        tenant_id="t",
        meeting_id=meeting_id,
        state=state,
        start_time=start,
        metadata=metadata or {},
    )


# --- state ---------------------------------------------------------------------------------------------------------


def test_state_absent_means_published_and_unpublished() -> None:
    assert rq.parse_query({}).states == (S.PUBLISHED, S.UNPUBLISHED)
    assert rq.parse_query({"state": " , "}).states == (S.PUBLISHED, S.UNPUBLISHED)


def test_state_any_means_every_state_including_deleted() -> None:
    query = rq.parse_query({"state": "published,ANY"})
    assert set(query.states) == set(RecordingState)
    assert rq.matches(rec(state=S.DELETED), query)


def test_state_list_is_case_insensitive_and_deduplicated() -> None:
    assert rq.parse_query({"state": "Deleted, processing,deleted"}).states == (S.DELETED, S.PROCESSING)


def test_state_mixed_valid_and_unknown_keeps_the_valid() -> None:
    assert rq.parse_query({"state": "bogus,processed"}).states == (S.PROCESSED,)


def test_state_only_unknown_names_matches_nothing() -> None:
    query = rq.parse_query({"state": "bogus,nope"})
    assert query.states == ()
    assert not any(rq.matches(rec(state=s), query) for s in RecordingState)


@pytest.mark.parametrize(("state", "expected"), [(S.PUBLISHED, True), (S.UNPUBLISHED, True), (S.DELETED, False)])
def test_default_states_filter(state: RecordingState, expected: bool) -> None:
    assert rq.matches(rec(state=state), rq.parse_query({})) is expected
    assert rq.matches(rec(state=S.PROCESSING), rq.parse_query({})) is False


# --- ids -----------------------------------------------------------------------------------------------------------


def test_record_id_is_a_case_sensitive_prefix_list() -> None:
    query = rq.parse_query({"recordID": "ffbf, 12ab"})
    assert query.record_ids == ("ffbf", "12ab")
    assert rq.matches(rec("ffbf0001-1530718721124"), query)
    assert rq.matches(rec("12ab-1"), query)
    assert not rq.matches(rec("FFBF0001-1530718721124"), query)
    assert not rq.matches(rec("0ffbf-1"), query)


def test_meeting_id_is_an_exact_list() -> None:
    query = rq.parse_query({"meetingID": "room-1,room-2"})
    assert query.meeting_ids == ("room-1", "room-2")
    assert rq.matches(rec(meeting_id="room-2"), query)
    assert not rq.matches(rec(meeting_id="room"), query)
    assert not rq.matches(rec(meeting_id="room-10"), query)


def test_meeting_id_is_ignored_when_record_id_is_given() -> None:
    query = rq.parse_query({"meetingID": "other", "recordID": "abc"})
    assert query.meeting_ids == ()
    assert rq.matches(rec("abc-1", meeting_id="m1"), query)


def test_no_ids_match_everything() -> None:
    assert rq.matches(rec("zzz", meeting_id="any"), rq.parse_query({"recordID": " , ", "meetingID": ""}))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a,b,c", ["a", "b", "c"]),
        (" b , a ,b,, a ", ["b", "a"]),
        ("", []),
        (None, []),
        (",,", []),
        ("only", ["only"]),
    ],
)
def test_record_ids(value: str | None, expected: list[str]) -> None:
    assert rq.record_ids(value) == expected


# --- meta_ filters -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("%ell%", "hello", True),
        ("%ell%", "help", False),
        ("%llo", "hello", True),
        ("%llo", "hello!", False),
        ("hel%", "hello", True),
        ("hel%", "ahello", False),
        ("hello", "hello", True),
        ("hello", "hello2", False),
        ("Hello", "hello", False),  # values compare case-sensitively
        ("%", "", True),  # any value, key present
        ("%%", "x", True),
        ("", "", True),
        ("", "x", False),
        ("a,b", "a", False),  # a comma is not a list (BBB; Scalelite's OR dropped)
        ("a,b", "a,b", True),
        ("h%o", "hello", False),  # `%` inside is a plain character
        ("h%o", "h%o", True),
    ],
)
def test_meta_wildcards(pattern: str, value: str, expected: bool) -> None:
    query = rq.parse_query({"meta_Course": pattern})
    assert query.meta == (rq.MetaFilter("course", pattern),)
    assert rq.matches(rec(metadata={"course": value}), query) is expected


def test_meta_filter_fails_when_the_key_is_missing() -> None:
    assert not rq.matches(rec(metadata={"other": "x"}), rq.parse_query({"meta_course": "%"}))


def test_meta_filters_must_all_match() -> None:
    query = rq.parse_query({"meta_a": "1", "meta_b": "2%"})
    assert rq.matches(rec(metadata={"a": "1", "b": "22"}), query)
    assert not rq.matches(rec(metadata={"a": "1", "b": "32"}), query)
    assert not rq.matches(rec(metadata={"b": "22"}), query)


def test_bare_meta_prefix_is_not_a_filter() -> None:
    assert rq.parse_query({"meta_": "x", "metadata": "y"}).meta == ()


# --- offset / limit ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (None, None),
        ("", None),
        ("abc", None),
        ("1.5", None),
        ("99999999999", None),  # beyond 32 bits: not a number for BBB
        ("٣", None),  # non-ASCII digits are not numbers
        ("0", 1),
        ("-5", 1),
        ("1", 1),
        ("+7", 7),
        (" 50 ", 50),
        ("100", 100),
        ("101", 100),
    ],
)
def test_limit(limit: str | None, expected: int | None) -> None:
    params = {} if limit is None else {"limit": limit}
    query = rq.parse_query(params)
    assert query.limit == expected
    assert query.paginated is (expected is not None)


@pytest.mark.parametrize(
    ("offset", "expected"), [(None, 0), ("-1", 0), ("abc", 0), ("", 0), ("0", 0), ("3", 3), ("99999999999", 0)]
)
def test_offset(offset: str | None, expected: int) -> None:
    params = {"limit": "10"} if offset is None else {"limit": "10", "offset": offset}
    assert rq.parse_query(params).offset == expected


def _many(n: int) -> list[Recording]:
    return [rec(f"r{i:02d}", start=i * 1000) for i in range(n)]


def test_page_unpaginated_orders_newest_first() -> None:
    result = rq.page(_many(3), rq.parse_query({}))
    assert [r.record_id for r in result.items] == ["r02", "r01", "r00"]
    assert (result.total, result.paginated) == (3, False)


def test_page_ties_on_start_time_order_by_record_id() -> None:
    items = [rec("b", start=5), rec("a", start=5), rec("c", start=9)]
    assert [r.record_id for r in rq.page(items, rq.parse_query({})).items] == ["c", "a", "b"]


def test_page_offset_and_limit() -> None:
    result = rq.page(_many(10), rq.parse_query({"offset": "2", "limit": "3"}))
    assert [r.record_id for r in result.items] == ["r07", "r06", "r05"]
    assert (result.total, result.paginated) == (10, True)


def test_page_last_partial_page() -> None:
    result = rq.page(_many(5), rq.parse_query({"offset": "4", "limit": "3"}))
    assert [r.record_id for r in result.items] == ["r00"]
    assert result.total == 5


def test_page_offset_past_the_end_is_empty_with_the_total() -> None:
    result = rq.page(_many(5), rq.parse_query({"offset": "500", "limit": "10"}))
    assert result.items == []
    assert (result.total, result.paginated) == (5, True)


def test_page_limit_zero_gives_one() -> None:
    result = rq.page(_many(5), rq.parse_query({"limit": "0"}))
    assert [r.record_id for r in result.items] == ["r04"]


def test_page_limit_caps_at_one_hundred() -> None:
    result = rq.page(_many(150), rq.parse_query({"limit": "101"}))
    assert len(result.items) == 100
    assert result.total == 150


def test_page_non_numeric_limit_is_not_paginated() -> None:
    result = rq.page(_many(150), rq.parse_query({"limit": "abc", "offset": "5"}))
    assert len(result.items) == 150
    assert result.paginated is False


def test_page_deduplicates_by_record_id_before_counting() -> None:
    older, newer = rec("dup", start=1), rec("dup", start=2)
    result = rq.page([older, rec("x", start=0), newer], rq.parse_query({"limit": "10"}))
    assert [r.record_id for r in result.items] == ["dup", "x"]
    assert result.items[0] is newer
    assert result.total == 2


def test_page_empty() -> None:
    assert rq.page([], rq.parse_query({"limit": "5"})) == rq.Page([], 0, True)


# --- publish / protect / updateRecordings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" True ", True),
        ("false", False),
        ("yes", False),
        ("1", False),
        ("", False),
        (None, False),
    ],
)
def test_parse_publish(value: str | None, expected: bool) -> None:
    assert rq.parse_publish(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TrUe", True),
        ("false", False),
        ("FALSE", False),
        ("yes", False),
        ("junk", False),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_parse_protect(value: str | None, expected: bool | None) -> None:
    assert rq.parse_protect(value) is expected


def test_metadata_updates() -> None:
    params = {"recordID": "a", "meta_Course": "Math", "meta_gone": "", "meta_": "x", "protect": "true", "meta_x": " "}
    assert rq.metadata_updates(params) == {"course": "Math", "gone": None, "x": " "}


def test_metadata_updates_without_meta() -> None:
    assert rq.metadata_updates({"recordID": "a"}) == {}
