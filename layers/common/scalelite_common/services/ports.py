"""Store operations more than one service needs, declared once (each service's own port extends these)."""

from __future__ import annotations

from typing import Protocol

from scalelite_common.domain.entities import Meeting


class ReleasesMeetings(Protocol):
    def release_meeting(
        self,
        meeting: Meeting,
        *,
        owner: str | None = None,
        idle: bool = False,
        now: float | None = None,
        voice_bridge: bool = True,
    ) -> bool: ...
