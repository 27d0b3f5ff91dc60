"""Recording-ready callbacks to LMSs (Scalelite's `RecordingReadyNotifierService`, BBB's
`post_publish_recording_ready_callback`), delivered from the callback queue by the CallbackFunction.

One queued message (`aws/sqs.py`: `{"kind": "recording_ready", "url", "tenant_id", "meeting_id", "record_id"}`) is
POSTed to its `url` as `signed_parameters=<JWT>`, the JWT's payload `{"meeting_id", "record_id"}` (no exp) signed with
each load balancer secret in turn: HS256, or HS512 when the accepted checksums include SHA512 but not SHA256. A 2xx
answer delivers it; 404 or 410 (the LMS does not know the meeting or deleted it) gives up; any other status tries the
next secret. When no secret got a 2xx, or the LMS could not be reached, the delivery is retried: the message comes
back after the next of CALLBACK_RETRY_DELAYS (its visibility timeout), and after the queue's maxReceiveCount it goes
to the dead-letter queue. Unlike Scalelite (one attempt, never retried), an LMS that is down for a while still gets it.

Neither the JWT nor a secret is ever logged, nor the URL's query (LMS callback URLs often carry a token).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt

from scalelite_common.concurrency import fan_out
from scalelite_common.config import Settings
from scalelite_common.observability import logger
from scalelite_common.services.ports import HttpPoster

GIVE_UP_STATUSES = frozenset({404, 410})
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
    def __init__(self, poster: HttpPoster, settings: Settings, queue: RetryQueue | None = None) -> None:
        self.poster = poster
        self.settings = settings
        self.queue = queue

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
        if not isinstance(message, dict) or message.get("kind") != "recording_ready":
            kind = message.get("kind") if isinstance(message, dict) else None
            logger.error("unknown callback message: dropped", kind=str(kind)[:64])
            return Outcome.GAVE_UP
        return self._recording_ready(message)

    def _recording_ready(self, message: Mapping[str, Any]) -> Outcome:
        url, meeting_id, record_id = (message.get(k) for k in ("url", "meeting_id", "record_id"))
        if not all(isinstance(v, str) and v for v in (url, meeting_id, record_id)):
            logger.error("recording-ready message lacks url, meeting_id or record_id: dropped")
            return Outcome.GAVE_UP
        assert isinstance(url, str) and isinstance(meeting_id, str) and isinstance(record_id, str)
        where = _where(url)
        log: dict[str, object] = {
            "meeting_id": meeting_id,
            "record_id": record_id,
            "callback": where or "(invalid URL)",
        }
        if not where:
            logger.error("recording-ready URL is not an http(s) URL: dropped", extra=log)
            return Outcome.GAVE_UP
        secrets = self._secrets(str(message.get("tenant_id") or ""))
        if not secrets:
            logger.error("no load balancer secret to sign the recording-ready callback with", extra=log)
            return Outcome.RETRY
        payload = {"meeting_id": meeting_id, "record_id": record_id}
        statuses = []
        for secret in secrets:
            token = jwt.encode(payload, secret, algorithm=self.algorithm)
            try:
                status = self.poster.post_form(url, {"signed_parameters": token})
            except OSError as exc:
                error = str(exc) or type(exc).__name__
                logger.warning("recording-ready callback failed: no answer", extra={**log, "error": error})
                return Outcome.RETRY
            if 200 <= status < 300:
                logger.info("recording-ready callback delivered", extra={**log, "status": status})
                return Outcome.DELIVERED
            if status in GIVE_UP_STATUSES:
                logger.warning("recording-ready callback refused by the LMS: given up", extra={**log, "status": status})
                return Outcome.GAVE_UP
            statuses.append(status)
        logger.warning("recording-ready callback failed", extra={**log, "statuses": statuses})
        return Outcome.RETRY

    def _secrets(self, tenant_id: str) -> tuple[str, ...]:
        """The secrets a tenant's callbacks are signed with: the load balancer's (one tenant today)."""
        return self.settings.loadbalancer_secrets

    # ------------------------------------------------------------------------------------------- a queue batch
    def process(self, messages: Sequence[QueuedMessage], *, time_left: float) -> list[str]:
        """Deliver a batch (concurrently, within `time_left` seconds); the message ids to report as failed. Each
        failed message is made visible again after its retry delay; one still running at the deadline is failed
        too (it may still be delivered: delivery is at least once, as SQS's)."""
        budget = max(1.0, time_left - DEADLINE_MARGIN)
        outcomes = fan_out(list(messages), lambda m: self.deliver(m.body), workers=MAX_PARALLEL, timeout=budget)
        failed = []
        for message, outcome in zip(messages, outcomes, strict=True):
            if outcome in (Outcome.DELIVERED, Outcome.GAVE_UP):
                continue
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
