"""Benchmarks of the training step: `zoo bench` (zoo/bench/measure.py) and its DataLoader peer (zoo/bench/peer.py)."""

from zoo.bench.measure import BenchResult, bench, bench_table

__all__ = ["BenchResult", "bench", "bench_table"]
