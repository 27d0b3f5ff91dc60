"""bbb-client 0.3.1 (PyPI), which checks the answer's content type literally, runs a meeting through the local
stack: create → join → getMeetingInfo → getMeetings → end."""

from __future__ import annotations

from urllib.request import urlopen

import pytest
from bbb_client.domain.meeting_management.model import Bbb, ChecksumError, MeetingDoesNotExist

from scalelite_local.stack import LocalStack

pytestmark = pytest.mark.e2e


def test_bbb_client_lifecycle(stack: LocalStack) -> None:
    # A base URL with a trailing slash: the client appends "/create", so the path carries "//".
    client = Bbb(stack.api_url, "e2e-secret")
    assert client.create_meeting("bbbc-room", name="BBB Client Room", moderator_password="mp") is True
    holder = [sim for sim in stack.simulators if "bbbc-room" in sim.meetings]
    assert len(holder) == 1
    with urlopen(client.generate_join_url("bbbc-room", "Ada", moderator=True)) as resp:
        assert resp.status == 200 and resp.url.startswith(holder[0].base_url)
    info = client.get_meeting_info("bbbc-room")
    assert info.meetingID == "bbbc-room" and info.moderatorPW == "mp" and info.participants == ["Ada"]
    assert "bbbc-room" in [m.meetingID for m in client.get_meetings()]
    assert client.end_meeting("bbbc-room") is True
    with pytest.raises(MeetingDoesNotExist):
        client.get_meeting_info("bbbc-room")


def test_bbb_client_wrong_secret(stack: LocalStack) -> None:
    with pytest.raises(ChecksumError):
        Bbb(stack.api_url.rstrip("/"), "wrong").get_meetings()
