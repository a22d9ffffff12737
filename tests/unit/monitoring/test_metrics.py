"""Tests for MetricsSampler: plausible figures, a primed CPU reading, and psutil kept off the event loop."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import psutil
import pytest

from src.services.monitoring.metrics import MetricsSampler, existing_parent
from tests.clock import ManualClock


async def test_sample_returns_plausible_figures(tmp_path: Path) -> None:
    """RSS, threads, disk and uptime come out in sensible ranges, even before DATA_DIR exists."""
    clock = ManualClock()
    sampler = MetricsSampler(tmp_path / "data" / "not-yet", clock, clock.now())
    await clock.advance(3_723)

    reading = await sampler.sample(0.05)

    assert reading.rss_mb > 0
    assert 0 < reading.rss_percent <= 100
    assert 0 < reading.system_memory_percent <= 100
    assert reading.threads >= 1
    assert 0 <= reading.disk_percent <= 100
    assert reading.uptime_s == 3_723
    assert reading.latency_ms == pytest.approx(50.0)


async def test_first_cpu_reading_reflects_work_since_construction(tmp_path: Path) -> None:
    """Priming at construction makes the first sample report CPU burned since then, not a flat 0.0."""
    sampler = MetricsSampler(tmp_path, ManualClock())
    start = time.process_time()
    while time.process_time() - start < 0.05:  # burn CPU time (not a sleep)
        sum(i * i for i in range(1_000))

    reading = await sampler.sample(None)

    assert reading.cpu_percent > 0.0


@pytest.mark.parametrize("latency", [None, math.inf, math.nan])
async def test_unknown_latency_is_reported_as_none(tmp_path: Path, latency: float | None) -> None:
    """A latency discord.py has not measured yet (None, inf, nan) is shown as unknown."""
    reading = await MetricsSampler(tmp_path, ManualClock()).sample(latency)

    assert reading.latency_ms is None


async def test_psutil_runs_in_a_worker_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The psutil reads happen outside the event loop's thread."""
    seen: list[threading.Thread] = []
    real_disk_usage = psutil.disk_usage

    def recording_disk_usage(path: str) -> object:
        seen.append(threading.current_thread())
        return real_disk_usage(path)

    monkeypatch.setattr(psutil, "disk_usage", recording_disk_usage)

    await MetricsSampler(tmp_path, ManualClock()).sample(None)

    assert seen
    assert all(thread is not threading.main_thread() for thread in seen)


def test_existing_parent_walks_up_to_a_folder_that_exists(tmp_path: Path) -> None:
    """Disk use of a DATA_DIR that does not exist yet is measured on its nearest existing parent."""
    assert existing_parent(tmp_path / "a" / "b") == tmp_path
