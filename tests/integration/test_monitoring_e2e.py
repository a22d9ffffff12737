"""Monitoring and presence end to end: the status message, alerts and the rotating presence."""

from __future__ import annotations

import errno
import os

import src.utils.store as store_module
from tests.integration.conftest import wait_until

STATUS_TITLE = "📊 StatsBot status"


def _status_messages(sandbox) -> list[dict]:
    return [
        m
        for m in sandbox.messages(sandbox.channel_ids["heartbeat"])
        if m["embeds"][0]["title"] == STATUS_TITLE
    ]


def _field(message: dict, name: str) -> str:
    return next(f["value"] for f in message["embeds"][0]["fields"] if f["name"] == name)


async def test_heartbeat_is_edited_in_place_and_survives_a_restart(sandbox, start_bot):
    """One status message appears within an interval, is edited afterwards, and a restart edits it again."""
    run = await start_bot().started()
    (first,) = await wait_until(lambda: _status_messages(sandbox), timeout=3, what="the status message")
    await wait_until(lambda: _status_messages(sandbox)[0].get("edited_timestamp"), timeout=5, what="an edit")
    assert await run.stop() == 0
    edits_before = len(sandbox.journal.requests_matching(rf"PATCH /channels/\d+/messages/{first['id']}"))

    again = await start_bot().started()
    await wait_until(
        lambda: (
            len(sandbox.journal.requests_matching(rf"PATCH /channels/\d+/messages/{first['id']}"))
            > edits_before
        ),
        timeout=5,
        what="the restarted bot to edit the same message",
    )
    assert await again.stop() == 0
    (only,) = _status_messages(sandbox)
    assert only["id"] == first["id"]
    assert "StatsBot v" in only["embeds"][0]["footer"]["text"]


async def test_heartbeat_shows_todays_joins(sandbox, start_bot):
    """A join appears in the status message's figures for today."""
    run = await start_bot().started()
    await sandbox.add_member(username="fresh")
    await wait_until(
        lambda: any(_field(m, "Joins today") == "1" for m in _status_messages(sandbox)),
        timeout=5,
        what="today's join in the status message",
    )
    assert await run.stop() == 0


async def test_presence_rotates_through_the_three_counts(sandbox, start_bot):
    """The bot's Watching text cycles through members, online and bans with separators."""
    run = await start_bot().started()
    seen: set[str] = set()

    def collect() -> bool:
        presence = sandbox.presence or {}
        for activity in presence.get("activities") or []:
            seen.add(activity["name"])
        return {f"👥 {sandbox.member_count:,} members", "🔨 25 bans"} <= seen and any(
            "online" in s for s in seen
        )

    await wait_until(collect, timeout=8, what=f"all three presence texts (saw {seen})")
    assert sandbox.presence["status"] == "online"
    assert await run.stop() == 0
    assert sandbox.presence["status"] == "idle"


async def test_store_failure_alert_posts_once_and_recovers(sandbox, start_bot, monkeypatch):
    """A run of failed writes posts one alert (not one per check) and one recovery when writes work again."""
    real_replace = os.replace

    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    run = await start_bot(alert_store_failures=2, alert_cooldown_s=600).started()
    monkeypatch.setattr(store_module.os, "replace", disk_full)
    for _ in range(3):
        await sandbox.add_member()
    alerts = lambda title: [  # noqa: E731
        m
        for m in sandbox.messages(sandbox.channel_ids["heartbeat"])
        if m["embeds"][0]["title"].startswith(title)
    ]
    await wait_until(lambda: alerts("⚠️"), timeout=15, what="the store alert")
    await wait_until(lambda: run.app.store.health.consecutive_failures >= 4, timeout=15, what="more failures")
    assert len(alerts("⚠️")) == 1
    monkeypatch.setattr(store_module.os, "replace", real_replace)
    await wait_until(lambda: alerts("✅"), timeout=20, what="the recovery notice")
    assert len(alerts("⚠️")) == 1
    await wait_until(lambda: run.app.recorder.pending_events == 0, timeout=70, what="writes to resume")
    assert await run.stop() == 0


async def test_post_mode_keeps_only_the_latest_status(sandbox, start_bot):
    """HEARTBEAT_MODE=post posts a new status each interval and deletes the previous one."""
    run = await start_bot(heartbeat_mode="post").started()
    await wait_until(
        lambda: len(sandbox.journal.requests_matching(r"DELETE /channels/\d+/messages/\d+")) >= 2,
        timeout=6,
        what="two replaced status messages",
    )
    assert await run.stop() == 0
    assert len(_status_messages(sandbox)) == 1
