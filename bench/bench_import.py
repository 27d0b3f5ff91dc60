"""Cold-start proxies: handler module import time (median of 5 fresh processes) and the first request.

Targets: the API handler module imports in ≤ 0.6 s; poller, importer, admin and callbacks handlers import no FastAPI."""

from __future__ import annotations

import json
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
FIRST_REQUEST = """
import time, json
t0 = time.perf_counter()
from scalelite_api.handler import handler
t1 = time.perf_counter()
event = {"version": "2.0", "routeKey": "$default", "rawPath": "/bigbluebutton/api", "rawQueryString": "",
         "headers": {"host": "x"}, "isBase64Encoded": False,
         "requestContext": {"http": {"method": "GET", "path": "/bigbluebutton/api", "protocol": "HTTP/1.1",
                                      "sourceIp": "127.0.0.1", "userAgent": "bench"}, "stage": "$default",
                             "requestId": "r", "routeKey": "$default", "accountId": "1", "apiId": "a",
                             "domainName": "x", "domainPrefix": "x", "time": "", "timeEpoch": 0}}
class Ctx:
    function_name = "ApiFunction"; memory_limit_in_mb = 1024; aws_request_id = "r"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ApiFunction"
    def get_remaining_time_in_millis(self): return 30000
out = handler(event, Ctx())
t2 = time.perf_counter()
assert out["statusCode"] == 200, out
print(json.dumps({"import": t1 - t0, "first_request": t2 - t0}))
"""
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
        note = "target ≤ 0.6 s" if name == "api" else f"imports FastAPI: {fastapi_loaded} (target: False)"
        print(f"  {name:9s} {wall:6.3f} s  (process wall {raw:.3f} s)   {note}")
        if name != "api" and fastapi_loaded:
            raise SystemExit(f"{module} imports FastAPI")
    runs = [
        # The last line is ours; Powertools prints its metrics (EMF) to stdout before it.
        json.loads(
            subprocess.run([sys.executable, "-c", FIRST_REQUEST], check=True, env=ENV, capture_output=True, text=True)
            .stdout.strip()
            .splitlines()[-1]
        )
        for _ in range(5)
    ]
    first = statistics.median(r["first_request"] for r in runs)
    print(
        f"  api cold start incl. first request (FastAPI app built lazily): {first:6.3f} s (median of 5; "
        "informational — Lambda init work is deferred to the first invocation, not removed)"
    )
    figures["api_first_request"] = first
    print(f"  (interpreter start-up baseline {baseline:.3f} s subtracted from import figures)")
    return figures


if __name__ == "__main__":
    main()
