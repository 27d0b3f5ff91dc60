"""Shared fixtures. Test env vars are set at import time, before any test module imports project code."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

TEST_SECRET = "test-lb-secret-0123456789abcdef"
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "LOADBALANCER_SECRET": TEST_SECRET,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "ScaleliteServerlessTest",
        "POWERTOOLS_SERVICE_NAME": "scalelite-test",
        "POWERTOOLS_DEV": "false",
        "POWERTOOLS_METRICS_DISABLED": "true",  # tests/unit/test_observability.py re-enables it to check a flush
        "CONNECT_TIMEOUT": "1",
        "RESPONSE_TIMEOUT": "2",
        "SPOOL_BUCKET": "test-spool",
        "RECORDINGS_BUCKET": "test-recordings",
    }
)
for _name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LOADBALANCER_SECRET_ARN", "LOADBALANCER_SECRETS"):
    os.environ.pop(_name, None)

from aws_lambda_powertools.utilities.typing import LambdaContext  # noqa: E402 - only once the test env is set

from tests import iam_usage  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    iam_usage.configure(config)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    iam_usage.node_down(node)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    iam_usage.session_finish(session)


def reset_caches() -> None:
    from scalelite_common.services import wiring

    wiring.reset_all()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Change settings for one test: `env.setenv(...)`; caches are cleared before and after."""
    reset_caches()
    yield monkeypatch
    reset_caches()


@pytest.fixture
def aws() -> Iterator[None]:
    """In-process moto with our tables created from the PynamoDB models."""
    import boto3
    from moto import mock_aws

    from scalelite_local.aws import serialize_moto

    serialize_moto()
    with mock_aws():
        reset_caches()
        from scalelite_common.db.models import create_tables
        from scalelite_common.services import wiring

        wiring.store()  # binds the models to the tables
        create_tables()
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("test-spool", "test-recordings"):
            s3.create_bucket(Bucket=bucket)
        yield
    reset_caches()


@pytest.fixture
def store(aws: None) -> Any:
    from scalelite_common.services import wiring

    return wiring.store()


class FakeLambdaContext(LambdaContext):
    """A Lambda context for calling handlers in-process. Subclasses Powertools' LambdaContext (what
    `event_source` handlers are typed to take) and has every member of Mangum's LambdaContext protocol."""

    function_name = "ApiFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ApiFunction"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/ApiFunction"
    log_stream_name = "local"
    # Any: Powertools types these as its own classes, Mangum as `... | None` protocols; a fake has neither.
    identity: Any = None
    client_context: Any = None

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self._remaining_ms = remaining_ms

    # Powertools' stand-in types this a staticmethod returning 0; a real context's is bound, as here.
    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return self._remaining_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(autouse=True)
def _event_loop() -> None:
    """Mangum runs the app on the thread's current event loop (a Lambda always has one); a test that closed
    its loop must not break the next one."""
    import asyncio
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


@pytest.fixture(autouse=True)
def _clear_metrics() -> Iterator[None]:
    yield
    from scalelite_common.observability import clear_metrics

    clear_metrics()


@pytest.fixture
def sims() -> Iterator[list[Any]]:
    """Three simulated BBB servers (not registered; see tests.integration.api_support.register)."""
    from bbbsim import BBBSimulator, stop_simulators

    started = [BBBSimulator(secret=f"sim-secret-{i}", poll_interval=0.05).start() for i in range(3)]
    yield started
    stop_simulators(started)
