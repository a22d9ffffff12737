"""An unmodified discord.py client against the sandbox: login, READY, events, bans, renames, RESUME."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import discord
import pytest
import yarl

from src.sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.integration

WAIT = 10.0  # upper bound for any single wait; every test finishes in a few seconds


class Bot:
    """A discord.Client with its events collected into queues."""

    def __init__(self, sandbox: Sandbox, intents: discord.Intents | None = None) -> None:
        if intents is None:
            intents = discord.Intents.none()
            intents.guilds = intents.members = intents.moderation = True
        self.sandbox = sandbox
        self.client = discord.Client(intents=intents, max_ratelimit_timeout=30, guild_ready_timeout=0.1)
        self.events: dict[str, asyncio.Queue[tuple[Any, ...]]] = {}
        self.task: asyncio.Task[None] | None = None
        for name in ("ready", "member_join", "raw_member_remove", "member_ban", "member_unban", "resumed"):
            self._listen(name)

    def _listen(self, name: str) -> None:
        """Queue every `on_<name>` call."""
        queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.events[name] = queue

        async def handler(*args: Any) -> None:
            """Record the event's arguments."""
            await queue.put(args)

        setattr(self.client, f"on_{name}", handler)  # what @client.event does

    async def start(self, token: str | None = None) -> None:
        """Log the client in and wait for on_ready, or for logging in to fail."""
        self.task = asyncio.create_task(self.client.start(token or self.sandbox.config.token))
        ready = asyncio.create_task(self.events["ready"].get())
        done, _ = await asyncio.wait({self.task, ready}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            await asyncio.gather(ready, return_exceptions=True)
            if self.task in done:
                self.task.result()  # re-raise LoginFailure / PrivilegedIntentsRequired
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
def discord_pointed_at_sandbox() -> Iterator[None]:
    """Let the test point discord.py at the sandbox, and restore Discord's URLs afterwards."""
    base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


async def started(config: SandboxConfig) -> Sandbox:
    """Start a sandbox and point discord.py at it."""
    sandbox = Sandbox(config)
    await sandbox.start()
    discord.http.Route.BASE = sandbox.rest_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sandbox.gateway_url)
    return sandbox


@pytest.fixture
async def sandbox(discord_pointed_at_sandbox: None) -> AsyncIterator[Sandbox]:
    """1,000 members and 2,500 bans."""
    sb = await started(SandboxConfig(members=1000, bans=2500))
    yield sb
    await sb.stop()


@pytest.fixture
async def bot(sandbox: Sandbox) -> AsyncIterator[Bot]:
    """A ready client with the guilds, members and moderation intents."""
    harness = Bot(sandbox)
    try:
        await harness.start()
        yield harness
    finally:
        await harness.close()


async def test_ready_with_exact_member_count(bot: Bot, sandbox: Sandbox) -> None:
    """After on_ready the guild is cached with the exact member count."""
    assert bot.guild.member_count == sandbox.member_count == 1001


async def test_ready_sees_all_channels(bot: Bot, sandbox: Sandbox) -> None:
    """Every seeded channel is cached, with its type."""
    voice = {c.id for c in bot.guild.voice_channels}
    text = {c.id for c in bot.guild.text_channels}
    ids = sandbox.channel_ids
    assert voice == {ids["members"], ids["online"], ids["bans"]}
    assert text == {ids["heartbeat"], ids["stats"], ids["general"]}


async def test_member_join_event(bot: Bot, sandbox: Sandbox) -> None:
    """add_member fires on_member_join and raises Guild.member_count."""
    uid = await sandbox.add_member(username="newcomer")
    (member,) = await bot.next("member_join")
    assert (member.id, member.name, bot.guild.member_count) == (uid, "newcomer", 1002)


async def test_raw_member_remove_event(bot: Bot, sandbox: Sandbox) -> None:
    """remove_member fires on_raw_member_remove even for an uncached member."""
    uid = await sandbox.add_member()
    await bot.next("member_join")
    await sandbox.remove_member(uid)
    (payload,) = await bot.next("raw_member_remove")
    assert (payload.user.id, payload.guild_id) == (uid, sandbox.guild_id)


async def test_member_ban_event(bot: Bot, sandbox: Sandbox) -> None:
    """Ban fires on_member_ban, then on_raw_member_remove for a member."""
    uid = await sandbox.add_member()
    await bot.next("member_join")
    await sandbox.ban(uid)
    guild, user = await bot.next("member_ban")
    (removed,) = await bot.next("raw_member_remove")
    assert (guild.id, user.id, removed.user.id) == (sandbox.guild_id, uid, uid)


async def test_member_unban_event(bot: Bot, sandbox: Sandbox) -> None:
    """Unban fires on_member_unban."""
    await sandbox.ban(77)
    await bot.next("member_ban")
    await sandbox.unban(77)
    _, user = await bot.next("member_unban")
    assert user.id == 77


async def test_bans_limit_none_counts_all(bot: Bot) -> None:
    """guild.bans(limit=None) pages through all 2,500 seeded bans."""
    count = await asyncio.wait_for(_count_bans(bot.guild), WAIT)
    assert count == 2500


async def _count_bans(guild: discord.Guild) -> int:
    """Count bans the way StatsBot does."""
    return sum([1 async for _ in guild.bans(limit=None)])


async def test_fetch_guild_with_counts(bot: Bot, sandbox: Sandbox) -> None:
    """fetch_guild(with_counts=True) reports approximate member and presence counts."""
    sandbox.set_online(123)
    guild = await bot.client.fetch_guild(sandbox.guild_id, with_counts=True)
    assert (guild.approximate_member_count, guild.approximate_presence_count) == (1001, 123)


async def test_channel_edit_renames(bot: Bot, sandbox: Sandbox) -> None:
    """channel.edit(name=...) is reflected in the sandbox and in the client's cache."""
    channel = bot.guild.get_channel(sandbox.channel_ids["members"])
    assert isinstance(channel, discord.VoiceChannel)
    await asyncio.wait_for(channel.edit(name="Members: 1001"), WAIT)
    assert (sandbox.channel_name(channel.id), channel.name) == ("Members: 1001", "Members: 1001")


async def test_third_rename_raises_rate_limited(bot: Bot, sandbox: Sandbox) -> None:
    """With max_ratelimit_timeout=30 the hidden rename 429 (retry_after ~600) raises discord.RateLimited."""
    channel = bot.guild.get_channel(sandbox.channel_ids["online"])
    assert isinstance(channel, discord.VoiceChannel)
    for n in range(2):
        await asyncio.wait_for(channel.edit(name=f"Online: {n}"), WAIT)
    with pytest.raises(discord.RateLimited) as caught:
        await asyncio.wait_for(channel.edit(name="Online: 2"), WAIT)
    assert caught.value.retry_after > 30


async def test_send_embed_is_stored(bot: Bot, sandbox: Sandbox) -> None:
    """channel.send(embed=...) lands in messages() with the embed."""
    channel = bot.guild.get_channel(sandbox.channel_ids["stats"])
    assert isinstance(channel, discord.TextChannel)
    await asyncio.wait_for(channel.send(embed=discord.Embed(title="Daily")), WAIT)
    assert sandbox.messages(channel.id)[0]["embeds"][0]["title"] == "Daily"


async def test_denied_permission_is_seen_and_enforced(bot: Bot, sandbox: Sandbox) -> None:
    """After a deny, discord.py computes the missing permission and the edit raises Forbidden."""
    channel = bot.guild.get_channel(sandbox.channel_ids["bans"])
    assert isinstance(channel, discord.VoiceChannel)
    sandbox.set_channel_permissions(channel.id, manage_channels=False)
    await sandbox.add_member()  # a later event proves the CHANNEL_UPDATE before it was processed
    await bot.next("member_join")
    assert not channel.permissions_for(bot.guild.me).manage_channels
    with pytest.raises(discord.Forbidden):
        await asyncio.wait_for(channel.edit(name="Bans: 1"), WAIT)


async def test_resume_after_drop(bot: Bot, sandbox: Sandbox) -> None:
    """After drop_gateway() the client RESUMEs (op 6, then RESUMED) and still receives events."""
    await sandbox.drop_gateway()
    uid = await sandbox.add_member()  # dispatched while disconnected: replayed on resume
    (member,) = await bot.next("member_join")
    await bot.next("resumed")
    frames = [(g.direction, g.op, g.event) for g in sandbox.journal.gateway]
    resume_at = frames.index(("recv", 6, None))
    assert ("send", 0, "RESUMED") in frames[resume_at:]
    assert member.id == uid


async def test_wrong_token_is_login_failure(sandbox: Sandbox) -> None:
    """A wrong token fails at login with discord.LoginFailure."""
    harness = Bot(sandbox)
    try:
        with pytest.raises(discord.LoginFailure):
            await harness.start(token="not-the-token")
    finally:
        await harness.close()


async def test_privileged_intents_disabled(discord_pointed_at_sandbox: None) -> None:
    """Asking the members intent when it is not enabled raises PrivilegedIntentsRequired."""
    sb = await started(SandboxConfig(members=10, privileged_intents_enabled=False))
    harness = Bot(sb)
    try:
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await harness.start()
    finally:
        await harness.close()
        await sb.stop()
