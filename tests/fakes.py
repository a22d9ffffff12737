"""Test doubles at the I/O seams: one Discord port and one in-memory store shared by every unit test."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from src.core.config import Settings, load_settings
from src.core.exceptions import PermanentDiscordError, StoreError, TransientDiscordError
from src.types.models import Attachment, ChannelStats, CounterKind, DailyStats, Embed, StoreHealth
from src.types.ports import (
    ALL_USER_IDS,
    ChannelInfo,
    ChannelKind,
    GuildCounts,
    GuildFacts,
    MemberInfo,
    Overwrite,
    PostedMessage,
)
from tests.clock import ManualClock

GUILD = 42
BOT_USER = 4242
# Roles FakeDiscord's guild has: the ids the counter tests use in {role:ID} templates.
KNOWN_ROLES = (123456789012345678, 555000000000000001, 555000000000000002, 555000000000000003)
TEST_TOKEN = "test-token-7f3a9c-must-never-leak"
BASE_SETTINGS: dict[str, Any] = {
    "bot_token": TEST_TOKEN,
    "member_count_channel_id": 1001,
    "online_count_channel_id": 1002,
    "ban_count_channel_id": 1003,
    "heartbeat_channel_id": 1004,
    "stats_channel_id": 1005,
}


def make_settings(**overrides: Any) -> Settings:
    """Valid settings from BASE_SETTINGS plus overrides, without reading the environment."""
    return load_settings(None, **{**BASE_SETTINGS, **overrides})


def counter_state(kind: CounterKind, channel_id: int, **fields: Any) -> ChannelStats:
    """A snapshot of one of the original's three counters, as CounterService reports it."""
    label = kind.value.capitalize()
    return ChannelStats(
        channel_id=channel_id, label=label, key=kind.value, template=f"{label}: {{count:,}}", **fields
    )


@dataclass
class Call:
    """One message call the port received, with the clock time it arrived."""

    method: str
    at: datetime
    channel_id: int | None = None
    message_id: int | None = None
    embed: Embed | None = None
    files: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class PresenceCall:
    """One presence update with the monotonic clock reading when it was sent."""

    status: str
    text: str | None
    at: float


class FakeDiscord:
    """A DiscordPort that keeps channels, messages and presence in memory and records every call.

    Tests steer failures through the `*_errors` lists and `fail_*` counters.
    """

    def __init__(self, clock: ManualClock, counter_channels: tuple[int, ...] = ()) -> None:
        self.clock = clock
        self.channels: dict[int, ChannelInfo] = {
            cid: ChannelInfo(cid, "counter", ChannelKind.VOICE, GUILD, can_rename=True, can_send=False)
            for cid in counter_channels
        }
        self.renames: list[tuple[float, int, str]] = []
        self.rename_attempts: dict[int, int] = dict.fromkeys(counter_channels, 0)
        self.rename_errors: dict[int, list[Exception]] = {}
        self.fetch_channel_errors: dict[int, list[Exception]] = {}
        self.counts = GuildCounts(members=1234, online=567)
        self.counts_errors: list[Exception] = []
        self.gateway_members: int | None = 1234
        self.bans = 89
        self.during_count: Callable[[], None] | None = None
        self.paged_up_to = 5_000  # the user id the first page of a scripted count reaches
        self.calls: list[Call] = []
        self.messages: dict[int, tuple[int, Embed]] = {}
        self.nonces: dict[str, int] = {}
        self.fail_sends = 0
        self.updates: list[PresenceCall] = []
        self.fail_presence = 0
        self.connected = True
        self.latency_s: float | None = 0.085
        self.facts: GuildFacts | None = GuildFacts(
            boosts=3, boost_tier=1, channels=12, roles=5, role_ids=frozenset({GUILD, *KNOWN_ROLES})
        )
        self.role_counts: dict[int, int] | Exception = {}
        self.member_list: list[MemberInfo] = []  # what a member-list pass sees, in chunks of `chunk_size`
        self.chunk_size = 1000
        self.during_scan: Callable[[], None] | None = None  # runs between the first chunk and the rest
        self.scan_errors: list[Exception] = []
        self.create_errors: list[Exception] = []
        self.created: dict[int, tuple[int | None, tuple[Overwrite, ...]]] = {}  # parent and overwrites
        self._next_channel_id = 5000
        self._next_id = 1000

    # --- gateway state ---------------------------------------------------------------------------------
    def gateway_member_count(self) -> int | None:
        return self.gateway_members

    def latency(self) -> float | None:
        return self.latency_s

    def guild_facts(self) -> GuildFacts | None:
        return self.facts

    def is_connected(self) -> bool:
        return self.connected

    # --- counts and channels ---------------------------------------------------------------------------
    async def fetch_counts(self) -> GuildCounts:
        if self.counts_errors:
            raise self.counts_errors.pop(0)
        return self.counts

    async def count_bans(self, on_page: Callable[[int], None] | None = None) -> int:
        """Count the bans; `during_count` (if set) runs between the first page and the last, as events do."""
        if self.during_count is not None and on_page is not None:
            on_page(self.paged_up_to)
            self.during_count()
        if on_page is not None:
            on_page(ALL_USER_IDS)
        return self.bans

    def bot_user_id(self) -> int | None:
        return BOT_USER

    async def create_channel(
        self,
        name: str,
        kind: ChannelKind,
        *,
        parent_id: int | None = None,
        overwrites: Sequence[Overwrite] = (),
    ) -> ChannelInfo:
        """Create a channel with a fresh id; `create_errors` fail the next creations first."""
        self.calls.append(Call("create_channel", self.clock.now()))
        if self.create_errors:
            raise self.create_errors.pop(0)
        self._next_channel_id += 1
        info = ChannelInfo(
            self._next_channel_id, name, kind, GUILD, can_rename=True, can_send=kind is ChannelKind.TEXT
        )
        self.channels[info.channel_id] = info
        self.created[info.channel_id] = (parent_id, tuple(overwrites))
        return info

    async def delete_channel(self, channel_id: int) -> None:
        self.calls.append(Call("delete_channel", self.clock.now(), channel_id))
        self.channels.pop(channel_id, None)

    async def fetch_role_member_counts(self) -> dict[int, int]:
        self.calls.append(Call("fetch_role_member_counts", self.clock.now()))
        if isinstance(self.role_counts, Exception):
            raise self.role_counts
        return dict(self.role_counts)

    async def scan_members(self, on_chunk: Callable[[Sequence[MemberInfo]], None]) -> int:
        """Feed `member_list` in chunks; `during_scan` runs after the first, as events would."""
        self.calls.append(Call("scan_members", self.clock.now()))
        if self.scan_errors:
            raise self.scan_errors.pop(0)
        members = list(self.member_list)
        for start in range(0, max(1, len(members)), self.chunk_size):
            on_chunk(members[start : start + self.chunk_size])
            if start == 0 and self.during_scan is not None:
                self.during_scan()
        return len(members)

    async def fetch_channel(self, channel_id: int) -> ChannelInfo:
        errors = self.fetch_channel_errors.get(channel_id)
        if errors:
            raise errors.pop(0)
        if channel_id not in self.channels:
            raise PermanentDiscordError("404 Unknown Channel")
        return self.channels[channel_id]

    async def rename_channel(self, channel_id: int, name: str) -> None:
        self.rename_attempts[channel_id] = self.rename_attempts.get(channel_id, 0) + 1
        errors = self.rename_errors.get(channel_id)
        if errors:
            raise errors.pop(0)
        self.channels[channel_id] = replace(self.channels[channel_id], name=name)
        self.renames.append((self.clock.monotonic(), channel_id, name))

    def name(self, channel_id: int) -> str:
        """A channel's current name."""
        return self.channels[channel_id].name

    def renames_of(self, channel_id: int) -> list[tuple[float, str]]:
        """(clock seconds, name) of each rename of one channel."""
        return [(t, name) for t, cid, name in self.renames if cid == channel_id]

    # --- messages --------------------------------------------------------------------------------------
    async def send_message(
        self,
        channel_id: int,
        embed: Embed,
        content: str | None = None,
        *,
        nonce: str | None = None,
        files: Sequence[Attachment] = (),
    ) -> int:
        self.calls.append(Call("send", self.clock.now(), channel_id, None, embed, tuple(files)))
        if self.fail_sends:
            self.fail_sends -= 1
            raise TransientDiscordError("503 Service Unavailable")
        if nonce is not None and nonce in self.nonces:
            return self.nonces[nonce]  # enforce_nonce: Discord answers with the message already posted
        self._next_id += 1
        self.messages[self._next_id] = (channel_id, embed)
        if nonce is not None:
            self.nonces[nonce] = self._next_id
        return self._next_id

    async def recent_messages(self, channel_id: int, limit: int = 100) -> list[PostedMessage]:
        mine = [(mid, embed) for mid, (cid, embed) in self.messages.items() if cid == channel_id]
        return [PostedMessage(mid, True, (embed.title,)) for mid, embed in reversed(mine)][:limit]

    async def edit_message(self, channel_id: int, message_id: int, embed: Embed) -> bool:
        self.calls.append(Call("edit", self.clock.now(), channel_id, message_id, embed))
        if message_id not in self.messages:
            return False
        self.messages[message_id] = (channel_id, embed)
        return True

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        self.calls.append(Call("delete", self.clock.now(), channel_id, message_id))
        self.messages.pop(message_id, None)

    def of(self, method: str) -> list[Call]:
        """The message calls of one kind ("send", "edit", "delete"), in order."""
        return [call for call in self.calls if call.method == method]

    def embeds(self) -> list[Embed]:
        """Every embed sent or edited, in order."""
        return [call.embed for call in self.calls if call.embed is not None]

    # --- presence --------------------------------------------------------------------------------------
    async def set_presence(self, status: str, text: str | None) -> None:
        if self.fail_presence:
            self.fail_presence -= 1
            raise TransientDiscordError("gateway not connected")
        self.updates.append(PresenceCall(status, text, self.clock.monotonic()))

    def texts(self) -> list[str | None]:
        """The presence texts sent, in order."""
        return [update.text for update in self.updates]


class MemoryStore:
    """An in-memory AtomicJsonStore: round-trips JSON, has health, can be told the disk is full.

    A journal is kept as the JSON list of its lines and every append goes through `write`, so a full disk
    (and a subclass counting writes) refuses appends as it refuses documents.
    """

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.health = StoreHealth()
        self.fail_writes = False

    async def read(self, name: str, *, validate: Callable[[Any], Any] | None = None) -> Any | None:
        if name not in self.files:
            return None
        data = json.loads(self.files[name])
        return validate(data) if validate else data

    async def write(self, name: str, data: Any) -> None:
        if self.fail_writes:
            raise StoreError(f"could not write {name}: No space left on device (ENOSPC)")
        self.files[name] = json.dumps(data)

    async def write_json_text(self, name: str, text: str) -> None:
        await self.write(name, json.loads(text))

    async def delete(self, name: str) -> None:
        self.files.pop(name, None)

    async def names(self, folder: str, suffix: str = ".json") -> list[str]:
        prefix = folder.rstrip("/") + "/"
        inside = (n for n in self.files if n.startswith(prefix) and "/" not in n[len(prefix) :])
        return sorted(n for n in inside if n.endswith(suffix))

    async def append_lines(self, name: str, lines: Sequence[str]) -> None:
        if lines:
            await self.write(name, [*await self.read_lines(name), *(json.loads(line) for line in lines)])

    async def read_lines(self, name: str) -> list[Any]:
        lines: list[Any] = json.loads(self.files[name]) if name in self.files else []
        return lines

    def document(self, name: str) -> Any:
        """The parsed content of a stored file."""
        return json.loads(self.files[name])


@dataclass
class FakeStats:
    """A StatsView whose figures the test sets."""

    counts: dict[CounterKind, int | None] = field(default_factory=lambda: dict.fromkeys(CounterKind))
    counters: list[ChannelStats] = field(default_factory=list)
    day: DailyStats = field(default_factory=lambda: DailyStats(date=date(2026, 1, 1)))

    def current_counts(self) -> Mapping[CounterKind, int | None]:
        return self.counts

    def counter_states(self) -> list[ChannelStats]:
        return self.counters

    def today(self) -> DailyStats:
        return self.day
