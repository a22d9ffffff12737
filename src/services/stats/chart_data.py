"""The data of every chart: series, labels, titles and alt text, built from the count history and day files.

Only data is built here; `src.utils.charts` draws it. Days are local dates in the chart's zone (a day is 23
or 25 hours across a DST change) and a line's times are aware datetimes in that zone. A line has a value
where its history holds a point and None across a stretch without any (the bot was not running), so the
drawing breaks the line there instead of bridging hours nobody measured. A bar is None for a day that has
no day file (nothing was recorded), and 0 for a recorded day without such events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo

from src.services.stats.count_history import CountHistory
from src.services.stats.history import DailyHistory
from src.services.stats.history_buckets import (
    DAY,
    HOUR,
    Bucket,
    Point,
    local_midnight,
    suggested_bucket,
)
from src.services.stats.reports import signed
from src.types.charts import ChartSpec, Panel, PanelKind, Series, Tone
from src.types.models import EventKind
from src.utils.text import clip, date_span

METRICS = ("members", "online", "joins", "leaves", "bans")
RANGES = {"7d": 7, "30d": 30, "90d": 90, "1y": 365}
REPORT_BAR_DAYS = 14  # the daily report's joins and leaves
WEEK_DAYS = 7
DAILY_BUCKET = timedelta(minutes=5)  # the daily report's member curve

_RANGE_WORDS = {
    "7d": "the last 7 days",
    "30d": "the last 30 days",
    "90d": "the last 90 days",
    "1y": "the last year",
}
_HISTORY_STARTS = "the history starts when StatsBot first runs."
_EVENT_KINDS = {"joins": EventKind.JOIN, "leaves": EventKind.LEAVE, "bans": EventKind.BAN}
_EVENT_TONES = {"joins": Tone.GAIN, "leaves": Tone.LOSS, "bans": Tone.LOSS}
_MONTHLY_LABELS_FROM = 15  # bars: from this many, only Mondays (or a month's first week) are labelled

Track = list[tuple[datetime, float]]  # one line's points, UTC instants in time order, no instant twice


class ChartDataError(ValueError):
    """A chart that cannot be built as asked; the message is written for the member who asked."""


@dataclass(frozen=True, slots=True)
class _Bars:
    """Event counts per bar: None where no day of the bar has a day file."""

    starts: list[date]  # the first day of each bar (a day, or an ISO week's Monday)
    counts: dict[EventKind, list[float | None]]

    def has_data(self) -> bool:
        """Whether any bar has a recorded day."""
        return any(v is not None for values in self.counts.values() for v in values)


# --- words ----------------------------------------------------------------------------------------------


def _number(value: float) -> str:
    """A count with thousands separators; an average keeps one decimal ("12.5"), a whole one none."""
    rounded = round(value, 1)
    return f"{int(rounded):,}" if float(rounded).is_integer() else f"{rounded:,.1f}"


def _change(first: float, last: float) -> str:
    """The signed change from `first` to `last`: "+234", "-3", "0"."""
    diff = last - first
    return signed(int(diff)) if float(diff).is_integer() else f"{diff:+,.1f}"


def _long_date(d: date) -> str:
    """A day as the reports write it: "Monday, 30 November 2026"."""
    return f"{d:%A}, {d.day} {d:%B %Y}"


def _day_words(d: date, *, year: bool = False) -> str:
    """A day in a sentence: "21 November", or "21 November 2026"."""
    return f"{d.day} {d:%B %Y}" if year else f"{d.day} {d:%B}"


def _between(first: date, last: date) -> str:
    """Two days in a sentence: "between 1 November and 30 November 2026" (a shared year once)."""
    if first == last:
        return f"on {_long_date(first)}"
    return f"between {_day_words(first, year=first.year != last.year)} and {_day_words(last, year=True)}"


def _short_span(first: date, last: date, *, year: bool = True) -> str:
    """A span in short: "1 Nov - 30 Nov 2026" (with an en dash), a shared year written once."""
    end = f"{last.day} {last:%b %Y}" if year else f"{last.day} {last:%b}"
    if first.year != last.year:
        return f"{first.day} {first:%b %Y} – {end}"
    return f"{first.day} {first:%b} – {end}"


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone)


def _day_label(d: date) -> str:
    """A bar of one day in a short range: "Mon 16"."""
    return f"{d:%a} {d.day}"


def _date_label(d: date) -> str:
    """A bar of one day (or a week, by its Monday) in a long range: "16 Nov"."""
    return f"{d.day} {d:%b}"


# --- lines ----------------------------------------------------------------------------------------------


def _window(first: date, last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The UTC instants from local midnight starting `first` to the one ending `last`."""
    return local_midnight(first, zone), local_midnight(last + DAY, zone)


def _gap_after(bucket: Bucket) -> timedelta:
    """The longest step between two points a line still bridges; a longer one is drawn as a gap.

    One empty bucket is bridged (a refresh that came late, an hour compacted away); more is a stretch the
    bot was not measuring. Finer buckets allow an hour: hourly points are all an old day has.
    """
    if bucket == "day":
        return 2 * timedelta(hours=25)  # two local days, either of which may be 25 hours long
    return bucket + max(bucket, HOUR)


async def _track(
    counts: CountHistory,
    key: str,
    window: tuple[datetime, datetime],
    bucket: Bucket,
    zone: tzinfo,
    pick: Callable[[Point], float],
) -> Track:
    """The points of `key` in the window, folded into `bucket`s, one value per bucket (at its start)."""
    return [(p.at, pick(p)) for p in await counts.buckets(key, window[0], window[1], bucket, zone)]


def _interpolate(a: tuple[datetime, float], b: tuple[datetime, float], at: datetime) -> float:
    """The value the drawn line between `a` and `b` has at `at` (whole when both ends are)."""
    share = (at - a[0]) / (b[0] - a[0])
    value = a[1] + (b[1] - a[1]) * share
    # Within half a unit of the drawn line, and keeps a count's axis on whole numbers.
    return float(round(value)) if float(a[1]).is_integer() and float(b[1]).is_integer() else round(value, 2)


def _on_axis(track: Track, axis: Sequence[datetime], gap: timedelta) -> list[float | None]:
    """`track`'s values at each time of `axis`: its own, else its line's between neighbours, else None."""
    own = dict(track)
    values: list[float | None] = []
    after = 0  # the index of the track's first point at or after the axis time
    for at in axis:
        if at in own:
            values.append(own[at])
            continue
        while after < len(track) and track[after][0] < at:
            after += 1
        if after == 0 or after == len(track) or track[after][0] - track[after - 1][0] > gap:
            values.append(None)
        else:
            values.append(_interpolate(track[after - 1], track[after], at))
    return values


def _merge(
    tracks: Sequence[Track], gap: timedelta, zone: tzinfo, edges: Sequence[datetime] = ()
) -> tuple[list[datetime], list[list[float | None]]]:
    """One time axis (in `zone`) for several lines, and each line's values on it.

    A step longer than `gap` gets a time of its own where the line is None, so the drawing breaks there.
    `edges` (where no line has a point, a None) stretch the axis over the whole range asked for.
    """
    instants = set(edges)
    gaps = [_gap_for(track, gap) for track in tracks]
    for track, track_gap in zip(tracks, gaps, strict=True):
        instants.update(at for at, _ in track)
        instants.update(a + (b - a) / 2 for (a, _), (b, _) in pairwise(track) if b - a > track_gap)
    axis = sorted(instants)
    values = [_on_axis(track, axis, track_gap) for track, track_gap in zip(tracks, gaps, strict=True)]
    return [at.astimezone(zone) for at in axis], values


def _gap_for(track: Track, gap: timedelta) -> timedelta:
    """`gap`, or more for a track stored coarser than the chart's buckets (daily points on an hourly axis).

    Such a track's points are as far apart as its storage, so its line breaks only where a step is well
    over its usual one: what the bot did not measure, not what it compacted.
    """
    steps = sorted(b - a for (a, _), (b, _) in pairwise(track))
    if not steps:
        return gap
    return max(gap, steps[len(steps) // 2] * 2.5)


def _shift_week(track: Track, zone: tzinfo) -> Track:
    """`track` a week later on the wall clock (Monday 09:00 onto Monday 09:00, whatever DST did between)."""
    moved: dict[datetime, float] = {}
    for at, value in track:
        wall = at.astimezone(zone).replace(tzinfo=None, fold=0) + timedelta(days=WEEK_DAYS)
        # The repeated hour of a fall-back day lands on one wall time: the later value wins.
        moved[wall.replace(tzinfo=zone).astimezone(at.tzinfo)] = value
    return sorted(moved.items())


@dataclass(frozen=True, slots=True)
class _Extremes:
    """What a line's alt text says: its first and last value, extremes, mean, and when it starts and ends."""

    first: float
    last: float
    low: float
    high: float
    mean: float
    first_at: datetime
    last_at: datetime


def _extremes(track: Track) -> _Extremes | None:
    """First, last, lowest, highest and mean of a line's values (what the drawing shows), or None."""
    if not track:
        return None
    values = [v for _, v in track]
    return _Extremes(
        values[0], values[-1], min(values), max(values), sum(values) / len(values), track[0][0], track[-1][0]
    )


def _members_text(track: Track, zone: tzinfo, *, same_day: date | None = None) -> str:
    """The member line in words, without a full stop: "Members went from 1,000 to 1,234 (+234) ..."."""
    ends = _extremes(track)
    if ends is None:
        return "No member counts are stored for that time"
    when = (
        f"on {_long_date(same_day)}"
        if same_day is not None
        else _between(ends.first_at.astimezone(zone).date(), ends.last_at.astimezone(zone).date())
    )
    if ends.first == ends.last == ends.low == ends.high:
        return f"Members stayed at {_number(ends.first)} {when}"
    return (
        f"Members went from {_number(ends.first)} to {_number(ends.last)} ({_change(ends.first, ends.last)}) "
        f"{when}; lowest {_number(ends.low)}, highest {_number(ends.high)}"
    )


# --- bars -----------------------------------------------------------------------------------------------


async def _day_bars(days: DailyHistory, first: date, last: date, kinds: Sequence[EventKind]) -> _Bars:
    """Per local day from `first` to `last`: how many events of each kind (None: no day file)."""
    starts: list[date] = []
    counts: dict[EventKind, list[float | None]] = {kind: [] for kind in kinds}
    d = first
    while d <= last:
        # One day at a time, keeping only its counts: a year of events would not fit in memory at once.
        stats = await days.load_day(d)
        starts.append(d)
        for kind in kinds:
            counts[kind].append(None if stats is None else float(stats.count(kind)))
        d += DAY
    return _Bars(starts, counts)


def _weekly(bars: _Bars) -> _Bars:
    """Day bars summed per ISO week (Monday to Sunday), each starting on its Monday."""
    mondays: list[date] = []
    counts: dict[EventKind, list[float | None]] = {kind: [] for kind in bars.counts}
    for index, day in enumerate(bars.starts):
        monday = day - timedelta(days=day.weekday())
        if not mondays or mondays[-1] != monday:
            mondays.append(monday)
            for values in counts.values():
                values.append(None)
        for kind, values in counts.items():
            value = bars.counts[kind][index]
            if value is not None:
                values[-1] = (values[-1] or 0.0) + value
    return _Bars(mondays, counts)


def _thin(labels: list[str], starts: Sequence[date], *, weeks: bool) -> list[str]:
    """Labels for many bars: only each Monday's (weeks: each month's first week), so they do not overlap."""
    if len(labels) < _MONTHLY_LABELS_FROM:
        return labels
    if weeks:
        return [label if d.day <= 7 else "" for label, d in zip(labels, starts, strict=True)]
    return [label if d.weekday() == 0 else "" for label, d in zip(labels, starts, strict=True)]


def _most(values: Sequence[float | None], starts: Sequence[date], *, week: bool, year: bool) -> str:
    """The recorded bars in words: "12 on average, most 40 on 21 November", or "none"."""
    kept = [(v, d) for v, d in zip(values, starts, strict=True) if v is not None]
    if not kept or not any(v for v, _ in kept):
        return "none"
    average = sum(v for v, _ in kept) / len(kept)
    top, top_day = max(kept, key=lambda pair: pair[0])  # max keeps the earliest of equal bars
    where = (
        f"in the week of {_day_words(top_day, year=year)}" if week else f"on {_day_words(top_day, year=year)}"
    )
    return f"{_number(average)} on average, most {_number(top)} {where}"


def _average(values: Sequence[float | None]) -> str:
    """The recorded bars' average in words: "3 on average", or "none"."""
    kept = [v for v in values if v is not None]
    if not kept or not any(kept):
        return "none"
    return f"{_number(sum(kept) / len(kept))} on average"


def _joins_leaves_text(bars: _Bars, lead: str) -> str:
    """Joins and leaves in words: "{lead}: joins 12 on average, most 40 on 21 November; leaves 3 ..."."""
    if not bars.has_data():
        return f"{lead}: nothing is recorded."
    year = bars.starts[0].year != bars.starts[-1].year
    joins = _most(bars.counts[EventKind.JOIN], bars.starts, week=False, year=year)
    leaves = _average(bars.counts[EventKind.LEAVE])
    missing = sum(1 for v in bars.counts[EventKind.JOIN] if v is None)
    note = f" ({missing:,} {'day' if missing == 1 else 'days'} not recorded)" if missing else ""
    return f"{lead}: joins {joins}; leaves {leaves}{note}."


def _joins_leaves_panel(bars: _Bars, title: str, labels: list[str]) -> Panel:
    return Panel(
        kind=PanelKind.BARS,
        title=title,
        labels=labels,
        series=[
            Series(label="Joins", values=bars.counts[EventKind.JOIN], tone=Tone.GAIN),
            Series(label="Leaves", values=bars.counts[EventKind.LEAVE], tone=Tone.LOSS),
        ],
    )


# --- the charts -----------------------------------------------------------------------------------------


async def daily_chart(counts: CountHistory, days: DailyHistory, day: date, zone: ZoneInfo) -> ChartSpec:
    """The daily report's chart: the day's member curve, and joins and leaves for the 14 days to `day`."""
    window = _window(day, day, zone)
    track = await _track(counts, "members", window, DAILY_BUCKET, zone, lambda p: p.last)
    gap = _gap_after(DAILY_BUCKET)
    if not track:
        # No samples (the history is younger than the day files, or was deleted): the day file's counts,
        # at the day's two ends, joined by a line across the whole day.
        stats = await days.load_day(day)
        gap = window[1] - window[0]
        if stats is not None:
            track = [
                (at, float(count))
                for at, count in ((window[0], stats.member_count_start), (window[1], stats.member_count_end))
                if count is not None
            ]
    first = day - timedelta(days=REPORT_BAR_DAYS - 1)
    bars = await _day_bars(days, first, day, (EventKind.JOIN, EventKind.LEAVE))
    if not track and not bars.has_data():
        raise ChartDataError(
            f"Nothing is stored for {_long_date(day)} or the days before it: {_HISTORY_STARTS}"
        )
    times, (members,) = _merge([track], gap, zone, edges=window)
    member_text = (
        _members_text(track, zone, same_day=day) + "."
        if track
        else f"No member counts are stored for {_long_date(day)}."
    )
    bars_text = _joins_leaves_text(bars, f"Per day, {REPORT_BAR_DAYS} days to {_day_words(day)}")
    return ChartSpec(
        title=f"Daily report: {_long_date(day)}",
        subtitle=f"Dates and times in {_zone_name(zone)}",
        panels=[
            Panel(
                kind=PanelKind.LINE,
                title="Members through the day",
                times=times,
                series=[Series(label="Members", values=members)],
            ),
            _joins_leaves_panel(
                bars,
                f"Joins and leaves per day, {_short_span(first, day, year=False)}",
                [_day_label(d) for d in bars.starts],
            ),
        ],
        alt_text=f"{member_text} {bars_text}",
    )


def _online_by_hour(track: Track, zone: tzinfo) -> list[float | None]:
    """The mean of hourly values per local hour of day 0-23 (None: no value at that hour all week)."""
    sums, seen = [0.0] * 24, [0] * 24
    for at, value in track:
        hour = at.astimezone(zone).hour  # in a half-hour zone, the hour a bucket starts in
        sums[hour] += value
        seen[hour] += 1
    return [round(s / n, 1) if n else None for s, n in zip(sums, seen, strict=True)]


def _online_hours_text(by_hour: Sequence[float | None]) -> str:
    """Online by hour in words: "Online is highest at 21:00 (312 on average) and lowest at ..."."""
    kept = [(v, hour) for hour, v in enumerate(by_hour) if v is not None]
    if not kept:
        return "No online counts are stored for the week."
    high, high_at = max(kept, key=lambda pair: pair[0])
    low, low_at = min(kept, key=lambda pair: pair[0])
    if high == low:
        hours = "the one hour stored" if len(kept) == 1 else "every hour stored"
        return f"Online averaged {_number(high)} at {hours}."
    return (
        f"Online is highest at {high_at:02d}:00 ({_number(high)} on average) "
        f"and lowest at {low_at:02d}:00 ({_number(low)})."
    )


async def weekly_chart(counts: CountHistory, days: DailyHistory, last_day: date, zone: ZoneInfo) -> ChartSpec:
    """The weekly report's chart: members against the week before, joins and leaves, online by hour."""
    first = last_day - timedelta(days=WEEK_DAYS - 1)
    before_first, before_last = first - timedelta(days=WEEK_DAYS), first - DAY
    window = _window(first, last_day, zone)
    this_week = await _track(counts, "members", window, HOUR, zone, lambda p: p.last)
    week_before = await _track(
        counts, "members", _window(before_first, before_last, zone), HOUR, zone, lambda p: p.last
    )
    online = await _track(counts, "online", window, HOUR, zone, lambda p: p.last)
    bars = await _day_bars(days, first, last_day, (EventKind.JOIN, EventKind.LEAVE))
    if not this_week and not week_before and not online and not bars.has_data():
        raise ChartDataError(f"Nothing is stored for {date_span(first, last_day)} yet: {_HISTORY_STARTS}")
    times, (members, before) = _merge(
        [this_week, _shift_week(week_before, zone)], _gap_after(HOUR), zone, edges=window
    )
    by_hour = _online_by_hour(online, zone)

    if this_week:
        member_text = _members_text(this_week, zone)
        ends_before = _extremes(week_before)
        if ends_before is not None:
            member_text += (
                f"; the week before, {_number(ends_before.first)} to {_number(ends_before.last)} "
                f"({_change(ends_before.first, ends_before.last)})"
            )
        member_text += "."
    else:
        member_text = "No member counts are stored for the week."
    return ChartSpec(
        title=f"Weekly report: {date_span(first, last_day)}",
        subtitle=(
            f"Dashed: the week before, {date_span(before_first, before_last)}. "
            f"Dates and times in {_zone_name(zone)}"
        ),
        panels=[
            Panel(
                kind=PanelKind.LINE,
                title="Members, this week and the week before",
                times=times,
                series=[
                    Series(label="This week", values=members),
                    Series(
                        label="Week before",
                        values=before,
                        tone=Tone.MUTED,
                        dashed=True,
                    ),
                ],
            ),
            _joins_leaves_panel(bars, "Joins and leaves per day", [_day_label(d) for d in bars.starts]),
            Panel(
                kind=PanelKind.BARS,
                title="Online by hour of day (average)",
                labels=[f"{hour:02d}" for hour in range(24)],
                series=[Series(label="Online", values=by_hour)],
            ),
        ],
        alt_text=" ".join((member_text, _joins_leaves_text(bars, "Per day"), _online_hours_text(by_hour))),
    )


def _check_request(metric: str, range_name: str) -> None:
    """Refuse a metric or range not offered, naming the ones that are."""
    if metric not in METRICS:
        choices = ", ".join(METRICS[:-1]) + f" or {METRICS[-1]}"
        raise ChartDataError(f'There is no chart of "{clip(metric, 40)}": choose {choices}.')
    if range_name not in RANGES:
        choices = ", ".join(list(RANGES)[:-1]) + f" or {list(RANGES)[-1]}"
        raise ChartDataError(f'"{clip(range_name, 40)}" is not a chart range: choose {choices}.')


async def metric_chart(
    counts: CountHistory, days: DailyHistory, metric: str, range_name: str, today: date, zone: ZoneInfo
) -> ChartSpec:
    """The `/stats chart` chart: one metric over the range ending `today` (today included)."""
    _check_request(metric, range_name)
    first = today - timedelta(days=RANGES[range_name] - 1)
    title = f"{metric.capitalize()}, {_short_span(first, today)}"
    if metric in ("members", "online"):
        return await _line_chart(counts, metric, range_name, first, today, zone, title)
    return await _bar_chart(days, metric, range_name, first, today, zone, title)


async def _line_chart(
    counts: CountHistory, metric: str, range_name: str, first: date, today: date, zone: ZoneInfo, title: str
) -> ChartSpec:
    """Members or online over the range, in the bucket the span suggests."""
    window = _window(first, today, zone)
    bucket = suggested_bucket(*window)
    # A day's last online count is whatever was online near midnight: the day's peak says more.
    daily_peak = metric == "online" and bucket == "day"
    track = await _track(
        counts, metric, window, bucket, zone, (lambda p: p.high) if daily_peak else (lambda p: p.last)
    )
    if not track:
        noun = "member" if metric == "members" else "online"
        raise ChartDataError(
            f"No {noun} counts are stored for {_RANGE_WORDS[range_name]} yet: {_HISTORY_STARTS}"
        )
    # The axis starts where the range does (a history younger than the range shows so) and ends at the
    # latest point: the rest of today has not happened.
    times, (values,) = _merge([track], _gap_after(bucket), zone, edges=(window[0],))
    step = "Hourly" if bucket == HOUR else "Per day" if bucket == "day" else "Every 5 minutes"
    if metric == "members":
        label, panel_title, text = "Members", "Members", _members_text(track, zone) + "."
    else:
        label = "Online (daily peak)" if daily_peak else "Online"
        panel_title = "Online members, daily peak" if daily_peak else "Online members"
        ends = _extremes(track)
        assert ends is not None  # noqa: S101 - the track is not empty
        when = _between(ends.first_at.astimezone(zone).date(), ends.last_at.astimezone(zone).date())
        what = "The daily peak of online members" if daily_peak else "Online members"
        text = (
            f"{what} averaged {_number(ends.mean)} {when}; "
            f"lowest {_number(ends.low)}, highest {_number(ends.high)}."
        )
    return ChartSpec(
        title=title,
        subtitle=f"{step}, dates and times in {_zone_name(zone)}",
        panels=[
            Panel(
                kind=PanelKind.LINE,
                title=panel_title,
                times=times,
                series=[Series(label=label, values=values)],
            )
        ],
        alt_text=text,
    )


async def _bar_chart(
    days: DailyHistory, metric: str, range_name: str, first: date, today: date, zone: ZoneInfo, title: str
) -> ChartSpec:
    """Joins, leaves or bans per day over the range (per ISO week for a year)."""
    kind = _EVENT_KINDS[metric]
    bars = await _day_bars(days, first, today, (kind,))
    if not bars.has_data():
        raise ChartDataError(
            f"No {metric} are recorded for {_RANGE_WORDS[range_name]} yet: {_HISTORY_STARTS}"
        )
    weeks = RANGES[range_name] > 90
    if weeks:
        bars = _weekly(bars)
        labels = [_date_label(d) for d in bars.starts]
    else:
        labels = [
            (_day_label if len(bars.starts) < _MONTHLY_LABELS_FROM else _date_label)(d) for d in bars.starts
        ]
    values = bars.counts[kind]
    per = "week" if weeks else "day"
    name = metric.capitalize()
    year = first.year != today.year
    total = sum(v for v in values if v is not None)
    missing = sum(1 for v in values if v is None)
    note = f" ({missing:,} {per if missing == 1 else per + 's'} not recorded)" if missing else ""
    text = (
        f"{name} per {per} {_between(first, today)}: "
        f"{_most(values, bars.starts, week=weeks, year=year)}; {_number(total)} in all{note}."
    )
    subtitle = "Per ISO week (Monday to Sunday)" if weeks else "Per day"
    return ChartSpec(
        title=title,
        subtitle=f"{subtitle}, dates in {_zone_name(zone)}",
        panels=[
            Panel(
                kind=PanelKind.BARS,
                title=f"{name} per {per}" + (", by the week's Monday" if weeks else ""),
                labels=_thin(labels, bars.starts, weeks=weeks),
                series=[Series(label=name, values=values, tone=_EVENT_TONES[metric])],
            )
        ],
        alt_text=text,
    )
