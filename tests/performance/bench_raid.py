"""Benchmark 6: a simulated hour-long raid (joins, leaves, bans) against the hidden rename limit."""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from src.sandbox import Sandbox, SandboxConfig
from src.services.stats.history import read_recorded_events
from tests.performance.bench_steady import HOUR, scaled_intervals
from tests.performance.harness import (
    COUNTERS,
    DISCORD_RENAME_WINDOW,
    BenchResult,
    BotProcess,
    counter_renames,
    max_in_window,
    rename_429s,
)

RENAME_LIMIT = 2  # Discord's hidden limit per channel per window
TICK = 0.02  # seconds between bursts of the raid
MAX_BURST = 500  # events sent per tick at most, so one tick never monopolises the loop
# Shares of the raid's events; the rest are unbans.
JOIN_SHARE, LEAVE_SHARE, BAN_SHARE = 0.55, 0.25, 0.17


async def raid(sb: Sandbox, seconds: float, rate: float, rng: random.Random) -> Counter[str]:
    """Send about `rate` member events per second for `seconds`, plus a wandering online count."""
    joined: list[int] = []
    banned: list[int] = []
    sent: Counter[str] = Counter()
    start = time.monotonic()
    deadline = start + seconds
    while (now := time.monotonic()) < deadline:
        due = min(MAX_BURST, int((now - start) * rate) - sum(sent.values()))
        burst: list[Awaitable[int | None]] = []
        for _ in range(max(0, due)):
            roll = rng.random()
            # Victims are taken out of the lists before the burst runs, so none is used twice.
            if roll < JOIN_SHARE or not joined:
                burst.append(sb.add_member())
                sent["join"] += 1
            elif roll < JOIN_SHARE + LEAVE_SHARE:
                burst.append(sb.remove_member(joined.pop(rng.randrange(len(joined)))))
                sent["leave"] += 1
            elif roll < JOIN_SHARE + LEAVE_SHARE + BAN_SHARE or not banned:
                victim = joined.pop(rng.randrange(len(joined)))
                banned.append(victim)
                burst.append(sb.ban(victim))
                sent["ban"] += 1
            else:
                burst.append(sb.unban(banned.pop(rng.randrange(len(banned)))))
                sent["unban"] += 1
        results = await asyncio.gather(*burst)
        joined.extend(r for r in results if isinstance(r, int))
        swing = max(1, sb.member_count // 50)
        sb.set_online(sb.online_count + rng.randint(-swing, swing))
        await asyncio.sleep(TICK)
    return sent


def expected_names(sb: Sandbox) -> dict[str, str]:
    """What each counter channel should finally show (StatsBot's default templates)."""
    return {
        "members": f"👥 Members: {sb.member_count:,}",
        "online": f"🟢 Online: {sb.online_count:,}",
        "bans": f"🔨 Bans: {sb.ban_count:,}",
    }


def converged(sb: Sandbox) -> bool:
    """Every counter channel shows the sandbox's current numbers."""
    ids = sb.channel_ids
    return all(sb.channel_name(ids[key]) == name for key, name in expected_names(sb).items())


def events_on_disk(data_dir: Path) -> Counter[str]:
    """Recorded events per kind over every day file and journal; blocking."""
    return Counter(event.kind.value for event in read_recorded_events(data_dir))


async def measure_raid(time_scale: float, sim_hours: float, rate: float, seed: int) -> dict[str, Any]:
    """Run the raid against a separate bot process and collect renames, 429s and what was recorded."""
    window = DISCORD_RENAME_WINDOW / time_scale
    intervals = scaled_intervals(time_scale)
    with tempfile.TemporaryDirectory(prefix="statsbot-bench-raid-") as folder:
        async with (
            Sandbox(SandboxConfig(members=1000, bans=25, time_scale=time_scale)) as sb,
            BotProcess(sb, Path(folder), **intervals) as bot,
        ):
            await bot.wait_until(lambda: all(counter_renames(sb).values()), 30.0, "the three counters")
            cpu0, started = bot.cpu_seconds(), time.monotonic()
            sent = await raid(sb, sim_hours * HOUR / time_scale, rate, random.Random(seed))
            ended = time.monotonic()
            cpu = bot.cpu_seconds() - cpu0
            # Slots are window/2 apart and online needs one refresh: a few windows is ample.
            await bot.wait_until(
                lambda: converged(sb),
                3 * window + intervals["update_interval"] + 5,
                "the counters to show the final numbers",
            )
            converged_after = time.monotonic() - ended
            deadline = time.monotonic() + 15.0
            recorded = await asyncio.to_thread(events_on_disk, bot.data_dir)
            while recorded != sent and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
                recorded = await asyncio.to_thread(events_on_disk, bot.data_dir)
            renames = counter_renames(sb)
            refused = rename_429s(sb)
    return {
        "time_scale": time_scale,
        "window_s": window,
        "raid_s": ended - started,
        "events_sent": dict(sent),
        "events_recorded": dict(recorded),
        "bot_cpu_s": cpu,
        "renames": {key: len(renames[key]) for key in COUNTERS},
        "max_renames_in_window": {key: max_in_window(renames[key], window) for key in COUNTERS},
        "rename_429s": refused,
        "converged_after_s": converged_after,
    }


async def bench_raid(
    time_scale: float = 120.0, sim_hours: float = 1.0, rate: float = 300.0, seed: int = 7
) -> BenchResult:
    """Max renames per channel in any window and rename 429s during a raid; targets <= 2 and 0."""
    result = BenchResult("raid", f"6. Simulated one-hour raid (scale {time_scale:g})")
    run = await measure_raid(time_scale, sim_hours, rate, seed)
    result.details = run
    sent = sum(run["events_sent"].values())
    result.add(
        f"member events sent ({', '.join(f'{n:,} {k}s' for k, n in sorted(run['events_sent'].items()))})",
        sent,
    )
    worst = max(run["max_renames_in_window"].values())
    window = f"simulated {DISCORD_RENAME_WINDOW:g} s window ({run['window_s']:g} s real)"
    result.add(
        f"max renames per channel in any {window}",
        worst,
        target=f"<= {RENAME_LIMIT}",
        passed=worst <= RENAME_LIMIT,
    )
    result.add("rename 429s", run["rename_429s"], target="0", passed=run["rename_429s"] == 0)
    result.add("renames (members/online/bans)", "/".join(str(run["renames"][k]) for k in COUNTERS))
    result.add("counters correct after the raid", run["converged_after_s"], "s later")
    recorded = sum(run["events_recorded"].values())
    result.add("events recorded / sent (ban-leaves dropped as bans)", f"{recorded:,} / {sent:,}")
    result.add("bot CPU during the raid", run["bot_cpu_s"], "s")
    return result
