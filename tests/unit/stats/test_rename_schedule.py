"""Tests for the pure rename schedule: when (if at all) a counter channel may show its newest value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from src.services.stats.rename_schedule import ChannelTimeline, Rename, RenameRules, next_rename

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
