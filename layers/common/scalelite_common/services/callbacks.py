"""Callbacks to LMSs, delivered from the callback queue by the CallbackFunction: recording-ready (Scalelite's
`RecordingReadyNotifierService`, BBB's `post_publish_recording_ready_callback`) and analytics (Scalelite's
`AnalyticsCallbackEventHandler`; queued by services/analytics.py).

A recording-ready message (`aws/sqs.py`: `{"kind": "recording_ready", "url", "tenant_id", "meeting_id",
"record_id"}`) is POSTed to its `url` as `signed_parameters=<JWT>`, the JWT's payload `{"meeting_id", "record_id"}`
(no exp) signed with each load balancer secret in turn (with multitenancy: each secret of the meeting's tenant):
HS256, or HS512 when the accepted checksums include SHA512 but not SHA256. An analytics message (`{"kind":
"analytics", "url", "tenant_id", "meeting_id", "payload"}`) is POSTed to its `url` as the JSON `payload` with
`Authorization: Bearer <JWT>`, HS512 over `{"exp": now + 24 h}` (fresh for each attempt), signed with the same
secrets in turn. For both, a 2xx answer delivers it; 404 or 410 (the LMS does not know the meeting or deleted it)
gives up; any other status tries the next secret. When no secret got a 2xx, or the LMS could not be reached, the
delivery is retried: the message comes back after the next of CALLBACK_RETRY_DELAYS (its visibility timeout), and
after the queue's maxReceiveCount it goes to the dead-letter queue. Unlike Scalelite (one attempt, never retried),
an LMS that is down for a while still gets it.

Neither the JWT nor a secret is ever logged, nor the URL's query (LMS callback URLs often carry a token).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt

from scalelite_common.concurrency import fan_out
from scalelite_common.config import DEFAULT_TENANT, Settings
from scalelite_common.observability import emit, logger, traced
from scalelite_common.services.ports import HttpPoster, TenantRepository

MAX_RECEIVES = 6  # CallbackQueue's maxReceiveCount (template.yaml): the receive after which SQS dead-letters

GIVE_UP_STATUSES = frozenset({404, 410})
ANALYTICS_TOKEN_LIFETIME = 86_400  # seconds: the exp BBB gives its own analytics token
ANALYTICS_USER_AGENT = "BigBlueButton Analytics Callback"  # what BBB and Scalelite send
MAX_PARALLEL = 10  # one SQS batch at most
DEADLINE_MARGIN = 3.0  # seconds kept back from the invocation's time for changing visibilities and answering


class Outcome(StrEnum):
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"  # never going to work (404/410, not a callback we know): dropped, not retried
    RETRY = "retry"  # try again later


@dataclass(frozen=True)
class QueuedMessage:
    """One message of a queue batch, as the handler read it from the SQS event."""

    message_id: str
    body: str
    receipt_handle: str
    receive_count: int  # ApproximateReceiveCount: 1 on the first delivery
    queue_arn: str


class RetryQueue(Protocol):
    """The queue a batch came from (SQS: `aws.sqs.SqsRetryQueue`). A local port: only this service needs it."""

    def retry_later(self, queue_arn: str, receipt_handle: str, delay: int) -> None:
        """Make the received message visible again in `delay` seconds."""


class CallbackDelivery:
    def __init__(
        self,
        poster: HttpPoster,
        settings: Settings,
        queue: RetryQueue | None = None,
        tenants: TenantRepository | None = None,  # multitenancy: callbacks are signed with their tenant's secrets
    ) -> None:
        self.poster = poster
        self.settings = settings
        self.queue = queue
        self.tenants = tenants

    @property
    def algorithm(self) -> str:
        algorithms = self.settings.checksum_algorithms
        return "HS512" if "SHA512" in algorithms and "SHA256" not in algorithms else "HS256"

    def deliver(self, body: str | Mapping[str, Any]) -> Outcome:
        """Deliver one queued message (its JSON body, or the decoded object)."""
        try:
            message = json.loads(body) if isinstance(body, str) else dict(body)
        except ValueError:
            logger.error("callback message is not JSON: dropped")
            return Outcome.GAVE_UP
        kind = message.get("kind") if isinstance(message, dict) else None
        if kind == "recording_ready":
            return self._recording_ready(message)
        if kind == "analytics":
            return self._analytics(message)
        logger.error("unknown callback message: dropped", kind=str(kind)[:64])
        return Outcome.GAVE_UP

    def _recording_ready(self, message: Mapping[str, Any]) -> Outcome:
        url, meeting_id, record_id = (message.get(k) for k in ("url", "meeting_id", "record_id"))
        if not all(isinstance(v, str) and v for v in (url, meeting_id, record_id)):
            logger.error("recording-ready message lacks url, meeting_id or record_id: dropped")
            return Outcome.GAVE_UP
        assert isinstance(url, str) and isinstance(meeting_id, str) and isinstance(record_id, str)
        payload = {"meeting_id": meeting_id, "record_id": record_id}

        def post(secret: str) -> int:
            token = jwt.encode(payload, secret, algorithm=self.algorithm)
            return self.poster.post_form(url, {"signed_parameters": token})

        log: dict[str, object] = {"meeting_id": meeting_id, "record_id": record_id}
        return self._signed_post("recording-ready", url, str(message.get("tenant_id") or ""), log, post)

    def _analytics(self, message: Mapping[str, Any]) -> Outcome:
        """BBB's analytics JSON (with `customer`), POSTed as it came with a fresh HS512 bearer JWT `{exp}`, as
        BBB's post_events_analytics_callback.rb and Scalelite send it."""
        url, meeting_id, payload = (message.get(k) for k in ("url", "meeting_id", "payload"))
        if not (isinstance(url, str) and url and isinstance(meeting_id, str) and isinstance(payload, dict)):
            logger.error("analytics message lacks url, meeting_id or payload: dropped")
            return Outcome.GAVE_UP
        body = json.dumps(payload, ensure_ascii=False).encode()

        def post(secret: str) -> int:
            token = jwt.encode({"exp": int(time.time()) + ANALYTICS_TOKEN_LIFETIME}, secret, algorithm="HS512")
            headers = {"Authorization": f"Bearer {token}", "User-Agent": ANALYTICS_USER_AGENT}
            return self.poster.post_json(url, body, headers)

        log: dict[str, object] = {"meeting_id": meeting_id}
        return self._signed_post("analytics", url, str(message.get("tenant_id") or ""), log, post)

    def _signed_post(
        self, what: str, url: str, tenant_id: str, log: dict[str, object], post: Callable[[str], int]
    ) -> Outcome:
        """`post(secret)` with each secret of the callback's tenant in turn until a 2xx (see the module doc)."""
        where = _where(url)
        log = {**log, "callback": where or "(invalid URL)"}
        if not where:
            logger.error(f"{what} URL is not an http(s) URL: dropped", extra=log)
            return Outcome.GAVE_UP
        secrets = self._secrets(tenant_id)
        if not secrets:
            logger.error(f"no load balancer secret to sign the {what} callback with", extra=log)
            return Outcome.RETRY
        statuses = []
        for secret in secrets:
            try:
                status = post(secret)
            except OSError as exc:
                error = str(exc) or type(exc).__name__
                logger.warning(f"{what} callback failed: no answer", extra={**log, "error": error})
                return Outcome.RETRY
            if 200 <= status < 300:
                logger.info(f"{what} callback delivered", extra={**log, "status": status})
                return Outcome.DELIVERED
            if status in GIVE_UP_STATUSES:
                logger.warning(f"{what} callback refused by the LMS: given up", extra={**log, "status": status})
                return Outcome.GAVE_UP
            statuses.append(status)
        logger.warning(f"{what} callback failed", extra={**log, "statuses": statuses})
        return Outcome.RETRY

    def _secrets(self, tenant_id: str) -> tuple[str, ...]:
        """The secrets a callback is signed with: those of the tenant the meeting was created under (multitenancy),
        else the load balancer's. None for a tenant removed since (the message is retried, then dead-lettered)."""
        if self.tenants is None or not self.settings.multitenancy_enabled or tenant_id in ("", DEFAULT_TENANT):
            return self.settings.accepted_secrets()
        tenant = self.tenants.get_tenant(tenant_id)
        if tenant is None:
            logger.error("the callback's tenant no longer exists", tenant=tenant_id)
            return ()
        return tenant.secrets

    # ------------------------------------------------------------------------------------------- a queue batch
    @traced
    def process(self, messages: Sequence[QueuedMessage], *, time_left: float) -> list[str]:
        """Deliver a batch (concurrently, within `time_left` seconds); the message ids to report as failed. Each
        failed message is made visible again after its retry delay; one still running at the deadline is failed
        too (it may still be delivered: delivery is at least once, as SQS's)."""
        budget = max(1.0, time_left - DEADLINE_MARGIN)
        outcomes = fan_out(list(messages), lambda m: self.deliver(m.body), workers=MAX_PARALLEL, timeout=budget)
        failed = []
        for message, outcome in zip(messages, outcomes, strict=True):
            if outcome is Outcome.DELIVERED:
                emit("CallbacksDelivered")
            if outcome in (Outcome.DELIVERED, Outcome.GAVE_UP):
                continue
            emit("CallbacksFailed")
            if message.receive_count >= MAX_RECEIVES:
                emit("CallbacksDeadLettered")  # SQS moves it to the dead-letter queue instead of a next receive
            if isinstance(outcome, BaseException):
                logger.error("callback delivery crashed", message_id=message.message_id, error=type(outcome).__name__)
            self._retry_later(message)
            failed.append(message.message_id)
        return failed

    def retry_delay(self, receive_count: int) -> int:
        """Seconds until the next attempt after the `receive_count`-th failed: the delays in turn, then the last."""
        delays = self.settings.callback_retry_delays
        return delays[min(max(receive_count, 1), len(delays)) - 1] if delays else 0

    def _retry_later(self, message: QueuedMessage) -> None:
        if self.queue is None:
            return
        delay = self.retry_delay(message.receive_count)
        try:
            self.queue.retry_later(message.queue_arn, message.receipt_handle, delay)
        except Exception as exc:  # the queue's own visibility timeout brings it back instead
            logger.warning("could not set the retry delay", message_id=message.message_id, error=type(exc).__name__)
        else:
            logger.info("callback retried later", message_id=message.message_id, delay=delay)


def _where(url: str) -> str:
    """`scheme://host[:port]/path` of an http(s) URL (what is logged), or "" when `url` is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path}"
