"""SIGTERM ends `python -m src run` with status 0 within 10 s whatever discord.py is doing.

discord.py checks whether the client was closed only between connection attempts, and its reconnect sleep
grows to ~1,000 s in a long outage. The bot runs through a wrapper that makes every such sleep 120 s, so a
stop that waits for the sleep to end shows up in seconds instead of minutes. The sandbox runs in-process.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from src.core.config import Settings
from src.sandbox import Sandbox
from tests.integration.conftest import FAST, sandbox_settings, wait_until
from tests.integration.reliability_support import (
    START_TIMEOUT,
    BotProcess,
    bot_process,
    wait_counters_shown,
)

pytestmark = pytest.mark.integration

SIGTERM_BUDGET = 10.0  # README: SIGTERM stops the bot within 10 s
LONG_BACKOFF = 120.0
CLOSED_GATEWAY = "ws://127.0.0.1:9/gateway"  # the discard port: nothing listens, connections are refused
OP_RESUME = 6
LONG_BACKOFF_RUN = f"""
import sys

import discord.backoff

discord.backoff.ExponentialBackoff.delay = lambda self: {LONG_BACKOFF}

from src.cli import main

sys.exit(main(["run"]))
"""


@asynccontextmanager
async def long_backoff_bot(settings: Settings, workdir: Path) -> AsyncIterator[BotProcess]:
    """`python -m src run`'s entry point with a 120 s reconnect backoff; killed on exit if still running."""
    script = workdir / "long_backoff_run.py"
    script.write_text(LONG_BACKOFF_RUN, encoding="utf-8")
    async with bot_process(settings, workdir, argv=(str(script),)) as bot:
        yield bot


async def sigterm(bot: BotProcess) -> tuple[int, float]:
    """Send SIGTERM and return the exit status and the seconds it took (fail if not gone in budget + 5 s)."""
    bot.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    try:
        code = await asyncio.wait_for(bot.process.wait(), SIGTERM_BUDGET + 5)
    except TimeoutError:
        raise AssertionError(f"still running {SIGTERM_BUDGET + 5:.0f} s after SIGTERM") from None
    return code, time.monotonic() - signalled


async def wait_reconnect_sleep(bot: BotProcess) -> None:
    """Wait until discord.py has logged that it sleeps before its next connection attempt."""
    await wait_until(
        lambda: any(str(line.get("event")).startswith("Attempting a reconnect") for line in bot.log_lines()),
        timeout=START_TIMEOUT,
        what="discord.py's reconnect sleep",
    )


def stopped_line(bot: BotProcess) -> dict[str, Any]:
    """The app.stopped log line (fails the test if the services never reported stopping)."""
    (line,) = bot.events("app.stopped")
    return line


async def test_sigterm_while_reconnecting_in_an_outage_exits_0_within_10_s_with_events_flushed(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Gateway and REST gone, discord.py asleep before reconnecting: exit 0 within 10 s, nothing pending."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **FAST)
    async with long_backoff_bot(settings, tmp_path) as bot:
        await wait_counters_shown(sandbox)
        await sandbox.add_member(username="joins_before_the_outage")
        await sandbox.stop()
        await wait_reconnect_sleep(bot)
        code, took = await sigterm(bot)

    assert code == 0, bot.log_path.read_text()[-2000:]
    assert took < SIGTERM_BUDGET
    assert stopped_line(bot)["pending_events"] == 0


async def test_sigterm_while_the_gateway_is_unreachable_from_the_start_exits_0_within_10_s(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Logged in over REST but the gateway refuses every connection: SIGTERM exits 0 within 10 s."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **FAST, discord_gateway_url=CLOSED_GATEWAY)
    async with long_backoff_bot(settings, tmp_path) as bot:
        await wait_reconnect_sleep(bot)
        code, took = await sigterm(bot)

    assert code == 0, bot.log_path.read_text()[-2000:]
    assert took < SIGTERM_BUDGET


async def test_sigterm_mid_resume_exits_0_within_10_s(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The websocket dropped and the bot's RESUME is still unanswered: SIGTERM exits 0 within 10 s."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **FAST)
    async with long_backoff_bot(settings, tmp_path) as bot:
        await wait_counters_shown(sandbox)
        # The sandbox answers a RESUME at once; leaving it unanswered holds the bot in the middle of one.
        monkeypatch.setattr(sandbox._hub, "_resume", lambda conn, data: None)
        sent_before = len(sandbox.journal.gateway_events("recv"))
        await sandbox.drop_gateway(resumable=True)
        await wait_until(
            lambda: any(g.op == OP_RESUME for g in sandbox.journal.gateway_events("recv")[sent_before:]),
            what="the bot to send RESUME",
        )
        code, took = await sigterm(bot)

    assert code == 0, bot.log_path.read_text()[-2000:]
    assert took < SIGTERM_BUDGET


async def test_sigterm_while_rest_fails_and_the_gateway_is_up_exits_0_within_10_s(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Every REST call answered 502 while the gateway stays connected: SIGTERM exits 0 within 10 s."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **{**FAST, "notify_lifecycle": True})
    async with long_backoff_bot(settings, tmp_path) as bot:
        await wait_counters_shown(sandbox)
        faulted_from = len(sandbox.journal.requests)
        sandbox.inject_fault(".", status=502)
        await wait_until(
            lambda: any(r.status == 502 for r in sandbox.journal.requests[faulted_from:]),
            what="a REST call of the bot to fail",
        )
        code, took = await sigterm(bot)

    assert code == 0, bot.log_path.read_text()[-2000:]
    assert took < SIGTERM_BUDGET


async def test_sigterm_while_login_retries_a_failing_rest_exits_0_within_10_s(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Logging in while REST answers 502 (discord.py sleeps and retries): SIGTERM exits 0 within 10 s."""
    sandbox.inject_fault("GET /users/@me", status=502)
    settings = sandbox_settings(sandbox, tmp_path / "data", **FAST)
    async with long_backoff_bot(settings, tmp_path) as bot:
        await wait_until(
            lambda: sandbox.journal.requests_matching("GET /users/@me"),
            timeout=START_TIMEOUT,
            what="the bot to try logging in",
        )
        code, took = await sigterm(bot)

    assert code == 0, bot.log_path.read_text()[-2000:]
    assert took < SIGTERM_BUDGET
