"""Reading BBB's answers (parsed with defusedxml by `bbb.xml`) into domain values."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from scalelite_common.bbb import xml
from scalelite_common.domain.load import MeetingSample


class PollFailure(Exception):
    """The server answered, but not usefully (FAILED, no returncode)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # short, for the server's last_error: "checksumError: You did not pass …"


def _int(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        return 0


def _positive_int(value: str) -> int | None:
    number = _int(value) if value else 0
    return number if number > 0 else None


def error_key_and_message(root: ET.Element) -> tuple[str, str]:
    """BBB's `messageKey`/`message`, or the `errors/error` form some calls use."""
    key = xml.text(root, "messageKey") or xml.text(root, "errors/error/key")
    message = xml.text(root, "message") or xml.text(root, "errors/error/message")
    return key, message


def parse_meetings(root: ET.Element) -> list[MeetingSample]:
    """The meetings of a getMeetings answer (`noMeetings` is simply an empty list)."""
    samples = []
    for node in root.findall("meetings/meeting"):
        create_ms = _int(xml.text(node, "createTime"))
        samples.append(
            MeetingSample(
                meeting_id=xml.text(node, "meetingID"),
                participants=_int(xml.text(node, "participantCount")),
                moderators=_int(xml.text(node, "moderatorCount")),
                videos=_int(xml.text(node, "videoCount")),
                create_time=create_ms / 1000.0 if create_ms > 0 else None,
                is_breakout=xml.text(node, "isBreakout").lower() == "true",
                size_hint=_positive_int(xml.text(node, "metadata/bbb-meeting-size-hint")),
            )
        )
    return samples


def poll_meetings(root: ET.Element, returncode: str) -> list[MeetingSample]:
    """A getMeetings answer for the poller: its meetings, or PollFailure with BBB's reason."""
    if returncode != "SUCCESS":
        key, message = error_key_and_message(root)
        answered = returncode or "no returncode"
        reason = f"{key}: {message}" if key and message else key or message or f"getMeetings answered {answered}"
        raise PollFailure(f"getMeetings answered {answered} ({key or '-'})", reason=reason)
    return parse_meetings(root)


def meeting_entries(root: ET.Element, tenant_id: str | None) -> list[ET.Element]:
    """The `<meeting>` entries of a getMeetings answer that belong to `tenant_id` (by `metadata/tenant-id`; None:
    the entries without one), relayed to the LMS as BBB wrote them."""
    return [
        node for node in root.findall("meetings/meeting") if (xml.text(node, "metadata/tenant-id") or None) == tenant_id
    ]
