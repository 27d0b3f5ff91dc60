"""The analytics callback relay, inbound half (Scalelite's `AnalyticsCallbackEventHandler`, bbb-api.md §4.3).

At create the LMS's `meta_analytics-callback-url` is kept and BBB gets ours (services/meetings.py). After the
meeting, BBB POSTs its analytics JSON (`{"version", "meeting_id": <external id>, "internal_meeting_id", "data"}`)
to `/bigbluebutton/api/analytics_callback` with `Authorization: Bearer <JWT>`, HS512, signed with that BBB server's
own secret, payload `{exp: now+24h}`. Here the token is verified against every registered server's secret (any one
signs it: the token does not say which server sent it), the meeting's stored URL is found by the payload's
`meeting_id` within the tenant of the host called (Scalelite looks it up by meetingID alone), `customer` is set to
the tenant's name (`scalelite` without multitenancy) and the payload is queued for the CallbackFunction
(services/callbacks.py), which POSTs it to the LMS signed with the tenant's secrets.

The service tells what went wrong: a token that no server signed, or that expired, UNAUTHORIZED; a body over
MAX_BODY TOO_LARGE; a body that is not a JSON object with a `meeting_id` BAD_REQUEST; a queue that refused the
message UNAVAILABLE. The endpoint answers 204 to the REFUSED ones, as Scalelite does to everything (nothing is
relayed; the reason is in the REFUSED_HEADER and the log), and 503 when the queue is unavailable (our fault, which
the API's 5xx alarm sees; BBB logs a non-2xx answer, it does not retry). Nothing to relay (no stored URL) is 204,
as a relay is. Neither the token, a secret nor the URL's query is ever logged.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from scalelite_common.config import Settings
from scalelite_common.observability import logger
from scalelite_common.services.context import RequestContext
from scalelite_common.services.ports import AnalyticsCallback, Notifier, Store

MAX_BODY = 1_000_000  # bytes; the queued message (SQS: at most 1 MiB) adds a small envelope
MAX_TOKEN = 8_192  # characters of the bearer token
MAX_MEETING_ID = 256  # BBB's meetingID limit
LEEWAY = 60  # seconds of clock skew allowed on the token's exp
ALGORITHM = "HS512"  # what BBB's post_events_analytics_callback.rb signs with; nothing else is accepted
DEFAULT_CUSTOMER = "scalelite"  # `customer` without multitenancy, as in Scalelite


# The statuses the endpoint answers.
RELAYED = 204  # queued for the LMS; also what a valid callback with nothing to relay gets
BAD_REQUEST = 400
UNAUTHORIZED = 401
TOO_LARGE = 413
UNAVAILABLE = 503
REFUSED = frozenset({BAD_REQUEST, UNAUTHORIZED, TOO_LARGE})  # answered 204 with the reason in REFUSED_HEADER
REFUSED_HEADER = "x-analytics-refused"


@dataclass(frozen=True)
class Result:
    status: int
    message: str = ""  # for the caller (plain words, no secrets); "" with 204


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive), or None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN:
        return None
    return token


class AnalyticsRelay:
    def __init__(self, store: Store, notifier: Notifier | None, settings: Settings) -> None:
        self.store = store
        self.notifier = notifier
        self.settings = settings

    def relay(self, ctx: RequestContext, authorization: str | None, body: bytes, *, now: float | None = None) -> Result:
        """Verify, find the meeting's analytics URL and queue the payload. `ctx` is the host's resolved tenant (an
        unresolved one is refused by the caller before this, as checksumError)."""
        moment = time.time() if now is None else now
        if len(body) > MAX_BODY:
            return Result(TOO_LARGE, f"The body exceeds {MAX_BODY} bytes")
        token = bearer_token(authorization)
        if token is None:
            logger.warning("analytics callback refused: no bearer token")
            return Result(UNAUTHORIZED, "A bearer token is required")
        problem = self._verify(token)
        if problem:
            logger.warning("analytics callback refused", reason=problem)
            return Result(UNAUTHORIZED, problem)
        payload = _payload(body)
        if payload is None:
            return Result(BAD_REQUEST, "The body must be a JSON object")
        meeting_id = payload.get("meeting_id")
        if not isinstance(meeting_id, str) or not meeting_id or len(meeting_id) > MAX_MEETING_ID:
            return Result(BAD_REQUEST, "The body must name the meeting_id")
        callbacks = self.store.get_callbacks(ctx.tenant_id, meeting_id, now=moment)
        if callbacks is None or not callbacks.analytics_callback_url:
            logger.info("analytics callback: no analytics URL for the meeting", meeting_id=meeting_id)
            return Result(RELAYED)
        payload["customer"] = ctx.tenant_name if self.settings.multitenancy_enabled else DEFAULT_CUSTOMER
        if self.notifier is None:
            logger.warning("analytics callback not relayed: no callback queue", meeting_id=meeting_id)
            return Result(RELAYED)
        message = AnalyticsCallback(
            url=callbacks.analytics_callback_url, tenant_id=ctx.tenant_id, meeting_id=meeting_id, payload=payload
        )
        try:
            self.notifier.analytics(message)
        except ValueError as exc:
            logger.warning("analytics callback too large to queue", meeting_id=meeting_id)
            return Result(TOO_LARGE, str(exc))
        except Exception as exc:
            logger.error("analytics callback could not be queued", meeting_id=meeting_id, error=type(exc).__name__)
            return Result(UNAVAILABLE, "The callback queue is unavailable")
        logger.info("analytics callback queued", meeting_id=meeting_id)
        return Result(RELAYED)

    def _verify(self, token: str) -> str:
        """ "" when a registered server's secret signed `token` (HS512, unexpired within LEEWAY, exp required), else
        why not."""
        try:
            if jwt.get_unverified_header(token).get("alg") != ALGORITHM:
                return f"The token must be signed with {ALGORITHM}"
        except jwt.PyJWTError:
            return "The token is not a JWT"
        expired = False
        secrets = dict.fromkeys(s.secret for s in self.store.list_servers() if s.secret)
        for secret in secrets:
            try:
                with warnings.catch_warnings():  # BBB secrets are the operators' choice, often shorter than RFC 7518's
                    warnings.simplefilter("ignore", InsecureKeyLengthWarning)
                    jwt.decode(
                        token,
                        secret,
                        algorithms=[ALGORITHM],
                        leeway=LEEWAY,
                        options={"require": ["exp"]},
                    )
                return ""
            except jwt.ExpiredSignatureError:
                expired = True  # signed by this server (exp is checked after the signature), but too old
            except jwt.PyJWTError:
                continue
        if expired:
            return "The token has expired"
        return "The token is not signed by a registered BBB server"


def _payload(body: bytes) -> dict[str, Any] | None:
    """BBB's analytics JSON object, or None when the body is not one (never raises)."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return value if isinstance(value, dict) else None
