"""The load formula (Scalelite §3.1) and our decaying reservation."""

from __future__ import annotations

from typing import TypedDict

import pytest

from scalelite_common.domain.load import MeetingSample, meeting_load, reservation, server_stats

NOW = 1_800_000_000.0
MINUTE = 60.0


class Rules(TypedDict):
    min_user_count: int
    buffer_minutes: float


RULES: Rules = {"min_user_count": 15, "buffer_minutes": 15.0}


def sample(**kw: object) -> MeetingSample:
    base: dict[str, object] = {"meeting_id": "m", "create_time": NOW - 3600}
    base.update(kw)
    return MeetingSample(**base)  # type: ignore[arg-type]


def test_old_meeting_counts_participants_plus_moderators() -> None:
    # participantCount already includes the moderators: Scalelite counts them twice, and so do we.
    assert meeting_load(sample(participants=10, moderators=2), NOW, **RULES) == 12


def test_breakout_rooms_add_no_load() -> None:
    assert meeting_load(sample(participants=30, moderators=1, is_breakout=True), NOW, **RULES) == 0


def test_brand_new_meeting_reserves_the_minimum() -> None:
    assert meeting_load(sample(participants=1, create_time=NOW), NOW, **RULES) == 15


def test_reservation_decays_linearly_to_zero() -> None:
    young = sample(participants=0, create_time=NOW - 5 * MINUTE)
    assert reservation(young, NOW, **RULES) == pytest.approx(10.0)  # 15 × (1 − 5/15)
    assert meeting_load(sample(create_time=NOW - 12 * MINUTE), NOW, **RULES) == pytest.approx(3.0)
    assert meeting_load(sample(create_time=NOW - 15 * MINUTE), NOW, **RULES) == 0
    assert meeting_load(sample(create_time=NOW - 30 * MINUTE), NOW, **RULES) == 0


def test_attendees_win_over_the_reservation() -> None:
    assert meeting_load(sample(participants=20, moderators=2, create_time=NOW - MINUTE), NOW, **RULES) == 22


def test_size_hint_replaces_the_minimum() -> None:
    assert meeting_load(sample(size_hint=100, create_time=NOW), NOW, **RULES) == 100
    assert meeting_load(sample(size_hint=3, create_time=NOW), NOW, **RULES) == 3
    assert meeting_load(sample(size_hint=60, create_time=NOW - 7.5 * MINUTE), NOW, **RULES) == pytest.approx(30)


def test_clock_skew_makes_the_meeting_new_not_negative() -> None:
    assert meeting_load(sample(create_time=NOW + 30), NOW, **RULES) == 15


def test_no_buffer_or_unknown_create_time_means_attendees_only() -> None:
    assert meeting_load(sample(participants=2, create_time=NOW), NOW, min_user_count=15, buffer_minutes=0) == 2
    assert meeting_load(sample(participants=2, create_time=None), NOW, **RULES) == 2


def test_server_stats_and_multiplier() -> None:
    samples = [
        sample(meeting_id="a", participants=10, moderators=1, videos=3),
        sample(meeting_id="b", participants=4, moderators=1, videos=1, create_time=NOW),  # reserved 15
        sample(meeting_id="c", participants=25, moderators=0, videos=2, is_breakout=True),
    ]
    stats = server_stats(samples, NOW, multiplier=2.0, **RULES)
    assert stats.load == (11 + 15) * 2.0
    # Display statistics include breakout rooms and count participantCount only (Scalelite).
    assert (stats.meetings, stats.users, stats.largest_meeting, stats.videos) == (3, 39, 25, 6)


def test_empty_server() -> None:
    stats = server_stats([], NOW, **RULES)
    assert (stats.load, stats.meetings, stats.users, stats.largest_meeting, stats.videos) == (0, 0, 0, 0, 0)
