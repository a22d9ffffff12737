"""Protocols the services depend on, so tests can drive them without discord.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from src.types.models import ChannelStats, CounterKind, DailyStats, Embed


class Clock(Protocol):
    """Where services get the time from; injected so schedules are tested without sleeping."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic reading in seconds, for intervals and windows."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait for `seconds` of this clock's time."""
        ...


class ChannelKind(StrEnum):
    """The channel types StatsBot cares about."""

    TEXT = "text"
    VOICE = "voice"
    STAGE = "stage"
    CATEGORY = "category"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """What the services need to know about a channel."""

    channel_id: int
    name: str
    kind: ChannelKind
    guild_id: int
    can_rename: bool
    can_send: bool


@dataclass(frozen=True, slots=True)
class GuildCounts:
    """Approximate counts from `GET /guilds/{id}?with_counts=true` (no privileged intent needed)."""

    members: int
    online: int


class DiscordPort(Protocol):
    """The narrow slice of Discord the services use. Errors are `src.core.exceptions.DiscordPortError`s."""

    def gateway_member_count(self) -> int | None:
        """The exact member count the gateway keeps current, or None before the guild is available."""
        ...

    def latency(self) -> float | None:
        """Gateway heartbeat latency in seconds, or None when unknown."""
        ...

    def is_connected(self) -> bool:
        """Whether the gateway session is up."""
        ...

    async def fetch_counts(self) -> GuildCounts:
        """Fetch approximate member and online counts."""
        ...

    async def count_bans(self) -> int:
        """Page through every ban and return how many there are."""
        ...

    async def fetch_channel(self, channel_id: int) -> ChannelInfo:
        """Fetch a channel with the bot's permissions in it."""
        ...

    async def rename_channel(self, channel_id: int, name: str) -> None:
        """Rename a channel; raises RateLimitedError on a 429 instead of waiting."""
        ...

    async def send_message(self, channel_id: int, embed: Embed, content: str | None = None) -> int:
        """Post an embed and return the new message's id."""
        ...

    async def edit_message(self, channel_id: int, message_id: int, embed: Embed) -> bool:
        """Edit a message in place; False when it no longer exists."""
        ...

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        """Delete a message; a missing message is not an error."""
        ...

    async def set_presence(self, status: str, text: str | None) -> None:
        """Set the bot's status (online, idle, dnd) and a Watching activity text."""
        ...


class StatsView(Protocol):
    """Read-only numbers the stats service publishes for monitoring, presence and commands."""

    def current_counts(self) -> Mapping[CounterKind, int | None]:
        """The newest value of each counter (None until known)."""
        ...

    def counter_states(self) -> list[ChannelStats]:
        """Each counter channel's state: shown name, pending name, last rename, last error."""
        ...

    def today(self) -> DailyStats:
        """Today's recorded events so far, in the configured time zone."""
        ...
