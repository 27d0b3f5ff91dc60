"""`/bigbluebutton/api/*`: verb and content-type rules, checksum, then one service call per BBB call.

Before-filter order as in Scalelite: content type, checksum, action. Errors are BBB XML with HTTP 200."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from scalelite_api.responses import error_response, redirect_response, xml_response
from scalelite_common.bbb import checksum, xml
from scalelite_common.bbb import params as P
from scalelite_common.config import DEFAULT_TENANT, Settings, get_settings
from scalelite_common.errors import (
    BBBError,
    ChecksumError,
    InternalError,
    MissingPublishError,
    MissingRecordIDError,
    RecordingNotFoundError,
    UnsupportedContentTypeError,
    UnsupportedRequestError,
)
from scalelite_common.observability import logger, metrics
from scalelite_common.services import wiring
from scalelite_common.services.meetings import CreateRequest, MeetingService, Redirect

router = APIRouter()

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
XML_TYPES = ("application/xml", "text/xml")


@dataclass(frozen=True)
class Call:
    methods: frozenset[str]
    content_types: tuple[str, ...]
    run: Callable[[MeetingService, BBBRequest], bytes | Redirect]


@dataclass
class BBBRequest:
    params: P.Params
    tenant_id: str
    body: bytes
    xml_body: bool


def _create(svc: MeetingService, r: BBBRequest) -> bytes | Redirect:
    return svc.create(CreateRequest(params=r.params, tenant_id=r.tenant_id, xml_body=r.body if r.xml_body else None))


def _record_ids(params: P.Params) -> list[str]:
    ids = [part.strip() for part in (P.first(params, "recordID") or "").split(",") if part.strip()]
    if not ids:
        raise MissingRecordIDError()
    return ids


def _no_recordings(_svc: MeetingService, _r: BBBRequest) -> bytes:
    return xml.success(
        ("recordings", None),
        ("messageKey", "noRecordings"),
        ("message", "There are not recordings for the meetings"),
    )


def _publish_recordings(_svc: MeetingService, r: BBBRequest) -> bytes:
    _record_ids(r.params)
    if not P.first(r.params, "publish"):
        raise MissingPublishError()
    raise RecordingNotFoundError()


def _recording_not_found(_svc: MeetingService, r: BBBRequest) -> bytes:
    _record_ids(r.params)
    raise RecordingNotFoundError()


# Until the recordings work lands the balancer stores no recordings: answer as Scalelite does with none stored.
CALLS: dict[str, Call] = {
    "create": Call(frozenset({"GET", "POST"}), FORM_TYPES + XML_TYPES, _create),
    "join": Call(frozenset({"GET"}), (), lambda svc, r: svc.join(r.params, r.tenant_id)),
    "end": Call(frozenset({"GET", "POST"}), FORM_TYPES, lambda svc, r: svc.end(r.params, r.tenant_id)),
    "isMeetingRunning": Call(
        frozenset({"GET", "POST"}), FORM_TYPES, lambda svc, r: svc.is_meeting_running(r.params, r.tenant_id)
    ),
    "getMeetingInfo": Call(
        frozenset({"GET", "POST"}), FORM_TYPES, lambda svc, r: svc.get_meeting_info(r.params, r.tenant_id)
    ),
    "getMeetings": Call(frozenset({"GET", "POST"}), FORM_TYPES, lambda svc, r: svc.get_meetings(None)),
    "insertDocument": Call(
        frozenset({"POST"}), XML_TYPES, lambda svc, r: svc.insert_document(r.params, r.tenant_id, r.body)
    ),
    "sendChatMessage": Call(
        frozenset({"GET"}), FORM_TYPES, lambda svc, r: svc.send_chat_message(r.params, r.tenant_id)
    ),
    "getRecordings": Call(frozenset({"GET", "POST"}), FORM_TYPES, _no_recordings),
    "publishRecordings": Call(frozenset({"GET"}), FORM_TYPES, _publish_recordings),
    "updateRecordings": Call(frozenset({"GET", "POST"}), FORM_TYPES, _recording_not_found),
    "deleteRecordings": Call(frozenset({"GET"}), FORM_TYPES, _recording_not_found),
}


def index_document(settings: Settings) -> bytes:
    fields: list[tuple[str, Any]] = [("version", "2.0")]
    if settings.build_number:
        fields.append(("build", settings.build_number))
    return xml.success(*fields)


@router.api_route("/bigbluebutton/api", methods=["GET", "POST"], include_in_schema=False)
@router.api_route("/bigbluebutton/api/", methods=["GET", "POST"], include_in_schema=False)
async def index() -> Response:
    return xml_response(index_document(get_settings()))


async def _body_params(request: Request, body: bytes, content_type: str) -> P.Params:
    """The form parameters of a POST body; a body we cannot read carries none (the query alone must then pass)."""
    try:
        if content_type == "application/x-www-form-urlencoded":
            return P.parse(body.decode("utf-8", errors="replace"))
        if content_type == "multipart/form-data":
            form = await request.form()
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


@router.api_route("/bigbluebutton/api/{call_name}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
async def bbb_call(call_name: str, request: Request) -> Response:
    settings = get_settings()
    call = CALLS.get(call_name)
    if call is None or request.method not in call.methods:
        return error_response(UnsupportedRequestError())
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and body and call.content_types and content_type not in call.content_types:
        return error_response(UnsupportedContentTypeError())
    if call_name == "getMeetings" and settings.get_meetings_api_disabled:
        return xml_response(MeetingService.no_meetings())  # stand-in, no checksum (Scalelite)
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    try:
        params = await _read_params(request, raw_query, body, content_type)
        checksum.verify(
            call_name,
            raw_query,
            settings.loadbalancer_secrets,
            settings.checksum_algorithms,
            checksum=P.first(params, "checksum"),
        )
        logger.append_keys(bbb_call=call_name, meeting_id=P.first(params, "meetingID"))
        result = call.run(
            wiring.meeting_service(settings),
            BBBRequest(
                params=params,
                tenant_id=DEFAULT_TENANT,
                body=body,
                xml_body=content_type in XML_TYPES,
            ),
        )
    except BBBError as exc:
        if exc.message_key == "checksumError":
            metrics.add_metric(name="ChecksumRejected", unit="Count", value=1)
        return error_response(exc)
    except Exception:
        logger.exception("unhandled error in BBB call", bbb_call=call_name)
        return error_response(InternalError("An internal error occurred."))
    metrics.add_metric(name=f"Call_{call_name}", unit="Count", value=1)
    if isinstance(result, Redirect):
        return redirect_response(result.location)
    return xml_response(result)


@router.api_route("/bigbluebutton/api/{call_name:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
async def unknown_nested(call_name: str) -> Response:
    return error_response(UnsupportedRequestError())
