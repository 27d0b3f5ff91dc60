"""Server load from a `getMeetings` answer: pure functions, no I/O.

Scalelite's formula (§3.1), kept on purpose so load figures stay comparable after a migration:

* a meeting's attendees are `participantCount + moderatorCount`. BBB's participantCount already includes the
  moderators, so moderators count twice; Scalelite does this too (a moderator tends to cost more: screen sharing,
  camera) and operators' load thresholds are tuned to it.
* breakout rooms add no load (their users are counted in the parent meeting too);
* a young meeting (created less than `LOAD_JOIN_BUFFER_TIME` minutes ago) counts as at least a reservation:
  `LOAD_MIN_USER_COUNT`, or the meeting's `bbb-meeting-size-hint` metadata when present and numeric, so the
  users about to join are already accounted for;
* server load = Σ × the server's `load_multiplier`.

Our change: the reservation decays linearly from its full size at creation to 0 at the end of the buffer
time, instead of Scalelite's cliff (full reservation until minute 15, then nothing). With the cliff, every server
that received a wave of class starts loses its reservations in the same poll and looks empty, so the next wave
stampedes onto it (herd). Decaying releases the estimate gradually while the real attendees take over.

`meetings`, `users`, `largest_meeting` and `videos` are display statistics (`status`); like Scalelite they
include breakout rooms and only `participantCount` counts as users.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class MeetingSample:
    """One meeting as a BBB server's getMeetings lists it."""

    meeting_id: str
    participants: int = 0
    moderators: int = 0
    videos: int = 0
    create_time: float | None = None  # epoch seconds; None when BBB gave no usable createTime
    is_breakout: bool = False
    size_hint: int | None = None  # `bbb-meeting-size-hint` metadata, if a positive number


@dataclass(frozen=True)
class ServerStats:
    load: float
    meetings: int
    users: int
    largest_meeting: int
    videos: int


def reservation(sample: MeetingSample, now: float, *, min_user_count: int, buffer_minutes: float) -> float:
    """Users still expected to join a young meeting: full size at creation, 0 once the buffer time is over."""
    if buffer_minutes <= 0 or sample.create_time is None:
        return 0.0
    window = buffer_minutes * 60.0
    age = max(0.0, now - sample.create_time)  # a BBB clock ahead of ours makes the meeting brand new, not negative
    if age >= window:
        return 0.0
    size = sample.size_hint if sample.size_hint is not None else min_user_count
    return max(0, size) * (1.0 - age / window)


def meeting_load(sample: MeetingSample, now: float, *, min_user_count: int, buffer_minutes: float) -> float:
    """Load of one meeting before the server's multiplier."""
    if sample.is_breakout:
        return 0.0
    attendees = float(sample.participants + sample.moderators)  # moderators twice: Scalelite's formula
    return max(attendees, reservation(sample, now, min_user_count=min_user_count, buffer_minutes=buffer_minutes))


def server_stats(
    samples: Iterable[MeetingSample],
    now: float,
    *,
    min_user_count: int,
    buffer_minutes: float,
    multiplier: float = 1.0,
) -> ServerStats:
    total = 0.0
    meetings = users = largest = videos = 0
    for sample in samples:
        meetings += 1
        users += sample.participants
        largest = max(largest, sample.participants)
        videos += sample.videos
        total += meeting_load(sample, now, min_user_count=min_user_count, buffer_minutes=buffer_minutes)
    return ServerStats(load=total * multiplier, meetings=meetings, users=users, largest_meeting=largest, videos=videos)
