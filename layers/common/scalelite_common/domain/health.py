"""Server health with hysteresis (Scalelite §3.5): pure, no I/O.

An offline server comes online after `SERVER_HEALTHY_THRESHOLD` consecutive successful polls; an online server
goes offline after `SERVER_UNHEALTHY_THRESHOLD` consecutive failures (and is then panicked by the poller). Only
consecutive results count: a success resets the failure counter and a failure resets the success counter. A
failing server that is already offline just stays offline (no counting: there is nothing left to take away).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Health:
    online: bool
    healthy_counter: int = 0
    unhealthy_counter: int = 0


@dataclass(frozen=True)
class Transition:
    health: Health
    success: bool
    came_online: bool = False
    went_offline: bool = False  # the caller panics the server: mappings removed, load cleared, stats zeroed

    @property
    def stats_current(self) -> bool:
        """Whether this poll's load and statistics are to be stored (the server is, or just became, online)."""
        return self.success and self.health.online


def after_poll(current: Health, success: bool, *, healthy_threshold: int, unhealthy_threshold: int) -> Transition:
    healthy_threshold = max(1, healthy_threshold)
    unhealthy_threshold = max(1, unhealthy_threshold)
    if success:
        if current.online:
            return Transition(Health(online=True), success=True)
        streak = current.healthy_counter + 1
        if streak >= healthy_threshold:
            return Transition(Health(online=True), success=True, came_online=True)
        return Transition(Health(online=False, healthy_counter=streak), success=True)
    if not current.online:
        return Transition(Health(online=False), success=False)
    streak = current.unhealthy_counter + 1
    if streak >= unhealthy_threshold:
        return Transition(Health(online=False), success=False, went_offline=True)
    return Transition(Health(online=True, unhealthy_counter=streak), success=False)
