"""Protocols the services depend on, so tests can drive them without discord.py."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from src.types.charts import ChartSpec
from src.types.models import (
    Alert,
    Attachment,
    BreakerSnapshot,
    ChannelStats,
    CounterKind,
    DailyStats,
    Embed,
    StoreHealth,
    SystemMetrics,
)


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
class PostedMessage:
    """A message already in a channel, as far as deciding whether a report was posted needs."""

    message_id: int
    by_me: bool  # posted by this bot
    titles: tuple[str, ...]  # its embeds' titles


@dataclass(frozen=True, slots=True)
class GuildCounts:
    """Approximate counts from `GET /guilds/{id}?with_counts=true` (no privileged intent needed)."""

    members: int
    online: int


@dataclass(frozen=True, slots=True)
class GuildFacts:
    """What the guild object itself says, kept current by guild, channel and role events."""

    boosts: int
    boost_tier: int
    channels: int  # every channel except categories
    roles: int  # every role except @everyone
    role_ids: frozenset[int] = frozenset()  # every role's id, @everyone's included


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """A member as the counters need it: no name, just whether it is a bot and its roles."""

    user_id: int
    bot: bool
    roles: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Overwrite:
    """A permission overwrite for a new channel: a role's (@everyone's id is the guild's) or a member's."""

    target_id: int
    is_role: bool
    allow: int = 0
    deny: int = 0


ALL_USER_IDS = 2**64 - 1  # Discord ids are 64-bit snowflakes: a cursor past every one


class DiscordPort(Protocol):
    """The narrow slice of Discord the services use. Errors are `src.core.exceptions.DiscordPortError`s."""

    def gateway_member_count(self) -> int | None:
        """The exact member count the gateway keeps current, or None before the guild is available."""
        ...

    def guild_facts(self) -> GuildFacts | None:
        """Boosts, channels and roles from the gateway's guild, or None before the guild is available."""
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

    async def count_bans(self, on_page: Callable[[int], None] | None = None) -> int:
        """Page through every ban and return how many there are.

        After each page, `on_page(covered)` says every ban of a user id up to `covered` has been counted
        (the ban list is paged in ascending user id); after the last page `covered` is `ALL_USER_IDS`.
        """
        ...

    async def fetch_role_member_counts(self) -> dict[int, int]:
        """Return how many members hold each role (@everyone excluded); no privileged intent needed."""
        ...

    async def scan_members(self, on_chunk: Callable[[Sequence[MemberInfo]], None]) -> int:
        """Pass over the whole member list once, chunk by chunk; return how many members it saw.

        Needs the Server Members intent. Chunks arrive in no particular order; raises a transient error
        when the list stops arriving, so the caller can try again.
        """
        ...

    async def fetch_channel(self, channel_id: int) -> ChannelInfo:
        """Fetch a channel with the bot's permissions in it."""
        ...

    async def rename_channel(self, channel_id: int, name: str) -> None:
        """Rename a channel; raises RateLimitedError on a 429 instead of waiting."""
        ...

    async def send_message(
        self,
        channel_id: int,
        embed: Embed,
        content: str | None = None,
        *,
        nonce: str | None = None,
        files: Sequence[Attachment] = (),
    ) -> int:
        """Post an embed (with `files` attached) and return the message's id.

        With a `nonce`, Discord refuses to post the same nonce twice within a few minutes and answers with
        the message already posted (`enforce_nonce`).
        """
        ...

    async def recent_messages(self, channel_id: int, limit: int = 100) -> list[PostedMessage]:
        """Return the newest `limit` messages of a channel, newest first."""
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


class ChannelAdmin(Protocol):
    """Creating and deleting channels for `/setup` and `/counter` (Manage Channels at the server level)."""

    def bot_user_id(self) -> int | None:
        """The bot's own user id, for its overwrite on the channels it creates (None before login)."""
        ...

    async def create_channel(
        self,
        name: str,
        kind: ChannelKind,
        *,
        parent_id: int | None = None,
        overwrites: Sequence[Overwrite] = (),
    ) -> ChannelInfo:
        """Create a channel in the watched guild and return it."""
        ...

    async def delete_channel(self, channel_id: int) -> None:
        """Delete a channel; one already gone is not an error."""
        ...

    async def fetch_channel(self, channel_id: int) -> ChannelInfo:
        """Fetch a channel with the bot's permissions in it."""
        ...


class DiscordApi(DiscordPort, ChannelAdmin, Protocol):
    """Everything the discord.py adapter offers: what the circuit-breaker decorator wraps."""


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


class JsonStore(Protocol):
    """Where every service keeps its documents: `src.utils.store.AtomicJsonStore` in production.

    Names are relative paths such as `state/reports.json`; every write replaces the whole document
    atomically, a journal (`events/2026-11-21.jsonl`) is only appended to, and a failure raises
    `src.core.exceptions.StoreError`.
    """

    @property
    def health(self) -> StoreHealth:
        """How the store's writes have been going."""
        ...

    async def read(self, name: str, *, validate: Callable[[Any], Any] | None = None) -> Any | None:
        """Return the parsed (and validated) document called `name`, or None when there is none."""
        ...

    async def write(self, name: str, data: Any) -> None:
        """Atomically replace the document called `name` with `data`."""
        ...

    async def write_json_text(self, name: str, text: str) -> None:
        """Atomically replace `name` with already-serialised JSON text."""
        ...

    async def delete(self, name: str) -> None:
        """Remove the document called `name`; a missing one is fine."""
        ...

    async def names(self, folder: str, suffix: str = ".json") -> list[str]:
        """Return the names of the documents directly inside `folder`, sorted."""
        ...

    async def append_lines(self, name: str, lines: Sequence[str]) -> None:
        """Append `lines` (one JSON text each, no newline inside) to the journal `name`, durably."""
        ...

    async def read_lines(self, name: str) -> list[Any]:
        """Return the parsed complete lines of the journal `name` ([] if none), minus a torn last line."""
        ...


class ChartRenderer(Protocol):
    """Draws a chart as PNG bytes (`src.utils.charts.ProcessChartRenderer` in production)."""

    async def render(self, spec: ChartSpec) -> bytes:
        """Return the PNG of `spec`, drawn without blocking the event loop."""
        ...


class MetricsSource(Protocol):
    """Reads the process and host figures (`MetricsSampler` in production)."""

    async def sample(self, latency: float | None) -> SystemMetrics:
        """Return one reading; `latency` is the gateway latency in seconds, if known."""
        ...


class BreakerSource(Protocol):
    """Reports a circuit breaker's state (`CircuitBreaker` in production)."""

    def snapshot(self) -> BreakerSnapshot:
        """Return the breaker's current health fields."""
        ...


class AlertSource(Protocol):
    """The alerts currently raised (`AlertMonitor` in production)."""

    def active_alerts(self) -> list[Alert]:
        """Return the alerts that are active now."""
        ...
