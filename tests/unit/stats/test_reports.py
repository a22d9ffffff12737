"""Report embeds: the numbers, names and limits a reader of the stats channel sees."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from src.services.stats.reports import build_daily_report, build_weekly_report, embed_length
from src.types.models import DailyStats, EventKind, MemberEvent

DAY = date(2026, 11, 21)


def ev(kind: EventKind, member_id: int, name: str = "", *, bot: bool = False, on: date = DAY) -> MemberEvent:
    return MemberEvent(
        kind=kind,
        member_id=str(member_id),
        username=name or f"user{member_id}",
        timestamp=datetime(on.year, on.month, on.day, 15, tzinfo=UTC),
        bot=bot,
    )


def day_with(
    joins: int = 0,
    leaves: int = 0,
    bans: int = 0,
    *,
    on: date = DAY,
    start: int | None = None,
    end: int | None = None,
) -> DailyStats:
    events = [ev(EventKind.JOIN, 1000 + i, on=on) for i in range(joins)]
    events += [ev(EventKind.LEAVE, 5000 + i, on=on) for i in range(leaves)]
    events += [ev(EventKind.BAN, 9000 + i, on=on) for i in range(bans)]
    return DailyStats(date=on, events=events, member_count_start=start, member_count_end=end)


@pytest.fixture
def known_day() -> DailyStats:
    events = [
        ev(EventKind.JOIN, 111, "alice"),
        ev(EventKind.JOIN, 222, "bob"),
        ev(EventKind.JOIN, 333, "helper", bot=True),
        ev(EventKind.LEAVE, 444, "carol"),
        ev(EventKind.UNBAN, 555, "dave"),
    ]
    return DailyStats(date=DAY, events=events, member_count_start=1000, member_count_end=1002)


def test_daily_title_names_the_day(known_day: DailyStats) -> None:
    """The title says which day the report is for, in words."""
    assert build_daily_report(known_day).title == "📊 Daily report — Saturday, 21 November 2026"


def test_daily_counts_net_change_and_members(known_day: DailyStats) -> None:
    """Joins, leaves, bans, unbans, the signed net change and the member counts are shown."""
    embed = build_daily_report(known_day)

    shown = {
        name: embed.field(name) for name in ("Joins", "Leaves", "Bans", "Unbans", "Net change", "Members")
    }
    assert shown == {
        "Joins": "3",
        "Leaves": "1",
        "Bans": "0",
        "Unbans": "1",
        "Net change": "+2",
        "Members": "1,000 → 1,002",
    }


def test_a_ban_of_a_non_member_keeps_the_numbers_adding_up() -> None:
    """5 joins, 1 leave, a member banned and a non-member banned by id: net +3, as 10,001 -> 10,004 says."""
    events = [ev(EventKind.JOIN, 100 + i) for i in range(5)] + [ev(EventKind.LEAVE, 200)]
    events += [
        ev(EventKind.BAN, 300).model_copy(update={"member_removed": True}),
        ev(EventKind.BAN, 301).model_copy(update={"member_removed": False}),
    ]
    day = DailyStats(date=DAY, events=events, member_count_start=10_001, member_count_end=10_004)

    embed = build_daily_report(day)

    assert [embed.field(n) for n in ("Bans", "Net change", "Members")] == [
        "2 (1 not a member)",
        "+3",
        "10,001 → 10,004",
    ]


def test_new_members_are_mentions_with_bots_marked(known_day: DailyStats) -> None:
    """New members are listed as mentions; a bot carries the robot mark."""
    assert build_daily_report(known_day).field("New members") == "<@111>, <@222>, <@333> 🤖"


def test_members_who_left_are_names_not_mentions(known_day: DailyStats) -> None:
    """People who left are shown by name, since a mention of a departed member is unreadable."""
    assert build_daily_report(known_day).field("Members who left") == "carol"


def test_names_are_shown_literally_not_as_markdown() -> None:
    """Markdown characters in a name are escaped so the name shows as typed."""
    day = DailyStats(date=DAY, events=[ev(EventKind.LEAVE, 1, "__bold__")])

    assert build_daily_report(day).field("Members who left") == r"\_\_bold\_\_"


@pytest.mark.parametrize(
    ("joins", "leaves", "bans", "expected"), [(0, 3, 0, "-3"), (2, 1, 1, "0"), (1_500, 0, 0, "+1,500")]
)
def test_net_change_is_signed_with_separators(joins: int, leaves: int, bans: int, expected: str) -> None:
    """Net change reads '+1,500', '-3' or '0'."""
    assert build_daily_report(day_with(joins, leaves, bans)).field("Net change") == expected


def test_large_counts_have_thousands_separators() -> None:
    """Counts and member numbers use thousands separators."""
    embed = build_daily_report(day_with(1_234, start=98_765, end=99_999))

    assert embed.field("Joins") == "1,234"
    assert embed.field("Members") == "98,765 → 99,999"


def test_unknown_member_counts_say_unknown() -> None:
    """Without member count observations the Members field says 'unknown'."""
    assert build_daily_report(day_with(1)).field("Members") == "unknown"


def test_a_day_without_joins_says_none() -> None:
    """Empty lists read 'None' rather than an empty (invalid) field."""
    assert build_daily_report(day_with()).field("New members") == "None"


def test_500_joins_are_cut_to_the_field_limit_with_a_count_of_the_rest() -> None:
    """With 500 joins the list fits in 1024 characters and says how many more there were."""
    value = build_daily_report(day_with(500)).field("New members")

    assert value is not None
    assert len(value) <= 1024
    shown = value.count("<@")
    match = re.search(r"\.\.\.and (\d+) more$", value)
    assert match is not None
    assert int(match.group(1)) == 500 - shown


def test_a_huge_day_stays_within_discords_embed_limits() -> None:
    """500 joins and 500 long-named leaves still give <= 25 fields, values <= 1024, total <= 6000."""
    events = [ev(EventKind.JOIN, 10**17 + i, bot=True) for i in range(500)]
    events += [ev(EventKind.LEAVE, 2 * 10**17 + i, f"{'x' * 28}{i:04d}") for i in range(500)]
    embed = build_daily_report(DailyStats(date=DAY, events=events))

    assert len(embed.fields) <= 25
    assert all(len(f.value) <= 1024 and len(f.name) <= 256 for f in embed.fields)
    assert embed_length(embed) <= 6000


def week(first: date, per_day: list[tuple[int, int, int]], **counts: int | None) -> list[DailyStats]:
    days = [day_with(*counts_of_day, on=first + timedelta(days=i)) for i, counts_of_day in enumerate(per_day)]
    days[0].member_count_start = counts.get("start")
    days[-1].member_count_end = counts.get("end")
    return days


MONDAY = date(2026, 11, 16)
THIS_WEEK = [(12, 3, 1), (5, 1, 0), (30, 10, 2), (0, 0, 0), (4, 4, 0), (7, 2, 0), (2, 0, 0)]
LAST_WEEK = [(5, 1, 0), (5, 1, 0), (5, 1, 0), (5, 1, 0), (5, 1, 0), (0, 0, 0), (0, 0, 0)]


def test_weekly_totals_add_up_the_week() -> None:
    """The weekly totals are the sums of the seven days."""
    embed = build_weekly_report(week(MONDAY, THIS_WEEK), week(MONDAY - timedelta(days=7), LAST_WEEK))

    assert embed.title == "📈 Weekly report — 16–22 November 2026"
    assert [embed.field(n) for n in ("Joins", "Leaves", "Bans", "Net change")] == ["60", "20", "3", "+37"]


def test_weekly_has_one_line_per_day() -> None:
    """The per-day breakdown has a line per day with joins, leaves and bans."""
    embed = build_weekly_report(week(MONDAY, THIS_WEEK), [])

    lines = (embed.field("Per day (joins / leaves / bans)") or "").splitlines()
    assert len(lines) == 7
    assert lines[0] == "Mon 16: +12 / -3 / 🔨1"
    assert lines[3] == "Thu 19: +0 / -0 / 🔨0"


def test_weekly_names_the_busiest_day() -> None:
    """The busiest day is the one with the most joins, leaves and bans together."""
    embed = build_weekly_report(week(MONDAY, THIS_WEEK), [])

    assert embed.field("Busiest day") == "Wednesday 18 November (42 joins, leaves and bans)"


def test_weekly_growth_compares_net_change_with_the_week_before() -> None:
    """Net change is compared with the week before as a count and in percent (+37 vs +20 is +17, +85.0%)."""
    embed = build_weekly_report(week(MONDAY, THIS_WEEK), week(MONDAY - timedelta(days=7), LAST_WEEK))

    assert embed.field("Net change vs last week") == "+37 vs +20 the week before (+17, +85.0%)"


def test_weekly_growth_is_na_without_a_previous_week() -> None:
    """Without data for the week before, the comparison says n/a."""
    empty_before = [DailyStats(date=MONDAY - timedelta(days=7 - i)) for i in range(7)]

    embed = build_weekly_report(week(MONDAY, THIS_WEEK), empty_before)

    assert (embed.field("Net change vs last week") or "").startswith("n/a")


def test_weekly_member_growth_from_first_start_to_last_end() -> None:
    """Member growth goes from the first day's start count to the last day's end count."""
    embed = build_weekly_report(week(MONDAY, THIS_WEEK, start=1_000, end=1_037), [])

    assert embed.field("Member growth") == "1,000 → 1,037 (+37, +3.7%)"


def test_a_small_growth_shows_the_count_without_a_zero_percent() -> None:
    """4 new members out of 10,001 read "+4", not "(+0.0%)"."""
    embed = build_weekly_report(week(MONDAY, THIS_WEEK, start=10_001, end=10_005), [])

    assert embed.field("Member growth") == "10,001 → 10,005 (+4)"


def test_weekly_member_growth_is_na_when_counts_are_unknown() -> None:
    """Without member counts the growth says n/a."""
    assert build_weekly_report(week(MONDAY, THIS_WEEK), []).field("Member growth") == "n/a"
