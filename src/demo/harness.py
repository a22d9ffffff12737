"""Run the real bot against a sandbox: shared by the demo, the end-to-end tests and the benchmarks."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from src.core.app import StatsBotApp, run_client
from src.core.config import Settings, load_settings
from src.core.session import discord_endpoints
from src.sandbox import Sandbox
from src.types.ports import Clock


def sandbox_settings(sb: Sandbox, data_dir: Path, **overrides: Any) -> Settings:
    """Settings that point the bot at `sb`; the rename window matches the sandbox's time scale."""
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
        "channel_rename_window": 600.0 / sb.config.time_scale,
        **overrides,
    }
    return load_settings(None, **values)


class BotRun:
    """One run of the real bot (in this event loop) against the sandbox, stopped as SIGTERM would."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self._stack = ExitStack()
        self._stack.enter_context(discord_endpoints(settings))
        self.app = StatsBotApp(settings, clock=clock)
        self.task: asyncio.Task[int] = asyncio.create_task(run_client(self.app))

    async def started(self, timeout: float = 10.0) -> BotRun:
        """Wait until the services have started; raise if the run ended first or took too long."""
        started = asyncio.create_task(self.app.started.wait())
        done, _ = await asyncio.wait(
            {started, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        started.cancel()
        if self.task in done:
            raise RuntimeError(f"the bot exited with status {self.task.result()} before starting")
        if not done:
            raise TimeoutError(f"the bot did not start within {timeout}s")
        return self

    async def stop(self, timeout: float = 10.0) -> int:
        """Close gracefully and return the exit status."""
        try:
            if not self.task.done():
                self.app.client.request_close()
            return await asyncio.wait_for(self.task, timeout)
        finally:
            self._stack.close()
