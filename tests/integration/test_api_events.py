"""The shared `events/api/*.json` payloads drive the real handler (as `sam local invoke -e` would)."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree

from scalelite_api.handler import handler
from tests.conftest import FakeLambdaContext
from tests.helpers import load_event

pytestmark = pytest.mark.usefixtures("aws")


@pytest.mark.parametrize(
    ("name", "returncode", "key"),
    [
        ("index.json", "SUCCESS", None),
        ("is_meeting_running.json", "SUCCESS", None),
        ("get_meetings.json", "SUCCESS", "noMeetings"),
        ("create.json", "FAILED", "internalError"),  # no servers registered
        ("join.json", "FAILED", "notFound"),
        ("end.json", "FAILED", "notFound"),
        ("bad_checksum.json", "FAILED", "checksumError"),
    ],
)
def test_event(name: str, returncode: str, key: str | None) -> None:
    result = handler(load_event(f"api/{name}"), FakeLambdaContext())
    assert result["statusCode"] == 200
    doc = ElementTree.fromstring(result["body"].encode())
    assert doc.findtext("returncode") == returncode
    if key:
        assert doc.findtext("messageKey") == key
