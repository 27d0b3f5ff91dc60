"""`/bigbluebutton/api/*`: verb and content-type rules, checksum, then one service call per BBB call.

Before-filter order as in Scalelite: content type, checksum, action. Errors are BBB XML with HTTP 200."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from scalelite_api.dependencies import ContainerDep, ContextDep, SettingsDep
from scalelite_api.responses import error_response, redirect_response, xml_response
from scalelite_common.bbb import checksum
from scalelite_common.bbb import params as P
from scalelite_common.config import Settings
from scalelite_common.errors import (
    BBBError,
    ChecksumError,
    InternalError,
    RecordingNotFoundError,
    UnsupportedContentTypeError,
    UnsupportedRequestError,
)
from scalelite_common.observability import ERROR, SUCCESS, api_outcome, bounded, emit, logger
from scalelite_common.presenters import bbb_json, bbb_recordings, bbb_xml
from scalelite_common.services import analytics
from scalelite_common.services.context import UNRESOLVED_TENANT, RequestContext
from scalelite_common.services.meetings import CreateRequest, Redirect
from scalelite_common.services.recordings import TextTrackError
from scalelite_common.services.wiring import Container

router = APIRouter()

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
XML_TYPES = ("application/xml", "text/xml")
# BBB's MeetingIDConstraint (2.5+): a longer meetingID is a validationError on every call that takes one. It also
# keeps every DynamoDB key (`<tenant>#<meetingID>`) far below DynamoDB's 2048-byte limit.
MAX_MEETING_ID = 256
# Multipart limit on fields and files: Tomcat's default maxParameterCount.
MAX_FORM_FIELDS = 10_000


@dataclass(frozen=True)
class Call:
    methods: frozenset[str]
    content_types: tuple[str, ...]
    run: Callable[[Container, BBBRequest], bytes | Redirect | Json]  # one service call + its presenter
    meeting_id: bool = False  # takes a meetingID, checked as BBB checks it
    recordings: bool = False  # a recording call: a stand-in answers it when RECORDING_DISABLED


@dataclass
class BBBRequest:
    ctx: RequestContext
    params: P.Params
    body: bytes
    xml_body: bool
    file: bytes | None = None  # putRecordingTextTrack's `file` part


@dataclass(frozen=True)
class Json:
    """A call BBB answers in JSON (the text-track calls)."""

    body: bytes


def _text_tracks(c: Container, r: BBBRequest) -> Json:
    try:
        tracks = c.recordings.text_tracks(r.ctx, P.first(r.params, "recordID"))
    except TextTrackError as exc:
        return Json(bbb_json.text_track_error(exc.key, exc.message))
    # Served by the edge from the bucket like every presentation file (a protected recording's needs its cookie).
    base = f"{r.ctx.base_url}/presentation/{quote(P.first(r.params, 'recordID') or '')}"
    return Json(
        bbb_json.text_tracks(
            [
                bbb_json.TextTrack(
                    href=f"{base}/caption_{quote(t.lang)}.vtt",
                    kind=t.kind,
                    label=t.label,
                    lang=t.lang,
                    source="upload",
                )
                for t in tracks
            ]
        )
    )


def _put_text_track(c: Container, r: BBBRequest) -> Json:
    try:
        record_id = c.recordings.put_text_track(r.ctx, r.params, r.file)
    except TextTrackError as exc:
        return Json(bbb_json.text_track_error(exc.key, exc.message))
    return Json(bbb_json.text_track_uploaded(record_id))


def _create(c: Container, r: BBBRequest) -> bytes:
    reply = c.meeting_service.create(CreateRequest(ctx=r.ctx, params=r.params, xml_body=r.body if r.xml_body else None))
    return bbb_xml.relayed(reply)


def _get_recordings(c: Container, r: BBBRequest) -> bytes:
    listing = c.recordings.get_recordings(r.ctx, r.params)
    return bbb_recordings.recordings(
        listing.recordings,
        base_url=r.ctx.base_url,
        protected_enabled=r.ctx.settings.protected_recordings_enabled,
        total=listing.total,
        # a fresh one-time token per protected format, per listing (services/playback.py)
        protected_url=lambda recording, fmt: c.playback.token_url(r.ctx, recording, fmt.format),
    )


def _delete_recordings(c: Container, r: BBBRequest) -> bytes:
    c.recordings.delete(r.ctx, r.params)
    return bbb_recordings.deleted()


_READ = frozenset({"GET", "POST"})
_GET = frozenset({"GET"})
CALLS: dict[str, Call] = {
    "create": Call(_READ, FORM_TYPES + XML_TYPES, _create, meeting_id=True),
    "join": Call(_GET, (), lambda c, r: c.meeting_service.join(r.ctx, r.params), meeting_id=True),
    "end": Call(
        _READ, FORM_TYPES, lambda c, r: bbb_xml.relayed(c.meeting_service.end(r.ctx, r.params)), meeting_id=True
    ),
    "isMeetingRunning": Call(
        _READ,
        FORM_TYPES,
        lambda c, r: bbb_xml.running(c.meeting_service.is_meeting_running(r.ctx, r.params)),
        meeting_id=True,
    ),
    "getMeetingInfo": Call(
        _READ,
        FORM_TYPES,
        lambda c, r: bbb_xml.relayed(c.meeting_service.get_meeting_info(r.ctx, r.params)),
        meeting_id=True,
    ),
    "getMeetings": Call(_READ, FORM_TYPES, lambda c, r: bbb_xml.meetings(c.meeting_service.get_meetings(r.ctx))),
    "insertDocument": Call(
        frozenset({"POST"}),
        XML_TYPES,
        lambda c, r: bbb_xml.relayed(c.meeting_service.insert_document(r.ctx, r.params, r.body)),
        meeting_id=True,
    ),
    "sendChatMessage": Call(
        _GET,
        FORM_TYPES,
        lambda c, r: bbb_xml.relayed(c.meeting_service.send_chat_message(r.ctx, r.params)),
        meeting_id=True,
    ),
    "getRecordings": Call(_READ, FORM_TYPES, _get_recordings, recordings=True),
    "publishRecordings": Call(
        _GET, FORM_TYPES, lambda c, r: bbb_recordings.published(c.recordings.publish(r.ctx, r.params)), recordings=True
    ),
    "updateRecordings": Call(
        _READ, FORM_TYPES, lambda c, r: bbb_recordings.updated(c.recordings.update(r.ctx, r.params)), recordings=True
    ),
    "deleteRecordings": Call(_GET, FORM_TYPES, _delete_recordings, recordings=True),
    "getRecordingTextTracks": Call(_READ, FORM_TYPES, _text_tracks, recordings=True),
    "putRecordingTextTrack": Call(frozenset({"POST"}), ("multipart/form-data",), _put_text_track, recordings=True),
}


def _recordings_disabled(call_name: str) -> Response:
    """Scalelite's stand-ins with RECORDING_DISABLED (no checksum): no recordings, or notFound."""
    if call_name == "getRecordings":
        return xml_response(bbb_xml.no_recordings())
    return error_response(RecordingNotFoundError("We could not find recordings"))


@router.api_route("/bigbluebutton/api", methods=["GET", "POST"], include_in_schema=False)
@router.api_route("/bigbluebutton/api/", methods=["GET", "POST"], include_in_schema=False)
async def index(settings: SettingsDep) -> Response:
    return xml_response(bbb_xml.index(settings.build_number))


@router.post("/bigbluebutton/api/analytics_callback", include_in_schema=False)
async def analytics_callback(request: Request, ctx: ContextDep, container: ContainerDep) -> Response:
    """BBB's analytics, relayed to the LMS (services/analytics.py: the statuses answered). No checksum and no
    content-type check, as in Scalelite; a host naming no tenant (multitenancy) is a checksumError as on every BBB
    call. Only POST: a GET falls through to `bbb_call` (unsupportedRequest)."""
    if ctx.tenant_id == UNRESOLVED_TENANT:
        emit("ApiCalls", Call="analytics_callback", Outcome=ChecksumError.message_key)
        return error_response(ChecksumError())
    body = await _limited_body(request, analytics.MAX_BODY)
    outcome = SUCCESS
    try:
        if body is None:
            result = analytics.Result(analytics.TOO_LARGE, f"The body exceeds {analytics.MAX_BODY} bytes")
        else:
            result = container.analytics.relay(ctx, request.headers.get("authorization"), body)
    except Exception:  # the store could not be read; BBB logs a non-2xx answer (it does not retry)
        logger.exception("analytics callback failed")
        result, outcome = analytics.Result(analytics.UNAVAILABLE, "Try again later"), ERROR
    if result.status >= 300 and outcome == SUCCESS:
        outcome = api_outcome(str(result.status))  # otherError
    emit("ApiCalls", Call="analytics_callback", Outcome=outcome)
    if result.status in analytics.REFUSED:
        # 204 as Scalelite (issue 12 pins it): what was refused and why in a header, for BBB's logs and curl.
        return Response(status_code=analytics.RELAYED, headers={analytics.REFUSED_HEADER: result.message})
    if not result.message:
        return Response(status_code=result.status)
    return Response(result.message, status_code=result.status, media_type="text/plain")


async def _limited_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None once it exceeds `limit` bytes (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _charset(content_type_header: str) -> str:
    """The codec a form body declares (`; charset=...`, as Tomcat honours it); UTF-8 if none, unknown, or one in
    which a form body's `=`/`&`/`%`/`+` are not plain ASCII (UTF-16, UTF-7 and the like)."""
    for option in content_type_header.split(";")[1:]:
        name, _, value = option.partition("=")
        if name.strip().lower() == "charset":
            try:
                codec = codecs.lookup(value.strip().strip('"')).name
                if b"a=%41+b&\xff".decode(codec, errors="replace").startswith("a=%41+b&"):
                    return codec
            except Exception:  # noqa: S110 - unknown (LookupError), NUL in the name (ValueError), odd codecs
                pass
            break
    return "utf-8"


def _form_request(request: Request, body: bytes, charset: str) -> Request:
    """`request` with its (already read) body and the multipart Content-Type carrying `charset` in place of the
    declared one, for starlette's form parser."""
    declared = request.headers.get("content-type", "").split(";")[1:]
    options = [o for o in declared if o.partition("=")[0].strip().lower() != "charset"]
    content_type = ";".join(["multipart/form-data", *options, f" charset={charset}"])
    headers = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"content-type"]
    headers.append((b"content-type", content_type.encode("latin-1")))

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(dict(request.scope, headers=headers), receive)


async def _body_params(request: Request, body: bytes, content_type: str) -> P.Params:
    """The form parameters of a POST body, decoded in the declared charset (as Tomcat does; see `_charset`); a body
    we cannot read carries none (the query alone must then pass)."""
    try:
        charset = _charset(request.headers.get("content-type", ""))
        if content_type == "application/x-www-form-urlencoded":
            return P.parse(body.decode(charset, errors="replace"), encoding=charset)
        if content_type == "multipart/form-data":
            # File parts are no parameters (BBB's getParameter does not see them either); closing the form removes
            # their spooled files at once. A field may be as large as the body it came in.
            form_request = _form_request(request, body, charset)
            async with form_request.form(
                max_files=MAX_FORM_FIELDS, max_fields=MAX_FORM_FIELDS, max_part_size=max(len(body), 1024 * 1024)
            ) as form:
                return [(k, P.sanitize(v)) for k, v in form.multi_items() if isinstance(v, str)]
    except Exception as exc:  # malformed multipart: python-multipart raises several unrelated types
        logger.warning("unreadable form body ignored", error=type(exc).__name__)
    return []


async def _read_params(request: Request, raw_query: str, body: bytes, content_type: str) -> P.Params:
    """BBB's rules (bbb-api.md §1.4): only a POST's body carries parameters, never a GET's; a name in both the
    query and the body fails the checksum check, so an unsigned body can never override a signed value."""
    params = P.parse(raw_query)
    if request.method != "POST" or not body:
        return params
    from_body = await _body_params(request, body, content_type)
    if {k for k, _ in params} & {k for k, _ in from_body}:
        raise ChecksumError()
    return params + from_body


async def _file_part(request: Request, body: bytes) -> bytes | None:
    """The `file` part of a multipart body (putRecordingTextTrack; not covered by the checksum, as in BBB)."""
    try:
        form_request = _form_request(request, body, _charset(request.headers.get("content-type", "")))
        async with form_request.form(max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=len(body) + 1) as form:
            part = form.get("file")
            if part is None or isinstance(part, str):
                return None
            return await part.read()
    except Exception as exc:  # malformed multipart
        logger.warning("unreadable text track upload", error=type(exc).__name__)
        return None


def _check_meeting_id(params: P.Params) -> None:
    """BBB's length rule, counted as Java counts (UTF-16 code units); a missing or blank meetingID is left to the
    call (missingParamMeetingID)."""
    meeting_id = P.first(params, "meetingID")
    if meeting_id is not None and len(meeting_id.encode("utf-16-le")) // 2 > MAX_MEETING_ID:
        raise BBBError(f"Meeting ID must be between 2 and {MAX_MEETING_ID} characters", message_key="validationError")


@router.api_route("/bigbluebutton/api/{call_name}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
async def bbb_call(
    call_name: str, request: Request, settings: SettingsDep, ctx: ContextDep, container: ContainerDep
) -> Response:
    # Metric dimensions stay bounded: an unknown call name is `unknown`, an unknown messageKey `otherError`.
    dimension = bounded(call_name, CALLS)
    response, outcome = await _answer(call_name, request, settings, ctx, container)
    if outcome == ChecksumError.message_key:
        emit("ChecksumRejected", Call=dimension)
    emit("ApiCalls", Call=dimension, Outcome=api_outcome(outcome))
    return response


async def _answer(
    call_name: str, request: Request, settings: Settings, ctx: RequestContext, container: Container
) -> tuple[Response, str]:
    """The answer and its outcome: SUCCESS, the messageKey of the BBB error answered, or `error` (unexpected)."""
    call = CALLS.get(call_name)
    if call is None or request.method not in call.methods:
        return error_response(UnsupportedRequestError()), UnsupportedRequestError.message_key
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and body and call.content_types and content_type not in call.content_types:
        return error_response(UnsupportedContentTypeError()), UnsupportedContentTypeError.message_key
    if call_name == "getMeetings" and settings.get_meetings_api_disabled:
        return xml_response(bbb_xml.no_meetings()), SUCCESS  # stand-in, no checksum (Scalelite)
    if call.recordings and settings.recording_disabled:
        return _recordings_disabled(call_name), SUCCESS
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    try:
        params = await _read_params(request, raw_query, body, content_type)
        checksum.verify(
            call_name,
            raw_query,
            ctx.secrets,
            settings.checksum_algorithms,
            checksum=P.first(params, "checksum"),
        )
        if call.meeting_id:
            _check_meeting_id(params)
        logger.append_keys(bbb_call=call_name, meeting_id=P.first(params, "meetingID"))
        upload = await _file_part(request, body) if call_name == "putRecordingTextTrack" and body else None
        result = call.run(
            container,
            BBBRequest(ctx=ctx, params=params, body=body, xml_body=content_type in XML_TYPES, file=upload),
        )
    except BBBError as exc:
        return error_response(exc), exc.message_key
    except Exception:
        logger.exception("unhandled error in BBB call", bbb_call=call_name)
        return error_response(InternalError("An internal error occurred.")), ERROR
    if isinstance(result, Redirect):
        return redirect_response(result.location), SUCCESS
    if isinstance(result, Json):
        json_response = Response(
            content=result.body, media_type="application/json", headers={"cache-control": "no-cache"}
        )
        return json_response, SUCCESS
    return xml_response(result), SUCCESS


@router.api_route("/bigbluebutton/api/{call_name:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
async def unknown_nested(call_name: str) -> Response:
    return error_response(UnsupportedRequestError())
