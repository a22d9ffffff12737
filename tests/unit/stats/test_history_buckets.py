"""The count history's pure rules: raw lines, hour keys, [min, max, last] merging and chart buckets."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from src.services.stats.history_buckets import (
    HOUR,
    BucketFolder,
    Point,
    RawReplay,
    encode_samples,
    hour_key,
    hourly_from_samples,
    local_midnight,
    merge,
    parse_hour_key,
    suggested_bucket,
)

NEW_YORK = ZoneInfo("America/New_York")
T = 1_772_668_800  # 2026-03-05T00:00:00Z


def replayed(lines: list[str]) -> list[tuple[int, dict[str, int]]]:
    return [(at, dict(values)) for at, values in RawReplay(json.loads(line) for line in lines)]


def test_first_line_is_full_then_only_changes() -> None:
    """A journal's first line holds every value; later lines hold what changed, null for a value gone."""
    samples = [
        (T, {"members": 5, "role:1": 2}),
        (T + 60, {"members": 6, "role:1": 2}),
        (T + 120, {"members": 6}),
    ]

    lines, cursor = encode_samples(samples, None, full_every=60)

    assert [json.loads(line) for line in lines] == [
        {"t": T, "full": {"members": 5, "role:1": 2}},
        {"t": T + 60, "diff": {"members": 6}},
        {"t": T + 120, "diff": {"role:1": None}},
    ]
    assert cursor is not None
    assert cursor.values == {"members": 6}


def test_replay_gives_every_value_at_every_sample() -> None:
    """Replaying diff lines yields the full values at each sample time, unchanged samples included."""
    samples = [
        (T, {"a": 1, "b": 2}),
        (T + 60, {"a": 1, "b": 3}),
        (T + 120, {"a": 1, "b": 3}),
        (T + 180, {"a": 4}),
    ]

    lines, _ = encode_samples(samples, None, full_every=60)

    assert replayed(lines) == samples


def test_a_full_line_comes_every_full_every_lines() -> None:
    """After `full_every` diff lines the next line holds every value again."""
    samples = [(T + i, {"a": i}) for i in range(5)]

    lines, _ = encode_samples(samples, None, full_every=2)

    assert ["full" in json.loads(line) for line in lines] == [True, False, False, True, False]


def test_a_cursor_continues_with_diffs() -> None:
    """A second batch after the cursor of the first starts with a diff, and replays right when joined."""
    first, cursor = encode_samples([(T, {"a": 1, "b": 1})], None, full_every=60)
    second, _ = encode_samples([(T + 60, {"a": 2, "b": 1})], cursor, full_every=60)

    assert json.loads(second[0]) == {"t": T + 60, "diff": {"a": 2}}
    assert replayed(first + second) == [(T, {"a": 1, "b": 1}), (T + 60, {"a": 2, "b": 1})]


def test_replay_skips_lines_that_are_not_samples() -> None:
    """Lines without a time, with non-integer values or of another shape are skipped and counted."""
    lines = [
        {"t": T, "full": {"a": 1}},
        "garbage",
        {"full": {"a": 9}},
        {"t": T + 1, "full": {"a": "x"}},
        {"t": T + 2, "diff": {"a": True}},
        {"t": True, "diff": {}},
        {"t": T + 3, "diff": {"a": 2}},
    ]
    replay = RawReplay(lines)

    assert [(at, dict(values)) for at, values in replay] == [(T, {"a": 1}), (T + 3, {"a": 2})]
    assert replay.skipped == 5


def test_hourly_buckets_hold_min_max_last_per_utc_hour() -> None:
    """Samples fold into per-hour [min, max, last] per key."""
    samples = [(T, {"a": 5}), (T + 600, {"a": 2}), (T + 1200, {"a": 3}), (T + 3600, {"a": 7, "b": 1})]

    assert hourly_from_samples(samples) == {
        "a": {"2026-03-05T00": (2, 5, 3), "2026-03-05T01": (7, 7, 7)},
        "b": {"2026-03-05T01": (1, 1, 1)},
    }


def test_merge_is_idempotent_and_keeps_the_later_last() -> None:
    """Merging a bucket into itself changes nothing; merging a later one keeps its last value."""
    bucket = (3, 9, 4)

    assert merge(bucket, bucket) == bucket
    assert merge(bucket, (1, 5, 2)) == (1, 9, 2)
    assert merge(None, bucket) == bucket


def test_hour_keys_round_trip() -> None:
    """An hour key names the UTC hour holding an instant, and parses back to its start."""
    at = datetime(2026, 3, 5, 7, 59, 59, tzinfo=UTC)

    assert hour_key(at) == "2026-03-05T07"
    assert parse_hour_key("2026-03-05T07") == datetime(2026, 3, 5, 7, tzinfo=UTC)


def test_local_midnight_is_dst_correct() -> None:
    """The local day of a DST change starts at its own midnight: 23 hours long in March, 25 in November."""
    march = local_midnight(date(2026, 3, 9), NEW_YORK) - local_midnight(date(2026, 3, 8), NEW_YORK)
    november = local_midnight(date(2026, 11, 2), NEW_YORK) - local_midnight(date(2026, 11, 1), NEW_YORK)

    assert (march, november) == (timedelta(hours=23), timedelta(hours=25))


def test_fixed_buckets_align_on_the_utc_epoch() -> None:
    """A 1-hour bucket starts on the hour, whatever the first point's minute."""
    folder = BucketFolder(HOUR, NEW_YORK)
    for minute, value in ((10, 4.0), (50, 1.0), (70, 3.0)):
        folder.add(
            Point(datetime(2026, 3, 5, 7, tzinfo=UTC) + timedelta(minutes=minute), value, value, value)
        )

    assert folder.points() == [
        Point(datetime(2026, 3, 5, 7, tzinfo=UTC), 1.0, 4.0, 1.0),
        Point(datetime(2026, 3, 5, 8, tzinfo=UTC), 3.0, 3.0, 3.0),
    ]


def test_too_many_buckets_are_refused() -> None:
    """A span that would make more than MAX_CHART_BUCKETS buckets raises ValueError."""
    start = datetime(2025, 1, 1, tzinfo=UTC)

    with pytest.raises(ValueError, match="more than"):
        BucketFolder(timedelta(minutes=1), NEW_YORK).check_span(start, start + timedelta(days=365))
    with pytest.raises(ValueError, match="longer than zero"):
        BucketFolder(timedelta(0), NEW_YORK)


def test_suggested_buckets_keep_charts_small() -> None:
    """5 minutes for a day, hours for a week, local days for a month or a year."""
    start = datetime(2026, 1, 1, tzinfo=UTC)

    assert suggested_bucket(start, start + timedelta(days=1)) == timedelta(minutes=5)
    assert suggested_bucket(start, start + timedelta(days=7)) == HOUR
    assert suggested_bucket(start, start + timedelta(days=30)) == "day"
    assert suggested_bucket(start, start + timedelta(days=365)) == "day"


@pytest.mark.parametrize("key", ["2026-03-05T7", "2026-03-05 07", "2026-03-05T24", "20260305T07", "x"])
def test_only_canonical_hour_keys_parse(key: str) -> None:
    """Anything but the one spelling of an existing hour is refused with ValueError."""
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the key, which varies
        parse_hour_key(key)
