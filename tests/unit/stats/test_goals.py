"""Tests for member goals: hysteresis of `advance`, persistence, validation, the embed and the nonce."""

from __future__ import annotations

from typing import Any

import pytest

from src.services.stats.goals import (
    NONCE_LENGTH,
    Goal,
    GoalError,
    GoalProgress,
    advance,
    announcement,
    announcement_nonce,
    goals_passed,
    new_goal,
)

CHANNEL = 1_234_567_890_123_456_789  # past 2**53, like real snowflakes
GUILD = 987_654_321_098_765_432


def goal(target: int = 1000, step: int = 100, reached: int | None = None) -> Goal:
    return Goal("members", target, step, CHANNEL, reached)


@pytest.mark.parametrize(
    ("start", "values", "announced", "target"),
    [
        pytest.param(goal(), [999, 1000], [1000], 1100, id="exact-hit"),
        pytest.param(goal(), [990, 1050], [1000], 1100, id="overshoot-within-one-step"),
        pytest.param(goal(), [990, 1250], [1200], 1300, id="raid-over-several-targets-announces-the-highest"),
        pytest.param(goal(), [1000, 999, 1000, 998, 1099], [1000], 1100, id="dip-under-and-recross-is-quiet"),
        pytest.param(goal(), [1250, 1150, 1250, 1299], [1200], 1300, id="dip-after-raid-is-quiet"),
        pytest.param(
            goal(),
            [1000, 1001, 1099, 1100, 1150, 1200, 1199, 1200, 1300],
            [1000, 1100, 1200, 1300],
            1400,
            id="slow-climb-announces-each-milestone-once",
        ),
        pytest.param(goal(), [0, 1, 500, 999], [], 1000, id="far-below-is-quiet"),
        pytest.param(goal(), [-5], [], 1000, id="negative-reading-is-quiet"),
        pytest.param(goal(), [], [], 1000, id="no-readings"),
        pytest.param(goal(1000, 1), [1000, 1001, 1001, 1003], [1000, 1001, 1003], 1004, id="step-of-one"),
        pytest.param(
            goal(1100, 100, reached=1000), [1050, 1100], [1100], 1200, id="restored-state-keeps-going"
        ),
        pytest.param(
            goal(1000, 100, reached=1500),
            [1250, 1500, 1600],
            [1600],
            1700,
            id="goal-edited-below-its-history-never-repeats-a-target",
        ),
    ],
)
def test_advance_traces(start: Goal, values: list[int], announced: list[int], target: int) -> None:
    """Feeding readings one by one announces each expected milestone once and ends on the expected target."""
    state, seen = start, []
    for value in values:
        progress = advance(state, value)
        if progress.announce is not None:
            seen.append(progress.announce)
            assert progress.goal.reached == progress.announce
        state = progress.goal
    assert seen == announced
    assert state.target == target
    assert (state.metric, state.step, state.channel_id) == (start.metric, start.step, start.channel_id)


def test_advance_below_target_returns_the_same_goal() -> None:
    """Nothing changes under the target, so the caller has nothing to persist."""
    start = goal(reached=900)
    assert advance(start, 999) == GoalProgress(start, None)


def test_advance_returns_state_and_announcement_together() -> None:
    """The new state already records the announced target, so persisting it first prevents a repeat."""
    progress = advance(goal(), 1250)
    assert progress == GoalProgress(goal(1300, 100, reached=1200), 1200)
    # A restart from the persisted state with the same reading announces nothing.
    assert advance(progress.goal, 1250) == GoalProgress(progress.goal, None)


@pytest.mark.parametrize(
    "start",
    [goal(), goal(reached=900), goal(7, 3, reached=4)],
    ids=["fresh", "reached", "odd-numbers"],
)
def test_json_round_trip(start: Goal) -> None:
    """`from_json(to_json())` gives the goal back; the channel id is written as a string."""
    data = start.to_json()
    assert data["channel_id"] == str(CHANNEL)
    assert Goal.from_json(data) == start


def test_from_json_accepts_an_integer_channel_id_and_ignores_unknown_keys() -> None:
    data = {**goal().to_json(), "channel_id": CHANNEL, "added_later": True}
    assert Goal.from_json(data) == goal()


def _json(**changes: Any) -> dict[str, Any]:
    return {**goal().to_json(), **changes}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        pytest.param([], "must be an object, got list", id="not-an-object"),
        pytest.param(None, "must be an object, got NoneType", id="null"),
        pytest.param(_json(metric=""), "'metric' must be a non-empty string", id="empty-metric"),
        pytest.param(_json(metric=3), "'metric' must be a non-empty string", id="metric-not-text"),
        pytest.param({"metric": "members"}, "'channel_id' must be a decimal string", id="missing-keys"),
        pytest.param(
            _json(channel_id="12a"), "'channel_id' must be a decimal string", id="channel-not-digits"
        ),
        pytest.param(_json(channel_id="-12"), "'channel_id' must be a decimal string", id="channel-signed"),
        pytest.param(_json(channel_id=1.5), "'channel_id' must be a decimal string", id="channel-float"),
        pytest.param(_json(channel_id="0"), "channel_id must be > 0", id="channel-zero"),
        pytest.param(_json(target="1000"), "'target' must be an integer", id="target-as-text"),
        pytest.param(_json(target=None), "'target' must be an integer", id="target-null"),
        pytest.param(_json(step=True), "'step' must be an integer", id="step-bool"),
        pytest.param(_json(step=2.0), "'step' must be an integer", id="step-float"),
        pytest.param(_json(reached="900"), "'reached' must be an integer", id="reached-as-text"),
        pytest.param(_json(target=0), "target must be > 0", id="target-zero"),
        pytest.param(_json(step=-100), "step must be > 0", id="step-negative"),
        pytest.param(_json(reached=0), "reached must be > 0", id="reached-zero"),
    ],
)
def test_from_json_rejects_bad_shapes(data: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Goal.from_json(data)


def test_new_goal_builds_a_fresh_goal() -> None:
    made = new_goal(metric="members", target=1000, step=100, channel_id=CHANNEL, current=987)
    assert made == goal()
    assert (
        new_goal(metric="members", target=10**12, step=10**12, channel_id=CHANNEL, current=None).reached
        is None
    )


@pytest.mark.parametrize(
    ("target", "step", "current", "message"),
    [
        pytest.param(
            1000,
            100,
            1234,
            "The goal of 1,000 members is already reached (the server has 1,234 members); "
            "pick a target above 1,234.",
            id="below-current",
        ),
        pytest.param(
            12_345,
            100,
            12_345,
            "The goal of 12,345 members is already reached (the server has 12,345 members); "
            "pick a target above 12,345.",
            id="equal-to-current",
        ),
        pytest.param(0, 100, None, "The target must be above 0.", id="target-zero"),
        pytest.param(-1, 100, None, "The target must be above 0.", id="target-negative"),
        pytest.param(1000, 0, None, "The step must be above 0.", id="step-zero"),
        pytest.param(
            10**12 + 1, 100, None, "The target must be at most 1,000,000,000,000.", id="target-huge"
        ),
        pytest.param(1000, 10**12 + 1, None, "The step must be at most 1,000,000,000,000.", id="step-huge"),
    ],
)
def test_new_goal_messages(target: int, step: int, current: int | None, message: str) -> None:
    with pytest.raises(GoalError) as caught:
        new_goal(metric="members", target=target, step=step, channel_id=CHANNEL, current=current)
    assert str(caught.value) == message


def test_announcement_for_one_milestone() -> None:
    embed = announcement(goal(), 1000, 1003)
    assert embed.title == "🎯 Goal reached: 1,000 members"
    assert embed.description == "The server now has 1,003 members. Next goal: 1,100."
    assert embed.field("Members") == "1,003"
    assert embed.field("Next goal") == "1,100 members"
    assert "at once" not in embed.as_text()


def test_announcement_for_a_raid_over_several_targets() -> None:
    before = goal()
    progress = advance(before, 1250)
    assert progress.announce is not None
    embed = announcement(before, progress.announce, 1250, guild_name="Cozy Cats")
    assert embed.title == "🎯 Goal reached: 1,200 members"
    assert (
        embed.description == "🚀 Passed 3 goals at once! Cozy Cats now has 1,250 members. Next goal: 1,300."
    )
    assert embed.field("Next goal") == "1,300 members"


def test_announcement_shows_the_guild_name_literally_and_clipped() -> None:
    embed = announcement(goal(), 1000, 1000, guild_name="*bold*_" + "x" * 200)
    assert embed.description.startswith(r"\*bold\*\_xxx")
    assert "x" * 92 + "… now has" in embed.description
    assert "x" * 93 not in embed.description


@pytest.mark.parametrize(
    ("before", "reached", "passed"),
    [(goal(), 1000, 1), (goal(), 1099, 1), (goal(), 1200, 3), (goal(1000, 100, reached=1500), 1600, 1)],
    ids=["one", "one-with-overshoot", "three", "edited-below-history-counts-only-new"],
)
def test_goals_passed(before: Goal, reached: int, passed: int) -> None:
    assert goals_passed(before, reached) == passed


def test_nonce_is_stable_short_and_distinct() -> None:
    before = goal()
    after = advance(before, 1250).goal
    nonce = announcement_nonce(GUILD, before, 1200)
    assert len(nonce) <= NONCE_LENGTH == 25
    assert nonce == announcement_nonce(GUILD, before, 1200)
    assert nonce == announcement_nonce(GUILD, after, 1200)  # before or after advance: the same milestone
    others = {
        announcement_nonce(GUILD, before, 1100),
        announcement_nonce(GUILD, before, 1300),
        announcement_nonce(GUILD + 1, before, 1200),
        announcement_nonce(GUILD, Goal("boosts", 1000, 100, CHANNEL), 1200),
    }
    assert nonce not in others
    assert len(others) == 4
