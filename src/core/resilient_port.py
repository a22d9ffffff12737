"""A DiscordPort decorator: every REST call goes through one circuit breaker.

discord.py already retries a 5xx a few times inside each request, so during an outage every call the
services make costs several requests. The breaker stops that: after a run of transient failures it fails
calls at once for a cool-down, then lets one trial through. Rate limits and permanent errors (403, 404) do
not count: they are the caller's to handle, not signs of an outage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from src.core.exceptions import CircuitOpenError, TransientDiscordError
from src.types.models import Attachment, Embed
from src.types.ports import (
    ChannelInfo,
    ChannelKind,
    Clock,
    DiscordApi,
    GuildCounts,
    GuildFacts,
    MemberInfo,
    Overwrite,
    PostedMessage,
)
from src.utils.breaker import BreakerRegistry

T = TypeVar("T")
REST_BREAKER = "discord.rest"


def _outage(exc: BaseException) -> bool:
    return isinstance(exc, TransientDiscordError)


class ResilientDiscord:
    """Implements DiscordPort and ChannelAdmin on top of the adapter, adding the breaker."""

    def __init__(
        self,
        inner: DiscordApi,
        breakers: BreakerRegistry,
        clock: Clock,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
    ) -> None:
        self._inner = inner
        self.breaker = breakers.get_or_create(
            REST_BREAKER,
            failure_threshold=failure_threshold,
            reset_timeout=reset_timeout,
            clock=clock,
            counts_as_failure=_outage,
        )

    async def _guarded(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await self.breaker.call(call)
        except CircuitOpenError as exc:
            # Callers already treat transient errors as "try again later"; an open circuit is one.
            raise TransientDiscordError(str(exc)) from exc

    def gateway_member_count(self) -> int | None:
        """The gateway's member count (no REST call)."""
        return self._inner.gateway_member_count()

    def latency(self) -> float | None:
        """Gateway latency (no REST call)."""
        return self._inner.latency()

    def guild_facts(self) -> GuildFacts | None:
        """Boosts, channels and roles from the gateway's guild (no REST call)."""
        return self._inner.guild_facts()

    async def fetch_role_member_counts(self) -> dict[int, int]:
        """How many members hold each role."""
        return await self._guarded(self._inner.fetch_role_member_counts)

    async def scan_members(self, on_chunk: Callable[[Sequence[MemberInfo]], None]) -> int:
        """A gateway pass over the member list: no REST call, so the breaker does not apply."""
        return await self._inner.scan_members(on_chunk)

    def is_connected(self) -> bool:
        """Gateway state (no REST call)."""
        return self._inner.is_connected()

    async def fetch_counts(self) -> GuildCounts:
        """Approximate counts (never cached: `/counters refresh` promises a fresh read)."""
        return await self._guarded(self._inner.fetch_counts)

    async def count_bans(self, on_page: Callable[[int], None] | None = None) -> int:
        """Count every ban, reporting the progress of the paging."""
        return await self._guarded(lambda: self._inner.count_bans(on_page))

    async def fetch_channel(self, channel_id: int) -> ChannelInfo:
        """Fetch a channel with the bot's permissions in it."""
        return await self._guarded(lambda: self._inner.fetch_channel(channel_id))

    def bot_user_id(self) -> int | None:
        """The bot's user id (no REST call)."""
        return self._inner.bot_user_id()

    async def create_channel(
        self,
        name: str,
        kind: ChannelKind,
        *,
        parent_id: int | None = None,
        overwrites: Sequence[Overwrite] = (),
    ) -> ChannelInfo:
        """Create a channel."""
        return await self._guarded(
            lambda: self._inner.create_channel(name, kind, parent_id=parent_id, overwrites=overwrites)
        )

    async def delete_channel(self, channel_id: int) -> None:
        """Delete a channel."""
        await self._guarded(lambda: self._inner.delete_channel(channel_id))

    async def rename_channel(self, channel_id: int, name: str) -> None:
        """Rename a channel."""
        await self._guarded(lambda: self._inner.rename_channel(channel_id, name))

    async def send_message(
        self,
        channel_id: int,
        embed: Embed,
        content: str | None = None,
        *,
        nonce: str | None = None,
        files: Sequence[Attachment] = (),
    ) -> int:
        """Post an embed with its files."""
        return await self._guarded(
            lambda: self._inner.send_message(channel_id, embed, content, nonce=nonce, files=files)
        )

    async def recent_messages(self, channel_id: int, limit: int = 100) -> list[PostedMessage]:
        """Read a channel's newest messages."""
        return await self._guarded(lambda: self._inner.recent_messages(channel_id, limit))

    async def edit_message(self, channel_id: int, message_id: int, embed: Embed) -> bool:
        """Edit a message in place."""
        return await self._guarded(lambda: self._inner.edit_message(channel_id, message_id, embed))

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        """Delete a message."""
        await self._guarded(lambda: self._inner.delete_message(channel_id, message_id))

    async def set_presence(self, status: str, text: str | None) -> None:
        """Presence goes over the gateway, not REST, so the REST breaker does not apply."""
        await self._inner.set_presence(status, text)
