"""Tests for the pure rename schedule: when (if at all) a counter channel may show its newest value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from src.services.stats.rename_schedule import (
    ChannelTimeline,
    Drift,
    Rename,
    RenameRules,
    Threshold,
    next_rename,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAME = "Members: 1,234"
DEFAULT = RenameRules()  # 2 renames per 600 s, each counted 601 s (1 s margin); this run spaces them 300 s


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("rules", "timeline", "shown", "desired", "expected"),
    [
        pytest.param(DEFAULT, ChannelTimeline(), "Members: 1,000", None, None, id="unknown-value"),
        pytest.param(DEFAULT, ChannelTimeline(), NAME, NAME, None, id="value-already-shown"),
        pytest.param(DEFAULT, ChannelTimeline(), None, NAME, Rename(NAME, NOW), id="fresh-channel-now"),
        pytest.param(
            DEFAULT,
            ChannelTimeline(renames=[ago(100)]),
            None,
            NAME,
            Rename(NAME, NOW),
            id="one-rename-from-file-leaves-a-slot-now",
        ),
        pytest.param(
            DEFAULT,
            ChannelTimeline(renames=[ago(100)], renamed_this_run=ago(100)),
            None,
            NAME,
            Rename(NAME, later(200)),
            id="one-rename-this-run-is-spaced-window-over-limit",
        ),
        pytest.param(
            DEFAULT,
            ChannelTimeline(renames=[ago(500), ago(100)]),
            None,
            NAME,
            Rename(NAME, later(101)),
            id="two-renames-wait-for-oldest-plus-window-plus-margin",
        ),
        pytest.param(
            DEFAULT,
            ChannelTimeline(renames=[ago(550), ago(400), ago(100)]),
            None,
            NAME,
            Rename(NAME, later(201)),
            id="over-spent-window-waits-for-the-limit-th-newest",
        ),
        pytest.param(
            DEFAULT,
            ChannelTimeline(renames=[ago(601), ago(100)]),
            None,
            NAME,
            Rename(NAME, NOW),
            id="rename-just-past-the-span-no-longer-counts",
        ),
        pytest.param(
            DEFAULT,
            ChannelTimeline(renames=[ago(600), ago(100)]),
            None,
            NAME,
            Rename(NAME, later(1)),
            id="rename-inside-the-margin-still-counts",
        ),
        pytest.param(
            DEFAULT,
            ChannelTimeline(renames=[ago(500), ago(100)], blocked_until=later(400)),
            None,
            NAME,
            Rename(NAME, later(400)),
            id="later-429-block-wins",
        ),
        pytest.param(
            DEFAULT,
            ChannelTimeline(renames=[ago(500), ago(100)], blocked_until=later(50)),
            None,
            NAME,
            Rename(NAME, later(101)),
            id="earlier-429-block-does-not-delay-the-slot",
        ),
        pytest.param(
            DEFAULT,
            ChannelTimeline(blocked_until=ago(5)),
            None,
            NAME,
            Rename(NAME, NOW),
            id="expired-429-block-is-ignored",
        ),
        pytest.param(
            RenameRules(margin=30.0),
            ChannelTimeline(renames=[ago(500), ago(100)]),
            None,
            NAME,
            Rename(NAME, later(130)),
            id="custom-margin",
        ),
        pytest.param(
            RenameRules(limit=1, window=50.0),
            ChannelTimeline(renames=[ago(10)]),
            None,
            NAME,
            Rename(NAME, later(40.5)),
            id="short-window-margin-is-one-percent",
        ),
    ],
)
def test_next_rename(
    rules: RenameRules,
    timeline: ChannelTimeline,
    shown: str | None,
    desired: str | None,
    expected: Rename | None,
) -> None:
    """next_rename answers the expected name and instant (via earliest_slot), or None."""
    assert next_rename(rules, timeline, shown=shown, desired=desired, now=NOW) == expected


@pytest.mark.parametrize(
    ("limit", "window", "match"),
    [(0, 600.0, "limit"), (-1, 600.0, "limit"), (2, 0.0, "window"), (2, -600.0, "window")],
    ids=["zero-limit", "negative-limit", "zero-window", "negative-window"],
)
def test_rename_rules_reject_impossible_limits(limit: int, window: float, match: str) -> None:
    """A limit below one or a window that is not positive is a configuration error."""
    with pytest.raises(ValueError, match=match):
        RenameRules(limit=limit, window=window)


# --- how wrong the shown number is decides between spacing and a free slot ---------------------------------

STRICT = Threshold()  # 1 % of the shown value or 10, whichever is larger


@pytest.mark.parametrize(
    ("shown", "desired", "expected"),
    [
        pytest.param(None, {"members": 5}, True, id="unknown-shown-values-are-noticeable"),
        pytest.param({"members": 1000}, {"members": 1009}, False, id="nine-of-a-thousand-is-small"),
        pytest.param({"members": 1000}, {"members": 1010}, True, id="ten-is-the-minimum"),
        pytest.param({"members": 1000}, {"members": 990}, True, id="a-drop-counts-too"),
        pytest.param(
            {"members": 100_000}, {"members": 100_999}, False, id="under-one-percent-of-a-big-count"
        ),
        pytest.param({"members": 100_000}, {"members": 101_000}, True, id="one-percent-of-a-big-count"),
        pytest.param(
            {"members": 1000, "bots": 5}, {"members": 1001, "bots": 20}, True, id="any-value-can-be-off"
        ),
        pytest.param({"members": 1000}, {"members": 1000, "bots": 3}, True, id="a-value-never-shown"),
    ],
)
def test_threshold_noticeable(shown: dict[str, int] | None, desired: dict[str, int], expected: bool) -> None:
    """An error is noticeable from max(1 % of the shown value, 10), for any value the name shows."""
    assert STRICT.noticeable(shown, desired) is expected


def simulate(
    changes: list[tuple[float, int]], until: float, rules: RenameRules = DEFAULT
) -> list[tuple[float, int]]:
    """Replay value changes (seconds after NOW, value) through next_rename; return (time, value) renames."""
    pending = sorted(changes)
    renames: list[tuple[float, int]] = []
    value: int | None = None
    changed_at = 0.0
    now = 0.0
    while True:
        while pending and pending[0][0] <= now:
            changed_at, new = pending.pop(0)
            if new != value:
                value = new
        shown = renames[-1][1] if renames else None
        timeline = ChannelTimeline(
            renames=[later(at) for at, _ in renames],
            renamed_this_run=later(renames[-1][0]) if renames else None,
        )
        drift = None
        if value is not None:
            drift = Drift(
                STRICT.noticeable(None if shown is None else {"v": shown}, {"v": value}), later(changed_at)
            )
        decision = next_rename(
            rules,
            timeline,
            shown=None if shown is None else str(shown),
            desired=None if value is None else str(value),
            now=later(now),
            drift=drift,
        )
        due = None if decision is None else (decision.at - NOW).total_seconds()
        upcoming = pending[0][0] if pending else None
        if due is not None and (upcoming is None or due < upcoming):
            if due > until:
                return renames
            now = due
            renames.append((round(now, 3), int(decision.name)))  # type: ignore[union-attr]
        elif upcoming is not None and upcoming <= until:
            now = upcoming
        else:
            return renames


def steps(start: float, every: float, count: int, first: int, by: int = 1) -> list[tuple[float, int]]:
    """`count` changes `every` seconds from `start`, each `by` more than the last, from `first`."""
    return [(start + i * every, first + i * by) for i in range(count)]


BURST = steps(100.0, 0.2, 50, 1001)  # 50 joins in 10 s, the last at 109.8 s
TRICKLE = steps(200.0, 60.0, 15, 1051)  # then one join a minute


@pytest.mark.parametrize(
    ("changes", "until", "expected"),
    [
        pytest.param(
            [(0.0, 1000), *steps(60.0, 60.0, 15, 1001)],
            960.0,
            [(0.0, 1000), (300.0, 1005), (601.0, 1010), (901.0, 1015)],
            id="trickle-keeps-the-spacing",
        ),
        pytest.param(
            [(0.0, 1000), (100.0, 1003)],
            400.0,
            [(0.0, 1000), (300.0, 1003)],
            id="small-change-waits-for-the-spacing",
        ),
        pytest.param(
            [(0.0, 1000), *BURST],
            400.0,
            [(0.0, 1000), (124.8, 1050)],
            id="burst-settles-within-window-over-twenty",
        ),
        pytest.param(
            [(0.0, 1000), *BURST, *TRICKLE],
            1300.0,
            [(0.0, 1000), (124.8, 1050), (601.0, 1057), (901.0, 1062), (1202.0, 1065)],
            id="burst-then-trickle",
        ),
        pytest.param(
            [(0.0, 1000), *steps(100.0, 1.0, 120, 1001)],
            400.0,
            [(0.0, 1000), (234.0, 1120)],
            id="long-raid-shows-its-end-once-it-settles",
        ),
        pytest.param(
            [(0.0, 1000), *steps(100.0, 1.0, 300, 1001)],
            700.0,
            [(0.0, 1000), (300.0, 1201), (601.0, 1300)],
            id="raid-longer-than-the-spacing-keeps-the-spacing",
        ),
        pytest.param(
            [(0.0, 1000), *BURST, (200.0, 1200)],
            700.0,
            [(0.0, 1000), (124.8, 1050), (601.0, 1200)],
            id="second-burst-waits-for-a-free-slot",
        ),
    ],
)
def test_rename_times_for_traces(
    changes: list[tuple[float, int]], until: float, expected: list[tuple[float, int]]
) -> None:
    """Traces of value changes give the expected rename times and shown values on Discord's budget."""
    renames = simulate(changes, until)
    assert renames == expected
    for index, (at, _) in enumerate(renames):
        in_window = [t for t, _ in renames if at - 601.0 < t <= at]
        assert len(in_window) <= DEFAULT.limit, f"rename {index} at {at} overspends the window"
