"""Handler module import time (median of 5 fresh processes, interpreter start-up subtracted).

Target: the poller, importer, admin and callbacks handlers import no FastAPI (they must cold-start fast). The API
handler builds its FastAPI app at import (issue 13: Lambda's init, snapshotted by SnapStart, pays for it, not the
first request), so its import time is Lambda's init; `bench/bench_coldstart.py` measures init, the first request,
SnapStart's restore hooks and the first request after a restore in Lambda's environment. The earlier "API import
≤ 0.6 s" target belonged to the lazily built app and no longer applies."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

HANDLERS = {
    "api": "scalelite_api.handler",
    "poller": "scalelite_poller.handler",
    "importer": "scalelite_importer.handler",
    "admin": "scalelite_admin.handler",
    "callbacks": "scalelite_callbacks.handler",
}
ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
    "LOADBALANCER_SECRET": "x",
    "POWERTOOLS_METRICS_NAMESPACE": "bench",
    "PATH": "/usr/bin:/bin",
}


def _run(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    return time.perf_counter() - started


def main() -> dict[str, float]:
    print(f"== handler import time ({sys.executable}, Python {sys.version.split()[0]}, median of 5 fresh processes)")
    baseline = statistics.median(_run("pass") for _ in range(5))
    figures: dict[str, float] = {}
    for name, module in HANDLERS.items():
        raw = statistics.median(_run(f"import {module}") for _ in range(5))
        wall = raw - baseline
        check = f"import sys, {module}; print(any(m == 'fastapi' or m.startswith('fastapi.') for m in sys.modules))"
        fastapi_loaded = (
            subprocess.run(
                [sys.executable, "-c", check], check=True, env=ENV, capture_output=True, text=True
            ).stdout.strip()
            == "True"
        )
        figures[name] = wall
        note = (
            "Lambda init: the app is built here (see bench_coldstart)"
            if name == "api"
            else f"imports FastAPI: {fastapi_loaded} (target: False)"
        )
        print(f"  {name:9s} {wall:6.3f} s  (process wall {raw:.3f} s)   {note}")
        if name != "api" and fastapi_loaded:
            raise SystemExit(f"{module} imports FastAPI")
    print(f"  (interpreter start-up baseline {baseline:.3f} s subtracted from import figures)")
    return figures


if __name__ == "__main__":
    main()
