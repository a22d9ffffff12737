"""Pure pieces of the count history: raw journal lines, bucket keys, [min, max, last] merging, chart buckets.

Nothing here touches the store or the clock, so the rules the history's files follow are tested on their own.
Every instant is an aware UTC datetime; a local day is a date in a zone, from one local midnight to the next
(23 or 25 hours across a DST change).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

Triple = tuple[int, int, int]  # min, max and last value of one bucket
Bucket = timedelta | Literal["day"]  # a chart bucket: a fixed length, or a local day

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MAX_CHART_BUCKETS = 5000  # far above the ~400 a chart needs; keeps a mistaken bucket size from eating memory
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR_KEY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Point:
    """One value of a series over a span starting `at` (UTC): a sample has low == high == last."""

    at: datetime
    low: float
    high: float
    last: float


def as_utc(ts: datetime) -> datetime:
    """`ts` in UTC; a naive timestamp is taken to be UTC already."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def local_midnight(d: date, zone: tzinfo) -> datetime:
    """The UTC instant local day `d` starts in `zone` (where midnight is skipped, the first instant after)."""
    # fold=0 reads a skipped midnight with the offset before the change: the instant the day really starts.
    return datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)


def local_date(at: datetime, zone: tzinfo) -> date:
    """The local date in `zone` of the instant `at`."""
    return at.astimezone(zone).date()


def hour_key(at: datetime) -> str:
    """The key of the UTC hour holding `at`, e.g. "2026-03-01T05"."""
    return as_utc(at).strftime("%Y-%m-%dT%H")


def parse_hour_key(key: str) -> datetime:
    """The UTC start of the hour named by `key`; ValueError when it is not an hour key."""
    # Not strptime, which is slow: compaction parses every hour key of a month or two each day. Only the one
    # spelling is accepted, so a bucket never has two keys.
    if _HOUR_KEY.fullmatch(key) is None:
        raise ValueError(f"not an hour key: {key!r}")
    return datetime.fromisoformat(f"{key}:00+00:00")


def month_start(year: int, month: int) -> datetime:
    """The UTC start of a calendar month."""
    return datetime(year, month, 1, tzinfo=UTC)


def next_month(year: int, month: int) -> tuple[int, int]:
    """The (year, month) after `month` of `year`."""
    return (year + 1, 1) if month == 12 else (year, month + 1)


def stem_of(name: str, suffix: str) -> str:
    """A store name without its folder and `suffix`: "history/raw/2026-03-01.jsonl" -> "2026-03-01"."""
    return name.rsplit("/", 1)[-1].removesuffix(suffix)


def merge(earlier: Triple | None, later: Triple) -> Triple:
    """Two buckets of one series as one: the lowest low, the highest high, the later one's last value.

    Merging a bucket into itself changes nothing, so writing the same bucket twice is harmless.
    """
    if earlier is None:
        return later
    return (min(earlier[0], later[0]), max(earlier[1], later[1]), later[2])


def as_triple(raw: Any) -> Triple | None:
    """A stored [min, max, last] list as a Triple, or None when it is not three whole numbers."""
    if not isinstance(raw, list) or len(raw) != 3:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
        return None
    return (raw[0], raw[1], raw[2])


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- raw journal lines --------------------------------------------------------------------------------------


@dataclass
class RawCursor:
    """What the last line written to one raw journal leaves a reader with, so the next line can be a diff."""

    values: dict[str, int]
    since_full: int = 0  # diff lines written since the last full line


def encode_samples(
    samples: Sequence[tuple[int, Mapping[str, int]]], cursor: RawCursor | None, full_every: int
) -> tuple[list[str], RawCursor | None]:
    """The journal lines for `samples` (in order) after `cursor`, and the cursor they leave.

    The first line of a journal (no cursor), and every `full_every`-th line, holds every value, so a damaged
    line is forgotten at the next full one; the others hold only what changed (null: a value went away).
    """
    lines: list[str] = []
    for at, values in samples:
        line: dict[str, Any] = {"t": at}
        if cursor is None or cursor.since_full >= full_every:
            line["full"] = dict(values)
            cursor = RawCursor(dict(values))
        else:
            changed: dict[str, int | None] = {k: v for k, v in values.items() if cursor.values.get(k) != v}
            changed.update({k: None for k in cursor.values if k not in values})
            if changed:
                line["diff"] = changed
            cursor = RawCursor(dict(values), cursor.since_full + 1)
        lines.append(json.dumps(line, separators=(",", ":")))
    return lines, cursor


class RawReplay:
    """Replays one raw journal's lines: each sample's time and every value at that time, in line order.

    The values mapping yielded is live (the next sample changes it): copy what must outlive the step.
    Lines that are not samples are skipped and counted in `skipped`.
    """

    def __init__(self, lines: Iterable[Any]) -> None:
        self._lines = lines
        self.skipped = 0

    def __iter__(self) -> Iterator[tuple[int, Mapping[str, int]]]:
        state: dict[str, int] = {}
        for line in self._lines:
            if not self._apply(state, line):
                self.skipped += (
                    1  # damaged, or written by a newer version: the rest of the journal still counts
                )
                continue
            yield line["t"], state

    @staticmethod
    def _apply(state: dict[str, int], line: Any) -> bool:
        """Apply one line to `state`; False (state untouched) when the line is not a sample."""
        if not isinstance(line, dict) or not _whole(line.get("t")):
            return False
        full, diff = line.get("full"), line.get("diff", {})
        if full is not None:
            if not isinstance(full, dict) or not all(_whole(v) for v in full.values()):
                return False
            state.clear()
            state.update(full)
            return True
        if not isinstance(diff, dict) or not all(v is None or _whole(v) for v in diff.values()):
            return False
        for key, value in diff.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        return True


def hourly_from_samples(samples: Iterable[tuple[int, Mapping[str, int]]]) -> dict[str, dict[str, Triple]]:
    """Per key, per UTC hour key: the [min, max, last] of the samples (in time order) falling in that hour."""
    series: dict[str, dict[str, Triple]] = {}
    hour_start: int | None = None
    key_of_hour = ""
    for at, values in samples:
        if hour_start is None or not hour_start <= at < hour_start + 3600:
            hour_start = at - at % 3600
            key_of_hour = hour_key(datetime.fromtimestamp(hour_start, UTC))
        for key, value in values.items():
            hours = series.setdefault(key, {})
            hours[key_of_hour] = merge(hours.get(key_of_hour), (value, value, value))
    return series


# --- chart buckets ------------------------------------------------------------------------------------------


def suggested_bucket(start: datetime, end: datetime) -> Bucket:
    """A chart bucket for the span: 5 minutes up to a day, hours up to 8 days, local days beyond."""
    span = end - start
    if span <= DAY:
        return timedelta(minutes=5)
    if span <= 8 * DAY:
        return HOUR
    return "day"


class BucketFolder:
    """Folds time-ordered points into chart buckets: [min, max, last] per bucket, at the bucket's start.

    A fixed-length bucket is aligned on the UTC epoch (hours start on the hour); "day" is the local date in
    `zone`, so a bucket is 23 or 25 hours long across a DST change.
    """

    def __init__(self, bucket: Bucket, zone: tzinfo) -> None:
        if isinstance(bucket, timedelta) and bucket <= timedelta(0):
            raise ValueError(f"a bucket must be longer than zero, got {bucket}")
        self._bucket = bucket
        self._zone = zone
        self._buckets: dict[datetime, Point] = {}

    def check_span(self, start: datetime, end: datetime) -> None:
        """Refuse a span that would make more than MAX_CHART_BUCKETS buckets (ValueError)."""
        length = self._bucket if isinstance(self._bucket, timedelta) else timedelta(hours=23)
        if (end - start) / length > MAX_CHART_BUCKETS:
            raise ValueError(f"{end - start} in buckets of {self._bucket} is more than {MAX_CHART_BUCKETS}")

    def start_of(self, at: datetime) -> datetime:
        """The start (UTC) of the bucket holding `at`."""
        if isinstance(self._bucket, timedelta):
            return _EPOCH + ((as_utc(at) - _EPOCH) // self._bucket) * self._bucket
        return local_midnight(local_date(at, self._zone), self._zone)

    def add(self, point: Point) -> None:
        """Fold one point into its bucket; points must come in time order for `last` to be the latest."""
        start = self.start_of(point.at)
        seen = self._buckets.get(start)
        if seen is None:
            self._buckets[start] = Point(start, point.low, point.high, point.last)
        else:
            self._buckets[start] = Point(
                start, min(seen.low, point.low), max(seen.high, point.high), point.last
            )

    def points(self) -> list[Point]:
        """The buckets that received a point, oldest first."""
        return [self._buckets[at] for at in sorted(self._buckets)]
