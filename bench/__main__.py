"""`make bench`: run every benchmark; each prints its figures next to its target."""

from __future__ import annotations

import importlib

MODULES = (
    "bench.bench_import",
    "bench.bench_api",
    "bench.bench_poller",
    "bench.bench_memory",
    "bench.bench_recordings",
    "bench.bench_coldstart",  # init vs first request, per function: ≈ 40 s
    "bench.cost_model",  # `make cost` alone: ≈ 30 s
)


def main() -> None:
    for name in MODULES:
        print()
        importlib.import_module(name).main()


if __name__ == "__main__":
    main()
