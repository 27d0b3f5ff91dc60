"""The local edge: CloudFront in front of the gateway and the recordings bucket, on `$SCALELITE_PORT`.

The behaviours come from template.yaml's `Distribution` (path patterns with CloudFront's `*`/`?`, first match
wins, the default behaviour last); a behaviour's viewer-request CloudFront Function runs as the very JavaScript
the distribution runs (`cloudfront.NodeFunctions`); a response the function returns is answered at once;
otherwise the request goes to the behaviour's origin: the API (the gateway, forwarded over loopback HTTP with
the request-target byte for byte) or an S3 bucket (moto, read with boto3 as origin access control would: a
missing key is S3's 403). The distribution's custom error responses (403 → 404 with the Recording Not Found
page) and response headers policy (HSTS, nosniff) are applied. Not emulated: caching and invalidations, WAF,
compression, TLS and the HTTP → HTTPS redirect, geo restrictions, signed URLs."""

from __future__ import annotations

import base64
import contextlib
import email.utils
import http.client
import re
import sys
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from scalelite_local.cloudfront import FUNCTIONS, FunctionError, NodeFunctions
from scalelite_local.gateway import RefusingHandler
from scalelite_local.server import MalformedRequest, ThreadedServer
from scalelite_local.template import ROOT, Template

PLACEHOLDER = "__PLAYBACK_COOKIE_SECRET__"
ORIGIN_TIMEOUT = 35.0  # seconds; the API origin's OriginReadTimeout is 30, the gateway answers by then
CHUNK = 64 * 1024
MAX_ERROR_BODY = 1024 * 1024  # an origin error body kept in case its custom error page cannot be fetched
DISTRIBUTION_ID = "ELOCALEDGE"
# Never forwarded to an origin: hop-by-hop, or re-framed here (the body is sent with its own Content-Length).
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "expect",
}
# Headers S3 answers that CloudFront passes on to the viewer.
S3_HEADERS = {
    "accept-ranges",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-length",
    "content-range",
    "content-type",
    "etag",
    "expires",
    "last-modified",
}
# CloudFront's managed Managed-SecurityHeadersPolicy, should a behaviour use it instead of the template's own.
MANAGED_SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'
)


class EdgeConfigError(Exception):
    """The template's distribution is something the local edge cannot emulate."""


# ------------------------------------------------------------------------------------------------ distribution
def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A CloudFront path pattern as a regex: `*` is any run of characters (also `/`), `?` exactly one,
    everything else literal and case-sensitive; `images/*` and `/images/*` are the same pattern."""
    text = pattern if pattern.startswith("/") else "/" + pattern
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text), re.DOTALL)


@dataclass(frozen=True)
class HeadersPolicy:
    """A response headers policy: (name, value, override) to add, names to remove."""

    headers: tuple[tuple[str, str, bool], ...] = ()
    remove: tuple[str, ...] = ()

    def apply(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = [(n, v) for n, v in headers if n.lower() not in self.remove]
        for name, value, override in self.headers:
            present = any(n.lower() == name for n, _ in out)
            if present and not override:
                continue
            out = [(n, v) for n, v in out if n.lower() != name] + [(name, value)]
        return out


@dataclass(frozen=True)
class Behaviour:
    path_pattern: str | None  # None: the default behaviour
    origin: str  # TargetOriginId
    methods: frozenset[str]
    function: Path | None = None  # the viewer-request CloudFront Function's file
    headers_policy: HeadersPolicy = field(default_factory=HeadersPolicy)

    def matches(self, path: str) -> bool:
        return self.path_pattern is None or pattern_regex(self.path_pattern).fullmatch(path) is not None


@dataclass(frozen=True)
class Origin:
    id: str
    bucket: str | None = None  # the local bucket name of an S3 origin; None: a custom origin (the API)


@dataclass(frozen=True)
class ErrorResponse:
    error_code: int
    response_code: int | None = None
    page_path: str | None = None


@dataclass(frozen=True)
class Distribution:
    behaviours: tuple[Behaviour, ...]  # CacheBehaviors in order, then DefaultCacheBehavior
    origins: Mapping[str, Origin]
    error_responses: Mapping[int, ErrorResponse]

    def behaviour(self, path: str) -> Behaviour:
        return next(b for b in self.behaviours if b.matches(path))


def distribution(template: Template, functions_dir: Path = FUNCTIONS) -> Distribution:
    """The `AWS::CloudFront::Distribution` of the template (exactly one) as the local edge runs it."""
    found = template.of_type("AWS::CloudFront::Distribution")
    if len(found) != 1:
        raise EdgeConfigError(f"the template has {len(found)} CloudFront distributions, the local edge needs one")
    config = next(iter(found.values())).get("DistributionConfig") or {}
    origins: dict[str, Origin] = {}
    for origin in config.get("Origins") or []:
        bucket = _bucket_of(origin.get("DomainName"))
        if bucket is None and ("S3OriginConfig" in origin or "OriginAccessControlId" in origin):
            raise EdgeConfigError(f"origin {origin.get('Id')}: its bucket is not a resource of the template")
        origins[str(origin["Id"])] = Origin(str(origin["Id"]), template.local_bucket_name(bucket) if bucket else None)
    files: dict[str, Path] = {}  # function logical id → its file, looked up once
    behaviours = [
        _behaviour(template, b, b.get("PathPattern"), functions_dir, files) for b in config.get("CacheBehaviors") or []
    ]
    default = config.get("DefaultCacheBehavior")
    if not default:
        raise EdgeConfigError("the distribution has no DefaultCacheBehavior")
    behaviours.append(_behaviour(template, default, None, functions_dir, files))
    for b in behaviours:
        if b.origin not in origins:
            raise EdgeConfigError(f"behaviour {b.path_pattern or 'default'}: unknown origin {b.origin}")
    errors = {}
    for rule in config.get("CustomErrorResponses") or []:
        code = int(rule["ErrorCode"])
        response = rule.get("ResponseCode")
        errors[code] = ErrorResponse(
            code, int(response) if response not in (None, "") else None, rule.get("ResponsePagePath")
        )
    return Distribution(tuple(behaviours), origins, errors)


def _bucket_of(domain: Any) -> str | None:
    """`RecordingsBucket` of `!GetAtt RecordingsBucket.RegionalDomainName` (or `.DomainName`)."""
    if isinstance(domain, dict) and isinstance(domain.get("Fn::GetAtt"), list) and len(domain["Fn::GetAtt"]) == 2:
        name, attribute = domain["Fn::GetAtt"]
        if attribute in ("RegionalDomainName", "DomainName"):
            return str(name)
    return None


def _target(value: Any) -> str | None:
    """The logical id behind `!Ref X` or `!GetAtt X.<attribute>`."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        getatt = value.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt:
            return str(getatt[0])
    return None


def _behaviour(
    template: Template, props: Mapping[str, Any], pattern: Any, functions_dir: Path, files: dict[str, Path]
) -> Behaviour:
    name = pattern or "default"
    function = None
    for association in props.get("FunctionAssociations") or []:
        if association.get("EventType") != "viewer-request":
            raise EdgeConfigError(f"behaviour {name}: only viewer-request functions are emulated")
        logical_id = _target(association.get("FunctionARN"))
        if logical_id is None or logical_id not in template.of_type("AWS::CloudFront::Function"):
            raise EdgeConfigError(f"behaviour {name}: FunctionARN is not a CloudFront Function of the template")
        if logical_id not in files:
            files[logical_id] = function_file(template, logical_id, functions_dir)
        function = files[logical_id]
    if props.get("LambdaFunctionAssociations"):
        raise EdgeConfigError(f"behaviour {name}: Lambda@Edge is not emulated")
    return Behaviour(
        path_pattern=str(pattern) if pattern else None,
        origin=str(props["TargetOriginId"]),
        methods=frozenset(str(m) for m in props.get("AllowedMethods") or ["GET", "HEAD"]),
        function=function,
        headers_policy=headers_policy(template, props.get("ResponseHeadersPolicyId")),
    )


def function_file(template: Template, logical_id: str, functions_dir: Path = FUNCTIONS) -> Path:
    """The file in cloudfront/functions/ an `AWS::CloudFront::Function` is made of: the one its FunctionCode
    equals (placeholder for the secret reference), else the one its logical id names (`PlaybackFunction` →
    playback.js; a FunctionCode that differs from that file is reported)."""
    props = template.of_type("AWS::CloudFront::Function")[logical_id]
    code = _flatten(props.get("FunctionCode"))
    files = sorted(functions_dir.glob("*.js"))
    for path in files:
        if code is not None and path.read_text() == code:
            return path
    named = sorted((p for p in files if p.stem.lower() in logical_id.lower()), key=lambda p: -len(p.stem))
    if not named:
        raise EdgeConfigError(f"{logical_id}: no file in {functions_dir} has its code or its name")
    if code is not None:
        print(
            f"scalelite-local: warning: {logical_id}'s FunctionCode differs from {named[0].relative_to(ROOT)}; "
            "the edge runs the file (regenerate the template: scripts/cloudfront_functions.py)",
            file=sys.stderr,
        )
    return named[0]


_RESOLVE = re.compile(r"\{\{resolve:secretsmanager:.*?\}\}", re.DOTALL)


def _flatten(code: Any) -> str | None:
    """FunctionCode as text, with the secret's dynamic reference (or any other non-literal part) as the
    placeholder the file has; None when its shape is not understood."""
    if isinstance(code, str):
        return _RESOLVE.sub(PLACEHOLDER, code)
    if not isinstance(code, dict) or len(code) != 1:
        return None
    if "Fn::Join" in code and isinstance(code["Fn::Join"], list) and len(code["Fn::Join"]) == 2:
        separator, parts = code["Fn::Join"]
        pieces = [_flatten(p) for p in parts]
        return _RESOLVE.sub(PLACEHOLDER, str(separator).join(PLACEHOLDER if p is None else p for p in pieces))
    if "Fn::Sub" in code:
        text = code["Fn::Sub"][0] if isinstance(code["Fn::Sub"], list) else code["Fn::Sub"]
        if isinstance(text, str):
            return _RESOLVE.sub(PLACEHOLDER, text).replace("${!", "${")
    return None


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def headers_policy(template: Template, ref: Any) -> HeadersPolicy:
    """The response headers policy a behaviour names: one of the template (security and custom headers,
    removals) or the managed SecurityHeadersPolicy; none → no headers."""
    if ref is None:
        return HeadersPolicy()
    if ref == MANAGED_SECURITY_HEADERS:
        return HeadersPolicy(
            (
                ("strict-transport-security", "max-age=31536000", False),
                ("x-content-type-options", "nosniff", True),
                ("x-frame-options", "SAMEORIGIN", False),
                ("referrer-policy", "strict-origin-when-cross-origin", False),
                ("x-xss-protection", "1; mode=block", False),
            )
        )
    logical_id = _target(ref)
    policies = template.of_type("AWS::CloudFront::ResponseHeadersPolicy")
    if logical_id not in policies:
        raise EdgeConfigError(f"response headers policy {ref!r} is neither managed nor in the template")
    config = policies[logical_id].get("ResponseHeadersPolicyConfig") or {}
    security = config.get("SecurityHeadersConfig") or {}
    headers: list[tuple[str, str, bool]] = []
    if hsts := security.get("StrictTransportSecurity"):
        value = f"max-age={int(hsts['AccessControlMaxAgeSec'])}"
        value += "; includeSubDomains" if _bool(hsts.get("IncludeSubdomains")) else ""
        value += "; preload" if _bool(hsts.get("Preload")) else ""
        headers.append(("strict-transport-security", value, _bool(hsts.get("Override"))))
    if (nosniff := security.get("ContentTypeOptions")) is not None:
        headers.append(("x-content-type-options", "nosniff", _bool(nosniff.get("Override"))))
    if frame := security.get("FrameOptions"):
        headers.append(("x-frame-options", str(frame["FrameOption"]), _bool(frame.get("Override"))))
    if referrer := security.get("ReferrerPolicy"):
        headers.append(("referrer-policy", str(referrer["ReferrerPolicy"]), _bool(referrer.get("Override"))))
    if csp := security.get("ContentSecurityPolicy"):
        headers.append(("content-security-policy", str(csp["ContentSecurityPolicy"]), _bool(csp.get("Override"))))
    if xss := security.get("XSSProtection"):
        value = "1" if _bool(xss.get("Protection")) else "0"
        value += "; mode=block" if _bool(xss.get("ModeBlock")) else ""
        value += f"; report={xss['ReportUri']}" if xss.get("ReportUri") else ""
        headers.append(("x-xss-protection", value, _bool(xss.get("Override"))))
    for item in (config.get("CustomHeadersConfig") or {}).get("Items") or []:
        headers.append((str(item["Header"]).lower(), str(item["Value"]), _bool(item.get("Override"))))
    remove = tuple(str(i["Header"]).lower() for i in (config.get("RemoveHeadersConfig") or {}).get("Items") or [])
    return HeadersPolicy(tuple(headers), remove)


# ------------------------------------------------------------------------------------------ CloudFront events
@dataclass(frozen=True)
class ViewerRequest:
    method: str
    path: str  # the raw path, still percent-encoded
    query: str | None  # the raw query string; None when the target had no "?"
    headers: Sequence[tuple[str, str]]  # as received (names as the client spelled them, duplicates kept)
    body: bytes = b""
    client_ip: str = "127.0.0.1"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def _add(entries: dict[str, Any], name: str, value: str) -> None:
    """CloudFront's shape: {"value": first} plus "multiValue" (all of them) once a name repeats."""
    entry = entries.get(name)
    if entry is None:
        entries[name] = {"value": value}
    else:
        entry.setdefault("multiValue", [{"value": entry["value"]}]).append({"value": value})


def _values(entry: Any) -> list[str]:
    if not isinstance(entry, dict):
        raise ValueError(f"not a CloudFront value: {entry!r}")
    if isinstance(entry.get("multiValue"), list):
        return [str(v["value"]) for v in entry["multiValue"]]
    return [str(entry["value"])]


def parse_querystring(raw: str) -> dict[str, Any]:
    """The viewer's query string in CloudFront's shape: names and values as sent (still percent-encoded)."""
    out: dict[str, Any] = {}
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            _add(out, name, value)
    return out


def parse_cookies(headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in headers:
        if name.lower() == "cookie":
            for part in value.split(";"):
                if part.strip():
                    cookie, _, cookie_value = part.strip().partition("=")
                    _add(out, cookie.strip(), cookie_value.strip())
    return out


def viewer_event(request: ViewerRequest, domain: str) -> dict[str, Any]:
    """The viewer-request event CloudFront passes to a function (cloudfront-js-2.0)."""
    headers: dict[str, Any] = {}
    for name, value in request.headers:
        if name.lower() != "cookie":  # cookies have their own object
            _add(headers, name.lower(), value)
    return {
        "version": "1.0",
        "context": {
            "distributionDomainName": domain,
            "distributionId": DISTRIBUTION_ID,
            "eventType": "viewer-request",
            "requestId": request.request_id,
        },
        "viewer": {"ip": request.client_ip},
        "request": {
            "method": request.method,
            "uri": request.path,
            "querystring": parse_querystring(request.query or ""),
            "headers": headers,
            "cookies": parse_cookies(request.headers),
        },
    }


@dataclass(frozen=True)
class OriginRequest:
    method: str
    uri: str
    query: str | None
    headers: Sequence[tuple[str, str]]  # the Cookie header included
    body: bytes = b""

    @property
    def target(self) -> str:
        return self.uri + (f"?{self.query}" if self.query is not None else "")


def apply_request(request: ViewerRequest, event: Mapping[str, Any], result: Any) -> OriginRequest:
    """The request a function returned, as CloudFront forwards it: what the function left alone stays exactly
    as the viewer sent it (header spelling and order, the raw query string); what it changed is rebuilt."""
    if not isinstance(result, dict):
        raise ValueError("the function returned neither a request nor a response")
    sent = event["request"]
    uri = result.get("uri", sent["uri"])
    if not isinstance(uri, str) or not uri.startswith("/"):
        raise ValueError(f"invalid uri {uri!r}")
    querystring = result.get("querystring", sent["querystring"])
    if isinstance(querystring, str):  # allowed by cloudfront-js-2.0
        query: str | None = querystring.removeprefix("?") or None
    elif querystring == sent["querystring"]:
        query = request.query
    elif isinstance(querystring, dict):
        query = "&".join(f"{k}={v}" if v != "" else k for k, entry in querystring.items() for v in _values(entry))
        query = query or None
    else:
        raise ValueError("invalid querystring")
    new = result.get("headers", sent["headers"])
    if not isinstance(new, dict):
        raise ValueError("invalid headers")
    headers: list[tuple[str, str]] = []
    rebuilt: set[str] = set()
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie" or key not in new:
            continue  # cookies below; a header the function deleted is dropped
        if new[key] == sent["headers"].get(key):
            headers.append((name, value))
        elif key not in rebuilt:
            headers.extend((key, v) for v in _values(new[key]))
            rebuilt.add(key)
    for key, entry in new.items():
        if key.lower() not in sent["headers"]:
            headers.extend((key.lower(), v) for v in _values(entry))
    cookies = result.get("cookies", sent["cookies"])
    if cookies == sent["cookies"]:
        headers.extend((n, v) for n, v in request.headers if n.lower() == "cookie")
    elif isinstance(cookies, dict) and cookies:
        headers.append(("cookie", "; ".join(f"{n}={v}" for n, entry in cookies.items() for v in _values(entry))))
    return OriginRequest(request.method, uri, query, headers, request.body)


# ------------------------------------------------------------------------------------------------ the replies
@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    chunks: Iterable[bytes] = ()
    reason: str | None = None
    close: Callable[[], None] = lambda: None

    @classmethod
    def of(cls, status: int, content_type: str, body: bytes, reason: str | None = None) -> Reply:
        headers = [("content-type", content_type), ("content-length", str(len(body)))]
        return cls(status, headers, [body], reason)

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name), None)

    def read(self, limit: int) -> bytes:
        data = b""
        for chunk in self.chunks:
            data += chunk
            if len(data) > limit:
                break
        self.close()
        return data


def _cloudfront_error(status: int, title: str, detail: str) -> Reply:
    """An error CloudFront answers itself (its small HTML page)."""
    body = (
        f'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n<HTML><HEAD><TITLE>{title}</TITLE></HEAD>'
        f"<BODY><H1>{status} ERROR</H1><H2>{title}</H2>{detail}</BODY></HTML>\n"
    ).encode()
    reply = Reply.of(status, "text/html", body)
    reply.headers.append(("x-cache", "Error from cloudfront"))
    return reply


def function_response(result: Mapping[str, Any]) -> Reply:
    """A response a viewer-request function returned (statusCode, headers, cookies, body)."""
    status = int(result["statusCode"])
    if not 200 <= status <= 599:
        raise ValueError(f"statusCode {status}")
    headers = [(str(k).lower(), v) for k, entry in (result.get("headers") or {}).items() for v in _values(entry)]
    for name, entry in (result.get("cookies") or {}).items():
        values = entry.get("multiValue") if isinstance(entry.get("multiValue"), list) else [entry]
        for value in values:
            attributes = value.get("attributes") or ""
            headers.append(("set-cookie", f"{name}={value['value']}" + (f"; {attributes}" if attributes else "")))
    body = result.get("body")
    if isinstance(body, dict):
        data = str(body.get("data") or "")
        raw = base64.b64decode(data) if body.get("encoding") == "base64" else data.encode()
    else:
        raw = str(body or "").encode()
    headers = [(n, v) for n, v in headers if n != "content-length"] + [("content-length", str(len(raw)))]
    headers.append(("x-cache", "FunctionGeneratedResponse from cloudfront"))
    return Reply(status, headers, [raw], result.get("statusDescription"))


# --------------------------------------------------------------------------------------------------- the edge
class _RawConnection(http.client.HTTPConnection):
    """Sends the request-target as the viewer sent it: http.client would refuse non-ASCII bytes in it."""

    def _encode_request(self, request: str) -> bytes:
        return request.encode("latin-1")


class Edge:
    """CloudFront's request handling, independent of HTTP (the server below feeds it)."""

    def __init__(
        self,
        distribution: Distribution,
        *,
        api: tuple[str, int],
        s3: Any,
        functions: NodeFunctions | None,
        cookie_secret: str,
        domain: str = "localhost",
    ) -> None:
        self.distribution = distribution
        self.api = api
        self.s3 = s3
        self.functions = functions
        self.substitutions = {PLACEHOLDER: cookie_secret}
        self.domain = domain

    def handle(self, request: ViewerRequest) -> Reply:
        behaviour = self.distribution.behaviour(request.path)
        reply = self._handle(behaviour, request)
        reply.headers = behaviour.headers_policy.apply(reply.headers)
        reply.headers.append(("x-amz-cf-id", request.request_id))
        return reply

    def _handle(self, behaviour: Behaviour, request: ViewerRequest) -> Reply:
        if request.method not in behaviour.methods:
            return _cloudfront_error(
                403,
                "The request could not be satisfied.",
                "This distribution is not configured to allow the HTTP request method that was used for this request.",
            )
        forward = OriginRequest(request.method, request.path, request.query, request.headers, request.body)
        if behaviour.function is not None:
            event = viewer_event(request, self.domain)
            try:
                if self.functions is None:
                    raise FunctionError("no Node bridge")
                result = self.functions.call(behaviour.function, event, self.substitutions)
                if isinstance(result, dict) and "statusCode" in result:
                    return function_response(result)
                forward = apply_request(request, event, result)
            except FunctionError as exc:  # CloudFront: FunctionExecutionError
                print(f"scalelite-local: edge: {behaviour.function.name} failed: {exc}", file=sys.stderr)
                return _cloudfront_error(503, "The CloudFront function tried to access a resource.", str(exc))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:  # CloudFront: FunctionValidationError
                print(f"scalelite-local: edge: {behaviour.function.name} returned: {exc}", file=sys.stderr)
                return _cloudfront_error(502, "The CloudFront function returned an invalid value.", str(exc))
        reply = self.fetch(behaviour, forward, request)
        rule = self.distribution.error_responses.get(reply.status)
        return reply if rule is None else self._custom_error(rule, reply, request)

    def fetch(self, behaviour: Behaviour, forward: OriginRequest, request: ViewerRequest) -> Reply:
        origin = self.distribution.origins[behaviour.origin]
        if origin.bucket is not None:
            return self._s3(origin.bucket, forward)
        return self._api(forward, request)

    def _custom_error(self, rule: ErrorResponse, reply: Reply, request: ViewerRequest) -> Reply:
        status = rule.response_code or reply.status
        if rule.page_path is None:
            reply.status = status
            return reply
        original = reply.read(MAX_ERROR_BODY)
        page_request = OriginRequest("GET", rule.page_path, None, [("user-agent", "Amazon CloudFront")])
        page = self.fetch(self.distribution.behaviour(rule.page_path), page_request, request)
        if not 200 <= page.status < 300:
            page.close()
            print(f"scalelite-local: edge: error page {rule.page_path} answered {page.status}", file=sys.stderr)
            reply.chunks, reply.close = [original], lambda: None
            return reply
        keep = {"content-type", "content-length", "content-language", "content-encoding", "last-modified", "etag"}
        headers = [(n, v) for n, v in page.headers if n.lower() in keep]
        return Reply(status, headers + [("x-cache", "Error from cloudfront")], page.chunks, close=page.close)

    # -------------------------------------------------------------------------------------------- the API
    def _api(self, forward: OriginRequest, request: ViewerRequest) -> Reply:
        """Forwards to the gateway as the default behaviour's origin request policy does
        (Managed-AllViewerExceptHostHeader): every viewer header but Host, the query string as is."""
        host, port = self.api
        headers = [(n, v) for n, v in forward.headers if n.lower() not in HOP_BY_HOP and n.lower() != "host"]
        forwarded_for = ", ".join([v for n, v in headers if n.lower() == "x-forwarded-for"] + [request.client_ip])
        headers = [(n, v) for n, v in headers if n.lower() != "x-forwarded-for"]
        headers += [
            ("x-forwarded-for", forwarded_for),
            ("via", "2.0 local.cloudfront.net (CloudFront)"),
            ("x-amz-cf-id", request.request_id),
        ]
        conn = _RawConnection(host, port, timeout=ORIGIN_TIMEOUT)
        try:
            conn.putrequest(forward.method, forward.target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", f"{host}:{port}")
            for name, value in headers:
                conn.putheader(name, value)
            if forward.body or forward.method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(forward.body)))
            conn.endheaders(forward.body or None)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            print(f"scalelite-local: edge: the API origin failed: {exc}", file=sys.stderr)
            return _cloudfront_error(502, "The request could not be satisfied.", "CloudFront cannot reach the origin.")
        out = [(n, v) for n, v in response.getheaders() if n.lower() not in HOP_BY_HOP - {"content-length"}]
        out = [(n, v) for n, v in out if n.lower() not in ("server", "date")]  # the edge's own are sent
        out.append(("x-cache", "Miss from cloudfront"))

        def chunks() -> Iterator[bytes]:
            while data := response.read(CHUNK):
                yield data

        return Reply(response.status, out, chunks(), response.reason, close=conn.close)

    # ------------------------------------------------------------------------------------------------- S3
    def _s3(self, bucket: str, forward: OriginRequest) -> Reply:
        """GET/HEAD of the object, as S3 answers CloudFront's signed (origin access control) request: a missing
        key is 403 AccessDenied, since the bucket policy grants s3:GetObject and not s3:ListBucket."""
        key = unquote(forward.uri[1:])
        if not key or forward.method not in ("GET", "HEAD"):
            return Reply.of(403, "application/xml", ACCESS_DENIED)
        viewer = {n.lower(): v for n, v in forward.headers}
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        for header, param in (("range", "Range"), ("if-match", "IfMatch"), ("if-none-match", "IfNoneMatch")):
            if header in viewer:
                kwargs[param] = viewer[header]
        for header, param in (("if-modified-since", "IfModifiedSince"), ("if-unmodified-since", "IfUnmodifiedSince")):
            with contextlib.suppress(TypeError, ValueError):  # an unparsable date is ignored, as S3 does
                if header in viewer:
                    kwargs[param] = email.utils.parsedate_to_datetime(viewer[header])
        try:
            answer = (self.s3.head_object if forward.method == "HEAD" else self.s3.get_object)(**kwargs)
        except ClientError as exc:
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if status == 404 or code in ("NoSuchKey", "NoSuchBucket", "NotFound"):
                return Reply.of(403, "application/xml", ACCESS_DENIED)
            if status in (304, 412):
                kept = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                return Reply(status, [(n, v) for n, v in kept.items() if n in ("etag", "last-modified")])
            body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code></Error>'.encode()
            return Reply.of(status, "application/xml", body)
        except BotoCoreError as exc:
            print(f"scalelite-local: edge: the bucket origin failed: {exc}", file=sys.stderr)
            return _cloudfront_error(502, "The request could not be satisfied.", "CloudFront cannot reach the origin.")
        raw = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        headers = [(n, str(v)) for n, v in raw.items() if n in S3_HEADERS or n.startswith("x-amz-meta-")]
        if "accept-ranges" not in raw:
            headers.append(("accept-ranges", "bytes"))
        headers.append(("x-cache", "Miss from cloudfront"))
        status = 206 if "content-range" in raw else 200
        body = answer.get("Body")
        if body is None:
            return Reply(status, headers)
        return Reply(status, headers, body.iter_chunks(CHUNK), close=body.close)


# ------------------------------------------------------------------------------------------------- the server
class EdgeHandler(RefusingHandler):
    """Malformed HTTP is refused as the gateway refuses it (a 400 with a small JSON body): CloudFront's own 400
    is an HTML page, but nothing depends on its body."""

    server: EdgeServer

    def _serve(self) -> None:
        try:
            self._check_headers()
            body = self.read_body()
        except MalformedRequest as exc:
            self.send_error(exc.status)
            return
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form: keep path and query, still undecoded
            parts = urlsplit(target)
            target = (parts.path or "/") + (f"?{parts.query}" if "?" in target else "")
        path, mark, query = target.partition("?")
        request = ViewerRequest(
            self.command, path or "/", query if mark else None, list(self.headers.items()), body, self.client_address[0]
        )
        try:
            reply = self.server.edge.handle(request)
        except Exception:  # a bug here must not look like a dropped connection
            print(f"scalelite-local: edge failed on {self.command} {path}:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            reply = _cloudfront_error(502, "The request could not be satisfied.", "The local edge failed.")
        try:
            self._send(reply)
        finally:
            reply.close()

    def _send(self, reply: Reply) -> None:
        headers = list(reply.headers)
        chunks: Iterable[bytes] = reply.chunks
        length = reply.header("content-length")
        if length is None and reply.status not in (204, 304):
            data = b"".join(chunks)
            chunks = [data]
            length = str(len(data))
            headers.append(("content-length", length))
        self.send_response(reply.status, reply.reason)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        sent = 0
        for chunk in chunks:
            self.wfile.write(chunk)
            sent += len(chunk)
        if length is not None and sent != int(length):
            self.close_connection = True  # the origin's body ended early: the viewer must see a cut connection

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve


class EdgeServer(ThreadedServer):
    def __init__(self, address: tuple[str, int], edge: Edge) -> None:
        self.edge = edge
        super().__init__(address, EdgeHandler)
