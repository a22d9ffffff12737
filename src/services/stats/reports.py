"""Daily and weekly report embeds, built from stored days; pure functions with no I/O.

Every list is cut to Discord's 1024-character field limit, and the fixed set of fields keeps an embed far
below the 25-field and 6000-character limits whatever the day held.
"""

from __future__ import annotations

from datetime import date

from src.types.models import DailyStats, Embed, EmbedField, EventKind, MemberEvent
from src.utils.text import date_span, escape_markdown

FIELD_VALUE_LIMIT = 1024
EMBED_TOTAL_LIMIT = 6000
EMBED_FIELD_LIMIT = 25
BOT_MARK = "🤖"
GREEN = 0x57F287
RED = 0xED4245


def signed(n: int) -> str:
    """`n` with a sign and thousands separators: '+1,234', '-3', '0'."""
    return f"{n:+,}" if n else "0"


def embed_length(embed: Embed) -> int:
    """The characters Discord counts against an embed's 6000 total."""
    fields = sum(len(f.name) + len(f.value) for f in embed.fields)
    return len(embed.title) + len(embed.description) + fields + len(embed.footer or "")


def fit_list(items: list[str], *, limit: int = FIELD_VALUE_LIMIT, sep: str = ", ") -> str:
    """Join `items`; when too long, keep as many as fit and end with '...and N more'."""
    if not items:
        return "None"
    joined = sep.join(items)
    if len(joined) <= limit:
        return joined
    # Each kept item adds at least len(sep) + 1 characters while the suffix shrinks by at most two,
    # so the first item that does not fit ends the search.
    kept, length = 0, -len(sep)
    for item in items:
        after = length + len(sep) + len(item)
        if after + len(sep) + len(f"...and {len(items) - kept - 1:,} more") > limit:
            break
        kept, length = kept + 1, after
    suffix = f"...and {len(items) - kept:,} more"
    return sep.join([*items[:kept], suffix])


def _mention(event: MemberEvent) -> str:
    return f"<@{event.member_id}>" + (f" {BOT_MARK}" if event.bot else "")


def _name(event: MemberEvent) -> str:
    name = escape_markdown(event.username)
    if event.display_name and event.display_name != event.username:
        name = f"{escape_markdown(event.display_name)} ({name})"
    return name + (f" {BOT_MARK}" if event.bot else "")


def _members(start: int | None, end: int | None) -> str:
    if start is None and end is None:
        return "unknown"
    shown = [f"{n:,}" if n is not None else "unknown" for n in (start, end)]
    return " → ".join(shown)


def _bans(day: DailyStats) -> str:
    """The day's bans, saying how many were of non-members (so the member numbers add up)."""
    text = f"{day.count(EventKind.BAN):,}"
    outsiders = day.bans_of_non_members()
    if outsiders:
        text += f" ({outsiders:,} not a member)" if outsiders == 1 else f" ({outsiders:,} not members)"
    return text


def _long_date(d: date) -> str:
    return f"{d:%A}, {d.day} {d:%B %Y}"


def build_daily_report(day: DailyStats) -> Embed:
    """The daily report embed: counts, net change, member counts and who joined or left."""
    joins = [e for e in day.events if e.kind is EventKind.JOIN]
    leaves = [e for e in day.events if e.kind is EventKind.LEAVE]
    net = day.net_change
    fields = [
        EmbedField(name="Joins", value=f"{len(joins):,}", inline=True),
        EmbedField(name="Leaves", value=f"{len(leaves):,}", inline=True),
        EmbedField(name="Bans", value=_bans(day), inline=True),
        EmbedField(name="Unbans", value=f"{day.count(EventKind.UNBAN):,}", inline=True),
        EmbedField(name="Net change", value=signed(net), inline=True),
        EmbedField(name="Members", value=_members(day.member_count_start, day.member_count_end), inline=True),
        EmbedField(name="New members", value=fit_list([_mention(e) for e in joins])),
        # Names, not mentions: a mention of someone who left renders as an unreadable id.
        EmbedField(name="Members who left", value=fit_list([_name(e) for e in leaves])),
    ]
    return Embed(
        title=f"📊 Daily report — {_long_date(day.date)}",
        color=GREEN if net >= 0 else RED,
        fields=fields,
    )


def _activity(day: DailyStats) -> int:
    return day.count(EventKind.JOIN) + day.count(EventKind.LEAVE) + day.count(EventKind.BAN)


def _has_data(days: list[DailyStats]) -> bool:
    return any(d.events or d.member_count_start is not None or d.member_count_end is not None for d in days)


def _change(new: int, old: int) -> str:
    """The change from `old` to `new` as a signed count, with a percentage only where it says something.

    4 new members out of 10,001 is "+4", not "+0.0%"; a percentage of nothing (old is 0) is left out.
    """
    text = signed(new - old)
    if old:
        percent = (new - old) / abs(old) * 100
        if round(percent, 1):
            text += f", {percent:+,.1f}%"
    return text


def _day_line(day: DailyStats) -> str:
    joins, leaves, bans = (day.count(k) for k in (EventKind.JOIN, EventKind.LEAVE, EventKind.BAN))
    return f"{day.date:%a} {day.date.day}: +{joins:,} / -{leaves:,} / 🔨{bans:,}"


def _busiest(days: list[DailyStats]) -> str:
    busiest = max(days, key=_activity)  # max keeps the earliest of equally busy days
    if not _activity(busiest):
        return "none (no joins, leaves or bans)"
    d = busiest.date
    return f"{d:%A} {d.day} {d:%B} ({_activity(busiest):,} joins, leaves and bans)"


def _net_growth(days: list[DailyStats], previous: list[DailyStats]) -> str:
    if not _has_data(previous):
        return "n/a (no data for the week before)"
    net = sum(d.net_change for d in days)
    before = sum(d.net_change for d in previous)
    return f"{signed(net)} vs {signed(before)} the week before ({_change(net, before)})"


def _member_growth(days: list[DailyStats]) -> str:
    start = next((d.member_count_start for d in days if d.member_count_start is not None), None)
    end = next((d.member_count_end for d in reversed(days) if d.member_count_end is not None), None)
    if start is None or end is None:
        return "n/a"
    return f"{start:,} → {end:,} ({_change(end, start)})"


def build_weekly_report(days: list[DailyStats], previous: list[DailyStats]) -> Embed:
    """The weekly report embed: totals, one line per day, busiest day and growth against the week before."""
    if not days:
        raise ValueError("a weekly report needs at least one day")
    days = sorted(days, key=lambda d: d.date)
    net = sum(d.net_change for d in days)
    totals = [
        EmbedField(name=name, value=f"{sum(d.count(kind) for d in days):,}", inline=True)
        for name, kind in (
            ("Joins", EventKind.JOIN),
            ("Leaves", EventKind.LEAVE),
            ("Bans", EventKind.BAN),
            ("Unbans", EventKind.UNBAN),
        )
    ]
    fields = [
        *totals,
        EmbedField(name="Net change", value=signed(net), inline=True),
        EmbedField(
            name="Per day (joins / leaves / bans)", value=fit_list([_day_line(d) for d in days], sep="\n")
        ),
        EmbedField(name="Busiest day", value=_busiest(days)),
        EmbedField(name="Net change vs last week", value=_net_growth(days, previous)),
        EmbedField(name="Member growth", value=_member_growth(days)),
    ]
    return Embed(
        title=f"📈 Weekly report — {date_span(days[0].date, days[-1].date)}",
        color=GREEN if net >= 0 else RED,
        fields=fields,
    )
