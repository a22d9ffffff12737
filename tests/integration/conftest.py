"""End-to-end fixtures: the sandbox in-process and the real bot (real discord.py client) against it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from src.demo.harness import BotRun, sandbox_settings
from src.sandbox import Sandbox, SandboxConfig
from src.types.ports import Clock

TIME_SCALE = 120.0  # the sandbox's 600 s rename window lasts 5 s
WINDOW = 600.0 / TIME_SCALE
FAST: dict[str, Any] = {
    "update_interval": 1.0,
    "heartbeat_interval": 1.0,
    "presence_update_interval": 0.5,
    "timezone": "UTC",
    "notify_lifecycle": False,
}
__all__ = ["FAST", "TIME_SCALE", "WINDOW", "BotRun", "sandbox_settings", "wait_until"]


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `predicate` until it is truthy; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A sandbox guild of 1,000 members with 25 bans, windows scaled down 120 times."""
    async with Sandbox(SandboxConfig(members=1000, bans=25, online_share=0.3, time_scale=TIME_SCALE)) as sb:
        yield sb


@pytest.fixture
async def start_bot(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Callable[..., BotRun]]:
    """Start the real bot against the sandbox; every run is stopped at teardown."""
    runs: list[BotRun] = []

    def start(clock: Clock | None = None, **overrides: Any) -> BotRun:
        settings = sandbox_settings(sandbox, tmp_path / "data", **{**FAST, **overrides})
        run = BotRun(settings, clock)
        runs.append(run)
        return run

    yield start
    for run in runs:
        if not run.task.done():
            await run.stop()
