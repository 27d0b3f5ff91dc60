"""Health hysteresis (Scalelite §3.5)."""

from __future__ import annotations

from scalelite_common.domain.health import Health, Transition, after_poll


def run(start: Health, results: list[bool], healthy: int = 1, unhealthy: int = 2) -> list[Transition]:
    out = []
    current = start
    for ok in results:
        step = after_poll(current, ok, healthy_threshold=healthy, unhealthy_threshold=unhealthy)
        out.append(step)
        current = step.health
    return out


def test_online_server_survives_threshold_minus_one_failures() -> None:
    steps = run(Health(online=True), [False, False], unhealthy=3)
    assert [s.health.online for s in steps] == [True, True]
    assert steps[-1].health.unhealthy_counter == 2
    assert not any(s.went_offline for s in steps)
    assert not any(s.stats_current for s in steps)  # a failed poll stores no statistics


def test_online_server_goes_offline_at_the_threshold() -> None:
    steps = run(Health(online=True), [False, False, False], unhealthy=3)
    assert steps[-1].went_offline and not steps[-1].health.online
    assert steps[-1].health == Health(online=False)  # counters reset


def test_only_consecutive_failures_count() -> None:
    steps = run(Health(online=True), [False, True, False, True, False], unhealthy=2)
    assert all(s.health.online for s in steps)
    assert not any(s.went_offline for s in steps)


def test_offline_server_needs_consecutive_successes() -> None:
    steps = run(Health(online=False), [True, True, False, True, True, True], healthy=3)
    assert [s.health.online for s in steps] == [False, False, False, False, False, True]
    assert [s.came_online for s in steps] == [False, False, False, False, False, True]
    assert steps[1].health.healthy_counter == 2
    assert steps[2].health.healthy_counter == 0  # a failure resets the streak
    assert steps[-1].stats_current and steps[-1].health == Health(online=True)


def test_default_thresholds_one_success_two_failures() -> None:
    assert run(Health(online=False), [True])[0].came_online
    steps = run(Health(online=True), [False, False])
    assert [s.went_offline for s in steps] == [False, True]


def test_failing_offline_server_stays_offline_without_counting() -> None:
    steps = run(Health(online=False, healthy_counter=1), [False, False], healthy=2)
    assert all(s.health == Health(online=False) for s in steps)
    assert not any(s.went_offline for s in steps)  # nothing to panic twice


def test_successful_online_poll_resets_the_failure_streak() -> None:
    step = after_poll(Health(online=True, unhealthy_counter=1), True, healthy_threshold=1, unhealthy_threshold=2)
    assert step.health == Health(online=True) and step.stats_current and not step.came_online


def test_thresholds_below_one_behave_as_one() -> None:
    assert after_poll(Health(online=True), False, healthy_threshold=0, unhealthy_threshold=0).went_offline
