"""Runs the real Lambda handlers in-process, as Lambda would: a Lambda-like context, the function's timeout,
reserved concurrency, and a bounded pool of workers that each own an asyncio event loop (a Lambda runtime always
has one; Mangum calls `asyncio.get_event_loop()`, which raises in a bare non-main thread)."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from scalelite_local.template import Function, Handler, Template

MAX_CONCURRENCY = 64


class Throttled(Exception):
    """Reserved concurrency reached (Lambda answers 429 TooManyRequestsException)."""


class FunctionTimeout(Exception):
    error_type = "Sandbox.Timedout"

    def __init__(self, function: str, seconds: float) -> None:
        super().__init__(f"{function}: Task timed out after {seconds:.2f} seconds")


class HandlerNotLoadable(Exception):
    """The module or attribute named by `Handler` cannot be loaded (Lambda's init errors)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class LambdaContext:
    def __init__(self, function: Function) -> None:
        self.function_name = function.logical_id
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = function.memory
        self.invoked_function_arn = function.arn
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.logical_id}"
        self.log_stream_name = "local"
        self.client_context = None
        self.identity = None
        self._deadline = time.monotonic() + function.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class WorkerPool:
    """At most `size` daemon threads, started on demand, each with its own event loop. Daemon threads (unlike
    `ThreadPoolExecutor`'s) never hold up exit when a handler is still running at Ctrl-C (a poller sleeping
    between cycles), just as Lambda freezes the sandbox."""

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name} pool is closed")
            if self._idle:
                self._idle -= 1  # that worker is now spoken for
            elif len(self._threads) < self.size:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._queue.put((future, fn))
        return future

    def _work(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            while (item := self._queue.get()) is not None:
                self._run(*item)
                # Nothing of the finished job may stay referenced while this worker waits for the next one: its
                # closure holds the event (a request body of up to 10 MB, decoded), its future the response.
                del item
                with self._lock:
                    self._idle += 1
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    @staticmethod
    def _run(future: Future[Any], fn: Callable[[], Any]) -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller, as Lambda reports any error
                future.set_exception(exc)

    def close(self, timeout: float = 5.0) -> list[threading.Thread]:
        """Stop idle workers, cancel what never started; returns the workers still running a handler."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        with contextlib.suppress(queue.Empty):
            while True:
                item = self._queue.get_nowait()
                if item is not None:
                    item[0].cancel()
        for _ in threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t for t in threads if t.is_alive()]


class Invoker:
    def __init__(
        self,
        template: Template,
        max_concurrency: int = MAX_CONCURRENCY,
        handlers: Mapping[str, Handler] | None = None,
    ) -> None:
        self.functions = template.functions
        self._slots: dict[str, threading.BoundedSemaphore] = {
            f.logical_id: threading.BoundedSemaphore(f.reserved_concurrency)
            for f in self.functions.values()
            if f.reserved_concurrency is not None and f.reserved_concurrency > 0
        }
        self._handlers: dict[str, Handler] = {}
        self._overrides: dict[str, Handler] = dict(handlers or {})  # stand-ins (tests)
        self._lock = threading.Lock()
        self._pool = WorkerPool(max_concurrency, "lambda")
        self._event_queues: dict[str, queue.SimpleQueue[Any]] = {}
        self._closed = threading.Event()

    def resolve(self, name: str) -> Function | None:
        """By logical id, or an ARN / `account:function:Name` / `Name:$LATEST` naming one."""
        parts = name.split(":")
        if "function" in parts:
            parts = parts[parts.index("function") + 1 :]
        if len(parts) == 2 and parts[1] == "$LATEST":
            parts = parts[:1]
        return self.functions.get(parts[0]) if len(parts) == 1 else None

    def preload(self) -> dict[str, str]:
        """Import every handler now (the first request is then fast); returns {function: error} for those
        that cannot be loaded; invoking them fails like a Lambda init error."""
        errors = {}
        for name in self.functions:
            try:
                self._handler(name)
            except HandlerNotLoadable as exc:
                errors[name] = f"{exc.error_type}: {exc}"
        return errors

    @contextlib.contextmanager
    def override(self, name: str, handler: Handler) -> Iterator[None]:
        """Run `handler` instead of the template's one (tests inject stand-ins)."""
        with self._lock:
            previous = self._overrides.get(name)
            self._overrides[name] = handler
        try:
            yield
        finally:
            with self._lock:
                if previous is None:
                    self._overrides.pop(name, None)
                else:
                    self._overrides[name] = previous

    def _handler(self, name: str) -> Handler:
        with self._lock:
            handler = self._overrides.get(name) or self._handlers.get(name)
        if handler is not None:
            return handler
        function = self.functions[name]
        try:
            handler = function.load_handler()
        except ImportError as exc:
            module = function.handler.rpartition(".")[0]
            raise HandlerNotLoadable("Runtime.ImportModuleError", f"Unable to import module '{module}': {exc}") from exc
        except AttributeError as exc:
            raise HandlerNotLoadable("Runtime.HandlerNotFound", f"Handler '{function.handler}' missing") from exc
        with self._lock:
            self._handlers[name] = handler
        return handler

    def submit(self, name: str, event: Any, *, wait_for_slot: bool = False) -> Future[Any]:
        """Start one invocation. A function at its reserved concurrency raises `Throttled`, or with
        `wait_for_slot` (asynchronous event sources: S3, Event invocations) waits for a free slot."""
        function = self.resolve(name)
        if function is None:
            raise LookupError(name)
        slot = self._slots.get(function.logical_id)
        if slot is not None:
            while not slot.acquire(timeout=0.2 if wait_for_slot else 0):
                if not wait_for_slot or self._closed.is_set():
                    raise Throttled(function.logical_id)

        def run() -> Any:
            try:
                return self._handler(function.logical_id)(event, LambdaContext(function))
            finally:
                if slot is not None:
                    slot.release()

        try:
            return self._pool.submit(run)
        except BaseException:
            if slot is not None:
                slot.release()
            raise

    def invoke(self, name: str, event: Any, *, timeout: float | None = None) -> Any:
        """Synchronous invocation: the handler's result, or its exception; `FunctionTimeout` after the
        function's Timeout (the handler thread cannot be killed: it finishes in the background)."""
        function = self.resolve(name)
        if function is None:
            raise LookupError(name)
        limit = function.timeout if timeout is None else timeout
        future = self.submit(function.logical_id, event)
        try:
            return future.result(timeout=limit)
        except FutureTimeout:
            raise FunctionTimeout(function.logical_id, limit) from None

    def invoke_async(self, name: str, event: Any) -> None:
        """InvocationType Event, S3 notifications: queued per function, like Lambda's internal event queue, and
        run as soon as a concurrency slot is free (so a reserved-concurrency-1 function runs them one by one).
        Errors are logged to stderr; unlike AWS there are no retries."""
        function = self.resolve(name)
        if function is None:
            raise LookupError(name)
        with self._lock:
            events = self._event_queues.get(function.logical_id)
            if events is None:
                events = self._event_queues[function.logical_id] = queue.SimpleQueue()
                threading.Thread(
                    target=self._dispatch, args=(function.logical_id, events), name=f"events-{name}", daemon=True
                ).start()
        events.put(event)

    def _dispatch(self, name: str, events: queue.SimpleQueue[Any]) -> None:
        while (event := events.get()) is not _STOP:
            try:
                future = self.submit(name, event, wait_for_slot=True)
            except (Throttled, RuntimeError):
                return  # closing
            future.add_done_callback(lambda f: _log_failure(name, f))
            del event, future  # not kept while waiting for the next one (an Event payload can be 6 MB)

    def close(self, timeout: float = 5.0) -> list[threading.Thread]:
        """Stop dispatching and the idle workers; returns the workers still running a handler."""
        self._closed.set()
        with self._lock:
            for events in self._event_queues.values():
                events.put(_STOP)
        return self._pool.close(timeout)


_STOP = object()


def _log_failure(name: str, future: Future[Any]) -> None:
    if future.cancelled() or future.exception() is None:
        return
    exc = future.exception()
    assert exc is not None
    print(f"scalelite-local: {name} failed:", file=sys.stderr)
    traceback.print_exception(exc, file=sys.stderr)
