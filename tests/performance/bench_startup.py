"""Benchmark 2: time from spawning `python -m src run` to the first counter rename the sandbox receives."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from src.sandbox import Sandbox, SandboxConfig
from tests.performance.harness import (
    BenchResult,
    BotProcess,
    median,
    requests_by_route,
    wait_for_counters_shown,
)

TARGET_S = 2.0
WATCH_S = 1.5
BANS_ROUTE = "GET /guilds/{id}/bans"
COUNTS_ROUTE = "GET /guilds/{id}?with_counts=true"


async def measure_startup(members: int, bans: int = 25, watch: float = 0.0) -> dict[str, Any]:
    """Spawn the bot for a guild of `members`; time its first rename, list requests until `watch` s on."""
    with tempfile.TemporaryDirectory(prefix="statsbot-bench-startup-") as folder:
        async with (
            Sandbox(SandboxConfig(members=members, bans=bans)) as sb,
            BotProcess(sb, Path(folder)) as bot,
        ):
            # Both clocks are time.monotonic (CLOCK_MONOTONIC, one per host), so they subtract directly.
            first = await wait_for_counters_shown(bot)
            if watch > 0:
                await asyncio.sleep(watch)
            return {
                "members": members,
                "bans": bans,
                "first_rename_s": first - bot.spawned_at,
                "requests_before_first_rename": requests_by_route(sb, bot.spawned_at, first),
                "requests_until_first_rename_plus_watch": requests_by_route(
                    sb, bot.spawned_at, first + watch
                ),
            }


async def bench_startup(sizes: tuple[int, ...] = (1_000, 1_000_000), repeats: int = 5) -> BenchResult:
    """Median time from process start to the first counter rename at each guild size; target < 2 s."""
    result = BenchResult("startup", "2. Start-up to first counter rename")
    runs: dict[int, list[dict[str, Any]]] = {size: [] for size in sizes}
    for repeat in range(repeats):
        for size in sizes:  # sizes in turn, so a noisy moment does not land on one size only
            # The first run of each size also watches what start-up sends after the first rename.
            runs[size].append(await measure_startup(size, watch=WATCH_S if repeat == 0 else 0.0))
    result.details = {"repeats": repeats, "runs": {str(size): samples for size, samples in runs.items()}}
    for size, samples in runs.items():
        times = [s["first_rename_s"] for s in samples]
        value = median(times)
        result.add(
            f"{size:,} members: spawn to first rename (median of {repeats}, max {max(times):.2f} s)",
            value,
            "s",
            target=f"< {TARGET_S:g} s",
            passed=value < TARGET_S,
        )
    seen = runs[sizes[0]][0]["requests_until_first_rename_plus_watch"]
    # One ban page (25 bans fit in one) and one with_counts fetch are all a start needs.
    for route, note in ((BANS_ROUTE, "25 bans = 1 page, "), (COUNTS_ROUTE, "")):
        result.add(
            f"{route} at start-up ({note}until first rename + {WATCH_S:g} s)",
            seen.get(route, 0),
            target="1 needed",
        )
    return result
