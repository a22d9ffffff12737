"""Process and host figures for the heartbeat and alerts, read off the event loop."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil

from src.types.models import SystemMetrics
from src.types.ports import Clock


@dataclass(frozen=True, slots=True)
class _Reading:
    """What one worker-thread visit to psutil found."""

    cpu_percent: float
    rss_mb: float
    rss_percent: float
    system_memory_percent: float
    disk_percent: float
    threads: int


class MetricsSampler:
    """Samples CPU, memory, disk and threads of this process; every psutil call runs in a worker thread."""

    def __init__(self, data_dir: Path, clock: Clock, started_at: datetime | None = None) -> None:
        self.data_dir = data_dir
        self.started_at = started_at or clock.now()
        self._clock = clock
        self._process = psutil.Process()
        # psutil measures CPU between two calls; the first call only sets the baseline and returns 0.0.
        # Priming here makes the first heartbeat report the CPU used since the bot was built.
        self._process.cpu_percent(interval=None)

    async def sample(self, latency: float | None) -> SystemMetrics:
        """Return a reading of the process and host; `latency` is the gateway latency in seconds."""
        reading = await asyncio.to_thread(self._read)  # one hop: psutil reads /proc and can stall
        uptime = (self._clock.now() - self.started_at).total_seconds()
        return SystemMetrics(
            uptime_s=max(0.0, uptime),
            cpu_percent=reading.cpu_percent,
            rss_mb=reading.rss_mb,
            rss_percent=reading.rss_percent,
            system_memory_percent=reading.system_memory_percent,
            disk_percent=reading.disk_percent,
            threads=reading.threads,
            # discord.py reports inf (or nan) before the first gateway heartbeat is acknowledged.
            latency_ms=latency * 1000 if latency is not None and math.isfinite(latency) else None,
        )

    def _read(self) -> _Reading:
        """Read every psutil figure; runs in a worker thread."""
        with self._process.oneshot():
            cpu = self._process.cpu_percent(interval=None)
            rss = self._process.memory_info().rss
            rss_percent = self._process.memory_percent()
            threads = self._process.num_threads()
        return _Reading(
            cpu_percent=round(cpu, 1),
            rss_mb=round(rss / (1024 * 1024), 1),
            rss_percent=round(rss_percent, 2),
            system_memory_percent=round(psutil.virtual_memory().percent, 1),
            disk_percent=round(psutil.disk_usage(str(existing_parent(self.data_dir))).percent, 1),
            threads=threads,
        )


def existing_parent(path: Path) -> Path:
    """Return `path` or its nearest existing ancestor (DATA_DIR may not have been created yet)."""
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe
