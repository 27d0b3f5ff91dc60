"""A third-party BBB client library (bbbctl, from PyPI) drives the load balancer through the local stack,
as an LMS would: create, join, lookups, getMeetings, end."""

from __future__ import annotations

from urllib.request import urlopen

import pytest
from bbbctl import ApiError, BBBApiClient

from scalelite_local.stack import LocalStack

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack: LocalStack) -> BBBApiClient:
    return BBBApiClient(stack.api_url.rstrip("/"), "e2e-secret")


def test_meeting_lifecycle(client: BBBApiClient, stack: LocalStack) -> None:
    created = client.createMeeting("e2e-class", "E2E Class", moderatorPW="mp", attendeePW="ap")
    assert created.findtext("returncode") == "SUCCESS"
    assert created.findtext("meetingID") == "e2e-class"
    holder = [sim for sim in stack.simulators if "e2e-class" in sim.meetings]
    assert len(holder) == 1

    join_url = client.getJoinLink("e2e-class", "Ada", role="MODERATOR")
    with urlopen(join_url) as resp:
        assert resp.status == 200
        assert resp.url.startswith(holder[0].base_url)
    assert len(holder[0].meetings["e2e-class"].attendees) == 1

    assert client.call("isMeetingRunning", meetingID="e2e-class").findtext("running") == "true"
    info = client.getMeetingInfo("e2e-class")
    assert info.findtext("participantCount") == "1"
    assert "e2e-class" in [m.findtext("meetingID") for m in client.getMeetings()]
    assert client.sendChatMessage("e2e-class", "hello").findtext("returncode") == "SUCCESS"
    assert client.end("e2e-class", password="mp").findtext("messageKey") == "sentEndMeetingRequest"
    with pytest.raises(ApiError) as err:
        client.getMeetingInfo("e2e-class")
    assert err.value.tree.findtext("messageKey") == "notFound"


def test_wrong_secret_is_a_checksum_error(stack: LocalStack) -> None:
    with pytest.raises(ApiError) as err:
        BBBApiClient(stack.api_url.rstrip("/"), "wrong").getMeetings()
    assert err.value.tree.findtext("messageKey") == "checksumError"
