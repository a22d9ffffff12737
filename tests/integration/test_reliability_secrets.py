"""The token stays secret: not in DEBUG logs, not in DATA_DIR, not in anything posted to Discord.

The bot runs as `python -m src run` with LOG_LEVEL=DEBUG (discord.py's and aiohttp's loggers included)
through a busy life: start-up notice, joins, a ban, failing REST calls whose errors reach the logs and the
status message, a store write, and the shut-down notice on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from src.sandbox import Sandbox, SandboxConfig
from tests.integration.conftest import FAST, TIME_SCALE, sandbox_settings, wait_until
from tests.integration.reliability_support import bot_process, day_file_events, wait_counters_shown

pytestmark = pytest.mark.integration

TOKEN = "SECRET.tok3n-Zq8xW3kP-must_never_appear"


@pytest.fixture
async def secret_sandbox() -> AsyncIterator[Sandbox]:
    """A sandbox that only accepts the distinctive token."""
    config = SandboxConfig(members=200, bans=5, time_scale=TIME_SCALE, token=TOKEN)
    async with Sandbox(config) as sb:
        yield sb


def _files_containing(folder: Path, secret: bytes) -> list[str]:
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and secret in p.read_bytes()
    )


async def test_token_is_absent_from_debug_logs_data_files_and_posted_messages(secret_sandbox, tmp_path):
    """After a full run at DEBUG level the token appears in no log line, data file or message."""
    sb = secret_sandbox
    data_dir = tmp_path / "data"
    settings = sandbox_settings(
        sb, data_dir, **{**FAST, "notify_lifecycle": True, "presence_update_interval": 2.0}
    )
    async with bot_process(settings, tmp_path, LOG_LEVEL="DEBUG") as bot:
        await wait_counters_shown(sb)
        joined = [await sb.add_member(username=f"guest{i}") for i in range(3)]
        await sb.ban(joined[0])
        sb.inject_fault(r"GET /guilds/\d+$", status=503, count=2)  # refresh errors: logged and shown
        await wait_until(
            lambda: len(day_file_events(data_dir)) == 4, timeout=10, what="the events written to DATA_DIR"
        )
        await wait_until(
            lambda: len(sb.journal.requests_matching(r"GET /guilds/\d+$")) >= 3,
            timeout=10,
            what="a refresh after the failing ones",
        )
        bot.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.process.wait(), 15) == 0
    log = bot.log_path.read_text(encoding="utf-8")
    posted = [m for channel in sb.channel_ids.values() for m in sb.messages(channel)]
    titles = [m["embeds"][0]["title"] for m in posted if m.get("embeds")]

    assert any(
        line.get("level") == "debug" and line.get("logger", "").startswith("discord")
        for line in bot.log_lines()
    )
    assert "HTTP 503" in log
    assert any("started" in t for t in titles)
    assert any("stopping" in t for t in titles)
    assert TOKEN not in log
    assert _files_containing(data_dir, TOKEN.encode()) == []
    assert TOKEN not in json.dumps(posted, ensure_ascii=False)
    assert TOKEN not in json.dumps([sb.channel_name(c) for c in sb.channel_ids.values()], ensure_ascii=False)
    assert TOKEN not in json.dumps(sb.journal.presences, ensure_ascii=False)
