"""Stopping mid-burst: SIGTERM flushes everything and exits 0; SIGKILL never corrupts and loses at most ~1 s.

The bot runs as `python -m src run` in its own process against the in-process sandbox, so the signals are
real. The sandbox journal says when the gateway wrote each GUILD_MEMBER_ADD; the day files under DATA_DIR
say what the bot kept.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from typing import Any

import pytest

from src.sandbox import Sandbox
from tests.integration.conftest import FAST, sandbox_settings, wait_until
from tests.integration.reliability_support import (
    BotProcess,
    bot_process,
    corrupt_files,
    day_file_events,
    member_add_send_times,
    unparsable_json_files,
    wait_counters_shown,
)

pytestmark = pytest.mark.integration

SIGTERM_BUDGET = 10.0  # README: SIGTERM stops the bot within 10 s
FLUSH_INTERVAL = 1.0  # README: every event is on disk within about a second
# One rewrite of the day file (serialise, fsync, rename, folder fsync) of up to ~15,000 events, plus the
# scheduling delays of a busy 2-core machine: the part of "about a second" that is not the flush interval.
WRITE_SLACK = 0.4
KILLS = 4
BURST_TICK, BURST_TICK_JOINS = 0.01, 10
SEED = 20261122


async def _burst(sb: Sandbox, joined: list[int], stop: asyncio.Event) -> None:
    """A raid of up to ~1,000 joins a second until `stop` is set.

    Paced so the bot keeps up with reading its socket: what is measured is how long a received join waits
    for the disk, not how far a flooded reader falls behind the sandbox.
    """
    while not stop.is_set():
        for _ in range(BURST_TICK_JOINS):
            joined.append(await sb.add_member())
        await asyncio.sleep(BURST_TICK)


def _store_problems(bot: BotProcess) -> list[dict[str, Any]]:
    """Errors the store or the recorder logged (a quarantine, a failed read or load)."""
    return [
        line
        for line in bot.log_lines()
        if line.get("level") == "error" and line["event"].startswith(("store.", "events.load"))
    ]


async def test_sigterm_mid_burst_exits_0_within_10_s_with_every_received_join_on_disk(sandbox, tmp_path):
    """SIGTERM during a join burst: exit 0 within 10 s, and every join sent before the signal is on disk."""
    data_dir = tmp_path / "data"
    settings = sandbox_settings(sandbox, data_dir, **FAST)
    async with bot_process(settings, tmp_path) as bot:
        await wait_counters_shown(sandbox)
        joined: list[int] = []
        stop = asyncio.Event()
        burst_started = time.monotonic()
        burst = asyncio.create_task(_burst(sandbox, joined, stop))
        try:
            await wait_until(lambda: len(joined) >= 1000, timeout=10, what="1,000 joins into the burst")
            bot.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            # The raid goes on while the bot stops, as it would on Discord.
            code = await asyncio.wait_for(bot.process.wait(), SIGTERM_BUDGET + 5)
            took = time.monotonic() - signalled
        finally:
            stop.set()
            await burst
    sent_before = [t for t in member_add_send_times(sandbox) if burst_started <= t < signalled]
    expected = {str(uid) for uid in joined[: len(sent_before)]}
    on_disk = {e["member_id"] for e in day_file_events(data_dir) if e["kind"] == "join"}

    assert code == 0, bot.log_path.read_text()[-2000:]
    assert took < SIGTERM_BUDGET
    assert len(expected) >= 1000
    assert sorted(expected - on_disk) == []


async def test_sigkill_at_random_moments_never_corrupts_and_loses_at_most_the_last_second(sandbox, tmp_path):
    """Four SIGKILLs mid-burst: every file parses, nothing is quarantined, restarts load, <= ~1 s is lost."""
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    settings = sandbox_settings(sandbox, data_dir, **FAST)
    kept: set[str] = set()  # joins on disk after earlier kills: no restart may lose them
    for run in range(KILLS):
        async with bot_process(settings, tmp_path, name=f"run{run}") as bot:
            await wait_counters_shown(sandbox)
            joined: list[int] = []
            stop = asyncio.Event()
            burst_started = time.monotonic()
            burst = asyncio.create_task(_burst(sandbox, joined, stop))
            try:
                await asyncio.sleep(rng.uniform(0.3, 2.0))
                bot.process.kill()
                killed = time.monotonic()
                before_kill = len(joined)
            finally:
                stop.set()
                await burst
            await bot.process.wait()
        sent = [t for t in member_add_send_times(sandbox) if t >= burst_started][:before_kill]
        assert len(sent) == before_kill, "every join before the kill was written to the bot's socket"
        assert _store_problems(bot) == [], f"run {run} could not load the store left by the previous kill"
        assert unparsable_json_files(data_dir) == []
        assert corrupt_files(data_dir) == []
        on_disk = {e["member_id"] for e in day_file_events(data_dir)}
        assert sorted(kept - on_disk) == [], f"run {run} lost joins an earlier run had written"
        lost_ages = [
            killed - t for uid, t in zip(joined[:before_kill], sent, strict=True) if str(uid) not in on_disk
        ]
        assert max(lost_ages, default=0.0) <= FLUSH_INTERVAL + WRITE_SLACK, (
            f"run {run}: {len(lost_ages)} joins lost, the oldest sent {max(lost_ages):.3f}s before the kill"
        )
        kept = on_disk

    async with bot_process(settings, tmp_path, name="after-kills") as bot:
        await wait_counters_shown(sandbox)
        bot.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.process.wait(), SIGTERM_BUDGET + 5) == 0
    assert _store_problems(bot) == []
    assert corrupt_files(data_dir) == []
    assert kept <= {e["member_id"] for e in day_file_events(data_dir)}
