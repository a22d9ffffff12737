"""Gateway events turned into service calls: counts to the counters, member events to the recorder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from src.services.stats.counters import CounterService
from src.services.stats.events import EventRecorder
from src.types.models import EventKind, MemberEvent
from src.types.ports import MemberInfo
from src.utils.logging import get_logger

log = get_logger(__name__, service="app")


class GatewayEvents:
    """Implements `src.core.bot.BotEvents` with just the parts each event touches."""

    def __init__(
        self,
        *,
        recorder: EventRecorder,
        counters: CounterService,
        connection: Callable[[bool], None],
        start: Callable[[int], Awaitable[None]],
        shutdown: Callable[[], Awaitable[None]],
    ) -> None:
        self._recorder = recorder
        self._counters = counters
        self._connection = connection
        self._start = start
        self._shutdown = shutdown
        self._started = False

    async def guild_ready(self, guild: discord.Guild) -> None:
        """Start services on the first session; re-count bans after every later fresh session."""
        self._connection(True)
        self._recorder.new_session()  # only a RESUME replays events, never a fresh session
        self._observe(guild.member_count)
        if self._started:
            # A fresh IDENTIFY may have missed ban, member and guild events while the bot was away.
            self._counters.request_ban_rebaseline()
            self._counters.request_member_pass()
            self._counters.refresh_guild_facts()
            return
        self._started = True
        await self._start(guild.id)

    def member_event(
        self, event: MemberEvent, member_count: int | None, roles: frozenset[int] = frozenset()
    ) -> None:
        """Record the event and move the counters it affects, once: a replayed ban moves nothing."""
        if not self._recorder.record(event):
            return
        user_id = int(event.member_id)
        if event.kind is EventKind.BAN:
            self._counters.adjust_bans(+1, user_id)
        elif event.kind is EventKind.UNBAN:
            self._counters.adjust_bans(-1, user_id)
        elif event.kind is EventKind.JOIN:
            self._counters.member_joined(MemberInfo(user_id, event.bot, roles))
        else:  # a leave, or the member-remove that comes with a ban
            self._counters.member_left(user_id, bot=event.bot)
        self._observe(member_count)

    def member_updated(self, member: MemberInfo) -> None:
        """Follow a member's roles for the role counters."""
        self._counters.member_updated(member)

    def guild_changed(self) -> None:
        """Re-read boosts, channels and roles for their counters."""
        self._counters.refresh_guild_facts()

    def connection_changed(self, connected: bool) -> None:
        """Track the gateway for the disconnect alert and the heartbeat."""
        self._connection(connected)

    async def shutdown(self) -> None:
        """Stop the services and flush data before the client disconnects."""
        await self._shutdown()

    def _observe(self, member_count: int | None) -> None:
        """Pass an exact member count to the members counter and the day's start/end counts."""
        if member_count is not None:
            self._counters.set_member_count(member_count)
            self._recorder.observe_member_count(member_count)
