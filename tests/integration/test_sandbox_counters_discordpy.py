"""The real discord.py client parses the sandbox's roles, bots, boosts, member chunks and channel admin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
import yarl

from src.sandbox import Sandbox, SandboxConfig
from src.sandbox.ids import SEEDED_MEMBERS_START

pytestmark = pytest.mark.integration

WAIT = 10.0
EVENTS = (
    "ready",
    "guild_update",
    "guild_role_create",
    "guild_role_delete",
    "guild_role_update",
    "member_update",
    "guild_channel_create",
    "guild_channel_delete",
    "guild_channel_update",
)


class Bot:
    """A discord.Client with the guilds and members intents (so it chunks at startup), events queued."""

    def __init__(self, sandbox: Sandbox) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.members = True
        self.sandbox = sandbox
        self.client = discord.Client(intents=intents, max_ratelimit_timeout=30, guild_ready_timeout=0.1)
        self.events: dict[str, asyncio.Queue[tuple[Any, ...]]] = {}
        self.task: asyncio.Task[None] | None = None
        for name in EVENTS:
            self._listen(name)

    def _listen(self, name: str) -> None:
        """Queue every `on_<name>` call."""
        queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.events[name] = queue

        async def handler(*args: Any) -> None:
            """Record the event's arguments."""
            await queue.put(args)

        setattr(self.client, f"on_{name}", handler)

    async def start(self) -> None:
        """Log in and wait for on_ready (after discord.py chunked the guild)."""
        self.task = asyncio.create_task(self.client.start(self.sandbox.config.token))
        ready = asyncio.create_task(self.events["ready"].get())
        done, _ = await asyncio.wait({self.task, ready}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            await asyncio.gather(ready, return_exceptions=True)
            if self.task in done:
                self.task.result()
            raise AssertionError("client did not become ready")

    async def next(self, name: str) -> tuple[Any, ...]:
        """Wait for the next `on_<name>`."""
        return await asyncio.wait_for(self.events[name].get(), WAIT)

    async def close(self) -> None:
        """Close the client and wait for start() to return."""
        await self.client.close()
        if self.task is not None:
            await asyncio.wait_for(asyncio.gather(self.task, return_exceptions=True), WAIT)

    @property
    def guild(self) -> discord.Guild:
        """The sandbox guild as the client caches it."""
        guild = self.client.get_guild(self.sandbox.guild_id)
        assert guild is not None
        return guild


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """1,000 seeded members (10 bots), Role 1..3 held by 400 each, 5 boosts; discord.py pointed at it."""
    base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    sb = Sandbox(SandboxConfig(members=1000, role_members=400, boosts=5))
    await sb.start()
    discord.http.Route.BASE = sb.rest_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sb.gateway_url)
    try:
        yield sb
    finally:
        await sb.stop()
        discord.http.Route.BASE = base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


@pytest.fixture
async def bot(sandbox: Sandbox) -> AsyncIterator[Bot]:
    """A ready client."""
    harness = Bot(sandbox)
    try:
        await harness.start()
        yield harness
    finally:
        await harness.close()


@pytest.fixture
def role_1(sandbox: Sandbox) -> int:
    """The id of the seeded "Role 1"."""
    return sandbox.role_ids["Role 1"]


async def test_startup_chunk_counts_humans_bots_and_role_holders(bot: Bot, sandbox: Sandbox) -> None:
    """The startup member chunk gives every member with its bot flag and roles, matching the sandbox."""
    guild = bot.guild
    bots = sum(member.bot for member in guild.members)
    assert guild.chunked
    assert (len(guild.members), bots) == (sandbox.member_count, sandbox.bot_member_count)
    assert bots == 10 + 1
    for name in ("Role 1", "Role 2", "Role 3"):
        role = guild.get_role(sandbox.role_ids[name])
        assert role is not None
        assert len(role.members) == sandbox.role_member_count(role.id) == 400


async def test_role_member_counts_endpoint(bot: Bot, sandbox: Sandbox, role_1: int) -> None:
    """guild.role_member_counts() maps the cached roles to the sandbox's counts, @everyone left out."""
    counts = await asyncio.wait_for(bot.guild.role_member_counts(), WAIT)
    by_id = {role.id: count for role, count in counts.items()}
    assert by_id[role_1] == 400
    assert by_id[sandbox.state.bot_role_id] == 1
    assert sandbox.guild_id not in by_id
    assert all(isinstance(role, discord.Role) for role in counts)


async def test_boosts_reach_the_guild(bot: Bot, sandbox: Sandbox) -> None:
    """The seeded boosts are cached, and set_boosts fires on_guild_update with the new tier."""
    before = (bot.guild.premium_subscription_count, bot.guild.premium_tier)
    await sandbox.set_boosts(14)
    _, after = await bot.next("guild_update")
    assert before == (5, 1)
    assert (after.premium_subscription_count, after.premium_tier) == (14, 3)
    assert bot.guild.member_count == sandbox.member_count  # GUILD_UPDATE carries no member_count to lose


async def test_member_role_change_fires_member_update(bot: Bot, sandbox: Sandbox, role_1: int) -> None:
    """Giving and taking a role update the cached member's roles through GUILD_MEMBER_UPDATE."""
    uid = SEEDED_MEMBERS_START + 500  # Role 1 is held by seeded indices 0-399
    await sandbox.set_member_role(uid, role_1, True)
    before, after = await bot.next("member_update")
    assert (after.id, role_1 in [r.id for r in after.roles], role_1 in [r.id for r in before.roles]) == (
        uid,
        True,
        False,
    )
    await sandbox.set_member_role(uid, role_1, False)
    _, taken = await bot.next("member_update")
    assert role_1 not in [r.id for r in taken.roles]


async def test_role_create_and_delete_events(bot: Bot, sandbox: Sandbox) -> None:
    """create_role and delete_role reach discord.py's role cache."""
    role_id = await sandbox.create_role("Helpers")
    (created,) = await bot.next("guild_role_create")
    await sandbox.delete_role(role_id)
    (deleted,) = await bot.next("guild_role_delete")
    assert (created.id, created.name, deleted.id) == (role_id, "Helpers", role_id)
    assert bot.guild.get_role(role_id) is None


async def test_setup_creates_category_and_counter_channels(bot: Bot, sandbox: Sandbox) -> None:
    """A category plus a voice channel inside it with counter overwrites, as discord.py sends them."""
    guild = bot.guild
    overwrites: dict[discord.Role | discord.Member, discord.PermissionOverwrite] = {
        guild.default_role: discord.PermissionOverwrite(connect=False),
        guild.me: discord.PermissionOverwrite(view_channel=True, connect=True, manage_channels=True),
    }
    category = await asyncio.wait_for(guild.create_category("Server Stats", overwrites=overwrites), WAIT)
    voice = await asyncio.wait_for(
        guild.create_voice_channel("Humans: 990", category=category, overwrites=overwrites), WAIT
    )
    await bot.next("guild_channel_create")
    await bot.next("guild_channel_create")
    assert (voice.category, voice.name) == (category, "Humans: 990")
    assert voice.permissions_for(guild.me).manage_channels
    assert not voice.permissions_for(guild.default_role).connect
    assert sandbox.state.channel(voice.id).parent_id == category.id
    await asyncio.wait_for(voice.delete(), WAIT)
    (deleted,) = await bot.next("guild_channel_delete")
    assert deleted.id == voice.id
    assert guild.get_channel(voice.id) is None


async def test_missing_manage_channels_at_server_level(bot: Bot, sandbox: Sandbox) -> None:
    """After the bot's role loses Manage Channels, discord.py sees it and creating a channel is Forbidden."""
    guild = bot.guild
    assert guild.me.guild_permissions.manage_channels
    await sandbox.set_bot_permissions(deny=discord.Permissions(manage_channels=True).value)
    await bot.next("guild_role_update")
    assert not guild.me.guild_permissions.manage_channels
    with pytest.raises(discord.Forbidden) as refused:
        await asyncio.wait_for(guild.create_category("Server Stats"), WAIT)
    assert refused.value.code == 50013


async def test_deleting_a_category_keeps_its_channels(bot: Bot, sandbox: Sandbox) -> None:
    """The channels of a deleted category lose their parent in discord.py's cache too."""
    guild = bot.guild
    category = await asyncio.wait_for(guild.create_category("Old Stats"), WAIT)
    voice = await asyncio.wait_for(guild.create_voice_channel("Bots: 11", category=category), WAIT)
    await asyncio.wait_for(category.delete(), WAIT)
    await bot.next("guild_channel_update")
    cached = guild.get_channel(voice.id)
    assert cached is not None
    assert cached.category is None
