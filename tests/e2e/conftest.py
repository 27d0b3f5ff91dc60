"""One local stack for the e2e session, on free ports, with two simulated BBB servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scalelite_local.stack import Config, LocalStack
from tests.conftest import reset_caches


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    # Poll schedule far away: tests trigger polls themselves, so nothing moves under their feet.
    local = LocalStack(
        Config(aws_port=0, port=0, lambda_port=0, simulated_servers=2, poll_interval=3600, secret="e2e-secret")
    )
    local.start()
    yield local
    local.stop()
    reset_caches()
