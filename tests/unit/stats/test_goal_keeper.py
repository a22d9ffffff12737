"""Goals end to end in the counters: `{goal}` in a channel name, and each milestone announced exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from src.core.exceptions import PermanentDiscordError
from src.services.stats.goal_keeper import GOALS_FILE, QUIET_S
from src.services.stats.goals import GoalError
from src.types.models import CounterSource, CounterSpec
from tests.clock import ManualClock
from tests.fakes import FakeDiscord, MemoryStore
from tests.unit.stats.conftest import StartStack

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GUILD = 42
MEMBERS, ONLINE, BANS, GOAL_COUNTER, ANNOUNCE = 1001, 1002, 1003, 1010, 1020


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def port(clock: ManualClock) -> FakeDiscord:
    return FakeDiscord(clock, (MEMBERS, ONLINE, BANS, GOAL_COUNTER))


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


GOAL_SPEC = CounterSpec(GOAL_COUNTER, "🎯 {members:,} / {goal:,}", CounterSource.FILE)


def announcements(port: FakeDiscord) -> list[str]:
    """The titles posted in the announcement channel."""
    return [embed.title for cid, embed in port.messages.values() if cid == ANNOUNCE]


async def test_goal_counter_waits_for_a_goal_then_shows_the_target(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """Without a goal the `{goal}` counter keeps its name, paused with the fix; /goal set fills it in."""
    run = await start_stack([GOAL_SPEC])
    assert port.name(GOAL_COUNTER) == "counter"
    assert [s.paused_reason for s in run.counters.counter_states() if s.channel_id == GOAL_COUNTER] == [
        "no_goal"
    ]
    await run.goals.set_goal(target=1300, step=100, channel_id=ANNOUNCE, current=1234)
    run.counters.goal_changed()
    await clock.advance(0)
    assert port.name(GOAL_COUNTER) == "🎯 1,234 / 1,300"


async def test_a_raid_over_several_targets_announces_once_naming_the_highest(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """1,234 → 1,560 with targets every 100 from 1,300: one announcement, for 1,500; next target 1,600."""
    run = await start_stack([GOAL_SPEC])
    await run.goals.set_goal(target=1300, step=100, channel_id=ANNOUNCE, current=1234)
    await run.members(1560)
    await clock.advance(60)
    assert announcements(port) == ["🎯 Goal reached: 1,500 members"]
    assert run.goals.target == 1600
    assert store.document(GOALS_FILE)["guilds"][str(GUILD)]["goal"]["target"] == 1600
    assert "pending" not in store.document(GOALS_FILE)["guilds"][str(GUILD)]


async def test_a_raid_joining_one_by_one_over_several_targets_announces_once(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """Joins 0.1 s apart cross 1,300 and 1,400: one announcement, for 1,400, once the count is still."""
    run = await start_stack([GOAL_SPEC])
    await run.goals.set_goal(target=1300, step=100, channel_id=ANNOUNCE, current=1234)
    for count in range(1290, 1421):
        await run.members(count)
        await clock.advance(0.1)
    assert announcements(port) == []  # still joining
    await clock.advance(QUIET_S)
    assert announcements(port) == ["🎯 Goal reached: 1,400 members"]
    assert run.goals.target == 1500


async def test_a_dip_under_a_reached_goal_and_back_does_not_announce_again(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """Crossing 1,300 again after dipping under it announces nothing new."""
    run = await start_stack([GOAL_SPEC])
    await run.goals.set_goal(target=1300, step=100, channel_id=ANNOUNCE, current=1234)
    for count in (1301, 1299, 1302, 1298, 1305):
        await run.members(count)
        await clock.advance(5)
    assert announcements(port) == ["🎯 Goal reached: 1,300 members"]


async def test_a_restart_does_not_announce_again(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """After a restart the saved goal already moved past the milestone: the same count announces nothing."""
    first = await start_stack([GOAL_SPEC])
    await first.goals.set_goal(target=1300, step=100, channel_id=ANNOUNCE, current=1234)
    await first.members(1310)
    await clock.advance(5)
    await first.stop()
    second = await start_stack([GOAL_SPEC])
    await second.members(1310)
    await clock.advance(60)
    assert announcements(port) == ["🎯 Goal reached: 1,300 members"]
    assert second.goals.target == 1400


async def test_an_announcement_pending_at_a_crash_is_posted_once_after_the_restart(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """A crash after the intent was saved (posted or not) leaves exactly one announcement in the channel."""
    first = await start_stack([GOAL_SPEC])
    await first.goals.set_goal(target=1300, step=100, channel_id=ANNOUNCE, current=1234)
    port.fail_sends = 1  # the first post fails: the intent stays in the file
    await first.members(1300)
    await clock.advance(QUIET_S + 1)
    assert "pending" in store.document(GOALS_FILE)["guilds"][str(GUILD)]
    await first.stop()  # a crash would leave the same file
    await start_stack([GOAL_SPEC])
    await clock.advance(60)
    assert announcements(port) == ["🎯 Goal reached: 1,300 members"]


async def test_an_announcement_already_in_the_channel_is_not_posted_again(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """An older goals file (restored from a backup) whose milestone is already posted posts nothing."""
    first = await start_stack([GOAL_SPEC])
    await first.goals.set_goal(target=1300, step=100, channel_id=ANNOUNCE, current=1234)
    before = store.document(GOALS_FILE)
    await first.members(1300)
    await clock.advance(QUIET_S + 5)
    await first.stop()
    await store.write(GOALS_FILE, before)  # the restored file has not seen the milestone
    port.nonces.clear()  # and Discord's nonce memory (a few minutes) has expired
    second = await start_stack([GOAL_SPEC])
    await second.members(1300)
    await clock.advance(60)
    assert announcements(port) == ["🎯 Goal reached: 1,300 members"]


async def test_a_target_already_reached_is_refused_with_the_count(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """/goal set below the current count says so and keeps the old goal."""
    run = await start_stack([GOAL_SPEC])
    with pytest.raises(GoalError, match="1,234"):
        await run.goals.set_goal(target=1000, step=100, channel_id=ANNOUNCE, current=1234)
    assert run.goals.goal is None


async def test_clear_pauses_goal_counters_with_the_fix_and_a_new_goal_resumes_them(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """/goal clear: a `{goal}` counter keeps its name, paused saying to /goal set; a new goal resumes it."""
    run = await start_stack([GOAL_SPEC])
    await run.goals.set_goal(target=1300, step=100, channel_id=ANNOUNCE, current=1234)
    run.counters.goal_changed()
    await clock.advance(0)
    assert await run.goals.clear() is True
    run.counters.goal_changed()
    await run.members(1240)
    await clock.advance(900)
    assert port.name(GOAL_COUNTER) == "🎯 1,234 / 1,300"
    assert store.document(GOALS_FILE)["guilds"][str(GUILD)] == {}
    [paused] = [s for s in run.counters.counter_states() if s.channel_id == GOAL_COUNTER]
    assert (paused.paused_reason, paused.paused_fix) == (
        "no_goal",
        "set a member goal with /goal set, or /counter edit this counter without {goal}",
    )
    await run.goals.set_goal(target=1500, step=100, channel_id=ANNOUNCE, current=1240)
    run.counters.goal_changed()
    await clock.advance(900)
    assert port.name(GOAL_COUNTER) == "🎯 1,240 / 1,500"


async def test_a_channel_the_bot_cannot_post_in_logs_the_fix_and_drops_the_announcement(
    start_stack: StartStack, port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """A 403 on the announcement channel is logged with a fix and not retried forever."""
    run = await start_stack([GOAL_SPEC])
    await run.goals.set_goal(target=1300, step=100, channel_id=ANNOUNCE, current=1234)

    async def refuse(channel_id: int, limit: int = 100) -> list[object]:
        raise PermanentDiscordError("403 Missing Access")

    port.recent_messages = refuse  # type: ignore[method-assign,assignment]
    await run.members(1300)
    await clock.advance(60)
    assert announcements(port) == []
    assert "pending" not in store.document(GOALS_FILE)["guilds"][str(GUILD)]
