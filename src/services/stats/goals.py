"""Member goals: milestones shown by `{goal}` in counter names and announced once when reached.

A pure core with no I/O. `advance` returns the new state and the announcement together, so the caller can
persist the state before posting: a restart, a dip under a reached goal or a raid over several targets
never announces a milestone twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from src.types.models import Embed, EmbedField
from src.utils.text import clip, escape_markdown

MAX_TARGET = 10**12  # far above any server, low enough that JSON numbers stay exact (2**53)
NONCE_LENGTH = 25  # Discord's limit for a string message nonce
GUILD_NAME_LIMIT = 100  # Discord's limit for a server name
GOAL_COLOR = 0xFEE75C  # Discord's yellow: a celebration, neither the green nor red of the reports


@dataclass(frozen=True, slots=True)
class Goal:
    """The next milestone of one metric, how far it moves once reached, and where it is announced."""

    metric: str  # "members"
    target: int  # the next milestone
    step: int  # how far the target moves after it is reached
    channel_id: int  # where announcements go
    reached: int | None = None  # the highest target announced so far (None: none yet)

    def __post_init__(self) -> None:
        if not self.metric:
            raise ValueError("a goal needs a metric")
        for name in ("target", "step", "channel_id"):
            if getattr(self, name) <= 0:
                raise ValueError(f"goal {name} must be > 0, got {getattr(self, name)}")
        if self.reached is not None and self.reached <= 0:
            raise ValueError(f"goal reached must be > 0 or None, got {self.reached}")

    def to_json(self) -> dict[str, Any]:
        """The goal as a JSON-ready object; the channel id is a string, as JSON loses precision past 2**53."""
        return {
            "metric": self.metric,
            "target": self.target,
            "step": self.step,
            "channel_id": str(self.channel_id),
            "reached": self.reached,
        }

    @classmethod
    def from_json(cls, data: Any) -> Goal:
        """Rebuild a goal from `to_json` output; raise ValueError naming what is wrong with the shape."""
        if not isinstance(data, dict):
            raise ValueError(f"a goal must be an object, got {type(data).__name__}")
        metric = data.get("metric")
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"goal 'metric' must be a non-empty string, got {metric!r}")
        channel = data.get("channel_id")
        # A decimal string is what `to_json` writes; a JSON integer is accepted for hand-written files.
        if isinstance(channel, str) and channel.isdecimal() and channel.isascii():
            channel = int(channel)
        if isinstance(channel, bool) or not isinstance(channel, int):
            raise ValueError(f"goal 'channel_id' must be a decimal string, got {data.get('channel_id')!r}")
        reached = None if data.get("reached") is None else _integer(data, "reached")
        return cls(metric, _integer(data, "target"), _integer(data, "step"), channel, reached)


def _integer(data: dict[str, Any], key: str) -> int:
    """The integer at `key`; raise ValueError naming the key when it is missing or not an integer."""
    value = data.get(key)
    # JSON true/false arrive as bool, a subclass of int.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"goal {key!r} must be an integer, got {value!r}")
    return value


class GoalError(ValueError):
    """A goal that cannot be set; str(exc) is a message for the Discord user."""


def new_goal(*, metric: str, target: int, step: int, channel_id: int, current: int | None) -> Goal:
    """A fresh goal, checked for what a user may get wrong; raises GoalError with a message for them."""
    for name, value in (("target", target), ("step", step)):
        if value <= 0:
            raise GoalError(f"The {name} must be above 0.")
        if value > MAX_TARGET:
            raise GoalError(f"The {name} must be at most {MAX_TARGET:,}.")
    if current is not None and target <= current:
        raise GoalError(
            f"The goal of {target:,} {metric} is already reached (the server has {current:,} {metric}); "
            f"pick a target above {current:,}."
        )
    return Goal(metric=metric, target=target, step=step, channel_id=channel_id)


@dataclass(frozen=True, slots=True)
class GoalProgress:
    """The outcome of one reading: the state to persist (maybe unchanged) and the target to announce."""

    goal: Goal
    announce: int | None  # the target to announce now, or None


def advance(goal: Goal, value: int) -> GoalProgress:
    """Move the goal past `value`, announcing only the highest target reached and never one twice."""
    if value < goal.target:
        return GoalProgress(goal, None)
    highest = goal.target + goal.step * ((value - goal.target) // goal.step)
    following = replace(goal, target=highest + goal.step)
    if goal.reached is not None and highest <= goal.reached:
        # Only a goal edited below its own history lands here: move on silently, as it was announced.
        return GoalProgress(following, None)
    return GoalProgress(replace(following, reached=highest), highest)


def goals_passed(goal_before: Goal, reached: int) -> int:
    """How many targets of `goal_before` up to `reached` were newly passed (1 for a single milestone)."""
    lowest = goal_before.target
    if goal_before.reached is not None and goal_before.reached >= lowest:
        lowest += goal_before.step * ((goal_before.reached - lowest) // goal_before.step + 1)
    return max(1, (reached - lowest) // goal_before.step + 1)


def announcement(goal_before: Goal, reached: int, value: int, *, guild_name: str | None = None) -> Embed:
    """The embed posted in the goal channel when `reached` (the `announce` of `advance`) is hit."""
    metric = goal_before.metric
    following = reached + goal_before.step
    # A guild name is the only user-controlled text; it is shown literally, not as markdown.
    who = escape_markdown(clip(guild_name, GUILD_NAME_LIMIT)) if guild_name else "The server"
    description = f"{who} now has {value:,} {metric}. Next goal: {following:,}."
    passed = goals_passed(goal_before, reached)
    if passed > 1:
        description = f"🚀 Passed {passed:,} goals at once! " + description
    return Embed(
        title=f"🎯 Goal reached: {reached:,} {metric}",
        description=description,
        color=GOAL_COLOR,
        fields=[
            EmbedField(name=metric.capitalize(), value=f"{value:,}", inline=True),
            EmbedField(name="Next goal", value=f"{following:,} {metric}", inline=True),
        ],
    )


def announcement_nonce(guild_id: int, goal: Goal, reached: int) -> str:
    """A stable nonce of at most 25 characters for the announcement of `reached`, so it is posted once.

    Only the guild, metric, channel and reached target go in, so the goal before or after `advance` gives
    the same nonce; a hash keeps 19-digit ids within Discord's 25 characters.
    """
    key = f"{guild_id}:{goal.metric}:{goal.channel_id}:{reached}".encode()
    prefix = "goal-"
    return prefix + hashlib.sha256(key).hexdigest()[: NONCE_LENGTH - len(prefix)]
