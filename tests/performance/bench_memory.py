"""Benchmark 1: the bot's RSS and CPU seconds once ready, for guilds of 1,000 to 1,000,000 members."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from src.sandbox import Sandbox, SandboxConfig
from tests.performance.harness import BenchResult, BotProcess, wait_for_counters_shown

TARGET_RATIO = 1.10  # RSS at the largest guild within 10 % of RSS at the smallest


async def measure_footprint(members: int, settle: float = 2.0, bans: int = 25) -> dict[str, Any]:
    """Spawn the bot against a guild of `members`; read RSS and CPU `settle` s after the first rename."""
    with tempfile.TemporaryDirectory(prefix="statsbot-bench-memory-") as folder:
        async with (
            Sandbox(SandboxConfig(members=members, bans=bans)) as sb,
            BotProcess(sb, Path(folder)) as bot,
        ):
            first = await wait_for_counters_shown(bot)
            await asyncio.sleep(settle)  # let the start-up work that follows the first rename finish
            return {
                "members": members,
                "rss_mb": bot.rss_mb(),
                "cpu_s": bot.cpu_seconds(),
                "first_rename_s": first - bot.spawned_at,
            }


async def bench_memory(
    sizes: tuple[int, ...] = (1_000, 100_000, 1_000_000), settle: float = 2.0
) -> BenchResult:
    """RSS and CPU after ready per guild size; target: RSS at the largest within 10 % of the smallest."""
    result = BenchResult("memory", "1. Memory and CPU after ready")
    runs = [await measure_footprint(size, settle) for size in sizes]
    result.details = {"settle_s": settle, "runs": runs}
    for run in runs:
        result.add(f"{run['members']:,} members: RSS", run["rss_mb"], "MiB")
        result.add(f"{run['members']:,} members: CPU since spawn", run["cpu_s"], "s")
    smallest, largest = runs[0], runs[-1]
    ratio = largest["rss_mb"] / smallest["rss_mb"]
    result.add(
        f"RSS ratio {largest['members']:,} / {smallest['members']:,} members",
        ratio,
        "x",
        target=f"<= {TARGET_RATIO:g}",
        passed=ratio <= TARGET_RATIO,
    )
    return result
