"""End-to-end fixtures: the sandbox in-process and the real bot (real discord.py client) against it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from src.core.app import StatsBotApp, discord_endpoints, run_client
from src.core.config import Settings, load_settings
from src.sandbox import Sandbox, SandboxConfig
from src.types.ports import Clock

TIME_SCALE = 120.0  # the sandbox's 600 s rename window lasts 5 s
WINDOW = 600.0 / TIME_SCALE


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


def sandbox_settings(sb: Sandbox, data_dir: Path, **overrides: Any) -> Settings:
    """Settings pointing the bot at `sb`, with intervals short enough for tests."""
    ids = sb.channel_ids
    values: dict[str, Any] = {
        "bot_token": sb.info()["token"],
        "member_count_channel_id": ids["members"],
        "online_count_channel_id": ids["online"],
        "ban_count_channel_id": ids["bans"],
        "heartbeat_channel_id": ids["heartbeat"],
        "stats_channel_id": ids["stats"],
        "discord_api_base_url": sb.rest_url,
        "discord_gateway_url": sb.gateway_url,
        "data_dir": data_dir,
        "channel_rename_window": WINDOW,
        "update_interval": 1.0,
        "heartbeat_interval": 1.0,
        "presence_update_interval": 0.5,
        "timezone": "UTC",
        "notify_lifecycle": False,
        **overrides,
    }
    return load_settings(None, **values)


class BotRun:
    """One run of the real bot against the sandbox, stopped like SIGTERM would stop it."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self._stack = ExitStack()
        self._stack.enter_context(discord_endpoints(settings))
        self.app = StatsBotApp(settings, clock=clock)
        self.task: asyncio.Task[int] = asyncio.create_task(run_client(self.app))

    async def started(self, timeout: float = 10.0) -> BotRun:
        """Wait until the services have started (or the run ended early)."""
        started = asyncio.create_task(self.app.started.wait())
        done, _ = await asyncio.wait(
            {started, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        started.cancel()
        if self.task in done:
            raise AssertionError(f"bot exited with {self.task.result()} before starting")
        if not done:
            raise AssertionError("bot did not start in time")
        return self

    async def stop(self, timeout: float = 10.0) -> int:
        """Close gracefully and return the exit status."""
        try:
            if not self.task.done():
                self.app.client.request_close()
            return await asyncio.wait_for(self.task, timeout)
        finally:
            self._stack.close()


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
        settings = sandbox_settings(sandbox, tmp_path / "data", **overrides)
        run = BotRun(settings, clock)
        runs.append(run)
        return run

    yield start
    for run in runs:
        if not run.task.done():
            await run.stop()
