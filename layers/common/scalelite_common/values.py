"""Parsing of plain values shared by the settings, the admin commands and the admin API: one meaning of "a
boolean" everywhere."""

from __future__ import annotations

TRUE = frozenset({"true", "yes", "1", "on"})
FALSE = frozenset({"false", "no", "0", "off", ""})


def parse_bool(text: str) -> bool | None:
    """True or False for the words above (case and surrounding blanks ignored), None for anything else."""
    word = text.strip().lower()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    return None
