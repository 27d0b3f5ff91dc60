"""The one Logger and Tracer of the service (Powertools), its metrics, and the decorator stack every handler uses.

Metrics (docs/observability.md): every metric has a fixed name from `METRICS` and a fixed set of dimensions with
bounded values, never a name built from a value. `emit(name, value, **dimensions)` buffers them (thread-safe: the
poller's workers emit concurrently); the handler decorator flushes once per invocation as CloudWatch EMF, one JSON
line per distinct set of dimension values (all dimensionless metrics of an invocation share one line). With
POWERTOOLS_METRICS_DISABLED=true (tests, benches) the buffer is dropped instead of printed.

Tracer construction imports the X-Ray SDK (~0.3 s); it is built on the first invocation, not at import, so
importing a handler module stays cheap. `traced` puts a service method in its own subsegment, resolving the
tracer on its first call (a disabled tracer makes it a plain call). `from scalelite_common.observability import
tracer` still works."""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Tracer

logger = Logger()

F = TypeVar("F", bound=Callable[..., Any])

NAMESPACE = "ScaleliteServerless"  # unless POWERTOOLS_METRICS_NAMESPACE says otherwise (tests, benches)
COUNT, MILLISECONDS = "Count", "Milliseconds"
# name → (unit, dimensions). The alarms and the dashboard (template.yaml) are built on exactly these names.
METRICS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    # API function
    "ApiCalls": (COUNT, ("Call", "Outcome")),  # Outcome: SUCCESS, a BBB messageKey (API_OUTCOMES) or `error`
    "ChecksumRejected": (COUNT, ("Call",)),
    "CreateFailovers": (COUNT, ()),
    # poller
    "ServersOnline": (COUNT, ()),
    "ServersOffline": (COUNT, ()),
    "TotalLoad": (COUNT, ()),
    "Meetings": (COUNT, ()),
    "PollFailures": (COUNT, ()),
    "PollDuration": (MILLISECONDS, ()),
    "PollOverrun": (COUNT, ()),  # 1 when a cycle took longer than POLL_INTERVAL
    # importer
    "RecordingsImported": (COUNT, ()),
    "RecordingsRejected": (COUNT, ()),
    # callbacks
    "CallbacksDelivered": (COUNT, ()),
    "CallbacksFailed": (COUNT, ()),
    "CallbacksDeadLettered": (COUNT, ()),  # failed on the receive after which SQS moves it to the DLQ
    # admin
    "AdminCommands": (COUNT, ("Command",)),
    "AdminCommandsFailed": (COUNT, ("Command",)),
    # every function
    "ColdStart": (COUNT, ("function_name",)),
}
METRIC_NAMES: tuple[str, ...] = tuple(METRICS)
UNKNOWN = "unknown"  # the dimension value of anything outside a bounded set (an unknown call or command name)
MAX_VALUES = 100  # EMF: at most 100 values per metric per line

# ApiCalls' Outcome: SUCCESS, one of these BBB messageKeys (ours, and the usual ones a BBB server answers with that
# we pass on), `otherError` for any other messageKey (a backend's answer is not ours to bound), `error` when the
# call failed unexpectedly (answered internalError after a logged traceback).
SUCCESS, ERROR, OTHER_ERROR = "SUCCESS", "error", "otherError"
BBB_MESSAGE_KEYS = frozenset(
    {
        "checksumError",
        "internalError",
        "missingParamMeetingID",
        "missingParamPublish",
        "missingParamRecordID",
        "missingParameters",
        "notFound",
        "serverTagUnavailable",
        "serverUnavailable",
        "tenantLimitReached",
        "unsupportedContentType",
        "unsupportedRequest",
        "validationError",
        # BBB's own
        "idNotUnique",
        "duplicateWarning",
        "invalidMeetingIdentifier",
        "meetingForciblyEnded",
        "missingParamFullName",
        "maxParticipantsReached",
        "guestDeniedAccess",
        "noRecordings",
    }
)
API_OUTCOMES = frozenset({SUCCESS, ERROR, OTHER_ERROR}) | BBB_MESSAGE_KEYS


def api_outcome(outcome: str) -> str:
    """The bounded Outcome dimension of an answered BBB call."""
    return outcome if outcome in API_OUTCOMES else OTHER_ERROR


class MetricsBuffer:
    """Metrics of one invocation, grouped by their dimension values."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = {}

    def emit(self, name: str, value: float = 1.0, **dimensions: str) -> None:
        unit_dims = METRICS.get(name)
        if unit_dims is None or set(dimensions) != set(unit_dims[1]):
            raise ValueError(f"metric {name!r} with dimensions {sorted(dimensions)} is not declared in METRICS")
        key = tuple(sorted(dimensions.items()))
        with self._lock:
            self._groups.setdefault(key, {}).setdefault(name, []).append(float(value))

    def clear(self) -> None:
        with self._lock:
            self._groups = {}

    def serialize(self) -> list[dict[str, Any]]:
        """Take the buffered metrics as EMF documents (the buffer is emptied)."""
        with self._lock:
            groups, self._groups = self._groups, {}
        namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or NAMESPACE
        service = os.environ.get("POWERTOOLS_SERVICE_NAME") or ""
        timestamp = int(time.time() * 1000)
        blobs = []
        for key, named in groups.items():
            dims = {"service": service, **dict(key)} if service else dict(key)
            # Values beyond EMF's 100 per metric go to further lines (never in practice: one invocation).
            for chunk in range(0, max(len(v) for v in named.values()), MAX_VALUES):
                values = {n: v[chunk : chunk + MAX_VALUES] for n, v in named.items() if v[chunk : chunk + MAX_VALUES]}
                blob: dict[str, Any] = {
                    "_aws": {
                        "Timestamp": timestamp,
                        "CloudWatchMetrics": [
                            {
                                "Namespace": namespace,
                                "Dimensions": [list(dims)],
                                "Metrics": [{"Name": n, "Unit": METRICS[n][0]} for n in values],
                            }
                        ],
                    },
                    **dims,
                }
                blob.update({n: v[0] if len(v) == 1 else v for n, v in values.items()})
                blobs.append(blob)
        return blobs

    def flush(self) -> None:
        """Print the buffered metrics (one EMF line per dimension set), or drop them when metrics are disabled."""
        from aws_lambda_powertools.metrics.functions import is_metrics_disabled

        blobs = self.serialize()
        if is_metrics_disabled():
            return
        for blob in blobs:
            print(json.dumps(blob, separators=(",", ":")))


_buffer = MetricsBuffer()
emit = _buffer.emit
flush_metrics = _buffer.flush
clear_metrics = _buffer.clear
serialize_metrics = _buffer.serialize


def bounded(value: str | None, allowed: frozenset[str] | Mapping[str, Any]) -> str:
    """A dimension value from a bounded set: `value` if it is one of `allowed`, else `unknown`."""
    return value if value is not None and value in allowed else UNKNOWN


@functools.cache
def get_tracer() -> Tracer:
    return Tracer()


def __getattr__(name: str) -> Any:
    if name == "tracer":
        return get_tracer()
    raise AttributeError(name)


def traced[T: Callable[..., Any]](fn: T) -> T:
    """`tracer.capture_method` (response not captured: it may hold secrets), resolved on the first call."""
    resolved: Callable[..., Any] | None = None

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal resolved
        if resolved is None:
            tracer = get_tracer()
            resolved = fn if tracer.disabled else tracer.capture_method(capture_response=False)(fn)
        return resolved(*args, **kwargs)

    return call  # type: ignore[return-value]


def lambda_handler(
    correlation_id_path: str | None = None, *, correlation_id: Callable[[Any, Any], str | None] | None = None
) -> Callable[[F], F]:
    """logger.inject_lambda_context → tracer.capture_lambda_handler → metrics (ColdStart, then flushed once per
    invocation, also when the handler raises). The correlation id comes from `correlation_id_path` (a JMESPath
    into the event) or from `correlation_id(event, context)`. Events are never logged: BBB queries carry checksums
    and passwords."""

    def decorate(fn: F) -> F:
        traced_fn: Callable[..., Any] | None = None
        cold = True

        @functools.wraps(fn)
        def with_tracer(event: Any, context: Any) -> Any:
            nonlocal traced_fn, cold
            if cold:
                cold = False
                emit("ColdStart", function_name=str(getattr(context, "function_name", "") or UNKNOWN))
            if correlation_id is not None:
                logger.set_correlation_id(correlation_id(event, context))
            if traced_fn is None:
                traced_fn = get_tracer().capture_lambda_handler(fn, capture_response=False)
            try:
                return traced_fn(event, context)
            finally:
                flush_metrics()

        # clear_state: keys appended during one invocation (meeting id, command) must not leak into the next.
        wrapped = logger.inject_lambda_context(
            with_tracer, correlation_id_path=correlation_id_path, log_event=False, clear_state=True
        )
        return wrapped  # type: ignore[return-value]

    return decorate
