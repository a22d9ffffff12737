"""The DiscordPort implemented with discord.py: the only place services' calls meet the real client."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import aiohttp
import discord
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from src.core.bot import WatchedGuild
from src.core.exceptions import PermanentDiscordError, RateLimitedError, TransientDiscordError
from src.core.member_scan import MemberChunks
from src.types.models import Attachment, Embed
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
from src.utils.backoff import Backoff
from src.utils.logging import get_logger, timed_call

BAN_PAGE = 1000  # Discord's largest ban page
BAN_PAGE_ATTEMPTS = 3
BAN_PAGE_BACKOFF = Backoff(1.0, 10.0, jitter=True)

log = get_logger(__name__, service="discord")

_CREATE_TYPES = {ChannelKind.TEXT: 0, ChannelKind.VOICE: 2, ChannelKind.CATEGORY: 4, ChannelKind.STAGE: 13}
_KINDS = {
    discord.ChannelType.text: ChannelKind.TEXT,
    discord.ChannelType.news: ChannelKind.TEXT,
    discord.ChannelType.voice: ChannelKind.VOICE,
    discord.ChannelType.stage_voice: ChannelKind.STAGE,
    discord.ChannelType.category: ChannelKind.CATEGORY,
}


@asynccontextmanager
async def translate_errors(operation: str, channel_id: int | None = None) -> AsyncIterator[None]:
    """Turn discord.py and aiohttp failures into StatsBot's transient/permanent/rate-limited errors."""
    where = f" in channel {channel_id}" if channel_id else ""
    try:
        yield
    except discord.RateLimited as exc:
        raise RateLimitedError(exc.retry_after) from exc
    except discord.Forbidden as exc:
        raise PermanentDiscordError(
            f"{operation}: missing permissions{where} ({exc.text or exc.status})",
            fix=f"give the bot the permissions {operation} needs{where}",
        ) from exc
    except discord.NotFound as exc:
        raise PermanentDiscordError(
            f"{operation}: not found{where}", fix="check the configured channel and server ids"
        ) from exc
    except discord.HTTPException as exc:
        if exc.status == 429 or exc.status >= 500:
            raise TransientDiscordError(f"{operation}: HTTP {exc.status}") from exc
        raise PermanentDiscordError(f"{operation}: HTTP {exc.status} {exc.text}") from exc
    except (aiohttp.ClientError, discord.ConnectionClosed, TimeoutError, ConnectionError) as exc:
        raise TransientDiscordError(f"{operation}: {type(exc).__name__}") from exc


def _ban_page_wait(state: RetryCallState) -> float:
    """Back off as the policy says, but never retry a 429 before Discord's `retry_after`."""
    wait = float(BAN_PAGE_BACKOFF.strategy()(state))
    error = state.outcome.exception() if state.outcome else None
    return max(wait, error.retry_after) if isinstance(error, RateLimitedError) else wait


def to_discord_files(files: Sequence[Attachment]) -> list[discord.File]:
    """Turn attachments into discord.py files (a fresh buffer each: discord.py reads and closes them)."""
    return [discord.File(io.BytesIO(f.data), filename=f.filename, description=f.description) for f in files]


def to_discord_embed(embed: Embed) -> discord.Embed:
    """Convert the services' embed model into discord.py's."""
    result = discord.Embed(
        title=embed.title,
        description=embed.description or None,
        colour=embed.color,
        timestamp=embed.timestamp,
    )
    for field in embed.fields:
        result.add_field(name=field.name, value=field.value, inline=field.inline)
    if embed.footer:
        result.set_footer(text=embed.footer)
    if embed.image:
        result.set_image(url=embed.image)
    return result


class DiscordAdapter:
    """Implements `src.types.ports.DiscordPort` on a connected discord.py client for one guild."""

    def __init__(self, client: discord.Client, guild: WatchedGuild, chunks: MemberChunks) -> None:
        self._client = client
        self._guild = guild
        self._chunks = chunks
        self._connected = False

    @property
    def guild_id(self) -> int:
        """Return the watched guild's id (0 until the gateway has shown which guild it is)."""
        return self._guild.id or 0

    def set_connected(self, connected: bool) -> None:
        """Record whether the gateway session is up (the client's connect/disconnect events call this)."""
        self._connected = connected

    def is_connected(self) -> bool:
        """Whether the gateway session is up."""
        return self._connected and not self._client.is_closed()

    def latency(self) -> float | None:
        """Gateway heartbeat latency in seconds, or None before the first heartbeat ACK."""
        value = self._client.latency
        return None if value != value or value == float("inf") else value  # NaN/inf mean "unknown"

    def gateway_member_count(self) -> int | None:
        """discord.py keeps `Guild.member_count` current from join/remove events, even without a cache."""
        guild = self._client.get_guild(self.guild_id)
        return guild.member_count if guild else None

    def guild_facts(self) -> GuildFacts | None:
        """Boosts, channels and roles from the cached guild, which guild and channel events keep current."""
        guild = self._client.get_guild(self.guild_id)
        if guild is None:
            return None
        return GuildFacts(
            boosts=guild.premium_subscription_count,
            boost_tier=guild.premium_tier,
            channels=sum(1 for c in guild.channels if not isinstance(c, discord.CategoryChannel)),
            roles=max(0, len(guild.roles) - 1),  # @everyone is every member, not a role anyone chose
            role_ids=frozenset(role.id for role in guild.roles),
        )

    async def fetch_role_member_counts(self) -> dict[int, int]:
        """How many members hold each role, from Discord's role member-counts endpoint."""
        route = discord.http.Route("GET", "/guilds/{guild_id}/roles/member-counts", guild_id=self.guild_id)
        async with translate_errors("fetch role member counts"):
            data = await self._client.http.request(route)
        if not isinstance(data, dict):
            raise TransientDiscordError("fetch role member counts: unexpected answer")
        return {int(role): int(count) for role, count in data.items()}

    @timed_call("discord.scan_members")
    async def scan_members(self, on_chunk: Callable[[Sequence[MemberInfo]], None]) -> int:
        """One pass over the member list by gateway chunking (one request; chunks of 1,000)."""

        async def request(nonce: str) -> None:
            async with translate_errors("request members"):
                await self._client.ws.request_chunks(self.guild_id, "", limit=0, nonce=nonce)

        return await self._chunks.scan(request, on_chunk)

    async def fetch_counts(self) -> GuildCounts:
        """Approximate member and online counts (`with_counts`), which need no privileged intent."""
        async with translate_errors("fetch counts"):
            data = cast(dict[str, Any], await self._client.http.get_guild(self.guild_id, with_counts=True))
        return GuildCounts(
            members=int(data.get("approximate_member_count") or 0),
            online=int(data.get("approximate_presence_count") or 0),
        )

    @timed_call("discord.count_bans")
    async def count_bans(self, on_page: Callable[[int], None] | None = None) -> int:
        """Count every ban by paging raw JSON, without building a User object per ban."""
        total, after = 0, None
        while True:
            # A failed page is retried on its own: restarting a 20-page count from page one would waste
            # the pages already read and the route's rate-limit budget.
            page = await self._ban_page_with_retries(after)
            total += len(page)
            if len(page) < BAN_PAGE:
                if on_page is not None:
                    on_page(ALL_USER_IDS)
                return total
            after = max(int(entry["user"]["id"]) for entry in page)
            if on_page is not None:
                on_page(after)

    async def _ban_page_with_retries(self, after: int | None) -> list[Any]:
        """Fetch one ban page, retrying an outage (not a refusal) a few times with backoff."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(BAN_PAGE_ATTEMPTS),
            wait=_ban_page_wait,
            retry=retry_if_exception_type((TransientDiscordError, RateLimitedError)),
            before_sleep=lambda state: log.warning(
                "retry.attempt_failed",
                operation="ban page",
                attempt=state.attempt_number,
                wait=round(state.upcoming_sleep, 3),
                error=repr(state.outcome.exception()) if state.outcome else None,
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._ban_page(after)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def _ban_page(self, after: int | None) -> list[Any]:
        async with translate_errors("count bans"):
            return list(await self._client.http.get_bans(self.guild_id, BAN_PAGE, after=after))

    async def fetch_channel(self, channel_id: int) -> ChannelInfo:
        """Fetch a channel and the bot's permissions in it."""
        async with translate_errors("fetch channel", channel_id):
            channel = await self._client.fetch_channel(channel_id)
        guild = getattr(channel, "guild", None)
        can_rename = can_send = False
        if guild is not None and guild.me is not None and isinstance(channel, discord.abc.GuildChannel):
            perms = channel.permissions_for(guild.me)
            can_rename = perms.view_channel and perms.manage_channels
            can_send = perms.view_channel and perms.send_messages and perms.embed_links
        return ChannelInfo(
            channel_id=channel_id,
            name=getattr(channel, "name", "") or "",
            kind=_KINDS.get(channel.type, ChannelKind.OTHER)
            if isinstance(channel, discord.abc.GuildChannel)
            else ChannelKind.OTHER,
            guild_id=guild.id if guild else 0,
            can_rename=can_rename,
            can_send=can_send,
        )

    def bot_user_id(self) -> int | None:
        """The bot's user id once logged in."""
        user = self._client.user
        return user.id if user is not None else None

    async def create_channel(
        self,
        name: str,
        kind: ChannelKind,
        *,
        parent_id: int | None = None,
        overwrites: Sequence[Overwrite] = (),
    ) -> ChannelInfo:
        """Create a channel over REST (no member cache needed for the overwrites' targets)."""
        permission_overwrites = [
            {
                "id": str(o.target_id),
                "type": 0 if o.is_role else 1,
                "allow": str(o.allow),
                "deny": str(o.deny),
            }
            for o in overwrites
        ]
        async with translate_errors("create channel"):
            data = await self._client.http.create_channel(
                self.guild_id,
                _CREATE_TYPES[kind],  # type: ignore[arg-type]  # discord.py types the payload's int as a Literal
                name=name,
                parent_id=parent_id,
                permission_overwrites=permission_overwrites,
            )
        return ChannelInfo(
            int(data["id"]), str(data["name"]), kind, self.guild_id, can_rename=True, can_send=False
        )

    async def delete_channel(self, channel_id: int) -> None:
        """Delete a channel; one already deleted is fine."""
        try:
            async with translate_errors("delete channel", channel_id):
                await self._client.http.delete_channel(channel_id)
        except PermanentDiscordError as exc:
            if not isinstance(exc.__cause__, discord.NotFound):
                raise

    async def rename_channel(self, channel_id: int, name: str) -> None:
        """Rename a channel; a long 429 raises RateLimitedError instead of sleeping inside the call."""
        async with translate_errors("rename channel", channel_id):
            await self._client.http.edit_channel(channel_id, name=name)

    async def send_message(
        self,
        channel_id: int,
        embed: Embed,
        content: str | None = None,
        *,
        nonce: str | None = None,
        files: Sequence[Attachment] = (),
    ) -> int:
        """Post an embed with its files and return the message's id (with a nonce, posted at most once)."""
        channel = self._messageable(channel_id)
        options: dict[str, Any] = {"content": content, "embed": to_discord_embed(embed)}
        if files:
            options["files"] = to_discord_files(files)
        if nonce is not None:
            options["nonce"] = nonce  # discord.py sends `enforce_nonce` with every nonce
        async with translate_errors("send message", channel_id):
            message = await channel.send(**options)
        return message.id

    async def recent_messages(self, channel_id: int, limit: int = 100) -> list[PostedMessage]:
        """Read the newest messages as raw JSON (no Message objects), newest first."""
        async with translate_errors("read messages", channel_id):
            data = cast(list[dict[str, Any]], await self._client.http.logs_from(channel_id, limit))
        me = self._client.user.id if self._client.user else None
        return [
            PostedMessage(
                message_id=int(item["id"]),
                by_me=me is not None and int(item.get("author", {}).get("id", 0)) == me,
                titles=tuple(str(e.get("title", "")) for e in item.get("embeds", []) if isinstance(e, dict)),
            )
            for item in data
        ]

    async def edit_message(self, channel_id: int, message_id: int, embed: Embed) -> bool:
        """Edit a message in place; False when it was deleted."""
        try:
            async with translate_errors("edit message", channel_id):
                await (
                    self._messageable(channel_id)
                    .get_partial_message(message_id)
                    .edit(embed=to_discord_embed(embed))
                )
        except PermanentDiscordError as exc:
            if isinstance(exc.__cause__, discord.NotFound):
                return False
            raise
        return True

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        """Delete a message; one already gone is fine."""
        try:
            async with translate_errors("delete message", channel_id):
                await self._messageable(channel_id).get_partial_message(message_id).delete()
        except PermanentDiscordError as exc:
            if not isinstance(exc.__cause__, discord.NotFound):
                raise

    async def set_presence(self, status: str, text: str | None) -> None:
        """Set status and a Watching activity."""
        activity = discord.Activity(type=discord.ActivityType.watching, name=text) if text else None
        async with translate_errors("set presence"):
            await self._client.change_presence(status=discord.Status(status), activity=activity)

    def _messageable(self, channel_id: int) -> discord.PartialMessageable:
        # A partial messageable needs no channel cache, so posting works before or without one.
        return self._client.get_partial_messageable(channel_id, guild_id=self.guild_id)
