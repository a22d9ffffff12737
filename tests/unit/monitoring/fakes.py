"""Fakes for the monitoring tests: a recording Discord port, stats view, sampler, store and settings."""

from __future__ import annotations

from src.types.models import SystemMetrics
from tests.clock import settle
from tests.fakes import (
    BASE_SETTINGS,
    TEST_TOKEN,
    Call,
    FakeDiscord,
    FakeStats,
    MemoryStore,
    PresenceCall,
    make_settings,
)

TOKEN = TEST_TOKEN
HEARTBEAT_CHANNEL = BASE_SETTINGS["heartbeat_channel_id"]
ALERT_CHANNEL = 600


class FakeSampler:
    """A metrics source returning `metrics`, which a test may change between ticks."""

    def __init__(self) -> None:
        self.metrics = SystemMetrics(
            uptime_s=7_384.0,
            cpu_percent=2.5,
            rss_mb=80.0,
            rss_percent=1.2,
            system_memory_percent=40.0,
            disk_percent=50.0,
            threads=7,
        )

    async def sample(self, latency: float | None) -> SystemMetrics:
        return self.metrics.model_copy(update={"latency_ms": None if latency is None else latency * 1000})


__all__ = ["Call", "FakeDiscord", "FakeStats", "MemoryStore", "PresenceCall", "make_settings", "settle"]
