"""Counters end to end: /setup, /counter and /goal through emulated interactions, every counter kind."""

from __future__ import annotations

from typing import Any

from src.sandbox import Sandbox
from tests.integration.conftest import BotRun, wait_until

NO_ENV_COUNTERS: dict[str, Any] = {
    "member_count_channel_id": None,
    "online_count_channel_id": None,
    "ban_count_channel_id": None,
}
VOICE, CATEGORY = 2, 4


def _channels(sb: Sandbox, kind: int) -> dict[int, str]:
    return {cid: c.name for cid, c in sb.state.channels.items() if c.type == kind}


def _bots(sb: Sandbox) -> int:
    """Bots in the sandbox guild: its seeded 1 % plus StatsBot itself."""
    return sb.bot_member_count


async def _ready(start_bot: Any, sandbox: Sandbox, **overrides: Any) -> BotRun:
    """A started bot whose commands are registered, so members can use them."""
    run = await start_bot(**overrides).started()
    await wait_until(lambda: sandbox.guild_id in sandbox.state.commands, timeout=5, what="the commands")
    return run


async def test_setup_on_a_fresh_server_makes_three_correct_counters_and_a_second_setup_nothing(
    sandbox: Sandbox, start_bot: Any
) -> None:
    """/setup creates the category and members/online/bans channels with the right names; again, nothing."""
    run = await _ready(start_bot, sandbox, **NO_ENV_COUNTERS)
    voices_before = _channels(sandbox, VOICE)

    result = await sandbox.invoke_command("setup")

    assert not result.failed
    assert result.ephemeral
    assert result.embed["title"] == "🛠️ Counters are set up"
    [category] = [cid for cid, name in _channels(sandbox, CATEGORY).items() if name == "📊 Server Stats"]
    made = {cid: name for cid, name in _channels(sandbox, VOICE).items() if cid not in voices_before}
    expected = [
        f"👥 Members: {sandbox.member_count:,}",
        f"🟢 Online: {sandbox.online_count:,}",
        f"🔨 Bans: {sandbox.ban_count:,}",
    ]
    await wait_until(
        lambda: sorted(_channels(sandbox, VOICE)[c] for c in made) == sorted(expected), what="names"
    )
    assert all(sandbox.state.channel(cid).parent_id == category for cid in made)
    everyone = next(o for o in sandbox.state.channel(next(iter(made))).overwrites if o.id == sandbox.guild_id)
    assert everyone.deny & (1 << 20)  # Connect denied: nobody joins a counter channel

    again = await sandbox.invoke_command("setup")
    assert again.field("Created") == "nothing"
    assert len(_channels(sandbox, VOICE)) == len(voices_before) + 3
    assert len(_channels(sandbox, CATEGORY)) == 1

    # A member joins: the made counter follows like the original ones did.
    await sandbox.add_member()
    members = next(cid for cid, name in made.items() if name.startswith("👥"))
    await wait_until(
        lambda: sandbox.channel_name(members) == f"👥 Members: {sandbox.member_count:,}", what="the new count"
    )
    assert await run.stop() == 0


async def test_setup_without_manage_channels_says_what_to_fix(sandbox: Sandbox, start_bot: Any) -> None:
    """Manage Channels denied at the server level: /setup answers with the fix and creates nothing."""
    await _ready(start_bot, sandbox, **NO_ENV_COUNTERS)
    await sandbox.set_bot_permissions(deny=1 << 4)
    await sandbox.flush()
    before = dict(sandbox.state.channels)

    result = await sandbox.invoke_command("setup")

    assert result.embed["title"] == "🛠️ Counters are partly set up"
    assert "Manage Channels" in (result.field("Could not") or "")
    assert sandbox.state.channels.keys() == before.keys()


async def test_counter_add_shows_bots_humans_and_a_role_then_follows_changes(
    sandbox: Sandbox, start_bot: Any
) -> None:
    """/counter add with {bots}, {humans} and {role:ID} makes channels showing the sandbox's true counts."""
    run = await _ready(start_bot, sandbox)
    role = sandbox.role_ids["Role 1"]
    kinds = await sandbox.invoke_command("counter add", {"template": "🤖 {bots} · 🧑 {humans:,}"})
    assert kinds.content.startswith("✅ <#"), kinds.content
    holders = await sandbox.invoke_command("counter add", {"template": f"⭐ {{role:{role}}}"})
    assert holders.content.startswith("✅ <#"), holders.content
    made = {name[0]: cid for cid, name in _channels(sandbox, VOICE).items() if name[0] in "🤖⭐"}

    def shows() -> tuple[str, str]:
        humans = sandbox.member_count - _bots(sandbox)
        return (f"🤖 {_bots(sandbox)} · 🧑 {humans:,}", f"⭐ {sandbox.role_member_count(role)}")

    await wait_until(
        lambda: (sandbox.channel_name(made["🤖"]), sandbox.channel_name(made["⭐"])) == shows(),
        timeout=15,
        what="the bot, human and role counts",
    )

    # A bot joins and a member loses the role: both counters follow.
    await sandbox.add_member(bot=True)
    holder = next(uid for uid in sandbox.state.members.ascending() if role in sandbox.state.member_roles(uid))
    await sandbox.set_member_role(holder, role, held=False)
    await wait_until(
        lambda: (sandbox.channel_name(made["🤖"]), sandbox.channel_name(made["⭐"])) == shows(),
        timeout=15,
        what=f"the counts after a bot joined and a role was taken: {shows()}",
    )
    listed = await sandbox.invoke_command("counter list")
    assert listed.embed["title"] == "📊 Counters (5)"
    assert run.app.counters.specs()[-1].template == f"⭐ {{role:{role}}}"
    assert await run.stop() == 0


async def test_boosts_and_channels_follow_guild_events(sandbox: Sandbox, start_bot: Any) -> None:
    """{boosts}, {boost_tier}, {channels} and {members:compact} follow the guild's boosts and channels."""
    await _ready(start_bot, sandbox)
    result = await sandbox.invoke_command(
        "counter add", {"template": "🚀 {boosts} · Tier {boost_tier} · #{channels} · 👥 {members:compact}"}
    )
    assert result.content.startswith("✅"), result.content
    [made] = [cid for cid, name in _channels(sandbox, VOICE).items() if name.startswith("🚀")]

    def expected() -> str:
        channels = sum(1 for c in sandbox.state.channels.values() if c.type != CATEGORY)
        members = f"{sandbox.member_count / 1000:.1f}".rstrip("0").rstrip(".")  # 1,001 members: 1K
        tier = _tier(sandbox.state.boosts)
        return f"🚀 {sandbox.state.boosts} · Tier {tier} · #{channels} · 👥 {members}K"

    await wait_until(lambda: sandbox.channel_name(made) == expected(), timeout=10, what="the first name")
    await sandbox.set_boosts(7)
    await wait_until(lambda: sandbox.channel_name(made) == expected(), timeout=10, what="the boosted name")
    assert sandbox.channel_name(made).startswith("🚀 7 · Tier 2")


def _tier(boosts: int) -> int:
    return 3 if boosts >= 14 else 2 if boosts >= 7 else 1 if boosts >= 2 else 0


async def test_counter_edit_and_remove_and_environment_counters_refused(
    sandbox: Sandbox, start_bot: Any
) -> None:
    """Edit renames a made counter; remove deletes its channel; an environment counter is refused."""
    await _ready(start_bot, sandbox)
    await sandbox.invoke_command("counter add", {"template": "🎭 {roles} roles"})
    [made] = [cid for cid, name in _channels(sandbox, VOICE).items() if name.startswith("🎭")]

    edited = await sandbox.invoke_command("counter edit", {"channel": made, "template": "🎭 Roles: {roles}"})
    assert edited.content.startswith(f"✏️ <#{made}>"), edited.content
    await wait_until(lambda: sandbox.channel_name(made).startswith("🎭 Roles: "), timeout=10, what="the edit")

    refused = await sandbox.invoke_command("counter remove", {"channel": sandbox.channel_ids["members"]})
    assert "from environment (MEMBER_COUNT_CHANNEL_ID)" in refused.content

    bad = await sandbox.invoke_command("counter add", {"template": "{members.__class__}"})
    assert "is not supported" in bad.content

    removed = await sandbox.invoke_command("counter remove", {"channel": made, "delete_channel": True})
    assert removed.content == "🗑️ The counter is removed and its channel deleted."
    assert made not in sandbox.state.channels


async def test_goal_is_shown_and_announced_once(sandbox: Sandbox, start_bot: Any) -> None:
    """/goal set, joins reaching it: one announcement; a leave and a join back announce nothing more."""
    run = await _ready(start_bot, sandbox)
    stats = sandbox.channel_ids["stats"]
    target = sandbox.member_count + 2
    answer = await sandbox.invoke_command("goal set", {"target": target, "step": 10, "channel": stats})
    assert answer.content.startswith(f"🎯 Goal set: {target:,} members"), answer.content
    await sandbox.invoke_command("counter add", {"template": "🎯 {members:,} / {goal:,}"})
    [made] = [cid for cid, name in _channels(sandbox, VOICE).items() if name.startswith("🎯")]
    assert sandbox.channel_name(made) == f"🎯 {sandbox.member_count:,} / {target:,}"

    joined = [await sandbox.add_member() for _ in range(2)]

    def announcements() -> list[str]:
        return [
            e["title"] for m in sandbox.messages(stats) for e in m.get("embeds", []) if "Goal" in e["title"]
        ]

    reached = [f"🎯 Goal reached: {target:,} members"]
    await wait_until(lambda: announcements() == reached, timeout=25, what="the announcement, once quiet")
    await sandbox.remove_member(joined[0])
    await sandbox.add_member()
    await wait_until(
        lambda: sandbox.channel_name(made) == f"🎯 {sandbox.member_count:,} / {target + 10:,}",
        timeout=15,
        what="the next goal in the name",
    )
    assert announcements() == [f"🎯 Goal reached: {target:,} members"]
    assert await run.stop() == 0
