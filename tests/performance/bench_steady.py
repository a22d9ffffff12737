"""Benchmark 5: REST requests per simulated hour at steady state (no member changes), by route."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from src.sandbox import Sandbox, SandboxConfig
from tests.performance.harness import (
    COUNTERS,
    BenchResult,
    BotProcess,
    counter_renames,
    requests_by_route,
)

HOUR = 3600.0
# StatsBot's defaults in Discord seconds; the benchmark divides them by the time scale.
UPDATE_INTERVAL = 300.0
HEARTBEAT_INTERVAL = 3600.0
PRESENCE_INTERVAL = 300.0
COUNTS_ROUTE = "GET /guilds/{id}?with_counts=true"
HEARTBEAT_EDIT_ROUTE = "PATCH /channels/{id}/messages/{id}"


def scaled_intervals(time_scale: float) -> dict[str, float]:
    """The default intervals with time running `time_scale` times faster."""
    return {
        "update_interval": UPDATE_INTERVAL / time_scale,
        "heartbeat_interval": HEARTBEAT_INTERVAL / time_scale,
        "presence_update_interval": PRESENCE_INTERVAL / time_scale,
    }


def started_up(sb: Sandbox) -> bool:
    """Every counter shows a number and a status message was posted in the heartbeat channel."""
    renamed = all(counter_renames(sb).values())
    return renamed and bool(sb.messages(sb.channel_ids["heartbeat"]))


async def measure_steady(time_scale: float, sim_hours: float, settle: float) -> dict[str, Any]:
    """Run the bot idle for `sim_hours` simulated hours after start-up and count what it sends."""
    real_window = sim_hours * HOUR / time_scale
    with tempfile.TemporaryDirectory(prefix="statsbot-bench-steady-") as folder:
        async with (
            Sandbox(SandboxConfig(members=1000, bans=25, time_scale=time_scale)) as sb,
            BotProcess(sb, Path(folder), **scaled_intervals(time_scale)) as bot,
        ):
            await bot.wait_until(lambda: started_up(sb), 30.0, "start-up (counters and status message)")
            await asyncio.sleep(settle)
            cpu0, since = bot.cpu_seconds(), time.monotonic()
            await asyncio.sleep(real_window)
            cpu, until = bot.cpu_seconds() - cpu0, time.monotonic()
            if not bot.alive:
                raise RuntimeError("the bot exited during the steady-state window:\n" + bot.log_tail())
            by_route = requests_by_route(sb, since, until)
            renames = sum(1 for times in counter_renames(sb).values() for t in times if since <= t < until)
            # op 3 frames the sandbox received: presence updates travel over the gateway, not REST.
            presences = sum(
                1 for g in sb.journal.gateway if g.direction == "recv" and g.op == 3 and since <= g.t < until
            )
    return {
        "time_scale": time_scale,
        "sim_hours": sim_hours,
        "real_window_s": until - since,
        "requests_by_route": by_route,
        "total_requests": sum(by_route.values()),
        "renames": renames,
        "presence_updates": presences,
        "bot_cpu_s": cpu,
    }


async def bench_steady(time_scale: float = 60.0, sim_hours: float = 1.0, settle: float = 2.0) -> BenchResult:
    """Requests per simulated hour when nothing changes; targets: 0 renames, no more than refreshes need."""
    result = BenchResult("steady", f"5. Steady state, REST per simulated hour (scale {time_scale:g})")
    run = await measure_steady(time_scale, sim_hours, settle)
    per_hour = {route: n / sim_hours for route, n in run["requests_by_route"].items()}
    needed_counts = HOUR / UPDATE_INTERVAL
    needed_heartbeat = HOUR / HEARTBEAT_INTERVAL
    needed = needed_counts + needed_heartbeat
    total = run["total_requests"] / sim_hours
    renames = run["renames"] / sim_hours
    result.details = {**run, "per_sim_hour": per_hour, "needed_per_sim_hour": needed, "counters": COUNTERS}
    result.add("counter renames per hour", renames, "", target="0", passed=renames == 0)
    result.add(
        "REST requests per hour (all routes)",
        total,
        "",
        target=f"<= {needed:g} ({needed_counts:g} with_counts + {needed_heartbeat:g} heartbeat edit)",
        passed=total <= needed,
    )
    result.add(
        "with_counts fetches per hour", per_hour.get(COUNTS_ROUTE, 0.0), "", target=f"{needed_counts:g}"
    )
    result.add(
        "heartbeat edits per hour",
        per_hour.get(HEARTBEAT_EDIT_ROUTE, 0.0),
        "",
        target=f"{needed_heartbeat:g}",
    )
    others = {r: n for r, n in per_hour.items() if r not in (COUNTS_ROUTE, HEARTBEAT_EDIT_ROUTE)}
    result.add("other REST requests per hour", sum(others.values()), "", target="0")
    result.add("presence updates per hour (gateway op 3)", run["presence_updates"] / sim_hours, "")
    result.add("bot CPU per simulated hour", run["bot_cpu_s"] / sim_hours, "s")
    return result
