"""The answers of /stats now|day|week and /counters refresh, built from plain values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from src.services.stats.queries import (
    QueryError,
    build_day_embed,
    build_now_embed,
    build_refresh_embed,
    build_week_embed,
    no_data_text,
    parse_day,
    sparkline,
)
from src.types.models import ChannelStats, CounterKind, DailyStats, EventKind, MemberEvent
from tests.fakes import counter_state

NOW = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
TODAY = NOW.date()


def _day(d: date, joins: int = 0, leaves: int = 0) -> DailyStats:
    at = datetime.combine(d, datetime.min.time(), UTC)
    kinds = [EventKind.JOIN] * joins + [EventKind.LEAVE] * leaves
    events = [
        MemberEvent(kind=k, member_id=str(i), username=f"m{i}", timestamp=at) for i, k in enumerate(kinds)
    ]
    return DailyStats(date=d, events=events)


def test_parse_day_accepts_iso_dates() -> None:
    """2026-03-01 is read as that day."""
    assert parse_day(" 2026-03-01 ", TODAY) == date(2026, 3, 1)


@pytest.mark.parametrize("text", ["01/03/2026", "2026-3-1", "20260301", "2026-02-30", "yesterday"])
def test_parse_day_refuses_other_shapes(text: str) -> None:
    """Anything but a real YYYY-MM-DD day gets a message showing the expected shape."""
    with pytest.raises(QueryError, match=r"is not a date like 2026-03-14 \(YYYY-MM-DD\)"):
        parse_day(text, TODAY)


def test_parse_day_refuses_the_future() -> None:
    """A day after today is refused with a message naming today."""
    with pytest.raises(QueryError, match="has not happened yet"):
        parse_day("2026-03-15", TODAY)


def test_sparkline_scales_to_the_largest_value() -> None:
    """The largest value draws the full bar, zero the lowest."""
    assert sparkline([0, 4, 8]) == "▁▅█"


def test_sparkline_of_zeros_is_flat() -> None:
    """All-zero values draw the lowest bar everywhere."""
    assert sparkline([0, 0, 0]) == "▁▁▁"


def test_now_embed_shows_counts_and_today() -> None:
    """Members, online and bans now, and today's joins, leaves and bans."""
    counts = {CounterKind.MEMBERS: 1234, CounterKind.ONLINE: 56, CounterKind.BANS: 7}
    embed = build_now_embed(counts, _day(TODAY, joins=3, leaves=1), [], NOW)
    assert [embed.field(n) for n in ("Members", "Online", "Bans")] == ["1,234", "56", "7"]
    assert [embed.field(n) for n in ("Joins today", "Leaves today", "Bans today")] == ["3", "1", "0"]


def test_now_embed_says_when_a_count_is_not_known_yet() -> None:
    """A count not read yet shows "unknown yet" rather than 0."""
    embed = build_now_embed({CounterKind.MEMBERS: 5}, _day(TODAY), [], NOW)
    assert embed.field("Bans") == "unknown yet"


def test_now_embed_has_a_seven_day_table_ending_today() -> None:
    """The mini table has one row per day of the last 7, the last one labelled today, with sparklines."""
    last = [_day(TODAY - timedelta(days=n), joins=n) for n in range(6, 0, -1)]
    embed = build_now_embed({}, _day(TODAY, joins=2), last, NOW)
    table = embed.field("Last 7 days") or ""
    rows = table.strip("`\n").splitlines()
    assert rows[0] == "Joins  █▇▆▅▃▂▃"
    assert rows[4].startswith("Sun  8")
    assert rows[-1].split() == ["today", "2", "0", "0"]


def test_day_embed_marks_today_as_so_far() -> None:
    """Today's report says it is so far."""
    assert build_day_embed(_day(TODAY), TODAY).title.endswith("(so far)")


def test_day_embed_of_a_past_day_is_its_report() -> None:
    """A stored past day shows its joins and leaves."""
    embed = build_day_embed(_day(date(2026, 3, 1), joins=2, leaves=1), TODAY)
    assert (embed.field("Joins"), embed.field("Leaves"), embed.field("Net change")) == ("2", "1", "+1")


def test_no_data_text_explains_retention_to_the_operator() -> None:
    """In the terminal, a day older than RETENTION_DAYS is said to have been deleted, naming the setting."""
    text = no_data_text(date(2024, 1, 1), TODAY, 400, for_operator=True)
    expected = "No statistics are stored for Monday 1 January 2024."
    assert text == expected + " Days older than RETENTION_DAYS (400) are deleted."


def test_no_data_text_mentions_the_legacy_import_to_the_operator() -> None:
    """In the terminal, a recent day without data points at import-legacy."""
    assert "import-legacy" in no_data_text(date(2026, 3, 1), TODAY, 400, for_operator=True)


def test_public_no_data_text_names_no_setting_or_command() -> None:
    """Members see how long history is kept, but no variable names or commands meant for the operator."""
    old = no_data_text(date(2024, 1, 1), TODAY, 400)
    recent = no_data_text(date(2026, 3, 1), TODAY, 400)
    assert old.endswith("The bot keeps the last 400 days.")
    assert not any(word in old + recent for word in ("RETENTION_DAYS", "import-legacy", "python"))


def test_week_embed_is_titled_last_seven_days() -> None:
    """The weekly answer covers the last 7 days and totals them."""
    days = [_day(TODAY - timedelta(days=n), joins=1) for n in range(6, -1, -1)]
    embed = build_week_embed(days, [])
    assert embed.title == "📈 Last 7 days — 8–14 March 2026"
    assert embed.field("Joins") == "7"


def _state(kind: CounterKind, **fields) -> ChannelStats:
    return counter_state(kind, 1, **fields)


def _refresh(state: ChannelStats, next_at: datetime | None, fix: str | None = None):
    return build_refresh_embed(
        [state], {state.channel_id: next_at}, {state.channel_id: fix}, now=NOW, limit=2, window_s=600
    ).fields[0]


def test_refresh_says_when_a_pending_name_shows() -> None:
    """A pending name shows with the time of its rename as Discord timestamps."""
    state = _state(CounterKind.ONLINE, value=60, shown_name="🟢 Online: 56", pending_name="🟢 Online: 60")
    field = _refresh(state, NOW + timedelta(minutes=4))
    ts = int((NOW + timedelta(minutes=4)).timestamp())
    assert field.name == "Online: 60"
    assert field.value == f"🕒 `🟢 Online: 56` → `🟢 Online: 60` at <t:{ts}:T> (<t:{ts}:R>)"


def test_refresh_says_now_when_the_slot_is_free() -> None:
    """A rename due at once says now."""
    state = _state(CounterKind.BANS, value=8, shown_name="🔨 Bans: 7", pending_name="🔨 Bans: 8")
    assert _refresh(state, NOW).value.endswith(" now")


def test_refresh_of_an_up_to_date_counter() -> None:
    """A counter already showing its value says so."""
    state = _state(CounterKind.MEMBERS, value=5, shown_name="👥 Members: 5")
    assert _refresh(state, None).value == "✅ Shows `👥 Members: 5`"


def test_refresh_of_a_paused_counter_gives_the_fix() -> None:
    """A paused counter names its reason and the fix."""
    state = _state(CounterKind.BANS, value=7, paused_reason="missing_permissions")
    value = _refresh(state, None, fix="give the bot Manage Channels").value
    assert value == "⏸️ Paused (missing_permissions). Fix: give the bot Manage Channels"


def test_refresh_states_the_rename_budget() -> None:
    """The description names Discord's limit as configured."""
    embed = build_refresh_embed([], {}, {}, now=NOW, limit=2, window_s=600)
    assert "2 renames per channel per 10m" in embed.description
