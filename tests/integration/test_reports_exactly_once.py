"""Each day's report is in the stats channel exactly once, however often the bot is killed around it.

The bot runs as a separate process (`run_bot` on a clock shifted to just after a midnight, so the day
that just ended is due at start) and is SIGKILLed at a different moment each time: before the POST,
between the POST and the state write, or after. The next run starts after the next midnight, on the same
DATA_DIR and the same sandbox channel, and catches up. At the end one clean run finishes the job.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from src.sandbox import Sandbox, SandboxConfig
from tests.integration.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).parents[2]
RUNS = 21  # seven of each phase
FIRST_DAY = date(2030, 3, 1)
START_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import datetime
    from src.core.app import run_bot
    from src.core.config import load_settings
    from src.utils.clock import ShiftedClock
    from src.utils.logging import configure_logging

    settings = load_settings()
    configure_logging("INFO", "json", log_dir=settings.log_dir)
    start = datetime.fromisoformat(sys.argv[1])
    sys.exit(asyncio.run(run_bot(settings, clock=ShiftedClock(start))))
    """
)


def _title(day: date) -> str:
    return f"📊 Daily report — {day:%A}, {day.day} {day:%B %Y}"


def _environment(sb: Sandbox, data: Path) -> dict[str, str]:
    ids = sb.channel_ids
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),  # the repository root, so `src` is the package (never src/ itself)
        "BOT_TOKEN": sb.info()["token"],
        "MEMBER_COUNT_CHANNEL_ID": str(ids["members"]),
        "ONLINE_COUNT_CHANNEL_ID": str(ids["online"]),
        "BAN_COUNT_CHANNEL_ID": str(ids["bans"]),
        "HEARTBEAT_CHANNEL_ID": str(ids["heartbeat"]),
        "STATS_CHANNEL_ID": str(ids["stats"]),
        "DISCORD_API_BASE_URL": sb.rest_url,
        "DISCORD_GATEWAY_URL": sb.gateway_url,
        "DATA_DIR": str(data),
        "TIMEZONE": "UTC",
        "DAILY_REPORT_TIME": "00:00",
        "WEEKLY_REPORT_DAY": "sunday",
        "NOTIFY_LIFECYCLE": "false",
        "HEARTBEAT_INTERVAL": "3600",
        "LOG_FORMAT": "json",
    }


POST_STATS = r"POST /channels/{}/messages"
PHASES = ("before the POST", "between the POST and the state write", "after the state write")


async def _run_once(script: Path, env: dict[str, str], day: date) -> asyncio.subprocess.Process:
    """Start the bot just after the midnight that ends `day` (so that day's report is due at once)."""
    start = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(seconds=1)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        start.isoformat(),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _ended(process: asyncio.subprocess.Process) -> None:
    """Wait for the process to end, killing it if it will not."""
    try:
        await asyncio.wait_for(process.wait(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _clean_run(script: Path, env: dict[str, str], day: date) -> None:
    """A run that catches up and is stopped with SIGTERM, as a service manager would."""
    process = await _run_once(script, env, day)
    await asyncio.sleep(3.0)
    process.send_signal(signal.SIGTERM)
    await _ended(process)


async def _killed_run(
    script: Path, env: dict[str, str], day: date, sb: Sandbox, phase: str, data: Path, extra: float
) -> None:
    """A run SIGKILLed at `phase` of posting a report (seen in the sandbox's journal or the state file)."""
    stats = sb.channel_ids["stats"]
    posts = len(sb.journal.requests_matching(POST_STATS.format(stats)))
    identifies = sb.journal.identify_count()
    if phase == PHASES[1]:
        # The message is stored at once; only its answer waits, so the bot cannot have recorded it yet.
        sb.delay_responses(POST_STATS.format(stats), 3.0, count=1)
    process = await _run_once(script, env, day)
    reached = {
        # Logged in to the gateway: the services are starting, the report is not posted yet.
        PHASES[0]: lambda: sb.journal.identify_count() > identifies,
        PHASES[1]: lambda: len(sb.journal.requests_matching(POST_STATS.format(stats))) > posts,
        PHASES[2]: lambda: f'"last_daily":"{day.isoformat()}"' in _state_text(data),
    }[phase]
    try:
        await wait_until(reached, timeout=10, what=f"the run for {day} to reach {phase}")
        await asyncio.sleep(extra)
    finally:
        process.kill()
        await _ended(process)
        sb.clear_delays()


def _state_text(data: Path) -> str:
    """The reports state file without spaces, or "" while there is none."""
    try:
        return (data / "state" / "reports.json").read_text(encoding="utf-8").replace(" ", "")
    except OSError:
        return ""


async def test_every_report_is_posted_exactly_once_across_sigkills(tmp_path: Path) -> None:
    """21 runs killed before, during or after posting a report, then a clean run: each day's report once."""
    script = tmp_path / "start_bot.py"
    script.write_text(START_SCRIPT, encoding="utf-8")
    rng = random.Random(20301)  # fixed: a failure can be replayed
    data = tmp_path / "data"
    async with Sandbox(SandboxConfig(members=50, bans=1, time_scale=120.0)) as sb:
        env = _environment(sb, data)
        # A first clean run sets up the state (a new install posts no backlog) with FIRST_DAY as done.
        await _clean_run(script, env, FIRST_DAY)
        days = [FIRST_DAY + timedelta(days=n) for n in range(1, RUNS + 1)]
        for n, day in enumerate(days):
            await _killed_run(script, env, day, sb, PHASES[n % 3], data, extra=rng.uniform(0.0, 0.3))
        await _clean_run(script, env, days[-1] + timedelta(days=1))

        def titles() -> list[str]:
            return [
                embed.get("title", "")
                for message in sb.messages(sb.channel_ids["stats"])
                for embed in message.get("embeds", [])
            ]

        await wait_until(
            lambda: _title(days[-1] + timedelta(days=1)) in titles(), timeout=5, what="the last report"
        )

    expected = [_title(day) for day in [*days, days[-1] + timedelta(days=1)]]
    assert [t for t in titles() if t.startswith("📊")] == expected
