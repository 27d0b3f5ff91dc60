"""One local stack for the e2e tests, on free ports, with two simulated BBB servers.

Package scope rather than session: the stack runs in this process (moto's backends and `os.environ` are
process-wide), so it must be down while unit/integration tests run on the same worker (`mock_aws` resets moto,
their settings differ). pytest tears it down when leaving tests/e2e and starts a fresh one on coming back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scalelite_local.stack import Config, LocalStack

E2E_SECRET = "e2e-secret"


def sqs_client(stack: LocalStack) -> Any:
    """boto3 SQS on the stack's moto server, without retries (a test sees the first answer)."""
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "sqs",
        endpoint_url=stack.aws_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=BotoConfig(retries={"max_attempts": 1}),
    )


SCALELITE = Path(sys.executable).parent / "scalelite"


@pytest.fixture(scope="package")
def stack() -> Iterator[LocalStack]:
    # The in-process tests' bucket names (tests/conftest.py) must not override the stack's own (the process's env
    # wins over the template's).
    for name in ("SPOOL_BUCKET", "RECORDINGS_BUCKET"):
        os.environ.pop(name, None)
    # Poll schedule far away: tests trigger polls themselves, so nothing moves under their feet.
    local = LocalStack(
        Config(
            aws_port=0,
            port=0,
            lambda_port=0,
            simulated_servers=2,
            poll_interval=3600,
            secret=E2E_SECRET,
            notify_period=0.2,
            queue_period=0.2,
            # Callback retries a second apart (tests/e2e/test_local_callbacks.py), not minutes.
            # Recordings imported protected, as Scalelite does with protection on (tests/e2e/test_local_playback.py).
            overrides={"CALLBACK_RETRY_DELAYS": "1,1,1", "PROTECTED_RECORDINGS_ENABLED": "true"},
        )
    )
    local.start()
    yield local
    local.stop()


class Run:
    """One run of the `scalelite` console script."""

    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.code, self.out, self.err = done.returncode, done.stdout, done.stderr

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


CLI = Callable[..., Run]


@pytest.fixture(scope="package")
def cli(stack: LocalStack) -> CLI:
    """The installed `scalelite` command as an operator runs it: a separate process with no AWS configuration at
    all, pointed at the stack's Lambda endpoint unless `endpoint=False`."""
    if not SCALELITE.exists():
        pytest.skip("the scalelite console script is not installed in this environment")

    def run(*argv: str, stdin: str = "", endpoint: bool = True) -> Run:
        where = ["--endpoint-url", stack.lambda_url] if endpoint else []
        done = subprocess.run(
            [str(SCALELITE), *where, *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
            timeout=120,
            check=False,
        )
        return Run(done)

    return run
