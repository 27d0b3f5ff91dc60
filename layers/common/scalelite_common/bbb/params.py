"""Request parameters: parsing, pass-through, exclusion and Scalelite's default/override precedence."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl

Params = list[tuple[str, str]]

ALWAYS_DROPPED = frozenset({"format", "controller", "action", "checksum"})


def parse(raw: str) -> Params:
    return parse_qsl(raw, keep_blank_values=True)


def first(params: Sequence[tuple[str, str]], name: str) -> str | None:
    for key, value in params:
        if key == name:
            return value
    return None


def last_wins(params: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Rails keeps the last value of a repeated name; first-seen order is kept for a stable forwarded query."""
    out: dict[str, str] = {}
    for key, value in params:
        out[key] = value
    return out


def shape(
    params: Iterable[tuple[str, str]],
    *,
    exclude: Iterable[str] = (),
    defaults: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Pass through every parameter but the dropped/excluded ones, then merge: override > request > default.

    Defaults and overrides are merged after exclusion, so they may re-add an excluded name (Scalelite does too).
    """
    dropped = ALWAYS_DROPPED | set(exclude)
    request = {k: v for k, v in last_wins(params).items() if k not in dropped}
    merged = dict(defaults or {})
    merged.update(request)
    merged.update(overrides or {})
    return merged
