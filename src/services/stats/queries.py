"""Answers to `/stats now|day|week` and `/counters refresh`: pure embed builders over plain values."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from src.services.stats.reports import build_daily_report, build_weekly_report
from src.types.models import ChannelStats, CounterKind, DailyStats, Embed, EmbedField, EventKind
from src.utils.text import clip, human_duration

SPARK = "▁▂▃▄▅▆▇█"
WEEK = 7
BLUE = 0x5865F2
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNT_NAMES = {CounterKind.MEMBERS: "Members", CounterKind.ONLINE: "Online", CounterKind.BANS: "Bans"}


class QueryError(ValueError):
    """The request cannot be answered as asked; the message is written for the member who asked."""


def parse_day(text: str, today: date) -> date:
    """Parse a YYYY-MM-DD day, refusing other shapes and days after `today`."""
    text = text.strip()
    try:
        if not _ISO_DAY.fullmatch(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise QueryError(f"`{clip(text, 40)}` is not a date like {today.isoformat()} (YYYY-MM-DD).") from None
    if day > today:
        raise QueryError(f"{day.isoformat()} has not happened yet; the newest day is today, {today}.")
    return day


def sparkline(values: Sequence[int]) -> str:
    """One bar per value, scaled to the largest (all-zero values draw the lowest bar)."""
    top = max(values, default=0)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[round(max(0, v) / top * (len(SPARK) - 1))] for v in values)


def discord_time(when: datetime, style: str = "R") -> str:
    """A timestamp Discord shows in each member's own time zone (`R`: "in 4 minutes", `T`: 21:04:05)."""
    return f"<t:{int(when.timestamp())}:{style}>"


def _count(value: int | None) -> str:
    return "unknown yet" if value is None else f"{value:,}"


def week_table(days: Sequence[DailyStats], today: date) -> str:
    """A fixed-width table of joins, leaves and bans per day, with sparklines, as a code block."""
    joins = [d.count(EventKind.JOIN) for d in days]
    leaves = [d.count(EventKind.LEAVE) for d in days]
    lines = [f"Joins  {sparkline(joins)}", f"Leaves {sparkline(leaves)}", "", "Day      Joins Leaves  Bans"]
    for day, j, left in zip(days, joins, leaves, strict=True):
        label = "today" if day.date == today else f"{day.date:%a} {day.date.day:>2}"
        lines.append(f"{label:<8} {j:>5,} {left:>6,} {day.count(EventKind.BAN):>5,}")
    return "```\n" + "\n".join(lines) + "\n```"


def build_now_embed(
    counts: Mapping[CounterKind, int | None],
    today: DailyStats,
    last_days: Sequence[DailyStats],
    now: datetime,
) -> Embed:
    """`/stats now`: members, online and bans now; today's joins, leaves and bans; the last 7 days."""
    days = [*last_days, today][-WEEK:]
    fields = [
        EmbedField(name=_COUNT_NAMES[k], value=_count(counts.get(k)), inline=True) for k in _COUNT_NAMES
    ]
    fields += [
        EmbedField(name="Joins today", value=f"{today.count(EventKind.JOIN):,}", inline=True),
        EmbedField(name="Leaves today", value=f"{today.count(EventKind.LEAVE):,}", inline=True),
        EmbedField(name="Bans today", value=f"{today.count(EventKind.BAN):,}", inline=True),
        EmbedField(name=f"Last {len(days)} days", value=week_table(days, today.date)),
    ]
    return Embed(
        title="📊 Server statistics",
        color=BLUE,
        fields=fields,
        footer="Counts are live; today's figures are so far. /stats day and /stats week show more.",
        timestamp=now,
    )


def build_day_embed(day: DailyStats, today: date) -> Embed:
    """`/stats day`: the daily report of a stored day (today's so far)."""
    embed = build_daily_report(day)
    if day.date == today:
        embed = embed.model_copy(update={"title": embed.title + " (so far)"})
    return embed


def no_data_text(day: date, today: date, retention_days: int, *, for_operator: bool = False) -> str:
    """What is said for a day without a file, and why there may be none.

    Members read the public `/stats day` answer; setting names and commands are for the operator only
    (the terminal `report`).
    """
    text = f"No statistics are stored for {day:%A} {day.day} {day:%B %Y}."
    old = (today - day).days > retention_days
    if for_operator:
        if old:
            return text + f" Days older than RETENTION_DAYS ({retention_days:,}) are deleted."
        return text + (
            " Days before the bot started are missing unless imported with `python -m src import-legacy`."
        )
    if old:
        return text + f" The bot keeps the last {retention_days:,} days."
    return text + " The bot has no record of it (it may not have been running then)."


def build_week_embed(days: Sequence[DailyStats], previous: Sequence[DailyStats]) -> Embed:
    """`/stats week`: the weekly report of the last 7 days, today included so far."""
    embed = build_weekly_report(list(days), list(previous))
    return embed.model_copy(update={"title": embed.title.replace("Weekly report", "Last 7 days", 1)})


def _refresh_line(state: ChannelStats, next_at: datetime | None, fix: str | None, now: datetime) -> str:
    """One counter after a refresh: paused with its fix, up to date, or when its new name will show."""
    if state.paused_reason:
        return f"⏸️ Paused ({state.paused_reason}). Fix: {clip(fix or 'see the log', 600)}"
    if next_at is None:
        return f"✅ Shows `{clip(state.shown_name or '?', 100)}`"
    change = f"`{clip(state.shown_name or '?', 100)}` → `{clip(state.pending_name or '?', 100)}`"
    if next_at <= now + timedelta(seconds=1):
        return f"🕒 {change} now"
    return f"🕒 {change} at {discord_time(next_at, 'T')} ({discord_time(next_at)})"


def build_refresh_embed(
    states: Sequence[ChannelStats],
    next_at: Mapping[int, datetime | None],
    fixes: Mapping[int, str | None],
    *,
    now: datetime,
    limit: int,
    window_s: float,
) -> Embed:
    """`/counters refresh`: the counts just re-read and when each channel will next be renamed."""
    fields = [
        EmbedField(
            name=f"{s.label}: {_count(s.value)}",
            value=_refresh_line(s, next_at.get(s.channel_id), fixes.get(s.channel_id), now),
        )
        for s in states
    ]
    budget = f"{limit} rename{'s' * (limit != 1)} per channel per {human_duration(window_s)}"
    return Embed(
        title="🔄 Counters refreshed",
        description=f"Counts re-read from Discord. Renames stay within Discord's limit of {budget}.",
        color=BLUE,
        fields=fields,
        timestamp=now,
    )
