"""Local stack memory benchmark: does the stack's RSS stay flat over a long run?

The whole local stack runs in this process (moto's server, the gateway, the invoker, two simulated BBB servers), as
`make run` runs it. After a warm-up (every kind of request, large bodies included, so first-use allocations are not
counted) a long run goes through the gateway over HTTP from CLIENTS threads: cycles of create, join (the 302 is not
followed), getMeetingInfo, isMeetingRunning, getMeetings and end, and every so often a create with a 1–5 MB XML
`<modules>` body and an insertDocument with one (LARGE of them in all). Figures: RSS (VmRSS; peak RSS where
/proc is absent) after the warm-up and after the run (after gc.collect()), the growth in all and per 1,000
requests, the time, and the items moto holds at the end (the live state: a growth that follows it is not a leak).
Target: growth ≤ TARGET_MB over the run.

Requests in the long run: BENCH_MEMORY_REQUESTS (default 6000), or the first argument:
`python -m bench.bench_memory 18000`. `--unfixed` runs it with the memory bounds turned off (moto's instance
tracking and whole-table transaction copies, glibc's growing mmap threshold, the simulators' unbounded history),
for comparison; that run does not count against the target.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

SECRET = "bench-secret"
REQUESTS = 6000
CLIENTS = 3
LARGE = 30  # requests with a 1–5 MB body in the long run (half creates, half insertDocuments)
WARMUP_CYCLES = 40
TARGET_MB = 50.0
MB = 1024 * 1024
CYCLE = ("create", "join", "getMeetingInfo", "isMeetingRunning", "getMeetings", "end")


def rss_mb() -> tuple[float, str]:
    """The process's resident set now (VmRSS), or its peak where /proc is absent (macOS: ru_maxrss in bytes)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024, "RSS"
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024), "peak RSS"


class _Discard(io.TextIOBase):
    """stdout while the stack runs: the functions print their EMF metrics lines once per invocation (to the terminal
    under `make run`, so not kept). Metrics stay enabled: the memory measured includes building and printing them."""

    def write(self, text: str) -> int:
        return len(text)


def _env() -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "bench",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # join's 302 is the answer


_opener = urllib.request.build_opener(_NoRedirect)


def _modules(size: int) -> bytes:
    """A create `<modules>` document of `size` bytes (a base64-like inline slide deck)."""
    rng = random.Random(size)
    head = b'<?xml version="1.0" encoding="UTF-8"?><modules><module name="presentation"><document name="s.pdf">'
    tail = b"</document></module></modules>"
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    filler = bytes(rng.choice(alphabet) for _ in range(4096))  # base64-like text
    middle = (filler * (size // len(filler) + 1))[: size - len(head) - len(tail)]
    return head + middle + tail


@dataclass
class Client:
    api: str
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0

    def call(self, call: str, params: dict[str, str], body: bytes | None = None) -> None:
        query = urlencode(params)
        checksum = hashlib.sha256(f"{call}{query}{SECRET}".encode()).hexdigest()
        headers = {"Content-Type": "application/xml"} if body is not None else {}
        request = urllib.request.Request(f"{self.api}{call}?{query}&checksum={checksum}", body, headers)
        self.sent += 1
        try:
            with _opener.open(request, timeout=60) as response:
                status, reply = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, reply = err.code, err.read()
        except OSError as err:
            self.errors[f"{call}: {type(err).__name__}"] += 1
            return
        ok = status == 302 if call == "join" else status == 200 and b"<returncode>SUCCESS</returncode>" in reply
        if not ok:
            self.errors[f"{call}: {status} {reply[:120]!r}"] += 1

    def cycle(self, meeting_id: str, modules: int = 0, document: int = 0) -> None:
        m = {"meetingID": meeting_id}
        self.call("create", {**m, "name": f"Meeting {meeting_id}"}, _modules(modules) if modules else None)
        if document:
            self.call("insertDocument", m, _modules(document))
        self.call("join", {**m, "fullName": "Ada", "role": "MODERATOR"})
        self.call("getMeetingInfo", m)
        self.call("isMeetingRunning", m)
        self.call("getMeetings", {})
        self.call("end", m)


def _plan(requests: int, large: int, seed: int) -> list[tuple[int, int]]:
    """One entry per cycle: the sizes of create's and insertDocument's bodies (0: none), `large` of them 1–5 MB,
    spread evenly. Bodies are made when sent, so the client holds no more of them than it has requests in flight."""
    rng = random.Random(seed)
    cycles = max(1, (requests - large) // len(CYCLE))
    plan = [(0, 0)] * cycles
    pairs = (large + 1) // 2
    for n in range(pairs):
        document = rng.randint(1, 5) * MB if 2 * n + 1 < large else 0
        plan[(n * cycles) // pairs] = (rng.randint(1, 5) * MB, document)
    return plan


def _run(api: str, plan: list[tuple[int, int]], prefix: str) -> Client:
    """The plan's cycles over CLIENTS threads (each its own meetings); returns the combined figures."""
    work: deque[tuple[int, tuple[int, int]]] = deque(enumerate(plan))
    clients = [Client(api) for _ in range(CLIENTS)]
    lock = threading.Lock()

    def drive(client: Client) -> None:
        while True:
            with lock:
                if not work:
                    return
                n, (modules, document) = work.popleft()
            client.cycle(f"{prefix}-{n}", modules, document)

    threads = [threading.Thread(target=drive, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = Client(api)
    for client in clients:
        total.sent += client.sent
        total.errors.update(client.errors)
    return total


def _settled_rss() -> tuple[float, str]:
    gc.collect()
    time.sleep(0.2)  # let the servers' threads of finished connections exit
    gc.collect()
    return rss_mb()


def _unfix(stack: Any) -> None:
    """The stack as it was before the memory bounds (the invoker's dropped references excepted)."""
    for sim in stack.simulators:
        sim.requests = deque(sim.requests)
        sim.max_recorded_body = sys.maxsize


def _moto_items() -> dict[str, int]:
    from moto.dynamodb.models import dynamodb_backends

    counts: dict[str, int] = {}
    for account in dynamodb_backends.values():
        for backend in account.values():
            for name, table in backend.tables.items():
                live = sum(len(v) if table.range_key_attr else 1 for v in table.items.values())
                counts[name] = counts.get(name, 0) + live
    return counts


def memory(requests: int, *, unfixed: bool = False) -> dict[str, float]:
    from scalelite_local import aws
    from scalelite_local import stack as stack_module
    from scalelite_local.stack import Config, LocalStack

    if unfixed:
        aws.untrack_moto_models = lambda: None
        aws.cheap_transaction_rollback = lambda: None
        stack_module.return_large_buffers = lambda: False  # type: ignore[attr-defined]
    large = min(LARGE, requests // 20)
    plan = _plan(requests, large, seed=7)
    half = len(plan) // 2
    print(
        f"== local stack memory{' (memory bounds off)' if unfixed else ''}: {requests} requests through the gateway "
        f"from {CLIENTS} clients ({large} with 1–5 MB bodies), after a warm-up"
    )
    started, kind = rss_mb()
    with contextlib.redirect_stdout(_Discard()):
        local = LocalStack(
            Config(aws_port=0, port=0, lambda_port=0, simulated_servers=2, poll_interval=3600, secret=SECRET)
        ).start()
        try:
            if unfixed:
                _unfix(local)
            warmup = _run(local.api_url, _plan(WARMUP_CYCLES * len(CYCLE) + 2, 2, seed=1), "warm")
            before = _settled_rss()[0]
            t0 = time.perf_counter()
            first = _run(local.api_url, plan[:half], "run")
            middle = _settled_rss()[0]
            second = _run(local.api_url, plan[half:], "run2")
            elapsed = time.perf_counter() - t0
            after = _settled_rss()[0]
            items = _moto_items()
        finally:
            local.stop()
    errors = warmup.errors + first.errors + second.errors
    if errors:
        raise SystemExit(f"{sum(errors.values())} requests failed, e.g. {errors.most_common(3)}")
    sent = first.sent + second.sent
    growth = after - before
    print(f"  {kind} before the stack     {started:7.1f} MB")
    print(f"  {kind} after warm-up        {before:7.1f} MB   (stack start + {warmup.sent} requests)")
    print(f"  {kind} half-way             {middle:7.1f} MB   ({middle - before:+.1f} MB over {first.sent} requests)")
    print(
        f"  {kind} after the run        {after:7.1f} MB   ({after - middle:+.1f} MB over {second.sent} requests; "
        f"{sent} in {elapsed:.0f} s, {sent / elapsed:.0f} req/s)"
    )
    print(f"  growth {growth:+.1f} MB, {growth / sent * 1000:+.2f} MB per 1,000 requests")
    print(f"  moto items at the end (the live state): {', '.join(f'{k} {v}' for k, v in sorted(items.items()))}")
    if unfixed:
        print("  (no target: the stack without its memory bounds, for comparison)")
    else:
        verdict = "ok" if growth <= TARGET_MB else "OVER TARGET"
        print(f"  target: growth ≤ {TARGET_MB:.0f} MB after warm-up: {verdict}")
    return {"before": before, "after": after, "growth": growth, "requests": sent, "seconds": elapsed}


def main(argv: list[str] | None = None) -> None:
    args = list(argv or [])
    unfixed = "--unfixed" in args
    numbers = [a for a in args if a != "--unfixed"]
    raw = numbers[0] if numbers else os.environ.get("BENCH_MEMORY_REQUESTS", "")
    try:
        requests = int(raw) if raw.strip() else REQUESTS
    except ValueError:
        raise SystemExit(f"bench_memory: the request count must be a number, got {raw!r}") from None
    _env()
    memory(max(requests, len(CYCLE)), unfixed=unfixed)


if __name__ == "__main__":
    main(sys.argv[1:])
