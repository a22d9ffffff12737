"""When to rename a counter channel: a pure decision from the budget, the clock and the newest value.

Discord allows 2 renames per channel per 10 minutes (a hidden limit: the third gets a 429 of up to 10
minutes). `next_rename` answers "rename to X at T" or "nothing to do"; it does no I/O, so every rule is a
row in a table-driven test and a smarter schedule can be written here without touching the worker.

Two goals pull apart. Spending every slot at once shows a burst quickly but leaves a steady trickle waiting
a whole window; spacing renames `window / limit` apart keeps a trickle fresh but shows a burst's settled
count up to `window / limit` late. How wrong the shown number is decides: small changes keep the spacing,
while a noticeable error (`Drift.noticeable`) may spend a free slot once the value has been quiet for
`RenameRules.settle`, so a burst's settled count shows within `window / 20` of its last change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


def default_margin(window: float) -> float:
    """Return the safety margin added to each window: 1 s, or 1% of a window shorter than 100 s."""
    return min(1.0, window * 0.01)


@dataclass(frozen=True, slots=True)
class RenameRules:
    """At most `limit` renames of one channel in any `window` seconds, each counted `margin` s longer."""

    limit: int = 2
    window: float = 600.0
    margin: float | None = None  # None: `default_margin(window)`

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")
        if self.window <= 0:
            raise ValueError(f"window must be > 0, got {self.window}")

    @property
    def span(self) -> timedelta:
        """Return how long a rename keeps occupying a slot, margin included."""
        margin = default_margin(self.window) if self.margin is None else self.margin
        return timedelta(seconds=self.window + margin)

    @property
    def spacing(self) -> timedelta:
        """Return the gap kept between this run's renames, so a small change cannot spend a window at once."""
        return timedelta(seconds=self.window / self.limit)

    @property
    def settle(self) -> timedelta:
        """Return how long a noticeably wrong value must stay unchanged before a free slot is spent on it.

        Half of `window / 20`: a burst's last value shows well within `window / 20` (30 s on Discord), and
        the count is not renamed at every step of a raid that is still going on.
        """
        return timedelta(seconds=self.window / 40)


@dataclass(frozen=True, slots=True)
class Threshold:
    """An error is noticeable from `percent` % of the shown value or `minimum`, whichever is larger."""

    percent: float = 1.0
    minimum: int = 10

    def noticeable(self, shown: Mapping[str, int] | None, desired: Mapping[str, int]) -> bool:
        """Whether any value `desired` would show is off the shown one by the threshold (unknown: yes)."""
        if shown is None:
            return True
        for key, value in desired.items():
            before = shown.get(key)
            if before is None:
                return True
            if abs(value - before) >= max(self.minimum, abs(before) * self.percent / 100):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Drift:
    """How wrong the shown name is: noticeably or not, and since when the newest value has been unchanged."""

    noticeable: bool
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelTimeline:
    """What is known about one channel's renames at one instant."""

    renames: Sequence[datetime] = ()  # response times of renames still in the window, oldest first
    blocked_until: datetime | None = None  # Discord answered 429: nothing before this
    renamed_this_run: datetime | None = None  # this process's newest rename of the channel


@dataclass(frozen=True, slots=True)
class Rename:
    """The decision: show `name` at `at` (now or earlier means at once)."""

    name: str
    at: datetime


def free_slot(rules: RenameRules, timeline: ChannelTimeline, now: datetime) -> datetime:
    """Return the first instant at or after `now` when Discord would accept a rename (no spacing)."""
    slot = now
    live = [at for at in timeline.renames if at + rules.span > now]
    if len(live) >= rules.limit:
        # The oldest rename that still fills the window must leave it, as Discord will see it.
        slot = max(slot, live[-rules.limit] + rules.span)
    if timeline.blocked_until is not None:
        slot = max(slot, timeline.blocked_until)
    return slot


def earliest_slot(rules: RenameRules, timeline: ChannelTimeline, now: datetime) -> datetime:
    """Return the first instant at or after `now` for a small change: a free slot, spaced from the last."""
    slot = free_slot(rules, timeline, now)
    if timeline.renamed_this_run is not None:
        slot = max(slot, timeline.renamed_this_run + rules.spacing)
    return slot


def next_rename(
    rules: RenameRules,
    timeline: ChannelTimeline,
    *,
    shown: str | None,
    desired: str | None,
    now: datetime,
    drift: Drift | None = None,
) -> Rename | None:
    """Return when to show `desired`, or None when it is unknown or already shown.

    Without `drift` (or with a small one) renames keep the spacing; a noticeable drift may take the next
    free slot once the value has settled, whichever comes first.
    """
    if desired is None or desired == shown:
        return None
    at = earliest_slot(rules, timeline, now)
    if drift is not None and drift.noticeable:
        at = min(at, max(free_slot(rules, timeline, now), drift.changed_at + rules.settle))
    return Rename(desired, at)
