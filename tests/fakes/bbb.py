"""FakeBBB: the `BBBGateway` port in memory. Each server (by API URL) keeps its meetings and answers the calls the
services make as BBB does: SUCCESS documents, FAILED with BBB's message keys (raised as UpstreamError, as the
real client raises them), and a server set `down` raises BBBTransportError."""

from __future__ import annotations

import hashlib
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from scalelite_common.bbb import replies, xml
from scalelite_common.bbb.client import BBBResponse, BBBTransportError, Target
from scalelite_common.domain.load import MeetingSample
from scalelite_common.errors import UpstreamError


@dataclass
class FakeMeeting:
    meeting_id: str
    moderator_pw: str
    voice_bridge: str = ""
    internal_id: str = ""
    participants: int = 0
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeServer:
    secret: str = ""
    meetings: dict[str, FakeMeeting] = field(default_factory=dict)
    down: bool = False  # every call raises BBBTransportError
    status: int | None = None  # with `down`: the HTTP status it answers (400: the request is refused)
    version: str = "3.0.0"


class FakeBBB:
    def __init__(self) -> None:
        self.servers: dict[str, FakeServer] = {}
        self.calls: list[tuple[str, str, dict[str, str]]] = []  # (server url, call, params)
        self._lock = threading.Lock()

    def server(self, url: str) -> FakeServer:
        return self.servers.setdefault(url, FakeServer())

    # ------------------------------------------------------------------ the port
    def signed_url(self, target: Target, call_name: str, params: Sequence[tuple[str, str]]) -> str:
        return f"{target.url.rstrip('/')}/{call_name}?{urlencode(list(params))}&checksum=fake"

    def call(
        self, target: Target, call_name: str, params: Sequence[tuple[str, str]] = (), *, body: bytes | None = None
    ) -> BBBResponse:
        with self._lock:
            self.calls.append((target.url, call_name, dict(params)))
            server = self.server(target.url)
            if server.down:
                raise BBBTransportError(f"HTTP {server.status}" if server.status else "", status=server.status)
            root = self._answer(server, call_name, dict(params), body)
        if xml.text(root, "returncode") != "SUCCESS":
            key, message = replies.error_key_and_message(root)
            raise UpstreamError(message, message_key=key)
        return BBBResponse(root=root, body=xml.to_bytes(root))

    def get_meetings(self, target: Target) -> list[MeetingSample]:
        reply = self.call(target, "getMeetings")
        return replies.poll_meetings(reply.root, reply.returncode)

    def bbb_version(self, target: Target) -> str | None:
        server = self.server(target.url)
        if server.down:
            raise BBBTransportError("", status=server.status)
        return server.version or None

    # ---------------------------------------------------------------- BBB's rules
    def _answer(self, server: FakeServer, call: str, p: dict[str, str], body: bytes | None) -> ET.Element:
        fields: list[tuple[str, Any]]
        meeting = server.meetings.get(p.get("meetingID", ""))
        if call == "create":
            if meeting is None:
                meta = {k[5:]: v for k, v in p.items() if k.startswith("meta_")}
                internal = f"{hashlib.sha1(p['meetingID'].encode()).hexdigest()}-{int(time.time() * 1000)}"
                meeting = FakeMeeting(
                    p["meetingID"], p.get("moderatorPW", ""), p.get("voiceBridge", ""), internal, metadata=meta
                )
                server.meetings[meeting.meeting_id] = meeting
            fields = [
                ("meetingID", meeting.meeting_id),
                ("internalMeetingID", meeting.internal_id),
                ("moderatorPW", meeting.moderator_pw),
            ]
            fields.append(("voiceBridge", meeting.voice_bridge))
            return xml.response("SUCCESS", fields)
        if call == "getMeetings":
            if not server.meetings:
                return xml.response("SUCCESS", [("meetings", None), ("messageKey", "noMeetings")])
            root = xml.response("SUCCESS", [("meetings", None)])
            container = root.find("meetings")
            assert container is not None
            for m in server.meetings.values():
                node = ET.SubElement(container, "meeting")
                for name, value in self._entry(m).items():
                    child = ET.SubElement(node, name)
                    if isinstance(value, dict):
                        for key, text in value.items():
                            ET.SubElement(child, key).text = text
                    else:
                        child.text = str(value)
            return root
        if call == "isMeetingRunning":
            return xml.response("SUCCESS", [("running", meeting is not None)])
        if meeting is None:
            return xml.response("FAILED", [("messageKey", "notFound"), ("message", "We could not find a meeting")])
        if call == "end":
            if p.get("password") != meeting.moderator_pw:
                return xml.response("FAILED", [("messageKey", "invalidPassword"), ("message", "Wrong password")])
            del server.meetings[meeting.meeting_id]
            return xml.response("SUCCESS", [("messageKey", "sentEndMeetingRequest")])
        if call in ("getMeetingInfo", "insertDocument", "sendChatMessage"):
            return xml.response("SUCCESS", [("meetingID", meeting.meeting_id)])
        return xml.response("FAILED", [("messageKey", "unsupportedRequest"), ("message", "not in the fake")])

    @staticmethod
    def _entry(m: FakeMeeting) -> dict[str, Any]:
        return {
            "meetingID": m.meeting_id,
            "participantCount": m.participants,
            "moderatorCount": 0,
            "videoCount": 0,
            "metadata": m.metadata,
        }
