"""Poller benchmark: poll cycles over 500 simulated BBB servers that each answer after 100 ms (target: ≤ 2 s wall for
one cycle), next to Scalelite's theoretical figure for the same fleet: POLLER_THREADS=5 → a pool of 4 threads,
500 × 0.1 s / 4 = 12.5 s, and its POLLER_WAIT_TIMEOUT cuts the wait at 10 s, so a fifth of the fleet is not polled.

Both the fleet and DynamoDB (moto) run in processes of their own, as BBB servers and DynamoDB are other machines: in
the benchmark's process they would compete with the poller for the GIL and measure moto's Python, not the poller.
Three kinds of cycle are timed (busy and steady: the median of REPEAT):

* cold: the first cycle (new connections everywhere, every server's figures are new: one write per server);
* busy: every server's meeting gained an attendee since the last cycle, so all 500 servers are written again; the
  normal case of a fleet in use, and the figure held to the target;
* steady: nothing changed, nothing is written.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import moto_process, spawn, stop, use_bench_env

SECRET = "bench-secret"
SERVERS = 500
LATENCY = 0.1  # seconds per BBB answer
TARGET = 2.0
SCALELITE_THREADS = 4  # POLLER_THREADS (5) − 1
SCALELITE_WAIT = 10.0  # POLLER_WAIT_TIMEOUT
CPU_TARGET_MS = 1.5  # the poller's own CPU per server in the busy cycle (issue 13); moto's and the fleet's apart
REPEAT = 5  # busy and steady cycles are timed this many times each: single runs vary by ±20 % on this machine

# The fleet: one simulator per server with one meeting each. A line "join" on stdin adds an attendee to every
# meeting (so every server's figures change); the process answers "ok" when done and stops at end of input.
_FLEET = """
import sys, time
from bbbsim import start_simulators, stop_simulators
sims = start_simulators(int(sys.argv[1]), latency=float(sys.argv[2]))
for i, sim in enumerate(sims):
    sim.add_meeting(f"m{i}", participants=10 + i % 20, moderators=1, videos=i % 3,
                    create_time_ms=int((time.time() - 3600) * 1000))
    print(sim.url, sim.secret, flush=True)
for line in sys.stdin:
    if line.strip() == "join":
        for i, sim in enumerate(sims):
            sim.add_attendee(f"m{i}", "bench", "VIEWER")
    print("ok", flush=True)
stop_simulators(sims)
"""


def _ask(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    if proc.stdout.readline().strip() != "ok":
        raise RuntimeError("the simulated fleet did not answer")


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float  # this process (the poller)
    moto_cpu: float
    fleet_cpu: float
    scans: float
    results: int  # poll results written
    requests: int  # the write requests that carried them
    summary: Any


def _cpu(proc: subprocess.Popen[str]) -> float:
    """CPU seconds (user + system) used so far by a child process; 0 where /proc is not there."""
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TimedStore:
    """The store, with the wall time of its two scans (servers, meetings) added up in `scans`, and the poll results
    written and the requests that wrote them (`record_polls` writes up to `batch` per request) counted."""

    def __init__(self, store: Any, batch: int) -> None:
        self._store = store
        self._batch = batch
        self.scans = 0.0
        self.results = 0
        self.requests = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _timed(self, fn: Any) -> Any:
        t0 = time.monotonic()
        try:
            return fn()
        finally:
            self.scans += time.monotonic() - t0

    def list_servers(self) -> Any:
        return self._timed(self._store.list_servers)

    def all_meetings(self) -> Any:
        return iter(self._timed(lambda: list(self._store.all_meetings())))

    def record_polls(self, polls: Any) -> Any:
        self.results += len(polls)
        self.requests += -(-len(polls) // self._batch)
        return self._store.record_polls(polls)


def run() -> dict[str, float]:
    from scalelite_common.config import get_settings
    from scalelite_common.db.models import create_tables
    from scalelite_common.domain.entities import Meeting, Server, ServerState
    from scalelite_common.services import wiring
    from scalelite_common.services.polling import Poller
    from scalelite_common.services.ports import POLL_WRITE_BATCH

    use_bench_env(SECRET)
    print(f"== Poller: one cycle over {SERVERS} servers answering in {LATENCY * 1000:.0f} ms (target ≤ {TARGET:g} s)")
    started = time.monotonic()
    with moto_process() as (endpoint, moto):
        fleet_proc = spawn(_FLEET, str(SERVERS), str(LATENCY))
        try:
            assert fleet_proc.stdout is not None
            os.environ["AWS_ENDPOINT_URL"] = endpoint
            fleet = [tuple(fleet_proc.stdout.readline().split()) for _ in range(SERVERS)]
            wiring.reset_all()
            settings = get_settings()
            store = wiring.store(settings)
            create_tables(wait=True)
            now = time.time()
            for i, (url, secret) in enumerate(fleet):
                server = Server(
                    id=f"bbb{i:03d}", url=url, secret=secret, state=ServerState.ENABLED, online=True, load=0.0
                )
                store.add_server(server)
                # One mapping per server, so the sweep has 500 meetings to check against the getMeetings lists.
                meeting = Meeting(
                    tenant_id="default",
                    meeting_id=f"m{i}",
                    server_id=server.id,
                    created_at=int(now - 3600),
                    expires_at=int(now) + settings.default_meeting_ttl,
                )
                store.place_meeting(meeting, server, now=now)
            print(f"  (fleet and DynamoDB ready in {time.monotonic() - started:.1f} s)")
            timed = TimedStore(store, POLL_WRITE_BATCH)
            poller = Poller(timed, wiring.bbb_client(settings), settings)

            def timed_cycle() -> Run:
                timed.scans, timed.results, timed.requests = 0.0, 0, 0
                before = [_cpu(p) for p in (moto, fleet_proc)]
                t0, cpu0 = time.monotonic(), time.process_time()
                summary = poller.cycle("all")
                wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
                moto_cpu, fleet_cpu = (_cpu(p) - b for p, b in zip((moto, fleet_proc), before, strict=True))
                return Run(wall, cpu, moto_cpu, fleet_cpu, timed.scans, timed.results, timed.requests, summary)

            cold = timed_cycle()  # new connections; every server's figures (and versions) are new
            busy_runs, steady_runs = [], []
            for _ in range(REPEAT):
                _ask(fleet_proc, "join")
                busy_runs.append(timed_cycle())
                steady_runs.append(timed_cycle())
        finally:
            stop(fleet_proc)
            os.environ.pop("AWS_ENDPOINT_URL", None)
            wiring.reset_all()

    def per_server(cpu: float) -> str:
        return f"{cpu / SERVERS * 1000:.2f} ms"

    def line(label: str, runs: list[Run], note: str, target: bool = False, cpu_target: bool = False) -> str:
        walls = sorted(run.wall for run in runs)
        mid = sorted(runs, key=lambda run: run.wall)[len(runs) // 2]  # the median run
        healthy = all(run.summary.online == SERVERS and not run.summary.failed for run in runs)
        swept = min(run.summary.meetings_running for run in runs)
        verdict = ""
        if target:
            verdict = "  ok" if mid.wall <= TARGET and healthy else "  OVER TARGET"
        cpu_verdict = ""
        if cpu_target:
            within = mid.cpu / SERVERS * 1000 <= CPU_TARGET_MS
            cpu_verdict = f" (target ≤ {CPU_TARGET_MS:g} ms: {'ok' if within else 'OVER TARGET'})"
        spread = f" (median of {len(runs)}, {walls[0]:.2f}–{walls[-1]:.2f})" if len(runs) > 1 else ""
        return (
            f"  {label:<7}{mid.wall:5.2f} s{spread}  {note}; {'all' if healthy else 'NOT all'} online, ≥ {swept} "
            f"meetings swept{verdict}\n"
            f"{'':9}CPU: poller {mid.cpu:.2f} s, moto {mid.moto_cpu:.2f} s, fleet {mid.fleet_cpu:.2f} s "
            f"(2 cores: {2 * mid.wall:.2f} s available); scans {mid.scans:.2f} s; "
            f"{mid.results} results written in {mid.requests} requests\n"
            f"{'':9}per server: poller {per_server(mid.cpu)}{cpu_verdict}, moto {per_server(mid.moto_cpu)}, "
            f"fleet {per_server(mid.fleet_cpu)}"
        )

    print(
        f"  ours ({settings.poller_threads} threads; the fan-out alone is ⌈{SERVERS}/{settings.poller_threads}⌉ × "
        f"{LATENCY:g} s):"
    )
    print(line("busy", busy_runs, "every server changed", target=True, cpu_target=True))
    print(line("steady", steady_runs, "nothing changed: no writes", target=True))
    print(line("cold", [cold], "first cycle: new connections, every server written, versions read"))
    scalelite = SERVERS * LATENCY / SCALELITE_THREADS
    polled_in_time = min(SERVERS, int(SCALELITE_WAIT / LATENCY) * SCALELITE_THREADS)
    print(
        f"  Scalelite: {scalelite:.1f} s in theory ({SCALELITE_THREADS} threads: {SERVERS} × {LATENCY:g} s / "
        f"{SCALELITE_THREADS}), cut at {SCALELITE_WAIT:g} s: only {polled_in_time}/{SERVERS} polled"
    )
    median = len(busy_runs) // 2
    return {
        "busy": sorted(run.wall for run in busy_runs)[median],
        "steady": sorted(run.wall for run in steady_runs)[median],
        "cold": cold.wall,
        "scalelite": scalelite,
        "busy_cpu_ms": sorted(run.cpu for run in busy_runs)[median] / SERVERS * 1000,
    }


def main() -> None:
    run()


if __name__ == "__main__":
    main()
