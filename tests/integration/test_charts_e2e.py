"""Charts end to end: the real bot draws them in its worker process and posts them in the sandbox."""

from __future__ import annotations

import time
from datetime import timedelta

from src.sandbox import Sandbox
from src.types.models import DailyStats, EventKind, MemberEvent
from tests.integration.conftest import wait_until

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def _with_a_week_of_days(run) -> None:  # type: ignore[no-untyped-def]
    """Store a week of day files with joins, as a bot that ran all week would have."""
    today = run.app.clock.now().astimezone(run.settings.zone).date()
    for back in range(1, 8):
        day = today - timedelta(days=back)
        at = run.app.clock.now() - timedelta(days=back)
        joins = [
            MemberEvent(
                kind=EventKind.JOIN, member_id=str(9000 + back * 10 + n), username=f"w{n}", timestamp=at
            )
            for n in range(back)
        ]
        await run.app.history.save_day(
            DailyStats(date=day, events=joins, member_count_start=990, member_count_end=1000)
        )


async def test_a_weekly_report_carries_its_png_and_the_embed_describes_it(
    sandbox: Sandbox, start_bot
) -> None:
    """The weekly report in the stats channel has a PNG attachment the embed shows, and says its numbers."""
    run = await start_bot().started()
    await _with_a_week_of_days(run)
    week_end = run.app.clock.now().astimezone(run.settings.zone).date() - timedelta(days=1)

    message_id = await run.app.reports.post_weekly(week_end)

    [message] = [m for m in sandbox.messages(sandbox.channel_ids["stats"]) if int(m["id"]) == message_id]
    [attachment] = message["attachments"]
    data = sandbox.attachment_bytes(sandbox.channel_ids["stats"], message_id, attachment["filename"])
    assert data.startswith(PNG_SIGNATURE)
    assert attachment["content_type"] == "image/png"
    embed = message["embeds"][0]
    assert embed["image"]["url"] == attachment["url"]
    assert "joins" in embed["description"].lower()
    assert attachment["description"] in embed["description"]
    assert await run.stop() == 0


async def test_stats_chart_answers_within_discords_3_seconds_with_a_png(sandbox: Sandbox, start_bot) -> None:
    """/stats chart joins 7d is acknowledged in time (deferred) and answered with an embed showing a PNG."""
    run = await start_bot().started()
    await _with_a_week_of_days(run)
    await wait_until(lambda: sandbox.guild_id in sandbox.state.commands, what="the commands")

    began = time.monotonic()
    result = await sandbox.invoke_command("stats chart", {"metric": "joins", "range": "7d"}, timeout=20)

    assert not result.failed  # acknowledged within Discord's 3 s
    assert not result.ephemeral
    [attachment] = result.attachments
    assert result.attachment_bytes(attachment["filename"]).startswith(PNG_SIGNATURE)
    assert result.embed["title"].startswith("📈 Joins")
    assert result.embed["image"]["url"] == attachment["url"]
    assert time.monotonic() - began < 20
    assert await run.stop() == 0
