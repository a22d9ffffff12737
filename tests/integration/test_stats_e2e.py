"""The stats service end to end: counters within the rename budget, events on disk, reports."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from src.sandbox import Sandbox, SandboxConfig
from src.utils.clock import ShiftedClock
from tests.integration.conftest import FAST, TIME_SCALE, WINDOW, BotRun, sandbox_settings, wait_until

COUNTERS = ("members", "online", "bans")


def _max_renames_in_any_window(times: list[float], window: float) -> int:
    """The most renames that fall inside any window-long span (sandbox clock, real seconds)."""
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


def _day_events(data_dir, day: str) -> list[dict]:
    return json.loads((data_dir / "events" / f"{day}.json").read_text())["events"]


async def test_counters_follow_a_stream_within_the_budget(tmp_path):
    """10,000 members, 2,500 bans: right names, a stream moves them, no rename 429, <= 2 per window."""
    async with Sandbox(SandboxConfig(members=10_000, bans=2_500, time_scale=TIME_SCALE)) as sb:
        run = await BotRun(sandbox_settings(sb, tmp_path / "data", **FAST)).started()
        ids = sb.channel_ids
        await wait_until(lambda: sb.channel_name(ids["bans"]) == "🔨 Bans: 2,500", what="2,500 bans")
        await wait_until(lambda: sb.channel_name(ids["members"]) == "👥 Members: 10,001", what="members")
        joined = []
        for step in range(30):  # three windows of churn
            joined.append(await sb.add_member())
            if step % 3 == 0:
                await sb.remove_member(joined.pop(0))
            if step % 10 == 5:
                await sb.ban(joined.pop())
            await asyncio.sleep(WINDOW / 10)
        await sb.unban(next(sb.state.bans.ascending()))  # lift one of the seeded bans
        members, bans = sb.member_count, sb.ban_count
        await wait_until(
            lambda: sb.channel_name(ids["members"]) == f"👥 Members: {members:,}",
            timeout=3 * WINDOW,
            what=f"members to show {members:,}",
        )
        await wait_until(
            lambda: sb.channel_name(ids["bans"]) == f"🔨 Bans: {bans:,}", timeout=3 * WINDOW, what="bans"
        )
        assert await run.stop() == 0
        for kind in COUNTERS:
            renames = sb.journal.renames(ids[kind])
            assert sb.journal.rename_429s(ids[kind]) == []
            assert _max_renames_in_any_window([r.t for r in renames], WINDOW) <= 2
            assert all(r.old != r.new for r in renames)


async def test_burst_of_10000_joins_is_recorded_completely(tmp_path):
    """A burst of 10,000 joins lands on disk in full and the member counter converges."""
    async with Sandbox(SandboxConfig(members=100, time_scale=TIME_SCALE)) as sb:
        run = await BotRun(sandbox_settings(sb, tmp_path / "data", **FAST)).started()
        for _ in range(10_000):
            await sb.add_member()
        target = f"👥 Members: {sb.member_count:,}"
        await wait_until(lambda: sb.channel_name(sb.channel_ids["members"]) == target, timeout=4 * WINDOW)
        day = datetime.now(UTC).date().isoformat()
        await wait_until(
            lambda: (
                run.app.recorder.pending_events == 0 and len(_day_events(tmp_path / "data", day)) >= 10_000
            ),
            timeout=20,
            what="10,000 joins on disk",
        )
        assert await run.stop() == 0
    events = _day_events(tmp_path / "data", day)
    assert sum(1 for e in events if e["kind"] == "join") == 10_000
    assert len({e["member_id"] for e in events}) == 10_000


async def test_ban_is_recorded_as_ban_not_leave(sandbox, start_bot, tmp_path):
    """Discord's ban-then-remove pair becomes one ban in the day file and the ban counter moves by one."""
    run = await start_bot().started()
    member = await sandbox.add_member(username="troublemaker")
    await sandbox.ban(member)
    await wait_until(lambda: _kinds(run) == ["join", "ban"], what="join then ban")
    await wait_until(
        lambda: sandbox.channel_name(sandbox.channel_ids["bans"]) == "🔨 Bans: 26", timeout=3 * WINDOW
    )
    assert await run.stop() == 0
    day = datetime.now(UTC).date().isoformat()
    assert [e["kind"] for e in _day_events(tmp_path / "data", day)] == ["join", "ban"]


def _kinds(run: BotRun) -> list[str]:
    return [e.kind.value for e in run.app.recorder.today().events]


async def test_daily_report_posts_once_across_a_restart_at_midnight(sandbox, start_bot, tmp_path):
    """Events before midnight give a report with the right numbers, posted once though the bot restarts."""
    midnight = datetime.combine(datetime.now(UTC).date() + timedelta(days=3), datetime.min.time(), UTC)
    clock = ShiftedClock(midnight - timedelta(seconds=3))
    first = await start_bot(clock).started()
    joined = [await sandbox.add_member(username=f"newcomer{i}") for i in range(3)]
    await sandbox.remove_member(joined[0])
    await wait_until(lambda: len(first.app.recorder.today().events) == 4, what="4 events before midnight")
    assert await first.stop() == 0
    await wait_until(lambda: clock.now() > midnight + timedelta(seconds=0.5), timeout=6)

    second = await start_bot(clock).started()
    reports = lambda: [m for m in sandbox.messages(sandbox.channel_ids["stats"]) if m.get("embeds")]  # noqa: E731
    (message,) = await wait_until(reports, what="the missed daily report")
    assert await second.stop() == 0
    third = await start_bot(clock).started()
    await asyncio.sleep(1.0)  # give a wrong second post the chance to happen
    assert await third.stop() == 0

    assert len(reports()) == 1
    fields = {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}
    assert fields["Joins"] == "3"
    assert fields["Leaves"] == "1"
    assert fields["Net change"] == "+2"
    assert str(joined[1]) in fields["New members"]


async def test_a_failed_ban_page_is_retried_alone(tmp_path):
    """A 503 on one ban page costs one extra request, not a recount from page one; the count is right."""
    async with Sandbox(SandboxConfig(members=50, bans=2_500, time_scale=TIME_SCALE)) as sb:
        sb.inject_fault(r"GET /guilds/\d+/bans", status=503, count=1)
        run = await BotRun(sandbox_settings(sb, tmp_path / "data", **FAST)).started()
        await wait_until(lambda: sb.channel_name(sb.channel_ids["bans"]) == "🔨 Bans: 2,500", timeout=10)
        assert await run.stop() == 0
        pages = sb.journal.requests_matching(r"GET /guilds/\d+/bans")
        assert [p.status for p in pages] == [503, 200, 200, 200]
