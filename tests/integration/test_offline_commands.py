"""Commands that run beside the bot: `report --post` logs in over REST only and posts a stored report."""

from __future__ import annotations

from datetime import date

from src.core.offline import report
from src.core.session import discord_endpoints
from src.services.stats.history import DailyHistory
from src.types.models import DailyStats
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
