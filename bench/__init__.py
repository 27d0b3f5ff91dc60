"""Benchmarks: each prints its figures next to its target. Run all with `make bench` (python -m bench)."""
