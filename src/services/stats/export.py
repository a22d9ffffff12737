"""Your data out: the recorded events and the count series of a date range, as CSV or JSON.

One long table, so a spreadsheet filters it in one click: an `event` row per join, leave, ban or unban (with
the member), and a `count` row per value and day (the lowest, highest and last count that day). Times are in
the configured time zone. The JSON has the same rows as objects, under `rows`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from src.services.stats.count_history import CountHistory
from src.services.stats.history import DailyHistory
from src.types.models import DailyStats

COLUMNS = ("time", "record", "kind", "member_id", "username", "display_name", "bot", "low", "high", "value")


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One row of the export: an event of a member, or a day's count of one value."""

    time: str
    record: str  # "event" or "count"
    kind: str  # join/leave/ban/unban, or the value counted (members, online, ...)
    member_id: str = ""
    username: str = ""
    display_name: str = ""
    bot: str = ""
    low: str = ""
    high: str = ""
    value: str = ""


@dataclass(frozen=True, slots=True)
class DayCount:
    """One value's lowest, highest and last count on one local day (from the count history)."""

    day: date
    key: str
    low: float
    high: float
    last: float


def event_rows(days: Iterable[DailyStats], zone: ZoneInfo) -> list[ExportRow]:
    """Return an `event` row per recorded event, in time order."""
    rows = []
    for day in days:
        for event in sorted(day.events, key=lambda e: e.timestamp):
            rows.append(
                ExportRow(
                    time=event.timestamp.astimezone(zone).isoformat(timespec="seconds"),
                    record="event",
                    kind=event.kind.value,
                    member_id=event.member_id,
                    username=event.username,
                    display_name=event.display_name or "",
                    bot="true" if event.bot else "false",
                )
            )
    return rows


def count_rows(counts: Iterable[DayCount], zone: ZoneInfo) -> list[ExportRow]:
    """Return a `count` row per value and day, stamped at the end of that local day."""
    return [
        ExportRow(
            time=datetime.combine(c.day, time(23, 59, 59), zone).isoformat(timespec="seconds"),
            record="count",
            kind=c.key,
            low=_number(c.low),
            high=_number(c.high),
            value=_number(c.last),
        )
        for c in counts
    ]


def day_counts_from_days(days: Iterable[DailyStats]) -> list[DayCount]:
    """Return the member counts the day files hold (start and end of each day), for days before history."""
    counts = []
    for day in days:
        seen = [c for c in (day.member_count_start, day.member_count_end) if c is not None]
        if seen:
            counts.append(DayCount(day.date, "members", min(seen), max(seen), seen[-1]))
    return counts


COUNTED = ("members", "humans", "bots", "online", "bans", "boosts", "boost_tier", "channels", "roles")


async def export_rows(
    days: DailyHistory, counts: CountHistory | None, start: date, end: date, zone: ZoneInfo
) -> list[ExportRow]:
    """Every event and every value's daily counts from `start` to `end`, in time order.

    The count history gives each value's lowest, highest and last count per day; for days it does not
    cover (before StatsBot sampled, or an imported history), the day files' member counts stand in.
    """
    stored = [day async for day in recorded_days(days, start, end)]
    rows = event_rows(stored, zone)
    history: list[DayCount] = []
    if counts is not None:
        for first_day, last_day in _windows(start, end):
            first = datetime.combine(first_day, time(), zone)
            after = datetime.combine(last_day + timedelta(days=1), time(), zone)
            for key in COUNTED:
                for point in await counts.buckets(key, first, after, "day", zone):
                    day = point.at.astimezone(zone).date()
                    history.append(DayCount(day, key, point.low, point.high, point.last))
    covered = {c.day for c in history if c.key == "members"}
    history += [c for c in day_counts_from_days(stored) if c.day not in covered]
    rows += count_rows(history, zone)
    rows.sort(key=lambda row: (row.time, row.record))  # stable: events in one second keep their order
    return rows


WINDOW_DAYS = 3650  # days read from the count history at once (it refuses spans of over 5,000 buckets)


def _windows(start: date, end: date) -> list[tuple[date, date]]:
    """`start` to `end` cut into spans of at most WINDOW_DAYS days, in order."""
    spans = []
    first = start
    while first <= end:
        last = min(end, first + timedelta(days=WINDOW_DAYS - 1))
        spans.append((first, last))
        first = last + timedelta(days=1)
    return spans


async def recorded_days(history: DailyHistory, start: date, end: date) -> AsyncIterator[DailyStats]:
    """Yield each stored day from `start` to `end`, one at a time (a year is never all in memory)."""
    d = start
    while d <= end:
        day = await history.load_day(d)
        if day is not None:
            yield day
        d += timedelta(days=1)


def to_csv(rows: Iterable[ExportRow]) -> str:
    """Return the rows as CSV text with a header line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(_cells(row))
    return out.getvalue()


def to_json(rows: Iterable[ExportRow], start: date, end: date, zone: ZoneInfo) -> str:
    """Return the rows as one JSON document, with the range and time zone they cover."""
    document = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "timezone": zone.key,
        "rows": [_typed(asdict(row)) for row in rows],
    }
    return json.dumps(document, ensure_ascii=False, indent=1)


def _typed(row: dict[str, str]) -> dict[str, object]:
    """A JSON row with numbers as numbers and the bot flag as a boolean; empty cells left out."""
    typed: dict[str, object] = {}
    for key, value in row.items():
        if value == "":
            continue
        if key == "bot":
            typed[key] = value == "true"
        elif key in ("low", "high", "value"):
            typed[key] = int(value) if value.lstrip("-").isdigit() else float(value)
        else:
            typed[key] = value
    return typed


def _cells(row: ExportRow) -> list[str]:
    """The row's cells in COLUMNS order, each made safe to open in a spreadsheet."""
    return [_safe(getattr(row, column)) for column in COLUMNS]


def _safe(cell: str) -> str:
    # Usernames are typed by strangers: a spreadsheet must not run "=HYPERLINK(...)" as a formula.
    return f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(cell) else cell


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
