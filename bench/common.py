"""Shared by the benchmarks: the environment (dummy AWS credentials, quiet Powertools) and processes of their own
for what is another machine in AWS (the moto server standing in for DynamoDB, S3, SQS and Secrets Manager)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# The local stack's moto server; prints its endpoint, stops at the end of its input.
_MOTO = """
import sys
from scalelite_local.aws import MotoServer
server = MotoServer("127.0.0.1", 0)
server.start()
print(server.endpoint, flush=True)
sys.stdin.read()
server.stop()
"""


def spawn(code: str, *args: str) -> subprocess.Popen[str]:
    """`python -c code args…` with pipes for its input and output (text)."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def stop(proc: subprocess.Popen[str]) -> None:
    """End a process started by `spawn`: close its input (it stops at the end of it), else kill it after 15 s."""
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def moto_process() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A moto server in a process of its own: its endpoint and the process (the benches read its CPU)."""
    proc = spawn(_MOTO)
    try:
        assert proc.stdout is not None
        endpoint = proc.stdout.readline().strip()
        if not endpoint:
            raise RuntimeError("the moto server did not start")
        yield endpoint, proc
    finally:
        stop(proc)


def use_bench_env(secret: str) -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "LOADBALANCER_SECRET": secret,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "bench",
            "POWERTOOLS_METRICS_DISABLED": "true",  # no EMF lines between the figures
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from scalelite_common.observability import logger
    from scalelite_common.services import wiring

    logger.setLevel("ERROR")  # the Logger read POWERTOOLS_LOG_LEVEL when it was built, at import

    wiring.reset_all()
