"""One local stack for the e2e tests, on free ports, with two simulated BBB servers.

Package scope rather than session: the stack runs in this process (moto's backends and `os.environ` are
process-wide), so it must be down while unit/integration tests run on the same worker (`mock_aws` resets moto,
their settings differ). pytest tears it down when leaving tests/e2e and starts a fresh one on coming back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scalelite_local.stack import Config, LocalStack

E2E_SECRET = "e2e-secret"


@pytest.fixture(scope="package")
def stack() -> Iterator[LocalStack]:
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
        )
    )
    local.start()
    yield local
    local.stop()
