"""The one place that does outbound HTTP to BBB servers.

Signed GET (or POST with a forwarded XML body), bounded timeouts, shorter ones for servers marked offline, and a
clear split between transport failures (BBBTransportError: try elsewhere) and BBB's own FAILED answers
(UpstreamError: passed back to the caller unchanged).

A GET whose URL would pass MAX_URL (BBB's nginx and Tomcat refuse request lines over 8 KB: a long `welcome` or
many `meta_` parameters) goes as a POST instead, its longest parameters in a form body, where BBB reads them too;
the checksum covers the query string only, as BBB checks it (bbb-api.md §1), and the query keeps the meetingID so
it is never empty (BBB 2.5-2.7.7 signs a canonical form of all parameters then). With an XML body (slides) the
parameters stay in the URL.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import urllib3

from scalelite_common.bbb import checksum, replies, xml
from scalelite_common.domain.load import MeetingSample
from scalelite_common.errors import InternalError, UpstreamError
from scalelite_common.observability import traced

_REQUEST_REFUSED = frozenset({400, 413, 414, 431})
MAX_URL = 6144  # bytes: under the 8 KB request line BBB's nginx (large_client_header_buffers) and Tomcat accept
# Calls BBB answers to a POST with a form body (its UrlMappings), whose parameters may be moved there.
FORM_POST_CALLS = frozenset({"create", "end", "getMeetingInfo", "isMeetingRunning", "getMeetings", "getRecordings"})
FORM = "application/x-www-form-urlencoded; charset=UTF-8"


class BBBTransportError(Exception):
    """Connection refused, timeout, non-XML or non-200 answer: the server could not be used. `status` is the HTTP
    status when the server answered one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def reason(self) -> str:
        """Why, in plain words, for a server's `last_error`: `HTTP 404`, `malformed XML`, or the transport error
        behind it (`connection refused`, `timeout (connect)`, `unknown host`, `TLS error`, …)."""
        cause = self.__cause__
        if isinstance(cause, urllib3.exceptions.HTTPError):
            return _urllib3_reason(cause) or str(self) or type(cause).__name__
        return str(self) or type(self).__name__

    @property
    def refused(self) -> bool:
        """The server answered and refused this request itself (400, 413, 414 for a too-long URL, 431): any other
        server would refuse it too, so it is no reason to fail over or to re-place the meeting. Other statuses
        (404 for a wrong API path, 401/403, 5xx) say the server is misconfigured or down."""
        return self.status in _REQUEST_REFUSED


def _urllib3_reason(cause: urllib3.exceptions.HTTPError) -> str:
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return "unknown host"
    if isinstance(cause, urllib3.exceptions.NewConnectionError):  # before TimeoutError: it subclasses it
        text = str(cause).lower()
        if "refused" in text:
            return "connection refused"
        if "timed out" in text:
            return "timeout (connect)"
        if "unreachable" in text:
            return "host unreachable"
        return "connection failed"
    if isinstance(cause, urllib3.exceptions.ConnectTimeoutError):
        return "timeout (connect)"
    if isinstance(cause, urllib3.exceptions.TimeoutError):
        return "timeout"
    if isinstance(cause, urllib3.exceptions.SSLError):
        return "TLS error"
    if isinstance(cause, urllib3.exceptions.ProtocolError):
        return "connection lost"
    if isinstance(cause, urllib3.exceptions.ProxyError):
        return "proxy error"
    return ""


@dataclass(frozen=True)
class Target:
    url: str
    secret: str
    offline: bool = False


@dataclass(frozen=True)
class BBBResponse:
    root: ET.Element
    body: bytes

    @property
    def returncode(self) -> str:
        return xml.text(self.root, "returncode")


def api_url(base: str, call_name: str) -> str:
    return (base if base.endswith("/") else base + "/") + call_name


def _split_long(
    params: Sequence[tuple[str, str]], fits: Callable[[list[tuple[str, str]]], bool]
) -> tuple[list[tuple[str, str]], bytes]:
    """The parameters to keep in the query and the form body of the others: the longest names (all their values:
    BBB refuses a name in both) move first, until the signed URL `fits`; the meetingID always stays."""
    sizes: dict[str, int] = {}
    for name, value in params:
        sizes[name] = sizes.get(name, 0) + len(name) + len(value)
    moved: set[str] = set()
    kept = list(params)
    for name in sorted((n for n in sizes if n != "meetingID"), key=lambda n: -sizes[n]):
        moved.add(name)
        kept = [p for p in params if p[0] not in moved]
        if fits(kept):
            break
    return kept, urlencode([p for p in params if p[0] in moved]).encode()


class BBBClient:
    def __init__(self, *, connect_timeout: float, response_timeout: float, algorithm: str = "SHA256") -> None:
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self.algorithm = algorithm
        self._local = threading.local()
        # One pool per BBB host, kept across invocations of a warm Lambda; no retries: failover is ours to decide.
        self._http = urllib3.PoolManager(num_pools=1024, maxsize=16, retries=False, block=False)

    def timeout(self, offline: bool) -> urllib3.Timeout:
        read = self.response_timeout
        if offline:
            # Scalelite: 0.2 s / 0.5 s clamped into [read/10, read] for servers already marked offline.
            lo = read / 10
            connect, read = min(max(0.2, lo), read), min(max(0.5, lo), read)
        else:
            connect = self.connect_timeout
        return urllib3.Timeout(connect=connect, read=read, total=connect + read)

    def signed_url(self, target: Target, call_name: str, params: Sequence[tuple[str, str]]) -> str:
        query = checksum.sign_query(call_name, params, target.secret, self.algorithm)
        return f"{api_url(target.url, call_name)}?{query}"

    def request(
        self,
        target: Target,
        call_name: str,
        params: Sequence[tuple[str, str]] = (),
        *,
        body: bytes | None = None,
        content_type: str = "application/xml",
    ) -> BBBResponse:
        url = self.signed_url(target, call_name, params)
        if body is None and len(url) > MAX_URL and call_name in FORM_POST_CALLS:
            query, form = _split_long(params, lambda kept: len(self.signed_url(target, call_name, kept)) <= MAX_URL)
            url, body, content_type = self.signed_url(target, call_name, query), form, FORM
        try:
            resp = self._http.request(
                "GET" if body is None else "POST",  # POST only with a body (slides, insertDocument, long parameters)
                url,
                body=body,
                headers=None if body is None else {"Content-Type": content_type},
                timeout=self.timeout(target.offline),
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise BBBTransportError(f"{type(exc).__name__}") from exc
        if resp.status != 200:
            raise BBBTransportError(f"HTTP {resp.status}", status=resp.status)
        try:
            root = xml.parse(resp.data)
        except xml.MalformedXML as exc:
            raise BBBTransportError("malformed XML") from exc
        return BBBResponse(root=root, body=resp.data)

    @traced
    def call(
        self,
        target: Target,
        call_name: str,
        params: Sequence[tuple[str, str]] = (),
        *,
        body: bytes | None = None,
        content_type: str = "application/xml",
    ) -> BBBResponse:
        """Like `request`, but a non-SUCCESS answer raises UpstreamError with BBB's own key and message."""
        resp = self.request(target, call_name, params, body=body, content_type=content_type)
        returncode = resp.returncode
        if not returncode:
            raise InternalError("Response did not include returncode")
        if returncode != "SUCCESS":
            key, message = replies.error_key_and_message(resp.root)
            raise UpstreamError(message, message_key=key or "internalError")
        return resp

    def get_meetings(self, target: Target) -> list[MeetingSample]:
        """Signed getMeetings with the normal timeouts (Scalelite never shortens the poller's); PollFailure when the
        server answers anything but SUCCESS."""
        resp = self.request(target, "getMeetings")
        return replies.poll_meetings(resp.root, resp.returncode)

    def bbb_version(self, target: Target) -> str | None:
        """BBB's API root reveals `bbbVersion` (when allowRevealOfBBBVersion=true); the signature is harmless."""
        resp = self.request(target, "")
        if resp.returncode != "SUCCESS":
            return None
        return xml.text(resp.root, "bbbVersion") or None
