"""The goal of one guild kept over restarts: `{goal}`'s value, and each milestone announced exactly once.

The state (`state/goals.json`, keyed by guild id) is written before an announcement is posted, with the
announcement as a pending intent; the post carries a stable nonce, and the channel's recent messages are
checked first, so neither a crash after the post nor a restored older state posts a milestone twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from src.core.exceptions import PermanentDiscordError, StoreError
from src.services.stats.goals import Goal, advance, announcement, announcement_nonce, new_goal
from src.types.ports import Clock, DiscordPort, JsonStore
from src.utils.backoff import Backoff
from src.utils.logging import get_logger
from src.utils.loop import Loop
from src.utils.text import describe_error

GOALS_FILE = "state/goals.json"
SCHEMA_VERSION = 1
RECENT_MESSAGES = 50  # how far back a channel is checked for an announcement already posted
# A raid arrives one join at a time and crosses targets one after another: the announcement waits until the
# count has been still for QUIET_S (or MAX_WAIT_S after the first target), then names the highest reached.
QUIET_S = 10.0
MAX_WAIT_S = 300.0


@dataclass(frozen=True, slots=True)
class _Pending:
    """A milestone to announce: the goal before it was reached, the target reached, the count then."""

    before: Goal
    reached: int
    value: int
    first: float = float("-inf")  # clock.monotonic() when the first of these targets was reached
    last: float = float("-inf")  # ... and the latest (a pending read back from disk is due at once)

    def due(self) -> float:
        """Return when to post: once the count has been still for QUIET_S, and no later than MAX_WAIT_S."""
        return min(self.first + MAX_WAIT_S, self.last + QUIET_S)

    def to_json(self) -> dict[str, Any]:
        return {"before": self.before.to_json(), "reached": self.reached, "value": self.value}

    @classmethod
    def from_json(cls, data: Any) -> _Pending:
        if not isinstance(data, dict):
            raise ValueError("a pending announcement must be an object")
        return cls(Goal.from_json(data.get("before")), int(data["reached"]), int(data["value"]))


class GoalKeeper:
    """Holds one guild's goal, moves it as the count grows and announces each milestone once."""

    def __init__(self, port: DiscordPort, clock: Clock, store: JsonStore, *, max_backoff: float) -> None:
        self._port = port
        self._store = store
        self._guild_id: int | None = None
        self._goal: Goal | None = None
        self._pending: _Pending | None = None
        self._clock = clock
        self._document: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "guilds": {}}
        self._announcer = Loop(
            "goal-announcements",
            self._announce,
            clock=clock,
            interval=self._until_due,
            backoff=Backoff(5.0, max_backoff),
            on_error=self._announce_failed,
        )
        self._log = get_logger(__name__, service="stats")

    @property
    def goal(self) -> Goal | None:
        """Return the current goal, if one is set."""
        return self._goal

    @property
    def target(self) -> int | None:
        """Return the next target `{goal}` shows, or None without a goal."""
        return None if self._goal is None else self._goal.target

    async def start(self, guild_id: int) -> None:
        """Load the guild's goal and post an announcement a crash left pending."""
        self._guild_id = guild_id
        try:
            data = await self._store.read(GOALS_FILE)
        except StoreError as exc:
            self._log.warning("goals.load_failed", file=GOALS_FILE, error=str(exc))
            data = None
        if isinstance(data, dict) and isinstance(data.get("guilds"), dict):
            self._document = data
        entry = self._document["guilds"].get(str(guild_id)) or {}
        try:
            self._goal = Goal.from_json(entry["goal"]) if entry.get("goal") else None
            self._pending = _Pending.from_json(entry["pending"]) if entry.get("pending") else None
        except (KeyError, TypeError, ValueError) as exc:
            self._log.error("goals.unreadable", file=GOALS_FILE, error=str(exc), fix="set the goal again")
            self._goal = self._pending = None
        self._announcer.start()

    async def stop(self) -> None:
        """Stop announcing (a pending announcement stays in the file for the next start)."""
        await self._announcer.cancel()

    def observe(self, value: int) -> bool:
        """Follow the count: when a target is reached, move it and have it announced; True if it moved.

        Never blocks: the announcer saves the new target (with the announcement as an intent) before it
        posts, so a crash before the save just reaches the milestone again after the restart.
        """
        if self._goal is None:
            return False
        progress = advance(self._goal, value)
        if progress.announce is None:
            return False
        now, pending = self._clock.monotonic(), self._pending
        if pending is not None:  # not posted yet: one announcement, naming the highest target reached
            self._pending = _Pending(pending.before, progress.announce, value, pending.first, now)
        else:
            self._pending = _Pending(self._goal, progress.announce, value, now, now)
        self._goal = progress.goal
        self._announcer.wake()
        return True

    def _until_due(self) -> float | None:
        """Seconds until the pending announcement is due; None waits for a target to be reached."""
        if self._pending is None:
            return None
        return max(0.0, self._pending.due() - self._clock.monotonic())

    async def set_goal(self, *, target: int, step: int, channel_id: int, current: int | None) -> Goal:
        """Set the goal (raises GoalError with a message for the user); it replaces any earlier one."""
        self._goal = new_goal(
            metric="members", target=target, step=step, channel_id=channel_id, current=current
        )
        await self._save()
        return self._goal

    async def clear(self) -> bool:
        """Remove the goal; False when there was none."""
        had = self._goal is not None
        self._goal = self._pending = None
        await self._save()
        return had

    async def _save(self) -> None:
        """Write every guild's goal; the caller's change is kept in memory if the write fails."""
        if self._guild_id is None:
            return
        entry: dict[str, Any] = {}
        if self._goal is not None:
            entry["goal"] = self._goal.to_json()
        if self._pending is not None:
            entry["pending"] = self._pending.to_json()
        guilds = dict(self._document["guilds"])
        guilds[str(self._guild_id)] = entry
        self._document = {"schema_version": SCHEMA_VERSION, "guilds": guilds}
        try:
            await self._store.write(GOALS_FILE, self._document)
        except StoreError as exc:
            self._log.warning("goals.save_failed", file=GOALS_FILE, error=str(exc))

    async def _announce(self) -> None:
        """Post the pending announcement unless the channel already shows it, then forget it."""
        pending, guild_id = self._pending, self._guild_id
        if pending is None or guild_id is None or pending.due() > self._clock.monotonic():
            return
        await self._save()  # the intent is on disk before anything is posted
        embed = announcement(pending.before, pending.reached, pending.value)
        channel_id = pending.before.channel_id
        try:
            recent = await self._port.recent_messages(channel_id, RECENT_MESSAGES)
            if not any(m.by_me and embed.title in m.titles for m in recent):
                nonce = announcement_nonce(guild_id, pending.before, pending.reached)
                await self._port.send_message(channel_id, embed, nonce=nonce)
        except PermanentDiscordError as exc:
            self._log.error(
                "goals.announcement_failed",
                channel_id=channel_id,
                error=str(exc),
                fix=exc.fix or f"give the bot View Channel and Send Messages in channel {channel_id}",
            )
        else:
            self._log.info("goals.announced", reached=pending.reached, value=pending.value)
        if self._pending is pending:
            self._pending = None
            await self._save()

    def _announce_failed(self, exc: Exception, retry_in: float | None) -> None:
        """Log a failed post; the loop tries again after `retry_in`."""
        self._log.warning("goals.announce_retry", error=describe_error(exc), retry_in=retry_in)
