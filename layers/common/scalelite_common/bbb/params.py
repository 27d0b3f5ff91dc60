"""Request parameters: parsing, pass-through, exclusion and Scalelite's default/override precedence."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl

Params = list[tuple[str, str]]

ALWAYS_DROPPED = frozenset({"format", "controller", "action", "checksum"})


_CONTROL = re.compile(r"[\x00-\x1f]")


def sanitize(value: str) -> str:
    """BBB's `ParamsUtil.sanitizeString`: control characters stripped, then surrounding whitespace trimmed."""
    return _CONTROL.sub("", value).strip()


def parse(raw: str, encoding: str = "utf-8") -> Params:
    """Decode a query string or form body; every value is sanitised as BBB does, so what we map is what we forward.

    `encoding` is what percent-escapes decode as (a form body's declared charset); undecodable bytes become U+FFFD.
    """
    pairs = parse_qsl(raw, keep_blank_values=True, encoding=encoding, errors="replace")
    return [(key, sanitize(value)) for key, value in pairs]


def first(params: Sequence[tuple[str, str]], name: str) -> str | None:
    for key, value in params:
        if key == name:
            return value
    return None


def single(params: Iterable[tuple[str, str]]) -> dict[str, str]:
    """One value per name: the first, as BBB's servlet `getParameter` reads it and as `first` does, so a repeated
    meetingID maps and forwards the same value."""
    out: dict[str, str] = {}
    for key, value in params:
        out.setdefault(key, value)
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
    request = {k: v for k, v in single(params).items() if k not in dropped}
    merged = dict(defaults or {})
    merged.update(request)
    merged.update(overrides or {})
    return merged
