"""The thin discord.py client: least-privilege intents, gateway events turned into service calls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import discord

from src.core.config import Settings
from src.core.member_scan import MemberChunks, member_info
from src.types.models import EventKind, MemberEvent
from src.types.ports import Clock, MemberInfo
from src.utils.logging import get_logger
from src.utils.text import describe_error

log = get_logger(__name__, service="bot")

# discord.py sleeps instead of raising for any 429 shorter than this; 30 s is the smallest it accepts.
MAX_RATELIMIT_WAIT = 30.0
# How long discord.py gets to notice a finished close() before its connect loop is cancelled. It looks at
# is_closed() only between connection attempts, and in an outage it sleeps up to ~1,000 s before the next.
CLOSE_GRACE = 0.5


class WatchedGuild:
    """The one guild StatsBot watches: GUILD_ID, or else the guild that owns the anchor channel."""

    def __init__(self, guild_id: int | None, anchor_channel_id: int) -> None:
        self._id = guild_id
        self._anchor_channel_id = anchor_channel_id

    @property
    def id(self) -> int | None:
        """Return the watched guild's id, or None until the gateway has shown which one it is."""
        return self._id

    def matches(self, guild: discord.Guild) -> bool:
        """Return whether `guild` is the watched one, adopting it if it owns the anchor channel."""
        if self._id is None and guild.get_channel(self._anchor_channel_id) is not None:
            self._id = guild.id
        return guild.id == self._id


class BotEvents(Protocol):
    """What the client tells the rest of the bot; implemented by `src.core.gateway_events.GatewayEvents`."""

    async def guild_ready(self, guild: discord.Guild) -> None:
        """The watched guild arrived in a fresh gateway session (start-up or after a re-identify)."""
        ...

    def member_event(
        self, event: MemberEvent, member_count: int | None, roles: frozenset[int] = frozenset()
    ) -> None:
        """A join, leave, ban or unban in the watched guild, with the member count after it.

        A join also carries the roles the member arrived with.
        """
        ...

    def member_updated(self, member: MemberInfo) -> None:
        """A member of the watched guild changed (members intent): the roles it holds now."""
        ...

    def guild_changed(self) -> None:
        """The watched guild's boosts, channels or roles changed."""
        ...

    def connection_changed(self, connected: bool) -> None:
        """The gateway connected, resumed or dropped."""
        ...

    async def shutdown(self) -> None:
        """Stop services in order and flush data before the client disconnects."""
        ...


def build_intents(settings: Settings) -> discord.Intents:
    """Only what StatsBot needs: no message content and no presences (online comes from with_counts)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.moderation = True  # ban/unban events, not privileged
    intents.members = settings.members_intent  # privileged: exact join/leave events
    return intents


class StatsBot(discord.Client):
    """A discord.Client with no member cache and no start-up chunking: counting does not need them."""

    def __init__(self, settings: Settings, clock: Clock, guild: WatchedGuild) -> None:
        super().__init__(
            intents=build_intents(settings),
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
            status=discord.Status.online,
        )
        self._clock = clock
        self._guild = guild
        self._events: BotEvents | None = None
        self._closing: asyncio.Task[None] | None = None
        self._session: asyncio.Task[None] | None = None
        self._stop_requested = False
        self._closed = asyncio.Event()
        self.member_chunks = MemberChunks()
        self._tap_parsers()
        self._guard_parsers()

    def attach(self, events: BotEvents) -> None:
        """Send gateway events to `events` from now on (once, before `start`), as a cog is added."""
        self._events = events

    @property
    def events(self) -> BotEvents:
        """Return where gateway events go; attaching it is part of building the bot."""
        if self._events is None:
            raise RuntimeError("StatsBot.attach() was not called before the gateway started")
        return self._events

    def _tap_parsers(self) -> None:
        """Take member chunks and member updates before discord.py's parsers, which need a member cache.

        With the cache off, discord.py drops a member update it has no cached member for, and would build
        a `Member` object for each of a million chunked members. The gateway looks parsers up in this dict.
        """
        parsers = self._connection.parsers
        parse_chunk, parse_update = parsers["GUILD_MEMBERS_CHUNK"], parsers["GUILD_MEMBER_UPDATE"]

        def chunk(data: Any) -> None:
            if not self.member_chunks.take(data):
                parse_chunk(data)

        def update(data: Any) -> None:
            member = member_info(data)
            if member is not None and _snowflake(data.get("guild_id")) == self._guild.id:
                self.events.member_updated(member)
            parse_update(data)

        parse_rate_limited = parsers.get("RATE_LIMITED")

        def rate_limited(data: Any) -> None:
            # discord.py 2.7 has no parser for it (it logs "Unknown event"); ours tells the pass to wait.
            if not self.member_chunks.rate_limited(data) and parse_rate_limited is not None:
                parse_rate_limited(data)

        parsers["GUILD_MEMBERS_CHUNK"], parsers["GUILD_MEMBER_UPDATE"] = chunk, update
        parsers["RATE_LIMITED"] = rate_limited

    def _guard_parsers(self) -> None:
        """Drop a dispatch discord.py cannot parse instead of letting it end the gateway session.

        discord.py's parsers raise on malformed payloads and the exception escapes `poll_event`, which
        would stop the whole bot. The gateway looks parsers up in this dict, so wrapping it once suffices.
        """
        parsers = self._connection.parsers
        for event, parse in list(parsers.items()):
            parsers[event] = _guarded(event, parse)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        """Start or re-baseline as soon as the guild arrives, without waiting for on_ready's delay."""
        if self._guild.matches(guild):
            await self.events.guild_ready(guild)

    async def on_ready(self) -> None:
        """Log the session, and explain what to fix when the watched guild is not among the bot's guilds."""
        guild_id = self._guild.id
        log.info("bot.ready", user=str(self.user), guilds=len(self.guilds), guild_id=guild_id)
        if guild_id is None or self.get_guild(guild_id) is None:
            log.error(
                "bot.guild_not_found",
                guild_id=guild_id,
                fix="invite the bot to the server that owns MEMBER_COUNT_CHANNEL_ID (or else "
                "HEARTBEAT_CHANNEL_ID), or set GUILD_ID",
            )

    async def on_connect(self) -> None:
        """The gateway connected."""
        self.events.connection_changed(True)

    async def on_resumed(self) -> None:
        """The gateway session resumed; missed events are replayed by Discord."""
        self.events.connection_changed(True)

    async def on_disconnect(self) -> None:
        """The gateway dropped; discord.py reconnects by itself."""
        self.events.connection_changed(False)

    async def on_member_join(self, member: discord.Member) -> None:
        """Record a join (members intent)."""
        if member.guild.id == self._guild.id:
            self._record(EventKind.JOIN, member, member.guild, frozenset(role.id for role in member.roles))

    async def on_guild_update(self, before: discord.Guild, after: discord.Guild) -> None:
        """Boosts (and everything else about the guild) may have changed."""
        self._guild_changed(after)

    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        """A channel was created: the channel count changed."""
        self._guild_changed(channel.guild)

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """A channel was deleted: the channel count changed."""
        self._guild_changed(channel.guild)

    async def on_guild_role_create(self, role: discord.Role) -> None:
        """A role was created: the role count changed."""
        self._guild_changed(role.guild)

    async def on_guild_role_delete(self, role: discord.Role) -> None:
        """A role was deleted: the role count changed."""
        self._guild_changed(role.guild)

    def _guild_changed(self, guild: discord.Guild) -> None:
        if guild.id == self._guild.id:
            self.events.guild_changed()

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """Record a leave; the raw event fires even with the member cache off."""
        if payload.guild_id == self._guild.id:
            self._record(EventKind.LEAVE, payload.user, self.get_guild(payload.guild_id))

    async def on_member_ban(self, guild: discord.Guild, user: discord.User | discord.Member) -> None:
        """Record a ban (moderation intent)."""
        if guild.id == self._guild.id:
            self._record(EventKind.BAN, user, guild)

    async def on_member_unban(self, guild: discord.Guild, user: discord.User) -> None:
        """Record an unban (moderation intent)."""
        if guild.id == self._guild.id:
            self._record(EventKind.UNBAN, user, guild)

    async def serve(self, token: str) -> None:
        """Log in and run the gateway session until close() has finished, even if discord.py is asleep.

        Once close() is done discord.py gets `CLOSE_GRACE` to return by itself, then it is cancelled. After
        a stop someone asked for, an error discord.py raises because its connection was closed under it is
        logged, not raised; its own login and gateway errors still raise.
        """
        session = asyncio.create_task(self.start(token), name="discord-session")
        self._session = session
        closed = asyncio.create_task(self._closed.wait(), name="discord-closed")
        try:
            await asyncio.wait({session, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not session.done():
                await asyncio.wait({session}, timeout=CLOSE_GRACE)
            if not session.done():
                log.info("bot.session_cancelled", reason="still waiting after close", grace_s=CLOSE_GRACE)
                session.cancel()
                await asyncio.wait({session})
            if session.cancelled():
                return
            error = session.exception()
            if error is not None and self._stop_requested:
                log.info("bot.session_ended_by_stop", error=f"{type(error).__name__}: {error}")
                return
            await session
        finally:
            closed.cancel()
            if not session.done():  # serve() itself was cancelled: take discord.py down with it
                session.cancel()
                await asyncio.wait({session})

    def request_close(self) -> None:
        """Begin a graceful close from a signal handler (idempotent)."""
        if self._closing is None:
            log.info("bot.signal_received")
            self._closing = asyncio.create_task(self.close())

    async def close(self) -> None:
        """Stop services and flush data first, then disconnect (SIGTERM and SIGINT come here)."""
        # discord.py closes the client itself before raising some gateway errors; only a close from
        # anywhere else is a stop someone asked for.
        if self._session is None or asyncio.current_task() is not self._session:
            self._stop_requested = True
        try:
            if not self.is_closed():
                await self.events.shutdown()
            # discord.py's delayed on_ready (it waits ~2 s for more guilds) would otherwise fire on a closed
            # client whose loop is gone, leaving a never-awaited coroutine behind.
            ready: asyncio.Task[None] | None = getattr(self._connection, "_ready_task", None)
            if ready is not None:
                ready.cancel()
            await super().close()
        finally:
            self._closed.set()

    def _record(
        self,
        kind: EventKind,
        user: discord.User | discord.Member,
        guild: discord.Guild | None,
        roles: frozenset[int] = frozenset(),
    ) -> None:
        """Hand one member event over, with the count discord.py keeps current from join/remove events."""
        event = MemberEvent(
            kind=kind,
            member_id=str(user.id),
            username=user.name,
            display_name=getattr(user, "global_name", None) or user.display_name,
            timestamp=self._clock.now(),
            bot=user.bot,
            # What makes a replayed join the same join (a RESUME can deliver it twice).
            joined_at=user.joined_at if kind is EventKind.JOIN and isinstance(user, discord.Member) else None,
        )
        self.events.member_event(event, guild.member_count if guild is not None else None, roles)


def _snowflake(value: Any) -> int | None:
    """Return a payload's id as an int, or None when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _guarded(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
    """Wrap one parser so its failure is logged (event name and error, never the payload) and skipped."""

    def guarded(data: Any) -> None:
        try:
            parse(data)
        except Exception as exc:
            log.error("bot.malformed_dispatch", gateway_event=event, error=describe_error(exc))

    return guarded
