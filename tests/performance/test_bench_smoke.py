"""Each benchmark at a tiny size, so they keep working; figures are not asserted (see run_bench)."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.performance.bench_charts import bench_charts
from tests.performance.bench_counters import bench_counters
from tests.performance.bench_events import bench_events
from tests.performance.bench_memory import bench_memory
from tests.performance.bench_raid import bench_raid
from tests.performance.bench_startup import bench_startup
from tests.performance.bench_steady import bench_steady
from tests.performance.bench_store import bench_store
from tests.performance.harness import BenchResult, max_in_window
from tests.performance.run_bench import write_results

pytestmark = pytest.mark.bench

TINY: dict[str, Callable[[], Awaitable[BenchResult]]] = {
    "memory": lambda: bench_memory(sizes=(100, 10_000), settle=0.5),
    "startup": lambda: bench_startup(sizes=(100,), repeats=1),
    "events": lambda: bench_events(joins=(300,), recorder_events=600, per_tick=200, large_day=1000),
    "store": lambda: bench_store(history_days=(1, 5), today_events=50, repeats=3),
    "steady": lambda: bench_steady(time_scale=720.0, settle=0.5),
    "raid": lambda: bench_raid(time_scale=720.0, rate=100.0),
    "counters": lambda: bench_counters(sizes=(100, 5_000), settle=0.3, second_pass=False),
    "charts": lambda: bench_charts(days=3, repeats=1),
}


def _check(result: BenchResult) -> None:
    """A result has rows with measured values, and every target was judged."""
    assert result.error is None
    assert result.rows
    for row in result.rows:
        assert row.value is not None, row.metric
        if isinstance(row.value, float):
            assert math.isfinite(row.value), row.metric
        if row.passed is not None:
            assert row.target, f"{row.metric} is judged against an unnamed target"
    assert any(row.passed is not None for row in result.rows), "each benchmark judges at least one target"


@pytest.mark.parametrize("name", list(TINY))
async def test_benchmark_runs_at_a_tiny_size(name: str, tmp_path: Path) -> None:
    """The benchmark measures something, judges its targets and its results serialise to both files."""
    result = await TINY[name]()
    _check(result)
    write_results([result], tmp_path, datetime.now(UTC), 1.0)
    document = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert document["benchmarks"][0]["name"] == result.name
    assert "| Benchmark |" in (tmp_path / "results.md").read_text(encoding="utf-8")


def test_max_in_window_counts_a_half_open_sliding_window() -> None:
    """Renames exactly one window apart fall in different windows, as the sandbox's limiter counts them."""
    assert max_in_window([0.0, 5.0, 10.0], 5.0) == 1
    assert max_in_window([0.0, 2.5, 4.9, 7.6], 5.0) == 3
    assert max_in_window([], 5.0) == 0
