"""Fakes for the monitoring tests: a recording Discord port, stats view, sampler, store and settings."""

from __future__ import annotations

import asyncio
from typing import Any

from src.core.config import Settings, load_settings
from src.types.models import SystemMetrics
from tests.fakes import Call, FakeDiscord, FakeStats, MemoryStore, PresenceCall

TOKEN = "MTAxMjM0NTY3ODkw.SeCrEt-TOKEN.do-not-leak-4242"
HEARTBEAT_CHANNEL = 500
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


def make_settings(**overrides: Any) -> Settings:
    """Settings with valid channels, the distinctive TOKEN and any overrides."""
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "member_count_channel_id": 101,
        "online_count_channel_id": 102,
        "ban_count_channel_id": 103,
        "heartbeat_channel_id": HEARTBEAT_CHANNEL,
        "stats_channel_id": 104,
    }
    values.update(overrides)
    return load_settings(None, **values)


async def settle() -> None:
    """Let started tasks run until they block on the clock."""
    for _ in range(50):
        await asyncio.sleep(0)


__all__ = ["Call", "FakeDiscord", "FakeStats", "MemoryStore", "PresenceCall"]
