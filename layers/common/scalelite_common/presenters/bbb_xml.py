"""The BBB API's answers, as BBB writes them (bbb-api.md): the documents the balancer composes itself, and BBB's
own replies relayed unchanged."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from scalelite_common.bbb import xml
from scalelite_common.bbb.client import BBBResponse
from scalelite_common.errors import BBBError


def relayed(reply: BBBResponse) -> bytes:
    """A BBB server's answer, byte for byte (its XML is BBB's, whatever version the server runs)."""
    return reply.body


def error(exc: BBBError) -> bytes:
    return xml.error_document(exc)


def index(build_number: str = "") -> bytes:
    fields: list[tuple[str, Any]] = [("version", "2.0")]
    if build_number:
        fields.append(("build", build_number))
    return xml.success(*fields)


def running(reply: BBBResponse | None) -> bytes:
    """isMeetingRunning: the meeting's server's answer, or `running=false` for a meeting the balancer does not
    know."""
    return relayed(reply) if reply is not None else xml.success(("running", "false"))


def meetings(entries: Sequence[ET.Element]) -> bytes:
    """getMeetings: every server's entries in one list, or BBB's `noMeetings` answer when there are none."""
    if not entries:
        return no_meetings()
    root = xml.response("SUCCESS")
    ET.SubElement(root, "meetings").extend(entries)
    return xml.to_bytes(root)


def no_meetings() -> bytes:
    return xml.success(
        ("meetings", None), ("messageKey", "noMeetings"), ("message", "no meetings were found on this server")
    )


def no_recordings() -> bytes:
    return xml.success(
        ("recordings", None),
        ("messageKey", "noRecordings"),
        ("message", "There are not recordings for the meetings"),
    )
