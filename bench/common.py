"""Environment shared by the benchmarks: dummy AWS credentials, in-process moto, quiet Powertools."""

from __future__ import annotations

import os


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
    from scalelite_common.services import wiring

    wiring.reset_all()
