"""Cold start, as Lambda splits it: init (importing the handler module: what Lambda's init phase runs, and what a
SnapStart snapshot captures) apart from the API's first request (target: ≤ 50 ms of handler time), its second
request, the SnapStart restore hooks and the first request after a restore.

Each figure is the median of RUNS fresh interpreters. A child gets its function's environment from template.yaml
(as the local stack resolves it) pointed at a moto server in a process of its own, with the template's Secrets
Manager secrets created there and their ARNs set, as in AWS: the first request pays for reading them. The request
is a signed isMeetingRunning for a meeting the balancer does not know: one DynamoDB read, no BBB call.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

SECRET = "bench-secret"
RUNS = 5
TARGET_MS = 50.0
ORIGIN_VALUE = "bench-origin-verify-value-0123456789abcdef"
HANDLERS = {  # logical id → handler module (CONVENTIONS.md, "Lambda functions")
    "ApiFunction": "scalelite_api.handler",
    "PollerFunction": "scalelite_poller.handler",
    "ImporterFunction": "scalelite_importer.handler",
    "AdminFunction": "scalelite_admin.handler",
    "CallbackFunction": "scalelite_callbacks.handler",
}
API = "ApiFunction"
LOCAL = "ApiFunction (not in Lambda)"
_LAMBDA_RUNTIME = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_EXECUTION_ENV")

# --- the child: one fresh interpreter, one function ----------------------------------------------------------------


class _Context:
    function_name = API
    memory_limit_in_mb = 1024
    aws_request_id = "bench"
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{API}"

    def get_remaining_time_in_millis(self) -> int:
        return 30000


def _timed(fn: Any) -> tuple[Any, float, float]:
    """fn()'s result, wall and CPU seconds."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall0, time.process_time() - cpu0


def _event(meeting_id: str) -> dict[str, Any]:
    """A signed isMeetingRunning, built by the caller (not timed: the LMS signs it)."""
    import hashlib
    from urllib.parse import urlencode

    from scalelite_local.gateway import build_event

    query = urlencode({"meetingID": meeting_id})
    checksum = hashlib.sha256(f"isMeetingRunning{query}{SECRET}".encode()).hexdigest()
    target = f"/bigbluebutton/api/isMeetingRunning?{query}&checksum={checksum}"
    headers = [("Host", "lb.example.com"), ("X-Origin-Verify", ORIGIN_VALUE)]
    return build_event("GET", target, headers, b"", "127.0.0.1")


def _check(reply: dict[str, Any]) -> None:
    body = str(reply.get("body", ""))
    if reply.get("statusCode") != 200 or "<returncode>SUCCESS</returncode>" not in body:
        raise SystemExit(f"isMeetingRunning failed: {reply.get('statusCode')} {body[:300]}")


def _restore_hooks() -> list[Any]:
    """Stand in for the Lambda runtime's `snapshot_restore_py` (absent here): the handler's after-restore hooks,
    in registration order, as the runtime runs them."""
    import types

    hooks: list[Any] = []
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_after_restore = lambda fn, *a, **kw: hooks.append(lambda: fn(*a, **kw))  # type: ignore[attr-defined]
    sys.modules["snapshot_restore_py"] = runtime
    return hooks


def child(module: str) -> None:
    """Print one JSON line of figures (seconds) for `module`, imported in this fresh interpreter."""
    import importlib

    hooks = _restore_hooks()
    loaded, init_wall, init_cpu = _timed(lambda: importlib.import_module(module))
    figures = {"init": init_wall, "init_cpu": init_cpu}
    if module == HANDLERS[API]:
        events = {label: _event(f"bench-{label}") for label in ("first", "second", "restored")}
        context = _Context()
        for label in ("first", "second", "restored"):
            if label == "restored":
                _, figures["restore"], figures["restore_cpu"] = _timed(lambda: [hook() for hook in hooks])
            reply, figures[label], figures[f"{label}_cpu"] = _timed(lambda e=events[label]: loaded.handler(e, context))
            _check(reply)
    print(json.dumps(figures))


# --- the parent ----------------------------------------------------------------------------------------------------


def _environments(endpoint: str) -> dict[str, dict[str, str]]:
    """Each function's environment: template Globals + its Environment (scalelite_local resolves tables, buckets,
    queues and parameters), its secrets created in moto and referenced by ARN, AWS pointed at moto."""
    import dataclasses
    import secrets

    from scalelite_local.aws import client, create_queues, create_resources
    from scalelite_local.template import Template, load

    template = Template(load())
    create_resources(template, endpoint)
    template = dataclasses.replace(template, queue_urls=create_queues(template, endpoint))
    manager = client("secretsmanager", endpoint)
    arns: dict[str, str] = {}
    for logical_id, resource in template.resources.items():
        if resource.get("Type") == "AWS::SecretsManager::Secret":
            value = {"LoadBalancerSecretStore": SECRET, "OriginVerifySecret": ORIGIN_VALUE}.get(logical_id)
            reply = manager.create_secret(Name=logical_id, SecretString=value or secrets.token_hex(32))
            arns[logical_id] = reply["ARN"]
    manager.close()
    bench = {  # what use_bench_env set (quiet Powertools, dummy credentials), minus the plain LB secret
        k: v for k, v in os.environ.items() if k.startswith(("POWERTOOLS_", "AWS_")) and k != "AWS_ENDPOINT_URL"
    }
    common = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **bench,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    out = {}
    for logical_id, function in template.functions.items():
        if logical_id not in HANDLERS:
            continue
        env = {**template.environment(function), **common}
        # What Lambda's runtime adds: the functions see they run in Lambda and prime as they do in AWS.
        env["AWS_LAMBDA_FUNCTION_NAME"] = logical_id
        env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(function.memory)
        env["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.12"
        for name, value in function.environment.items():
            if isinstance(value, dict) and value.get("Ref") in arns:
                env[name] = arns[value["Ref"]]
        out[logical_id] = env
    missing = set(HANDLERS) - set(out)
    if missing:
        raise SystemExit(f"template.yaml has no {', '.join(sorted(missing))}")
    return out


def _spawn_child(module: str, env: dict[str, str]) -> dict[str, float]:
    import subprocess

    code = f"from bench.bench_coldstart import child; child({module!r})"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{module} in a fresh interpreter failed:\n{done.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def run() -> dict[str, float]:
    import statistics

    from bench.common import moto_process, use_bench_env

    use_bench_env(SECRET)
    os.environ.pop("LOADBALANCER_SECRET", None)  # the children read it from Secrets Manager, as in AWS
    print(
        f"== Cold start: init vs first request (median of {RUNS} fresh interpreters each; target: the API's first "
        f"request after init ≤ {TARGET_MS:g} ms)"
    )
    with moto_process() as (endpoint, _):
        envs = _environments(endpoint)
        # The API as tests and the local stack run it: no Lambda runtime variables, so no priming of clients.
        envs[LOCAL] = {k: v for k, v in envs[API].items() if k not in _LAMBDA_RUNTIME}
        modules = {**HANDLERS, LOCAL: HANDLERS[API]}
        runs = {name: [_spawn_child(module, envs[name]) for _ in range(RUNS)] for name, module in modules.items()}

    def median(name: str, key: str) -> float:
        return float(statistics.median(r[key] for r in runs[name])) * 1000

    def row(label: str, name: str, key: str, note: str = "") -> None:
        print(f"  {label:<34}{median(name, key):7.1f} ms wall {median(name, key + '_cpu'):7.1f} ms CPU   {note}")

    print("  init = importing the handler module (Lambda's init phase; what a SnapStart snapshot holds):")
    for name, module in HANDLERS.items():
        row(f"  {name}", name, "init", module)
    first = median(API, "first")
    verdict = "ok" if first <= TARGET_MS else "OVER TARGET"
    print(f"  {API}, handler time (isMeetingRunning: secrets and one DynamoDB read, against moto):")
    row("  first request after init", API, "first", f"target ≤ {TARGET_MS:g} ms wall: {verdict}")
    row("  second request", API, "second", "warm")
    row("  SnapStart restore hooks", API, "restore", "refresh_after_restore, prime_clients")
    row("  first request after restore", API, "restored")
    row("  first request, not in Lambda", LOCAL, "first", "tests, local stack: clients built on first use")
    figures = {f"{name}_init_ms": median(name, "init") for name in HANDLERS}
    figures.update({f"api_{key}_ms": median(API, key) for key in ("first", "second", "restore", "restored")})
    figures.update({f"api_{key}_cpu_ms": median(API, f"{key}_cpu") for key in ("first", "second", "restored")})
    figures["api_first_not_in_lambda_ms"] = median(LOCAL, "first")
    return figures


def main() -> None:
    run()


if __name__ == "__main__":
    main()
