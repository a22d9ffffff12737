"""Commands that run beside the bot: `report --post` logs in over REST only and posts a stored report."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from src.core.offline import report
from src.core.session import discord_endpoints
from src.services.stats.history import DailyHistory
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.store import AtomicJsonStore
from tests.integration.conftest import FAST, sandbox_settings


async def test_report_post_sends_the_stored_day_without_a_gateway_session(sandbox, tmp_path, capsys):
    """`report daily --date D --post` posts that day's embed to the stats channel and never identifies."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **FAST)
    day = DailyStats(date=date(2026, 11, 20), member_count_start=1000, member_count_end=1004)
    await DailyHistory(AtomicJsonStore(settings.data_dir)).save_day(day)

    with discord_endpoints(settings):
        assert await report(settings, "daily", date(2026, 11, 20), post=True) == 0

    (message,) = sandbox.messages(sandbox.channel_ids["stats"])
    fields = {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}
    assert fields["Members"] == "1,000 → 1,004"
    assert "20 November 2026" in message["embeds"][0]["title"]
    assert sandbox.journal.identify_count() == 0
    assert "Posted the daily report for 2026-11-20" in capsys.readouterr().out


async def test_report_post_keeps_mentions_in_the_posted_embed(sandbox, tmp_path):
    """The posted report still mentions who joined (only the terminal shows names instead)."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **FAST)
    join = MemberEvent(
        kind=EventKind.JOIN,
        member_id="1109436285405368373",
        username="dho_chr8",
        timestamp=datetime(2026, 11, 20, 10, tzinfo=UTC),
    )
    await DailyHistory(AtomicJsonStore(settings.data_dir)).save_day(
        DailyStats(date=date(2026, 11, 20), events=[join])
    )

    with discord_endpoints(settings):
        assert await report(settings, "daily", date(2026, 11, 20), post=True) == 0

    (message,) = sandbox.messages(sandbox.channel_ids["stats"])
    fields = {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}
    assert fields["New members"] == "<@1109436285405368373>"


async def test_report_post_refuses_a_day_without_data(sandbox, tmp_path, capsys):
    """`report daily --post` for a day never stored posts nothing, says why and exits 1."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **FAST)

    with discord_endpoints(settings):
        assert await report(settings, "daily", date(2020, 1, 1), post=True) == 1

    assert sandbox.messages(sandbox.channel_ids["stats"]) == []
    captured = capsys.readouterr()
    assert captured.err.startswith("No statistics are stored for Wednesday 1 January 2020.")
    assert captured.out == ""


async def test_a_weekly_report_of_a_week_never_stored_says_so_and_exits_1(sandbox, tmp_path, capsys):
    """`report weekly` for a week with no stored day prints why instead of a table of zeros, and exits 1."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **FAST)

    assert await report(settings, "weekly", date(2020, 1, 7), post=False) == 1

    captured = capsys.readouterr()
    assert captured.err.startswith("No statistics are stored for the week Wednesday 1 January to Tuesday 7")
    assert captured.out == ""


async def test_report_post_logs_no_discord_warning(sandbox, tmp_path, caplog):
    """Posting a report logs in over REST without a discord.py warning about intents it never uses."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **FAST)
    await DailyHistory(AtomicJsonStore(settings.data_dir)).save_day(DailyStats(date=date(2026, 11, 20)))

    with discord_endpoints(settings), caplog.at_level(logging.WARNING, logger="discord"):
        assert await report(settings, "daily", date(2026, 11, 20), post=True) == 0

    assert [r.getMessage() for r in caplog.records if r.name.startswith("discord")] == []
