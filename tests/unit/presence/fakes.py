"""Fakes for the presence tests: a port that records presence updates and a settable stats view."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from src.core.config import Settings, load_settings
from src.core.exceptions import TransientDiscordError
from src.types.models import ChannelStats, CounterKind, DailyStats, Embed
from src.types.ports import ChannelInfo, GuildCounts
from src.utils.clock import ManualClock


@dataclass(frozen=True)
class PresenceCall:
    """One presence update with the clock reading when it was sent."""

    status: str
    text: str | None
    at: float


class FakePort:
    """A Discord port that records every presence update."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.updates: list[PresenceCall] = []
        self.fail_next = 0

    def gateway_member_count(self) -> int | None:
        return None

    def latency(self) -> float | None:
        return None

    def is_connected(self) -> bool:
        return True

    async def fetch_counts(self) -> GuildCounts:
        raise NotImplementedError

    async def count_bans(self) -> int:
        raise NotImplementedError

    async def fetch_channel(self, channel_id: int) -> ChannelInfo:
        raise NotImplementedError

    async def rename_channel(self, channel_id: int, name: str) -> None:
        raise NotImplementedError

    async def send_message(self, channel_id: int, embed: Embed, content: str | None = None) -> int:
        raise NotImplementedError

    async def edit_message(self, channel_id: int, message_id: int, embed: Embed) -> bool:
        raise NotImplementedError

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        raise NotImplementedError

    async def set_presence(self, status: str, text: str | None) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise TransientDiscordError("gateway not connected")
        self.updates.append(PresenceCall(status, text, self.clock.monotonic()))

    def texts(self) -> list[str | None]:
        """The presence texts sent, in order."""
        return [update.text for update in self.updates]


class FakeStats:
    """A stats view whose counts the test sets."""

    def __init__(self) -> None:
        self.counts: dict[CounterKind, int | None] = dict.fromkeys(CounterKind)

    def current_counts(self) -> Mapping[CounterKind, int | None]:
        return self.counts

    def counter_states(self) -> list[ChannelStats]:
        return []

    def today(self) -> DailyStats:
        return DailyStats(date=date(2026, 1, 1))


def make_settings(**overrides: Any) -> Settings:
    """Valid settings with any overrides."""
    values: dict[str, Any] = {
        "bot_token": "MTAx.presence-test-token",
        "member_count_channel_id": 101,
        "online_count_channel_id": 102,
        "ban_count_channel_id": 103,
        "heartbeat_channel_id": 500,
        "stats_channel_id": 104,
    }
    values.update(overrides)
    return load_settings(None, **values)
