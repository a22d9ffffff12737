"""Counters made from inside Discord: /setup, /counter add|edit|remove|list, kept in state/counters.json."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from src.core.exceptions import PermanentDiscordError
from src.services.stats.counter_admin import CATEGORY_NAME, MAX_COUNTERS, STATE_FILE, CounterAdminError
from src.services.stats.templates import TemplateError
from src.types.permissions import CONNECT, MANAGE_CHANNELS, VIEW_CHANNEL
from src.types.ports import ChannelKind, Overwrite
from tests.clock import ManualClock
from tests.fakes import BOT_USER, GUILD, FakeDiscord, MemoryStore
from tests.unit.stats.conftest import StartStack

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NO_ENV_COUNTERS = {
    "member_count_channel_id": None,
    "online_count_channel_id": None,
    "ban_count_channel_id": None,
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def port(clock: ManualClock) -> FakeDiscord:
    return FakeDiscord(clock, (1001, 1002, 1003))


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def created(port: FakeDiscord, kind: ChannelKind) -> list[int]:
    return [cid for cid in port.created if port.channels[cid].kind is kind]


async def test_setup_on_a_fresh_server_creates_a_category_and_three_counters(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """Without counter variables, /setup makes the category and voice channels named with the values."""
    bot = await start_stack(**NO_ENV_COUNTERS)
    embed = await bot.answers.setup()
    await clock.advance(120)
    [category] = created(port, ChannelKind.CATEGORY)
    voices = created(port, ChannelKind.VOICE)
    assert port.channels[category].name == CATEGORY_NAME
    assert [port.name(cid) for cid in voices] == ["👥 Members: 1,234", "🟢 Online: 567", "🔨 Bans: 89"]
    assert all(port.created[cid][0] == category for cid in voices)
    assert embed.title == "🛠️ Counters are set up"
    assert (embed.field("Created") or "").count("<#") == 3
    assert port.renames == []  # created with the right names: no rename spent


async def test_setup_channels_deny_connect_and_let_the_bot_manage_them(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """Every channel /setup makes denies Connect to @everyone and allows the bot View, Connect, Manage."""
    bot = await start_stack(**NO_ENV_COUNTERS)
    await bot.answers.setup()
    expected = (
        Overwrite(GUILD, is_role=True, deny=CONNECT),
        Overwrite(BOT_USER, is_role=False, allow=VIEW_CHANNEL | CONNECT | MANAGE_CHANNELS),
    )
    assert len(port.created) == 4
    assert all(overwrites == expected for _, overwrites in port.created.values())


async def test_a_second_setup_creates_nothing(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """Running /setup again reuses the category and the counters it made."""
    bot = await start_stack(**NO_ENV_COUNTERS)
    await bot.answers.setup()
    again = await bot.answers.setup()
    assert len(port.created) == 4
    assert again.field("Created") == "nothing"
    assert (again.field("Already there") or "").count("from command") == 3


async def test_setup_after_a_restart_reuses_what_it_made(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """The made counters are in state/counters.json by guild id; after a restart they show and are reused."""
    first = await start_stack(**NO_ENV_COUNTERS)
    await first.answers.setup()
    await first.stop()
    saved = store.document(STATE_FILE)["guilds"][str(GUILD)]
    assert len(saved["counters"]) == 3
    second = await start_stack(**NO_ENV_COUNTERS)
    assert len(second.counters.specs()) == 3
    again = await second.answers.setup()
    assert again.field("Created") == "nothing"
    assert len(port.created) == 4


async def test_setup_keeps_the_counters_from_the_environment(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """With the original's variables set, /setup creates nothing and names where each counter comes from."""
    bot = await start_stack()
    embed = await bot.answers.setup()
    assert port.created == {}
    assert "from environment (MEMBER_COUNT_CHANNEL_ID)" in (embed.field("Already there") or "")


async def test_setup_recreates_a_counter_whose_channel_was_deleted(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """A made counter channel deleted by hand is made again by the next /setup, not left paused."""
    bot = await start_stack(**NO_ENV_COUNTERS)
    await bot.answers.setup()
    members = created(port, ChannelKind.VOICE)[0]
    del port.channels[members]
    again = await bot.answers.setup()
    assert (again.field("Created") or "").startswith("members: <#")
    assert members not in [spec.channel_id for spec in bot.counters.specs()]
    assert len(bot.counters.specs()) == 3


async def test_setup_without_manage_channels_says_what_to_fix(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """A 403 creating the category is reported with the Manage Channels fix; nothing is half-made."""
    bot = await start_stack(**NO_ENV_COUNTERS)
    port.create_errors = [PermanentDiscordError("create channel: missing permissions (Missing Permissions)")]
    embed = await bot.answers.setup()
    assert embed.title == "🛠️ Counters are partly set up"
    assert "Manage Channels" in (embed.field("Could not") or "")
    assert bot.counters.specs() == []


async def test_counter_add_without_a_channel_creates_one_in_the_category(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """/counter add with only a template makes a voice channel showing it, in StatsBot's category."""
    bot = await start_stack()
    answer = await bot.answers.add("🚀 {boosts} boosts", None)
    [voice] = created(port, ChannelKind.VOICE)
    assert port.name(voice) == "🚀 3 boosts"
    assert answer.startswith(f"✅ <#{voice}> now shows `🚀 {{boosts}} boosts`")
    assert store.document(STATE_FILE)["guilds"][str(GUILD)]["counters"] == [
        {"channel_id": str(voice), "template": "🚀 {boosts} boosts"}
    ]


async def test_counter_add_to_an_existing_channel_renames_it(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """/counter add with a channel shows the template there within the rename budget."""
    bot = await start_stack()
    port.channels[2001] = port.channels[1001].__class__(2001, "spare", ChannelKind.VOICE, GUILD, True, False)
    await bot.answers.add("#️⃣ {channels} channels", 2001)
    await clock.advance(1)
    assert port.name(2001) == "#️⃣ 12 channels"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{members.__class__}", "Placeholder {members.__class__} is not supported"),
        ("Members", "has no placeholder"),
        ("{memberz}", "Unknown placeholder {memberz}"),
    ],
)
async def test_counter_add_refuses_a_bad_template_with_the_reason(
    start_stack: StartStack,
    port: FakeDiscord,
    clock: ManualClock,
    store: MemoryStore,
    template: str,
    message: str,
) -> None:
    """An untrusted template is refused before any channel is made, saying what is wrong."""
    bot = await start_stack()
    with pytest.raises(
        TemplateError, match=message.replace("{", r"\{").replace("}", r"\}").replace(".", r"\.")
    ):
        await bot.answers.add(template, None)
    assert port.created == {}


async def test_environment_counters_cannot_be_edited_or_removed_by_command(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """/counter remove on an environment counter says where it comes from and changes nothing."""
    bot = await start_stack()
    with pytest.raises(CounterAdminError, match=r"from environment \(MEMBER_COUNT_CHANNEL_ID\)"):
        await bot.answers.remove(1001, delete_channel=True)
    with pytest.raises(CounterAdminError, match="change or unset it there and restart the bot"):
        await bot.answers.edit(1001, "{members}")
    assert 1001 in port.channels
    assert len(bot.counters.specs()) == 3


async def test_counter_edit_and_remove_a_made_counter(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """Edit changes the shown name; remove with delete_channel deletes the channel and forgets the counter."""
    bot = await start_stack()
    await bot.answers.add("🚀 {boosts}", None)
    [voice] = created(port, ChannelKind.VOICE)
    await bot.answers.edit(voice, "🚀 Tier {boost_tier}")
    await clock.advance(301)
    assert port.name(voice) == "🚀 Tier 1"
    answer = await bot.answers.remove(voice, delete_channel=True)
    assert answer == "🗑️ The counter is removed and its channel deleted."
    assert voice not in port.channels
    assert store.document(STATE_FILE)["guilds"][str(GUILD)]["counters"] == []


async def test_counter_list_shows_value_name_source_and_pause_fix(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """/counter list has one field per counter with its value, shown name, source and any pause fix."""
    port.channels[1003] = port.channels[1003].__class__(1003, "bans", ChannelKind.TEXT, GUILD, True, True)
    bot = await start_stack()
    embed = bot.answers.list()
    assert embed.title == "📊 Counters (3)"
    members = embed.field("👥 Members: 1,234") or ""
    assert "<#1001> · from the environment" in members
    assert "members 1,234" in members
    bans = embed.field("bans") or ""
    assert "⏸️ paused (text_channel)" in bans
    assert "use a voice channel" in bans


async def test_goal_set_and_clear_answer_and_show_in_a_counter(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """/goal set explains the goal; a {goal} counter then shows it; /goal clear says it is gone."""
    bot = await start_stack()
    answer = await bot.answers.goal_set(1500, 100, 1005)
    assert answer.startswith(
        "🎯 Goal set: 1,500 members, then every 100; each one is announced once in <#1005>."
    )
    await bot.answers.add("🎯 {members:,} / {goal:,}", None)
    [voice] = created(port, ChannelKind.VOICE)
    assert port.name(voice) == "🎯 1,234 / 1,500"
    assert await bot.answers.goal_clear() == "🎯 Goal cleared."
    assert await bot.answers.goal_clear() == "There was no goal to clear."


async def test_counter_add_refuses_a_26th_counter(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """At 25 counters /counter add says so and creates no channel."""
    stack = await start_stack()
    for _ in range(MAX_COUNTERS - 3):
        await stack.answers.add("{members}", None)
    made = len(port.created)
    with pytest.raises(CounterAdminError, match="has 25 counters and StatsBot shows at most 25"):
        await stack.answers.add("{members}", None)
    assert len(port.created) == made


async def test_setup_reuses_a_counter_showing_only_that_value_not_one_that_merely_starts_with_it(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """A goal counter (`{members} / {goal}`) is not the members counter: /setup names the real one."""
    stack = await start_stack()
    await stack.answers.add("🎯 {members:,} / {goal:,}", None)
    embed = await stack.answers.setup()
    assert "members: <#1001>, from environment (MEMBER_COUNT_CHANNEL_ID)" in (
        embed.field("Already there") or ""
    )


async def test_a_role_the_server_does_not_have_is_refused(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """{role:ID} of an unknown role is refused with how to copy a role id; nothing is created."""
    stack = await start_stack()
    with pytest.raises(
        CounterAdminError, match="This server has no role 551191943577600099: copy the role's id"
    ):
        await stack.answers.add("⭐ {role:551191943577600099}", None)
    assert port.created == {}


async def test_a_saved_counter_on_an_environment_channel_is_kept_and_explained(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """A /counter entry whose channel the environment now uses is logged with the reason and kept on disk."""
    entry = {"channel_id": "1001", "template": "🚀 {boosts}"}
    await store.write(STATE_FILE, {"schema_version": 1, "guilds": {str(GUILD): {"counters": [entry]}}})
    with capture_logs() as logs:
        stack = await start_stack()
    [shadowed] = [e for e in logs if e["event"] == "counters.state_entry_shadowed"]
    assert "from environment (MEMBER_COUNT_CHANNEL_ID)" in shadowed["reason"]
    await stack.answers.add("🎭 {roles}", None)  # any save keeps the hidden entry
    assert entry in store.document(STATE_FILE)["guilds"][str(GUILD)]["counters"]
