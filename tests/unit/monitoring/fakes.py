"""Fakes for the monitoring tests: a recording Discord port, stats view, sampler, store and settings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from src.core.config import Settings, load_settings
from src.core.exceptions import TransientDiscordError
from src.types.models import ChannelStats, CounterKind, DailyStats, Embed, SystemMetrics
from src.types.ports import ChannelInfo, GuildCounts
from src.utils.clock import ManualClock
from src.utils.store import StoreHealth

TOKEN = "MTAxMjM0NTY3ODkw.SeCrEt-TOKEN.do-not-leak-4242"
HEARTBEAT_CHANNEL = 500
ALERT_CHANNEL = 600


@dataclass
class Call:
    """One call the fake port received, with the clock time it arrived."""

    method: str
    at: datetime
    channel_id: int | None = None
    message_id: int | None = None
    embed: Embed | None = None


class FakePort:
    """A Discord port that keeps messages in memory and records every call."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.calls: list[Call] = []
        self.messages: dict[int, tuple[int, Embed]] = {}
        self.connected = True
        self.latency_s: float | None = 0.085
        self.fail_sends = 0
        self._next_id = 1000

    def gateway_member_count(self) -> int | None:
        return None

    def latency(self) -> float | None:
        return self.latency_s

    def is_connected(self) -> bool:
        return self.connected

    async def fetch_counts(self) -> GuildCounts:
        raise NotImplementedError

    async def count_bans(self) -> int:
        raise NotImplementedError

    async def fetch_channel(self, channel_id: int) -> ChannelInfo:
        raise NotImplementedError

    async def rename_channel(self, channel_id: int, name: str) -> None:
        raise NotImplementedError

    async def send_message(self, channel_id: int, embed: Embed, content: str | None = None) -> int:
        self.calls.append(Call("send", self.clock.now(), channel_id, None, embed))
        if self.fail_sends:
            self.fail_sends -= 1
            raise TransientDiscordError("503 Service Unavailable")
        self._next_id += 1
        self.messages[self._next_id] = (channel_id, embed)
        return self._next_id

    async def edit_message(self, channel_id: int, message_id: int, embed: Embed) -> bool:
        self.calls.append(Call("edit", self.clock.now(), channel_id, message_id, embed))
        if message_id not in self.messages:
            return False
        self.messages[message_id] = (channel_id, embed)
        return True

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        self.calls.append(Call("delete", self.clock.now(), channel_id, message_id))
        self.messages.pop(message_id, None)

    async def set_presence(self, status: str, text: str | None) -> None:
        self.calls.append(Call("presence", self.clock.now()))

    def of(self, method: str) -> list[Call]:
        """The calls of one kind, in order."""
        return [call for call in self.calls if call.method == method]

    def embeds(self) -> list[Embed]:
        """Every embed sent or edited, in order."""
        return [call.embed for call in self.calls if call.embed is not None]


class FakeStats:
    """A stats view with settable figures."""

    def __init__(self) -> None:
        self.counts: dict[CounterKind, int | None] = dict.fromkeys(CounterKind)
        self.counters: list[ChannelStats] = []
        self.day = DailyStats(date=date(2026, 1, 1))

    def current_counts(self) -> Mapping[CounterKind, int | None]:
        return self.counts

    def counter_states(self) -> list[ChannelStats]:
        return self.counters

    def today(self) -> DailyStats:
        return self.day


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


class MemoryStore:
    """An in-memory JSON store with the AtomicJsonStore shape (no worker threads, so ticks settle)."""

    def __init__(self) -> None:
        self.docs: dict[str, str] = {}
        self.health = StoreHealth()
        self.fail_writes = False

    async def read(self, name: str, *, validate: Callable[[Any], Any] | None = None) -> Any | None:
        if name not in self.docs:
            return None
        data = json.loads(self.docs[name])
        return validate(data) if validate else data

    async def write(self, name: str, data: Any) -> None:
        if self.fail_writes:
            raise OSError("disk full")
        self.docs[name] = json.dumps(data)


@dataclass
class PendingClock:
    """A pending_since source: when each counter's new value started waiting."""

    since: dict[CounterKind, datetime] = field(default_factory=dict)

    def pending_since(self, kind: CounterKind) -> datetime | None:
        return self.since.get(kind)


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
