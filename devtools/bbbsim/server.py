"""A simulated BigBlueButton server (bbb-web API) on loopback, for tests, the local stack and benchmarks.

It checks checksums exactly as BBB does (algorithm from the hex length, the raw query string with the checksum
pair cut out, compared case-insensitively), keeps meetings in memory, answers with BBB's XML, and can be made
slow, down, hanging, FAILED or malformed at runtime.

Its memory is bounded by what is live, never by how many requests it has served: an ended meeting is dropped, an
uploaded document is kept as its size and digest (plus its first bytes), and the request history (for tests) is
the last `history` requests, each body cut to `max_recorded_body` bytes.
"""

from __future__ import annotations

import hashlib
import json
import secrets as _secrets
import string
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

ALGORITHMS = {40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
XML_TYPES = ("application/xml", "text/xml")
GET_POST = frozenset({"GET", "POST"})
METHODS = {
    "create": GET_POST,
    "end": GET_POST,
    "isMeetingRunning": GET_POST,
    "getMeetingInfo": GET_POST,
    "getMeetings": GET_POST,
    "join": frozenset({"GET"}),
    "sendChatMessage": frozenset({"GET"}),
    "insertDocument": frozenset({"POST"}),
}
HISTORY = 1000  # requests remembered for tests (`requests`, `calls()`)
MAX_RECORDED_BODY = 16 * 1024  # bytes of each remembered body; size and digest are always of the whole body
PLAYER_PATH = "/playback/presentation/2.3/"
# A tiny stand-in for the built bbb-playback BBB serves at /playback/presentation/2.3/ (`scalelite playback install
# --from-server`): index.html referencing one script and one stylesheet under static/, and a link to another origin.
PLAYER_FILES: dict[str, tuple[str, bytes]] = {
    "index.html": (
        "text/html",
        b'<!doctype html><html><head><meta charset="utf-8"><title>Playback</title>'
        b'<link rel="icon" href="https://cdn.example.com/favicon.ico">'
        b'<link rel="stylesheet" href="/playback/presentation/2.3/static/css/main.css"></head>'
        b'<body><div id="root"></div><script defer src="static/js/main.js"></script></body></html>',
    ),
    "static/js/main.js": ("text/javascript", b'document.getElementById("root").textContent = "bbbsim player";\n'),
    "static/css/main.css": ("text/css", b"#root { font-family: sans-serif; }\n"),
}
END_MESSAGE = (
    "A request to end the meeting was sent.  Please wait a few seconds, and then use the getMeetingInfo or "
    "isMeetingRunning API calls to verify that it was ended."
)


def _alnum(n: int, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    return "".join(_secrets.choice(alphabet) for _ in range(n))


@dataclass(frozen=True)
class Document:
    """What the simulator keeps of an uploaded body (create's `<modules>`, insertDocument): never all of it (it can
    be 10 MB), but its size, its SHA-256 and its first bytes."""

    size: int
    sha256: str
    head: bytes

    @classmethod
    def of(cls, data: bytes, keep: int = MAX_RECORDED_BODY) -> Document:
        return cls(len(data), hashlib.sha256(data).hexdigest(), data[:keep])

    def matches(self, data: bytes) -> bool:
        return self.size == len(data) and self.sha256 == hashlib.sha256(data).hexdigest()


@dataclass
class Attendee:
    user_id: str
    full_name: str
    role: str
    video: bool = False
    customdata: dict[str, str] = field(default_factory=dict)


@dataclass
class Meeting:
    meeting_id: str
    name: str
    attendee_pw: str
    moderator_pw: str
    voice_bridge: str
    create_time: int
    internal_id: str
    metadata: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    attendees: list[Attendee] = field(default_factory=list)
    is_breakout: bool = False
    duration: int = 0
    record: bool = False
    modules: Document | None = None  # create's XML body (pre-uploaded slides)
    extra_participants: int = 0  # seeded counts that have no Attendee objects (add_meeting)
    extra_moderators: int = 0
    extra_videos: int = 0

    @property
    def participant_count(self) -> int:
        return len(self.attendees) + self.extra_participants

    @property
    def moderator_count(self) -> int:
        return sum(a.role == "MODERATOR" for a in self.attendees) + self.extra_moderators

    @property
    def video_count(self) -> int:
        return sum(a.video for a in self.attendees) + self.extra_videos

    @property
    def running(self) -> bool:
        return self.participant_count > 0

    @property
    def disabled_features(self) -> frozenset[str]:
        """create's `disabledFeatures` (a comma list, e.g. `presentation,chat`)."""
        return frozenset(f.strip() for f in self.params.get("disabledFeatures", "").split(",") if f.strip())


@dataclass
class RecordedRequest:
    call: str
    method: str
    raw_query: str
    params: dict[str, list[str]]
    content_type: str
    body: bytes  # the whole body, or its first `max_recorded_body` bytes (then `truncated`)
    at: float
    body_size: int = 0
    body_sha256: str = ""  # of the whole body; "" when there is none

    @property
    def truncated(self) -> bool:
        return len(self.body) < self.body_size


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.sim.handle(self)

    def do_POST(self) -> None:
        self.server.sim.handle(self)

    do_PUT = do_DELETE = do_HEAD = do_POST


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, sim: BBBSimulator, address: tuple[str, int]) -> None:
        self.sim = sim
        super().__init__(address, _Handler)


class BBBSimulator:
    """One simulated BBB server. `start()` returns self; `.url` is what gets registered in the load balancer."""

    def __init__(
        self,
        secret: str = "bbbsim-secret",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bbb_version: str = "3.0.19",
        supported_algorithms: Iterable[str] = ("sha1", "sha256", "sha384", "sha512"),
        latency: float = 0.0,
        poll_interval: float = 0.25,
        history: int = HISTORY,
        max_recorded_body: int = MAX_RECORDED_BODY,
    ) -> None:
        self.secret = secret
        self.poll_interval = poll_interval  # how fast stop() returns vs idle wake-ups (500 instances in benches)
        self.host = host
        self.port = port
        self.bbb_version = bbb_version
        self.supported_algorithms = {a.lower() for a in supported_algorithms}
        self.latency = latency
        self.meetings: dict[str, Meeting] = {}
        self.max_recorded_body = max_recorded_body
        self.requests: deque[RecordedRequest] = deque(maxlen=history)  # the oldest are forgotten
        self.player_files = dict(PLAYER_FILES)  # path under /playback/presentation/2.3/ -> (type, body)
        self.fault: str | None = None
        self.fault_calls: set[str] | None = None
        self.failed_key = "internalError"
        self.failed_message = "simulated failure"
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> BBBSimulator:
        self._server = _Server(self, (self.host, self.port))
        self.port = self._server.server_address[1]
        self._release.clear()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=f"bbbsim-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> BBBSimulator:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/bigbluebutton/api/"

    # ------------------------------------------------------------ test controls
    def set_fault(
        self,
        fault: str | None,
        *,
        calls: Iterable[str] | None = None,
        message_key: str = "internalError",
        message: str = "simulated failure",
        seconds: float | None = None,
    ) -> None:
        """None, "down" (port closed), "hang" (never answers), "failed" (FAILED XML), "malformed" (not XML)."""
        if fault not in (None, "down", "hang", "failed", "malformed"):
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            previous = self.fault
            self.fault, self.fault_calls = fault, set(calls) if calls else None
            self.failed_key, self.failed_message = message_key, message
        if previous == "hang" and fault != "hang":
            self._release.set()
        if fault == "hang":
            self._release.clear()
        if fault == "down" and self._server is not None:
            self._close_listener()
            if seconds:
                threading.Timer(seconds, lambda: self.set_fault(None)).start()
        elif previous == "down" and fault != "down" and self._server is None:
            self.start()

    def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()  # returns within one poll interval; then the port refuses connections
            server.server_close()

    def add_meeting(
        self,
        meeting_id: str,
        *,
        participants: int = 0,
        moderators: int = 0,
        videos: int = 0,
        create_time_ms: int | None = None,
        is_breakout: bool = False,
        metadata: dict[str, str] | None = None,
        name: str | None = None,
    ) -> Meeting:
        create_time = create_time_ms if create_time_ms is not None else int(time.time() * 1000)
        meeting = Meeting(
            meeting_id=meeting_id,
            name=name or meeting_id,
            attendee_pw=_alnum(8),
            moderator_pw=_alnum(8),
            voice_bridge=str(10000 + len(self.meetings)),
            create_time=create_time,
            internal_id=f"{hashlib.sha1(meeting_id.encode()).hexdigest()}-{create_time}",  # noqa: S324 - BBB's id
            metadata=dict(metadata or {}),
            is_breakout=is_breakout,
            extra_participants=participants,
            extra_moderators=moderators,
            extra_videos=videos,
        )
        with self._lock:
            self.meetings[meeting_id] = meeting
        return meeting

    def add_attendee(
        self,
        meeting_id: str,
        full_name: str = "User",
        role: str = "VIEWER",
        *,
        video: bool = False,
        user_id: str | None = None,
    ) -> Attendee:
        attendee = Attendee(user_id or f"w_{_alnum(12)}", full_name, role.upper(), video)
        with self._lock:
            self.meetings[meeting_id].attendees.append(attendee)
        return attendee

    def remove_meeting(self, meeting_id: str) -> None:
        with self._lock:
            self.meetings.pop(meeting_id, None)

    def calls(self, name: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.call == name]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def reset(self) -> None:
        with self._lock:
            self.meetings.clear()
            self.requests.clear()
        self.set_fault(None)
        self.latency = 0.0

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "url": self.url,
                "fault": self.fault,
                "latency": self.latency,
                "meetings": [
                    {
                        "meetingID": m.meeting_id,
                        "participants": m.participant_count,
                        "moderators": m.moderator_count,
                        "videos": m.video_count,
                        "metadata": m.metadata,
                    }
                    for m in self.meetings.values()
                ],
            }

    # ----------------------------------------------------------------- serving
    def handle(self, req: _Handler) -> None:
        parts = urlsplit(req.path)
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        if parts.path.startswith("/_bbbsim/"):
            self._control(req, parts.path, body)
            return
        if parts.path.startswith("/html5client/"):
            self._send(req, 200, b"<html><body>simulated BBB client</body></html>", "text/html")
            return
        if parts.path.startswith(PLAYER_PATH) and req.command == "GET":
            found = self.player_files.get(parts.path[len(PLAYER_PATH) :])
            if found is None:
                self._send(req, 404, b"not found", "text/plain")
            else:
                self._send(req, 200, found[1], found[0])
            return
        api = "/bigbluebutton/api"
        if not parts.path.startswith(api):
            self._send(req, 404, b"not found", "text/plain")
            return
        call = parts.path[len(api) :].strip("/")
        content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    call,
                    req.command,
                    parts.query,
                    parse_qs(parts.query, keep_blank_values=True),
                    content_type,
                    body[: self.max_recorded_body],
                    time.time(),
                    body_size=len(body),
                    body_sha256=hashlib.sha256(body).hexdigest() if body else "",
                )
            )
            fault = self.fault if self.fault_calls is None or call in self.fault_calls else None
        if self.fault == "down":
            # A dead server also drops connections a client kept alive: no answer, connection closed.
            req.close_connection = True
            return
        if self.latency:
            time.sleep(self.latency)
        if fault == "hang":
            self._release.wait()
            req.close_connection = True
            return
        if fault == "malformed":
            self._send(req, 200, b"<response><returncode>SUCC", "text/xml;charset=utf-8")
            return
        if fault == "failed":
            self._xml(req, self._failed(self.failed_key, self.failed_message))
            return
        status, payload, location = self._api(req.command, call, parts.query, content_type, body)
        if location:
            req.send_response(302)
            req.send_header("Location", location)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        self._send(req, status, payload.encode(), "text/xml;charset=utf-8")

    def _api(
        self, method: str, call: str, raw_query: str, content_type: str, body: bytes
    ) -> tuple[int, str, str | None]:
        if call == "":
            return (
                200,
                self._ok(
                    f"<version>2.0</version><apiVersion>2.0</apiVersion><bbbVersion>{self.bbb_version}</bbbVersion>"
                ),
                None,
            )
        if call not in METHODS:
            return 404, self._failed("unsupportedRequest", "This request is not supported."), None
        if method not in METHODS[call]:
            return 200, self._failed("unsupportedRequest", "This request is not supported."), None
        params = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
        if method == "POST" and body:
            allowed = XML_TYPES if call == "insertDocument" else FORM_TYPES + (XML_TYPES if call == "create" else ())
            if content_type not in allowed:
                return (
                    200,
                    self._failed("unsupportedContentType", "POST request Content-Type is missing or unsupported"),
                    None,
                )
            if content_type == "application/x-www-form-urlencoded":
                params.update({k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()})
        if not self._checksum_ok(call, raw_query, params.get("checksum", "")):
            return 200, self._failed("checksumError", "Checksums do not match"), None
        handler = getattr(self, f"_call_{call}")
        result: tuple[int, str, str | None] = handler(params, body if content_type in XML_TYPES else None)
        return result

    def _checksum_ok(self, call: str, raw_query: str, given: str) -> bool:
        algorithm = ALGORITHMS.get(len(given))
        if not given or algorithm not in self.supported_algorithms:
            return False
        query = raw_query
        for pattern in (f"&checksum={given}", f"checksum={given}&", f"checksum={given}"):
            if pattern in query:
                query = query.replace(pattern, "", 1)
                break
        expected = hashlib.new(algorithm, f"{call}{query}{self.secret}".encode()).hexdigest()
        return expected == given.lower()

    # ---------------------------------------------------------------- the calls
    def _call_create(self, p: dict[str, str], modules: bytes | None) -> tuple[int, str, str | None]:
        meeting_id = p.get("meetingID", "").strip()
        if not meeting_id:
            return self._missing_meeting_id()
        if not p.get("name", "").strip():
            return 200, self._failed("validationError", "You must provide a meeting name"), None
        with self._lock:
            existing = self.meetings.get(meeting_id)
            if existing is not None:
                same = all(
                    p.get(k) in (None, getattr(existing, a))
                    for k, a in (("attendeePW", "attendee_pw"), ("moderatorPW", "moderator_pw"))
                )
                if not same:
                    return (
                        200,
                        self._failed(
                            "idNotUnique",
                            "A meeting already exists with that meeting ID.  Please use a different meeting ID.",
                        ),
                        None,
                    )
                return 200, self._create_reply(existing, duplicate=True), None
            voice_bridge = p.get("voiceBridge") or str(70000 + _secrets.randbelow(29999))
            if any(m.voice_bridge == voice_bridge for m in self.meetings.values()):
                return (
                    200,
                    (
                        "<response><returncode>FAILED</returncode><errors><error><key>nonUniqueVoiceBridge</key>"
                        "<message>The selected voice bridge is already in use.</message></error></errors>"
                        "</response>"
                    ),
                    None,
                )
            create_time = int(time.time() * 1000)
            meeting = Meeting(
                meeting_id=meeting_id,
                name=p["name"],
                attendee_pw=p.get("attendeePW") or _alnum(8),
                moderator_pw=p.get("moderatorPW") or _alnum(8),
                voice_bridge=voice_bridge,
                create_time=create_time,
                internal_id=f"{hashlib.sha1(meeting_id.encode()).hexdigest()}-{create_time}",  # noqa: S324
                metadata={k[5:].lower(): v for k, v in p.items() if k.startswith("meta_")},
                params={k: v for k, v in p.items() if k != "checksum"},
                is_breakout=p.get("isBreakout") == "true",
                duration=int(p.get("duration") or 0),
                record=p.get("record") == "true",
                modules=Document.of(modules, self.max_recorded_body) if modules is not None else None,
            )
            self.meetings[meeting_id] = meeting
        return 200, self._create_reply(meeting), None

    def _create_reply(self, m: Meeting, *, duplicate: bool = False) -> str:
        key, message = (
            ("duplicateWarning", "This conference was already in existence and may currently be in progress.")
            if duplicate
            else ("", "")
        )
        return self._ok(
            f"<meetingID>{escape(m.meeting_id)}</meetingID><internalMeetingID>{m.internal_id}</internalMeetingID>"
            f"<parentMeetingID>bbb-none</parentMeetingID><attendeePW>{escape(m.attendee_pw)}</attendeePW>"
            f"<moderatorPW>{escape(m.moderator_pw)}</moderatorPW><createTime>{m.create_time}</createTime>"
            f"<voiceBridge>{m.voice_bridge}</voiceBridge><dialNumber>613-555-1234</dialNumber>"
            f"<createDate>{self._date(m.create_time)}</createDate><hasUserJoined>{_b(bool(m.attendees))}"
            f"</hasUserJoined><duration>{m.duration}</duration><hasBeenForciblyEnded>false</hasBeenForciblyEnded>"
            f"<messageKey>{key}</messageKey><message>{message}</message>"
        )

    def _call_join(self, p: dict[str, str], _: bytes | None) -> tuple[int, str, str | None]:
        meeting_id = p.get("meetingID", "").strip()
        if not meeting_id:
            return self._missing_meeting_id()
        with self._lock:
            meeting = self.meetings.get(meeting_id)
            if meeting is None:
                return 200, self._failed("notFound", "A meeting with that ID does not exist"), None
            if not p.get("fullName", "").strip():
                return 200, self._failed("missingParamFullName", "You must specify a name for the attendee."), None
            role = p.get("role", "").upper()
            if role not in ("MODERATOR", "VIEWER"):
                password = p.get("password")
                role = {meeting.moderator_pw: "MODERATOR", meeting.attendee_pw: "VIEWER"}.get(password or "", "")
                if not role:
                    return (
                        200,
                        self._failed(
                            "invalidPassword",
                            "You either did not supply a password or the "
                            "password supplied is neither the attendee or "
                            "moderator password for this conference.",
                        ),
                        None,
                    )
            attendee = Attendee(
                user_id=p.get("userID") or f"w_{_alnum(12)}",
                full_name=p["fullName"],
                role=role,
                video=p.get("userdata-bbbsim_video") == "true",
                customdata={k[9:]: v for k, v in p.items() if k.startswith("userdata-")},
            )
            meeting.attendees.append(attendee)  # following the join URL = the user is in the meeting
        token = _alnum(16)
        url = f"{self.base_url}/html5client/join?sessionToken={token}"
        if p.get("redirect", "true").lower() == "false":
            return (
                200,
                self._ok(
                    "<messageKey>successfullyJoined</messageKey><message>You have joined successfully.</message>"
                    f"<meeting_id>{meeting.internal_id}</meeting_id><user_id>{escape(attendee.user_id)}</user_id>"
                    f"<auth_token>{_alnum(12)}</auth_token><session_token>{token}</session_token>"
                    f"<guestStatus>ALLOW</guestStatus><url>{escape(url)}</url>"
                ),
                None,
            )
        return 302, "", url

    def _call_end(self, p: dict[str, str], _: bytes | None) -> tuple[int, str, str | None]:
        meeting_id = p.get("meetingID", "").strip()
        if not meeting_id:
            return self._missing_meeting_id()
        with self._lock:
            meeting = self.meetings.get(meeting_id)
            if meeting is None:
                return (
                    200,
                    self._failed(
                        "notFound",
                        "We could not find a meeting with that meeting ID - perhaps the meeting is not yet running?",
                    ),
                    None,
                )
            password = p.get("password")
            if password and password != meeting.moderator_pw:
                return (
                    200,
                    self._failed("invalidPassword", "You must supply the moderator password for this call."),
                    None,
                )
            del self.meetings[meeting_id]
        return 200, self._ok(f"<messageKey>sentEndMeetingRequest</messageKey><message>{END_MESSAGE}</message>"), None

    def _call_isMeetingRunning(self, p: dict[str, str], _: bytes | None) -> tuple[int, str, str | None]:
        meeting_id = p.get("meetingID", "").strip()
        if not meeting_id:
            return self._missing_meeting_id()
        with self._lock:
            meeting = self.meetings.get(meeting_id)
            running = meeting is not None and meeting.running
        return 200, self._ok(f"<running>{_b(running)}</running>"), None

    def _call_getMeetingInfo(self, p: dict[str, str], _: bytes | None) -> tuple[int, str, str | None]:
        meeting_id = p.get("meetingID", "").strip()
        if not meeting_id:
            return self._missing_meeting_id()
        with self._lock:
            meeting = self.meetings.get(meeting_id)
            if meeting is None:
                return 200, self._failed("notFound", "A meeting with that ID does not exist"), None
            return 200, self._ok(self._meeting_xml(meeting)), None

    def _call_getMeetings(self, p: dict[str, str], _: bytes | None) -> tuple[int, str, str | None]:
        with self._lock:
            meetings = "".join(f"<meeting>{self._meeting_xml(m)}</meeting>" for m in self.meetings.values())
        if not meetings:
            return (
                200,
                self._ok(
                    "<meetings/><messageKey>noMeetings</messageKey><message>no meetings were found on "
                    "this server</message>"
                ),
                None,
            )
        return 200, self._ok(f"<meetings>{meetings}</meetings>"), None

    def _call_insertDocument(self, p: dict[str, str], body: bytes | None) -> tuple[int, str, str | None]:
        meeting_id = p.get("meetingID", "").strip()
        if not meeting_id:
            return self._missing_meeting_id()
        with self._lock:
            meeting = self.meetings.get(meeting_id)
            if meeting is None:
                return 200, self._failed("notFound", f"Meeting with id [{escape(meeting_id)}] not found."), None
            if "presentation" in meeting.disabled_features:
                return (
                    200,
                    self._failed("presentationDisabled", "Presentation feature is disabled for this meeting."),
                    None,
                )
        return 200, self._ok("<messageKey></messageKey><message>Presentation is being uploaded</message>"), None

    def _call_sendChatMessage(self, p: dict[str, str], _: bytes | None) -> tuple[int, str, str | None]:
        meeting_id = p.get("meetingID", "").strip()
        if not meeting_id:
            return self._missing_meeting_id()
        if not p.get("message", "").strip():
            return 200, self._failed("missingParamMessage", "You must specify a message."), None
        with self._lock:
            meeting = self.meetings.get(meeting_id)
            if meeting is None:
                return 200, self._failed("notFound", "A meeting with that ID does not exist"), None
            if not meeting.running:  # BBB only delivers chat to a meeting someone has joined
                return 200, self._failed("notFound", "Meeting is not running or no user has joined"), None
        return 200, self._ok("<messageKey></messageKey><message></message>"), None

    # ------------------------------------------------------------------ helpers
    def _missing_meeting_id(self) -> tuple[int, str, str | None]:
        return 200, self._failed("missingParamMeetingID", "You must specify a meeting ID for the meeting."), None

    def _meeting_xml(self, m: Meeting) -> str:
        attendees = "".join(
            f"<attendee><userID>{escape(a.user_id)}</userID><fullName>{escape(a.full_name)}</fullName>"
            f"<role>{a.role}</role><isPresenter>false</isPresenter><isListeningOnly>false</isListeningOnly>"
            f"<hasJoinedVoice>false</hasJoinedVoice><hasVideo>{_b(a.video)}</hasVideo><clientType>HTML5</clientType>"
            "</attendee>"
            for a in m.attendees
        )
        metadata = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in m.metadata.items())
        return (
            f"<meetingName>{escape(m.name)}</meetingName><meetingID>{escape(m.meeting_id)}</meetingID>"
            f"<internalMeetingID>{m.internal_id}</internalMeetingID><createTime>{m.create_time}</createTime>"
            f"<createDate>{self._date(m.create_time)}</createDate><voiceBridge>{m.voice_bridge}</voiceBridge>"
            f"<dialNumber>613-555-1234</dialNumber><attendeePW>{escape(m.attendee_pw)}</attendeePW>"
            f"<moderatorPW>{escape(m.moderator_pw)}</moderatorPW><running>{_b(m.running)}</running>"
            f"<duration>{m.duration}</duration><hasUserJoined>{_b(m.running)}</hasUserJoined>"
            f"<recording>{_b(m.record)}</recording><hasBeenForciblyEnded>false</hasBeenForciblyEnded>"
            f"<startTime>{m.create_time}</startTime><endTime>0</endTime>"
            f"<participantCount>{m.participant_count}</participantCount><listenerCount>0</listenerCount>"
            f"<voiceParticipantCount>0</voiceParticipantCount><videoCount>{m.video_count}</videoCount>"
            f"<maxUsers>0</maxUsers><moderatorCount>{m.moderator_count}</moderatorCount>"
            f"<attendees>{attendees}</attendees><metadata>{metadata}</metadata>"
            f"<isBreakout>{_b(m.is_breakout)}</isBreakout>"
        )

    @staticmethod
    def _date(ms: int) -> str:
        return format_datetime(datetime.fromtimestamp(ms / 1000, UTC))

    @staticmethod
    def _ok(inner: str) -> str:
        return f"<response><returncode>SUCCESS</returncode>{inner}</response>"

    @staticmethod
    def _failed(key: str, message: str) -> str:
        return (
            f"<response><returncode>FAILED</returncode><messageKey>{key}</messageKey>"
            f"<message>{escape(message)}</message></response>"
        )

    def _xml(self, req: _Handler, payload: str) -> None:
        self._send(req, 200, payload.encode(), "text/xml;charset=utf-8")

    @staticmethod
    def _send(req: _Handler, status: int, data: bytes, content_type: str) -> None:
        req.send_response(status)
        req.send_header("Content-Type", content_type)
        req.send_header("Content-Length", str(len(data)))
        req.send_header("Cache-Control", "no-cache")
        req.end_headers()
        req.wfile.write(data)

    def _control(self, req: _Handler, path: str, body: bytes) -> None:
        """Out-of-process control (the local stack runs simulators in its own process)."""
        try:
            data = json.loads(body or b"{}")
            if path == "/_bbbsim/state":
                pass
            elif path == "/_bbbsim/fault":
                self.set_fault(data.get("fault"), calls=data.get("calls"), seconds=data.get("seconds"))
            elif path == "/_bbbsim/latency":
                self.latency = float(data.get("seconds", 0))
            elif path == "/_bbbsim/reset":
                self.reset()
            else:
                self._send(req, 404, b'{"error": "unknown control"}', "application/json")
                return
        except (ValueError, TypeError) as exc:
            self._send(req, 400, json.dumps({"error": str(exc)}).encode(), "application/json")
            return
        self._send(req, 200, json.dumps(self.state()).encode(), "application/json")


def _b(value: bool) -> str:
    return "true" if value else "false"


def start_simulators(n: int, *, secret: str | None = None, **kwargs: Any) -> list[BBBSimulator]:
    """Start `n` simulators (each on its own port); with no `secret`, each gets its own random one."""
    sims = [BBBSimulator(secret or _secrets.token_hex(16), **kwargs) for _ in range(n)]
    for sim in sims:
        sim.start()
    return sims


def stop_simulators(sims: Iterable[BBBSimulator]) -> None:
    threads = [threading.Thread(target=sim.stop, daemon=True) for sim in sims]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
