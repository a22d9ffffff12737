"""Chart data: the series, times, labels, titles and alt text of the daily, weekly and /stats chart charts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from src.services.stats.chart_data import (
    METRICS,
    RANGES,
    ChartDataError,
    daily_chart,
    metric_chart,
    weekly_chart,
)
from src.services.stats.count_history import CountHistory
from src.services.stats.history import DailyHistory
from src.types.charts import ChartSpec, Panel, PanelKind, Tone
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.charts import PNG_SIGNATURE, render_png
from tests.clock import ManualClock
from tests.fakes import MemoryStore, make_settings

NEW_YORK = ZoneInfo("America/New_York")
MONDAY = date(2026, 11, 30)  # a Monday, in standard time (EST, UTC-5)
Triple = tuple[int, int, int]


@dataclass
class Env:
    """A count history and day files on one memory store, with a clock that moves only when told."""

    store: MemoryStore
    clock: ManualClock
    counts: CountHistory
    days: DailyHistory

    async def record(self, at: datetime, **values: int) -> None:
        """Take a sample of `values` at `at` (later than every sample before)."""
        await self.clock.advance((at - self.clock.now()).total_seconds())
        self.counts.record(values)

    def hourly(self, key: str, hours: Mapping[datetime, int | Triple]) -> None:
        """Store hourly buckets of `key` (UTC hour starts), as compaction writes them."""
        for at, value in hours.items():
            month = at.strftime("%Y-%m")
            doc = self._doc(f"history/hourly/{month}.json", {"month": month})
            doc["series"].setdefault(key, {})[at.strftime("%Y-%m-%dT%H")] = _triple(value)
            self.store.files[f"history/hourly/{month}.json"] = json.dumps(doc)

    def daily(self, key: str, days: Mapping[date, int | Triple]) -> None:
        """Store daily buckets of `key` (local dates), as compaction writes them."""
        for d, value in days.items():
            doc = self._doc(f"history/daily/{d.year}.json", {"year": d.year})
            doc["series"].setdefault(key, {})[d.isoformat()] = _triple(value)
            self.store.files[f"history/daily/{d.year}.json"] = json.dumps(doc)

    def _doc(self, name: str, header: dict[str, Any]) -> dict[str, Any]:
        if name in self.store.files:
            doc: dict[str, Any] = self.store.document(name)
            return doc
        return {"schema_version": 1, **header, "series": {}}

    async def day(
        self,
        d: date,
        *,
        joins: int = 0,
        leaves: int = 0,
        bans: int = 0,
        start: int | None = None,
        end: int | None = None,
    ) -> None:
        """Store day `d`'s file with that many joins, leaves and bans and its member counts."""
        at = datetime(d.year, d.month, d.day, 17, tzinfo=UTC)
        events = [
            MemberEvent(kind=kind, member_id=f"{kind.value}{i}", username=f"user{i}", timestamp=at)
            for kind, n in ((EventKind.JOIN, joins), (EventKind.LEAVE, leaves), (EventKind.BAN, bans))
            for i in range(n)
        ]
        await self.days.save_day(
            DailyStats(date=d, events=events, member_count_start=start, member_count_end=end)
        )


def _triple(value: int | Triple) -> list[int]:
    return [value, value, value] if isinstance(value, int) else list(value)


@pytest.fixture
def env() -> Env:
    store = MemoryStore()
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    counts = CountHistory(make_settings(timezone="America/New_York"), clock, store)
    return Env(store, clock, counts, DailyHistory(store))


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A New York wall-clock time (the earlier one where the clock repeats an hour)."""
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def stamps(panel: Panel) -> list[str]:
    """The panel's times as ISO text with their UTC offsets."""
    return [t.isoformat() for t in panel.times]


def values(panel: Panel, index: int = 0) -> list[float | None]:
    return panel.series[index].values


# --- the daily report's chart ----------------------------------------------------------------------------


async def test_daily_chart_members_in_five_minute_buckets_and_fourteen_days_of_bars(env: Env) -> None:
    """The day's samples fold into 5-minute buckets (last value each) over the local day; 14 days of bars."""
    await env.record(ny(2026, 11, 30, 9, 0), members=1200)
    await env.record(ny(2026, 11, 30, 9, 2), members=1203)
    await env.record(ny(2026, 11, 30, 9, 7), members=1205)
    await env.record(ny(2026, 11, 30, 10, 0), members=1204)
    await env.record(ny(2026, 12, 1, 0, 1), members=1300)  # the next day: not on this chart
    assert await env.counts.flush()
    for offset in range(14):
        d = date(2026, 11, 17) + timedelta(days=offset)
        if d != date(2026, 11, 20):  # no day file: no bar at all, not a zero
            await env.day(d, joins=40 if d.day == 21 else 2, leaves=3)

    spec = await daily_chart(env.counts, env.days, MONDAY, NEW_YORK)

    line, bars = spec.panels
    assert line.kind is PanelKind.LINE
    assert stamps(line) == [
        "2026-11-30T00:00:00-05:00",
        "2026-11-30T09:00:00-05:00",
        "2026-11-30T09:05:00-05:00",
        "2026-11-30T10:00:00-05:00",
        "2026-12-01T00:00:00-05:00",
    ]
    assert all(t.tzinfo is NEW_YORK for t in line.times)
    assert values(line) == [None, 1203, 1205, 1204, None]
    assert bars.kind is PanelKind.BARS
    assert bars.labels == [
        "Tue 17", "Wed 18", "Thu 19", "Fri 20", "Sat 21", "Sun 22", "Mon 23",
        "Tue 24", "Wed 25", "Thu 26", "Fri 27", "Sat 28", "Sun 29", "Mon 30",
    ]  # fmt: skip
    assert [(s.label, s.tone) for s in bars.series] == [("Joins", Tone.GAIN), ("Leaves", Tone.LOSS)]
    assert values(bars, 0) == [2, 2, 2, None, 40, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    assert values(bars, 1) == [3, 3, 3, None, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    assert spec.title == "Daily report: Monday, 30 November 2026"
    assert spec.subtitle == "Dates and times in America/New_York"
    assert bars.title == "Joins and leaves per day, 17 Nov – 30 Nov"
    assert spec.alt_text == (
        "Members went from 1,203 to 1,204 (+1) on Monday, 30 November 2026; lowest 1,203, highest 1,205. "
        "Per day, 14 days to 30 November: joins 4.9 on average, most 40 on 21 November; "
        "leaves 3 on average (1 day not recorded)."
    )


async def test_daily_chart_falls_back_on_the_day_files_counts(env: Env) -> None:
    """Without samples the day's start and end counts draw the line; without either, the line is empty."""
    await env.day(MONDAY, joins=1, start=1200, end=1212)
    await env.day(MONDAY - timedelta(days=1), joins=2)

    spec = await daily_chart(env.counts, env.days, MONDAY, NEW_YORK)

    assert stamps(spec.panels[0]) == ["2026-11-30T00:00:00-05:00", "2026-12-01T00:00:00-05:00"]
    assert values(spec.panels[0]) == [1200, 1212]
    assert spec.alt_text.startswith(
        "Members went from 1,200 to 1,212 (+12) on Monday, 30 November 2026; lowest 1,200, highest 1,212. "
    )

    spec = await daily_chart(env.counts, env.days, MONDAY - timedelta(days=1), NEW_YORK)

    assert values(spec.panels[0]) == [None, None]
    assert spec.alt_text == (
        "No member counts are stored for Sunday, 29 November 2026. "
        "Per day, 14 days to 29 November: joins 2 on average, most 2 on 29 November; leaves none "
        "(13 days not recorded)."
    )


async def test_daily_chart_samples_win_over_the_day_files_counts(env: Env) -> None:
    """A day with samples ignores its file's start and end counts."""
    await env.day(MONDAY, start=1, end=2)
    await env.record(ny(2026, 11, 30, 12, 0), members=1200)

    spec = await daily_chart(env.counts, env.days, MONDAY, NEW_YORK)

    assert values(spec.panels[0]) == [None, 1200, None]


async def test_daily_chart_of_the_spring_forward_day_is_23_hours(env: Env) -> None:
    """2026-03-08 in New York: five minutes after 01:55 EST comes 03:00 EDT; the axis spans 23 hours."""
    await env.record(utc(2026, 3, 8, 6, 55), members=500)
    await env.record(utc(2026, 3, 8, 7, 0), members=501)

    spec = await daily_chart(env.counts, env.days, date(2026, 3, 8), NEW_YORK)

    line = spec.panels[0]
    assert stamps(line) == [
        "2026-03-08T00:00:00-05:00",
        "2026-03-08T01:55:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T00:00:00-04:00",
    ]
    assert values(line) == [None, 500, 501, None]
    assert line.times[-1].timestamp() - line.times[0].timestamp() == 23 * 3600  # not wall-clock arithmetic
    assert spec.title == "Daily report: Sunday, 8 March 2026"


async def test_daily_chart_of_the_fall_back_day_is_25_hours(env: Env) -> None:
    """2026-11-01 in New York: 01:30 happens twice (EDT, then EST), both on the axis; it spans 25 hours."""
    await env.record(utc(2026, 11, 1, 5, 30), members=700)
    await env.record(utc(2026, 11, 1, 6, 0), members=701)
    await env.record(utc(2026, 11, 1, 6, 30), members=702)

    spec = await daily_chart(env.counts, env.days, date(2026, 11, 1), NEW_YORK)

    line = spec.panels[0]
    assert stamps(line) == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-02T00:00:00-05:00",
    ]
    assert values(line) == [None, 700, 701, 702, None]
    assert line.times[-1].timestamp() - line.times[0].timestamp() == 25 * 3600
    assert spec.panels[1].labels[-1] == "Sun 1"


async def test_a_stretch_without_samples_is_a_gap(env: Env) -> None:
    """Hours without samples get a None between them, so the line breaks instead of bridging them."""
    for at, count in (((9, 0), 1000), ((9, 5), 1001), ((12, 0), 1010), ((12, 5), 1011)):
        await env.record(ny(2026, 11, 30, *at), members=count)

    line = (await daily_chart(env.counts, env.days, MONDAY, NEW_YORK)).panels[0]

    assert stamps(line)[1:6] == [
        "2026-11-30T09:00:00-05:00",
        "2026-11-30T09:05:00-05:00",
        "2026-11-30T10:32:30-05:00",
        "2026-11-30T12:00:00-05:00",
        "2026-11-30T12:05:00-05:00",
    ]
    assert values(line) == [None, 1000, 1001, None, 1010, 1011, None]


# --- the weekly report's chart ---------------------------------------------------------------------------


async def test_weekly_chart_members_against_the_week_before_joins_leaves_and_online_by_hour(env: Env) -> None:
    """The week before is shifted onto this week's axis; bars per day; online averaged per local hour."""
    env.hourly(
        "members", {utc(2026, 11, 23, 14): 1100, utc(2026, 11, 23, 15): 1101, utc(2026, 11, 23, 16): 1102}
    )
    # The week before misses 10:00: on the shared axis its line's value there is drawn between its neighbours.
    env.hourly("members", {utc(2026, 11, 16, 14): 1000, utc(2026, 11, 16, 16): 1004})
    # 20:00 on Monday and Tuesday (01:00 UTC the day after), and 05:00 on Monday.
    env.hourly("online", {utc(2026, 11, 24, 1): 300, utc(2026, 11, 25, 1): 311, utc(2026, 11, 23, 10): 40})
    for offset in range(7):
        await env.day(date(2026, 11, 23) + timedelta(days=offset), joins=offset + 1, leaves=1)

    spec = await weekly_chart(env.counts, env.days, date(2026, 11, 29), NEW_YORK)

    members, joins_leaves, online = spec.panels
    assert stamps(members) == [
        "2026-11-23T00:00:00-05:00",
        "2026-11-23T09:00:00-05:00",
        "2026-11-23T10:00:00-05:00",
        "2026-11-23T11:00:00-05:00",
        "2026-11-30T00:00:00-05:00",
    ]
    this_week, week_before = members.series
    assert (this_week.label, this_week.tone, this_week.dashed) == ("This week", Tone.PRIMARY, False)
    assert (week_before.label, week_before.tone, week_before.dashed) == ("Week before", Tone.MUTED, True)
    assert this_week.values == [None, 1100, 1101, 1102, None]
    assert week_before.values == [None, 1000, 1002, 1004, None]
    assert joins_leaves.labels == ["Mon 23", "Tue 24", "Wed 25", "Thu 26", "Fri 27", "Sat 28", "Sun 29"]
    assert values(joins_leaves, 0) == [1, 2, 3, 4, 5, 6, 7]
    assert values(joins_leaves, 1) == [1] * 7
    assert online.labels == [f"{hour:02d}" for hour in range(24)]
    assert values(online) == [None] * 5 + [40] + [None] * 14 + [305.5] + [None] * 3
    assert spec.title == "Weekly report: 23–29 November 2026"
    assert spec.subtitle == (
        "Dashed: the week before, 16–22 November 2026. Dates and times in America/New_York"
    )
    assert spec.alt_text == (
        "Members went from 1,100 to 1,102 (+2) on Monday, 23 November 2026; lowest 1,100, highest 1,102; "
        "the week before, 1,000 to 1,004 (+4). "
        "Per day: joins 4 on average, most 7 on 29 November; leaves 1 on average. "
        "Online is highest at 20:00 (305.5 on average) and lowest at 05:00 (40)."
    )


async def test_weekly_chart_shifts_the_week_before_by_the_wall_clock_across_dst(env: Env) -> None:
    """Monday 09:00 EDT lands on Monday 09:00 EST; the fall-back day's second 01:00 wins over its first."""
    env.hourly(
        "members",
        {
            utc(2026, 10, 26, 13): 1000,  # Monday 26 October 09:00 EDT
            utc(2026, 11, 1, 5): 1010,  # Sunday 1 November 01:00 EDT
            utc(2026, 11, 1, 6): 1011,  # ... and 01:00 EST, an hour later
            utc(2026, 11, 2, 14): 1100,  # Monday 2 November 09:00 EST
        },
    )

    spec = await weekly_chart(env.counts, env.days, date(2026, 11, 8), NEW_YORK)

    members = spec.panels[0]
    this_week = dict(zip(stamps(members), values(members, 0), strict=True))
    week_before = dict(zip(stamps(members), values(members, 1), strict=True))
    assert this_week["2026-11-02T09:00:00-05:00"] == 1100
    assert week_before["2026-11-02T09:00:00-05:00"] == 1000
    assert week_before["2026-11-08T01:00:00-05:00"] == 1011
    assert stamps(members)[0] == "2026-11-02T00:00:00-05:00"
    assert stamps(members)[-1] == "2026-11-09T00:00:00-05:00"
    assert spec.alt_text.startswith(
        "Members stayed at 1,100 on Monday, 2 November 2026; "
        "the week before, 1,000 to 1,011 (+11). Per day: nothing is recorded. "
    )


# --- /stats chart ----------------------------------------------------------------------------------------


async def test_members_over_30_days_per_local_day_with_a_gap(env: Env) -> None:
    """Values at local midnights (the DST day is 25 hours); four missing days are a gap, one is bridged."""
    missing = {date(2026, 11, d) for d in (11, 12, 13, 14, 20)}
    env.daily(
        "members",
        {date(2026, 11, d): 1000 + 10 * d for d in range(1, 31) if date(2026, 11, d) not in missing},
    )

    spec = await metric_chart(env.counts, env.days, "members", "30d", MONDAY, NEW_YORK)

    (line,) = spec.panels
    assert line.kind is PanelKind.LINE
    assert stamps(line)[:2] == ["2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00"]
    assert stamps(line)[9:12] == [
        "2026-11-10T00:00:00-05:00",
        "2026-11-12T12:00:00-05:00",  # between 10 and 15 November: the line breaks
        "2026-11-15T00:00:00-05:00",
    ]
    assert "2026-11-20T00:00:00-05:00" not in stamps(line)
    assert values(line)[9:12] == [1100, None, 1150]
    assert None not in values(line)[12:]  # 20 November alone is bridged
    assert len(line.times) == 26
    assert spec.title == "Members, 1 Nov – 30 Nov 2026"
    assert spec.subtitle == "Per day, dates and times in America/New_York"
    assert spec.alt_text == (
        "Members went from 1,010 to 1,300 (+290) between 1 November and 30 November 2026; "
        "lowest 1,010, highest 1,300."
    )


async def test_daily_points_on_an_hourly_axis_are_one_line_not_dots(env: Env) -> None:
    """A week stored only as daily values (compacted, or seeded from day files) draws as a line over 7d."""
    env.daily("members", {date(2026, 11, d): 1000 + d for d in range(23, 31)})

    spec = await metric_chart(env.counts, env.days, "members", "7d", MONDAY, NEW_YORK)

    (line,) = spec.panels
    drawn = [v for v in values(line) if v is not None]
    assert len(drawn) >= 7
    first, last = values(line).index(drawn[0]), len(values(line)) - 1 - values(line)[::-1].index(drawn[-1])
    assert None not in values(line)[first : last + 1]  # no breaks between the daily points


async def test_a_history_younger_than_the_range_starts_the_axis_at_the_range(env: Env) -> None:
    """The axis starts where the range does, with no value until the history does."""
    env.daily("members", {date(2026, 11, 29): 1500, date(2026, 11, 30): 1490})

    spec = await metric_chart(env.counts, env.days, "members", "90d", MONDAY, NEW_YORK)

    line = spec.panels[0]
    assert stamps(line) == [
        "2026-09-02T00:00:00-04:00",
        "2026-11-29T00:00:00-05:00",
        "2026-11-30T00:00:00-05:00",
    ]
    assert values(line) == [None, 1500, 1490]
    assert spec.title == "Members, 2 Sep – 30 Nov 2026"
    assert spec.alt_text == (
        "Members went from 1,500 to 1,490 (-10) between 29 November and 30 November 2026; "
        "lowest 1,490, highest 1,500."
    )


async def test_online_over_7_days_is_hourly(env: Env) -> None:
    """Seven days take hourly buckets (the last value each); the axis ends at the latest sample."""
    await env.record(ny(2026, 11, 30, 9, 0), online=150)
    await env.record(ny(2026, 11, 30, 9, 30), online=170)
    await env.record(ny(2026, 11, 30, 10, 10), online=160)

    spec = await metric_chart(env.counts, env.days, "online", "7d", MONDAY, NEW_YORK)

    line = spec.panels[0]
    assert stamps(line) == [
        "2026-11-24T00:00:00-05:00",
        "2026-11-30T09:00:00-05:00",
        "2026-11-30T10:00:00-05:00",
    ]
    assert values(line) == [None, 170, 160]
    assert line.series[0].label == "Online"
    assert spec.title == "Online, 24 Nov – 30 Nov 2026"
    assert spec.subtitle == "Hourly, dates and times in America/New_York"
    assert spec.alt_text == (
        "Online members averaged 165 on Monday, 30 November 2026; lowest 160, highest 170."
    )


async def test_online_over_30_days_shows_the_daily_peak(env: Env) -> None:
    """Per day, online shows each day's highest count, not whoever was online at midnight."""
    env.daily("online", {date(2026, 11, 29): (100, 400, 120), date(2026, 11, 30): (90, 300, 95)})

    spec = await metric_chart(env.counts, env.days, "online", "30d", MONDAY, NEW_YORK)

    line = spec.panels[0]
    assert values(line) == [None, 400, 300]
    assert line.series[0].label == "Online (daily peak)"
    assert spec.alt_text == (
        "The daily peak of online members averaged 350 between 29 November and 30 November 2026; "
        "lowest 300, highest 400."
    )


async def test_bans_over_7_days_are_bars_per_day(env: Env) -> None:
    """Seven days are seven bars labelled by weekday and day, today included."""
    for offset in range(7):
        await env.day(date(2026, 11, 24) + timedelta(days=offset), bans=offset % 3, joins=9)

    spec = await metric_chart(env.counts, env.days, "bans", "7d", MONDAY, NEW_YORK)

    (bars,) = spec.panels
    assert bars.kind is PanelKind.BARS
    assert bars.labels == ["Tue 24", "Wed 25", "Thu 26", "Fri 27", "Sat 28", "Sun 29", "Mon 30"]
    assert [(s.label, s.tone) for s in bars.series] == [("Bans", Tone.LOSS)]
    assert values(bars) == [0, 1, 2, 0, 1, 2, 0]
    assert spec.title == "Bans, 24 Nov – 30 Nov 2026"
    assert spec.subtitle == "Per day, dates in America/New_York"
    assert spec.alt_text == (
        "Bans per day between 24 November and 30 November 2026: 0.9 on average, most 2 on 26 November; "
        "6 in all."
    )


async def test_joins_over_30_days_leave_unrecorded_days_empty_and_label_mondays(env: Env) -> None:
    """A day without a file has no bar (None, not 0); only Mondays are labelled among 30 bars."""
    await env.day(date(2026, 11, 5), joins=3)
    await env.day(date(2026, 11, 6), leaves=1)
    await env.day(MONDAY, joins=2)

    spec = await metric_chart(env.counts, env.days, "joins", "30d", MONDAY, NEW_YORK)

    bars = spec.panels[0]
    assert values(bars) == [None] * 4 + [3, 0] + [None] * 23 + [2]
    assert [label for label in bars.labels if label] == ["2 Nov", "9 Nov", "16 Nov", "23 Nov", "30 Nov"]
    assert len(bars.labels) == 30
    assert spec.alt_text == (
        "Joins per day between 1 November and 30 November 2026: 1.7 on average, most 3 on 5 November; "
        "5 in all (27 days not recorded)."
    )


async def test_leaves_over_a_year_are_bars_per_iso_week(env: Env) -> None:
    """A year is 53 bars, one per ISO week, labelled by its Monday (each month's first one shown)."""
    await env.day(date(2025, 12, 1), leaves=2)
    await env.day(date(2025, 12, 3), leaves=3)
    await env.day(date(2025, 12, 8), leaves=1)
    await env.day(date(2025, 11, 30), leaves=50)  # before the range
    await env.day(MONDAY, leaves=4)

    spec = await metric_chart(env.counts, env.days, "leaves", "1y", MONDAY, NEW_YORK)

    bars = spec.panels[0]
    assert values(bars) == [5, 1] + [None] * 50 + [4]
    assert [label for label in bars.labels if label] == [
        "1 Dec", "5 Jan", "2 Feb", "2 Mar", "6 Apr", "4 May",
        "1 Jun", "6 Jul", "3 Aug", "7 Sep", "5 Oct", "2 Nov",
    ]  # fmt: skip
    assert bars.labels[1] == ""
    assert len(bars.labels) == 53
    assert bars.title == "Leaves per week, by the week's Monday"
    assert spec.title == "Leaves, 1 Dec 2025 – 30 Nov 2026"
    assert spec.subtitle == "Per ISO week (Monday to Sunday), dates in America/New_York"
    assert spec.alt_text == (
        "Leaves per week between 1 December 2025 and 30 November 2026: 3.3 on average, "
        "most 5 in the week of 1 December 2025; 10 in all (50 weeks not recorded)."
    )


async def test_a_year_with_a_week_across_the_start_counts_only_days_in_range(env: Env) -> None:
    """The first week is cut at the range's start: a day before it does not count."""
    await env.day(
        date(2025, 12, 1), joins=7
    )  # a year to Tuesday 1 December 2026 starts on Tuesday 2 December
    await env.day(date(2025, 12, 2), joins=1)
    await env.day(date(2025, 12, 7), joins=2)

    spec = await metric_chart(env.counts, env.days, "joins", "1y", date(2026, 12, 1), NEW_YORK)

    bars = spec.panels[0]
    assert values(bars)[0] == 3
    assert (bars.labels[0], len(bars.labels)) == ("1 Dec", 53)  # the week of Monday 1 December 2025
    assert values(bars)[-1] is None  # the week of today, 30 November to 1 December 2026, not recorded


@pytest.mark.parametrize(
    ("metric", "range_name", "message"),
    [
        ("visitors", "7d", 'There is no chart of "visitors": choose members, online, joins, leaves or bans.'),
        ("members", "2w", '"2w" is not a chart range: choose 7d, 30d, 90d or 1y.'),
        (
            "members",
            "30d",
            "No member counts are stored for the last 30 days yet: "
            "the history starts when StatsBot first runs.",
        ),
        (
            "online",
            "1y",
            "No online counts are stored for the last year yet: the history starts when StatsBot first runs.",
        ),
        (
            "joins",
            "7d",
            "No joins are recorded for the last 7 days yet: the history starts when StatsBot first runs.",
        ),
    ],
)
async def test_metric_chart_refuses_what_it_cannot_draw(
    env: Env, metric: str, range_name: str, message: str
) -> None:
    """An unknown metric or range, or nothing stored in the range, is a ChartDataError worded for the user."""
    env.daily("members", {date(2025, 1, 1): 5})  # outside every range

    with pytest.raises(ChartDataError) as caught:
        await metric_chart(env.counts, env.days, metric, range_name, MONDAY, NEW_YORK)

    assert str(caught.value) == message


async def test_report_charts_refuse_when_nothing_is_stored(env: Env) -> None:
    """The daily and weekly charts say so when neither counts nor day files exist for their days."""
    with pytest.raises(ChartDataError, match=r"^Nothing is stored for Monday, 30 November 2026 or the days"):
        await daily_chart(env.counts, env.days, MONDAY, NEW_YORK)
    with pytest.raises(ChartDataError, match=r"^Nothing is stored for 24–30 November 2026 yet"):
        await weekly_chart(env.counts, env.days, MONDAY, NEW_YORK)


def test_the_offered_metrics_and_ranges() -> None:
    """The choices /stats chart offers, and their lengths in days."""
    assert METRICS == ("members", "online", "joins", "leaves", "bans")
    assert RANGES == {"7d": 7, "30d": 30, "90d": 90, "1y": 365}


async def test_a_built_weekly_chart_draws(env: Env) -> None:
    """A weekly spec with every panel filled draws as a PNG."""
    for hour in range(24 * 14):
        at = utc(2026, 11, 16, 5) + timedelta(hours=hour)
        env.hourly("members", {at: 1000 + hour // 5})
        env.hourly("online", {at: (40, 90, 50 + hour % 24)})
    for offset in range(7):
        await env.day(date(2026, 11, 23) + timedelta(days=offset), joins=offset, leaves=2)

    spec = await weekly_chart(env.counts, env.days, date(2026, 11, 29), NEW_YORK)
    png = render_png(ChartSpec.model_validate_json(spec.model_dump_json()))  # as the worker receives it

    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 10_000
