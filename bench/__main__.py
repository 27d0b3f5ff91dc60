"""`make bench`: run every benchmark; each prints its figures next to its target.

Each benchmark runs in a fresh interpreter: the CPU figures are the process's, and threads, caches and garbage left
by an earlier benchmark (the API burst's simulators, say) would be counted against the next one.
"""

from __future__ import annotations

import subprocess
import sys

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
    failed = []
    for name in MODULES:
        print(flush=True)
        if subprocess.run([sys.executable, "-m", name], check=False).returncode != 0:
            failed.append(name)
    if failed:
        sys.exit(f"benchmarks that did not finish: {', '.join(failed)}")


if __name__ == "__main__":
    main()
