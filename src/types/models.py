"""Pydantic models for what StatsBot records, shows and persists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class EventKind(StrEnum):
    """What happened to a member."""

    JOIN = "join"
    LEAVE = "leave"
    BAN = "ban"
    UNBAN = "unban"


class MemberEvent(BaseModel):
    """One join, leave, ban or unban; ids are strings because JSON numbers lose precision past 2**53."""

    model_config = ConfigDict(frozen=True)

    kind: EventKind
    member_id: str
    username: str
    display_name: str | None = None
    timestamp: datetime
    bot: bool = False
    # For a join: when Discord says the member joined. A join delivered twice (a RESUME replaying it) has
    # the same member and joined_at, which is what makes it the same join.
    joined_at: datetime | None = None
    # For a ban: whether the banned user was a member (a member-remove came with the ban). A ban by id of
    # someone who never joined removes nobody. None when unknown (without the members intent, or old data).
    member_removed: bool | None = None

    def with_member_removed(self) -> MemberEvent:
        """Return this ban marked as having removed a member (a fresh model: `json_text` is cached)."""
        return MemberEvent.model_validate({**self.model_dump(), "member_removed": True})

    @cached_property
    def json_text(self) -> str:
        """This event as JSON, serialised once: a day's file is rewritten every second during a burst."""
        return self.model_dump_json()


class DailyStats(BaseModel):
    """Everything recorded for one calendar day in the configured time zone (one file per day)."""

    schema_version: int = SCHEMA_VERSION
    date: date
    events: list[MemberEvent] = Field(default_factory=list)
    member_count_start: int | None = None
    member_count_end: int | None = None

    def count(self, kind: EventKind) -> int:
        """How many events of `kind` happened that day."""
        return sum(1 for event in self.events if event.kind is kind)

    def to_json_text(self) -> str:
        """The day as JSON text, reusing each event's cached serialisation."""
        head = self.model_dump_json(exclude={"events"})
        return f'{head[:-1]},"events":[{",".join(event.json_text for event in self.events)}]}}'

    def bans_of_non_members(self) -> int:
        """How many bans were of users who were not members (they removed nobody)."""
        return sum(1 for e in self.events if e.kind is EventKind.BAN and e.member_removed is False)

    @property
    def net_change(self) -> int:
        """Joins minus leaves minus bans that removed a member (an unban does not add one back)."""
        removing_bans = self.count(EventKind.BAN) - self.bans_of_non_members()
        return self.count(EventKind.JOIN) - self.count(EventKind.LEAVE) - removing_bans


class CounterKind(StrEnum):
    """The guild-wide values a counter's template can show (members holding a role are `role:ID`)."""

    MEMBERS = "members"
    HUMANS = "humans"
    BOTS = "bots"
    ONLINE = "online"
    BANS = "bans"
    BOOSTS = "boosts"
    BOOST_TIER = "boost_tier"
    CHANNELS = "channels"
    ROLES = "roles"
    GOAL = "goal"


class CounterSource(StrEnum):
    """Where a counter was declared; environment counters cannot be removed by a command."""

    ENVIRONMENT = "environment"
    FILE = "file"
    COMMAND = "command"


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """One counter: a channel whose name shows `template` filled in with the current values."""

    channel_id: int
    template: str
    source: CounterSource
    count_key: str | None = None  # what `{count}` shows: the original's three counters only
    setting: str | None = None  # the variable or file naming the channel, for fixes

    @property
    def origin(self) -> str:
        """Return where the counter is declared, e.g. "environment (MEMBER_COUNT_CHANNEL_ID)"."""
        if self.source is CounterSource.ENVIRONMENT:
            return f"environment ({self.setting})"
        return self.setting or self.source.value

    @property
    def label(self) -> str:
        """Return how logs and status messages name this counter."""
        if self.count_key is not None:
            return self.count_key.capitalize()
        return self.template if len(self.template) <= 40 else self.template[:39] + "…"


class ChannelStats(BaseModel):
    """A counter channel's state as the heartbeat and /health show it."""

    channel_id: int
    label: str  # "Members" for the original's counters, else the channel's id
    key: str  # the value `{count}` (or the first placeholder) shows
    template: str
    source: CounterSource = CounterSource.ENVIRONMENT
    value: int | None = None
    shown_name: str | None = None
    pending_name: str | None = None
    last_renamed: datetime | None = None
    next_rename_at: datetime | None = None
    pending_since: datetime | None = None  # since when the shown name has lagged behind the value
    paused_reason: str | None = None
    paused_fix: str | None = None  # what the operator should do to resume a paused counter
    last_error: str | None = None


class SystemMetrics(BaseModel):
    """One reading of the process and host, for the heartbeat and alerts."""

    uptime_s: float
    cpu_percent: float
    rss_mb: float
    rss_percent: float
    system_memory_percent: float
    disk_percent: float
    threads: int
    latency_ms: float | None = None


class EmbedField(BaseModel):
    """One field of an embed."""

    name: str
    value: str
    inline: bool = False


class Embed(BaseModel):
    """A Discord embed as services build it; the adapter turns it into discord.py's Embed."""

    title: str
    description: str = ""
    color: int = 0x5865F2
    fields: list[EmbedField] = Field(default_factory=list)
    footer: str | None = None
    timestamp: datetime | None = None
    image: str | None = None  # "attachment://chart.png": a picture attached to the same message

    def field(self, name: str) -> str | None:
        """The value of the field called `name`, or None."""
        return next((f.value for f in self.fields if f.name == name), None)

    def as_text(self) -> str:
        """A plain-text rendering for terminals (`python -m src report`, the demo)."""
        lines = [self.title, "=" * len(self.title)]
        if self.description:
            lines += [self.description, ""]
        for item in self.fields:
            lines.append(
                f"{item.name}: {item.value}" if "\n" not in item.value else f"{item.name}:\n{item.value}"
            )
        if self.footer:
            lines += ["", self.footer]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file posted with a message: a chart PNG or an export CSV."""

    filename: str
    data: bytes
    description: str | None = None  # alt text: what Discord shows screen readers

    def __repr__(self) -> str:
        return f"Attachment({self.filename!r}, {len(self.data)} bytes)"


@dataclass
class StoreHealth:
    """How the store's writes have been going, for the health report."""

    last_success: datetime | None = None
    last_failure: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None

    @property
    def ok(self) -> bool:
        """Return True when the most recent write, restore or delete succeeded (or none has failed yet)."""
        return self.consecutive_failures == 0


class BreakerState(StrEnum):
    """Where a circuit breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A point-in-time view of a circuit breaker for health reports."""

    name: str
    state: BreakerState
    consecutive_failures: int
    opened_at: datetime | None
    last_error: str | None
    retry_in: float


class AlertKind(StrEnum):
    """The conditions StatsBot alerts on."""

    MEMORY = "memory"
    DISK = "disk"
    COUNTER_STALE = "counter_stale"
    STORE = "store"
    DISCONNECT = "disconnect"
    BREAKER = "breaker"


@dataclass(frozen=True, slots=True)
class Alert:
    """An active alert: what is wrong, the latest value, the threshold and since when."""

    kind: AlertKind
    subject: str | None
    title: str
    value: str
    threshold: str
    since: datetime
    posted: bool = False

    @property
    def key(self) -> str:
        """Identity of the alert: its kind plus the counter or breaker it is about."""
        return f"{self.kind.value}:{self.subject}" if self.subject else self.kind.value
