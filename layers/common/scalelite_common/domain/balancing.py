"""Placement rules: server tags and least-loaded choice. Pure functions over Server snapshots."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from scalelite_common.domain.entities import Server
from scalelite_common.errors import NoAvailableServerError, ServerTagUnavailableError

NONE_TAG = "none"  # pseudo-tag matching untagged servers


@dataclass(frozen=True)
class TagRequest:
    tags: tuple[str, ...] = ()
    required: bool = False

    @classmethod
    def parse(cls, value: str | None) -> TagRequest:
        """`meta_server-tag`: one tag or a `;` list, a trailing `!` makes it required. Empty or `!` = untagged."""
        raw = (value or "").strip()
        required = raw.endswith("!")
        if required:
            raw = raw[:-1]
        tags = tuple(t.strip() for t in raw.split(";") if t.strip())
        return cls(tags=tags, required=required and bool(tags))

    def label(self) -> str:
        return ";".join(self.tags)


def _matches(server: Server, tags: tuple[str, ...]) -> bool:
    return (server.tag or NONE_TAG) in tags


def _by_load(servers: Iterable[Server], rng: random.Random) -> list[Server]:
    # Random tie-break: equal servers share concurrent creates instead of all picking the lowest id (herd).
    return sorted(servers, key=lambda s: (s.effective_load or 0.0, rng.random()))


def candidates(servers: Iterable[Server], request: TagRequest, *, rng: random.Random | None = None) -> list[Server]:
    """Available servers in placement order (best first); failover walks this list.

    Untagged request → untagged servers only (tagged servers never get untagged meetings, as in Scalelite).
    Optional tags → matching servers first, then untagged ones as the fallback. Required tags → matching only.
    """
    rng = rng or random.Random()
    available = [s for s in servers if s.available]
    untagged = [s for s in available if not s.tag]
    if not request.tags:
        chosen = _by_load(untagged, rng)
        if not chosen:
            raise NoAvailableServerError()
        return chosen
    matching = _by_load((s for s in available if _matches(s, request.tags)), rng)
    if request.required:
        if not matching:
            raise ServerTagUnavailableError(request.label())
        return matching
    fallback = [s for s in _by_load(untagged, rng) if s not in matching]
    chosen = matching + fallback
    if not chosen:
        raise NoAvailableServerError()
    return chosen
