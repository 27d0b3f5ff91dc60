"""One boolean parser for settings, admin commands and the admin API (issue 9 item 4)."""

from __future__ import annotations

import pytest

from scalelite_common.config import Settings
from scalelite_common.values import parse_bool


@pytest.mark.parametrize("text", ["true", "TRUE", " yes ", "1", "on", "On"])
def test_true_words(text: str) -> None:
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["false", "No", "0", "off", "", "  "])
def test_false_words(text: str) -> None:
    assert parse_bool(text) is False


@pytest.mark.parametrize("text", ["maybe", "2", "truee", "y"])
def test_anything_else_is_not_a_boolean(text: str) -> None:
    assert parse_bool(text) is None


@pytest.mark.parametrize(("raw", "expected"), [("on", True), ("off", False), ("junk", False), ("", False)])
def test_settings_read_the_same_words(raw: str, expected: bool) -> None:
    assert Settings.from_env({"USE_EXTERNAL_VOICE_BRIDGE": raw}).use_external_voice_bridge is expected
