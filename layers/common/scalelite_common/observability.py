"""The one Logger, Tracer and Metrics of the service (Powertools) and the decorator stack every handler uses.

Tracer construction imports the X-Ray SDK (~0.3 s); it is built on the first invocation, not at import, so
importing a handler module stays cheap. `from scalelite_common.observability import tracer` still works."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def get_tracer() -> Tracer:
    return Tracer()


def __getattr__(name: str) -> Any:
    if name == "tracer":
        return get_tracer()
    raise AttributeError(name)


def lambda_handler(correlation_id_path: str | None = None) -> Callable[[F], F]:
    """logger.inject_lambda_context → tracer.capture_lambda_handler → metrics.log_metrics, as the cookbook stacks
    them. Events are never logged: BBB queries carry checksums and passwords."""

    def decorate(fn: F) -> F:
        traced: Callable[..., Any] | None = None

        @functools.wraps(fn)
        def with_tracer(event: Any, context: Any) -> Any:
            nonlocal traced
            if traced is None:
                traced = get_tracer().capture_lambda_handler(fn, capture_response=False)
            return traced(event, context)

        with_metrics = metrics.log_metrics(with_tracer, capture_cold_start_metric=True)
        # clear_state: keys appended during one invocation (meeting id, command) must not leak into the next.
        wrapped = logger.inject_lambda_context(
            with_metrics, correlation_id_path=correlation_id_path, log_event=False, clear_state=True
        )
        return wrapped  # type: ignore[return-value]

    return decorate
