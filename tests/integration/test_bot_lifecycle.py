"""The real bot against the sandbox: log in, start, fail clearly, and shut down cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time

from structlog.testing import capture_logs

from src.sandbox import Sandbox, SandboxConfig
from tests.integration.conftest import FAST, BotRun, sandbox_settings, wait_until


async def test_bot_logs_in_and_shows_counters(sandbox, start_bot):
    """After ready, the three counter channels carry the sandbox's numbers with separators."""
    run = await start_bot().started()
    ids = sandbox.channel_ids
    await wait_until(lambda: sandbox.channel_name(ids["bans"]) == "🔨 Bans: 25", what="ban counter")
    await wait_until(
        lambda: sandbox.channel_name(ids["members"]) == f"👥 Members: {sandbox.member_count:,}",
        what="member counter",
    )
    await wait_until(
        lambda: sandbox.channel_name(ids["online"]) == f"🟢 Online: {sandbox.online_count:,}",
        what="online counter",
    )
    assert run.app.client.user is not None
    assert await run.stop() == 0


async def test_wrong_token_exits_1_with_one_clear_line(sandbox, tmp_path):
    """A rejected token ends the run with status 1 and a login_failed event naming the fix."""
    settings = sandbox_settings(sandbox, tmp_path, **FAST, bot_token="not-the-sandbox-token")
    run = BotRun(settings)
    with capture_logs() as logs:
        code = await asyncio.wait_for(run.task, 15)
    assert code == 1
    failures = [e for e in logs if e["event"] == "bot.login_failed"]
    assert len(failures) == 1
    assert "BOT_TOKEN" in failures[0]["fix"]


async def test_privileged_intent_not_enabled_names_the_intent(tmp_path):
    """Close code 4014 becomes one line naming the Server Members intent and where to enable it."""
    async with Sandbox(SandboxConfig(members=10, privileged_intents_enabled=False)) as sb:
        settings = sandbox_settings(sb, tmp_path, **FAST)
        run = BotRun(settings)
        with capture_logs() as logs:
            code = await asyncio.wait_for(run.task, 20)
    assert code == 1
    (failure,) = [e for e in logs if e["event"] == "bot.login_failed"]
    assert "Server Members Intent" in failure["fix"]
    assert "MEMBERS_INTENT=false" in failure["fix"]


async def test_bot_runs_without_the_members_intent(tmp_path):
    """With MEMBERS_INTENT=false the privileged switch does not matter and counters still work."""
    async with Sandbox(SandboxConfig(members=40, bans=3, privileged_intents_enabled=False)) as sb:
        run = await BotRun(sandbox_settings(sb, tmp_path, **FAST, members_intent=False)).started()
        await wait_until(lambda: sb.channel_name(sb.channel_ids["bans"]) == "🔨 Bans: 3", what="bans")
        await wait_until(
            lambda: sb.channel_name(sb.channel_ids["members"]) == f"👥 Members: {sb.member_count:,}",
            what="members from with_counts",
        )
        assert await run.stop() == 0


async def test_close_stops_cleanly_and_flushes_events(sandbox, start_bot, tmp_path):
    """close() exits 0 and events received before it are in today's file."""
    run = await start_bot().started()
    user_id = await sandbox.add_member(username="late_joiner")
    await wait_until(lambda: run.app.recorder.today().events, what="the join to be recorded")
    assert await run.stop() == 0
    files = list((tmp_path / "data" / "events").glob("*.json"))
    assert len(files) == 1
    stored = json.loads(files[0].read_text())
    assert [e["member_id"] for e in stored["events"]] == [str(user_id)]


async def test_sigterm_exits_0_within_10_seconds(sandbox, tmp_path):
    """`python -m src run` as a separate process stops on SIGTERM with status 0 in under 10 s."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **FAST)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(dict(_env_for(settings).items()))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "src",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_until(
            lambda: sandbox.channel_name(sandbox.channel_ids["bans"]) == "🔨 Bans: 25",
            timeout=20,
            what="the subprocess bot to rename the ban counter",
        )
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 15)
        elapsed = time.monotonic() - started
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert elapsed < 10
    assert b"app.stopped" in stderr


def _env_for(settings) -> dict[str, str]:
    values = {
        "BOT_TOKEN": settings.bot_token.get_secret_value(),
        "LOG_FORMAT": "json",
    }
    for name, value in settings.model_dump(exclude={"bot_token"}).items():
        if value is not None:
            values[name.upper()] = value.strftime("%H:%M:%S") if hasattr(value, "strftime") else str(value)
    values["WEEKLY_REPORT_DAY"] = str(settings.weekly_report_day)
    return values


async def test_unreachable_discord_exits_1_with_a_clear_line(sandbox, tmp_path):
    """Nothing listening at the REST URL: exit 1 with connect_failed and a fix, no traceback."""
    settings = sandbox_settings(sandbox, tmp_path, **FAST, discord_api_base_url="http://127.0.0.1:9/api/v10")
    run = BotRun(settings)
    with capture_logs() as logs:
        code = await asyncio.wait_for(run.task, 15)
    assert code == 1
    (failure,) = [e for e in logs if e["event"] == "bot.connect_failed"]
    assert "DISCORD_API_BASE_URL" in failure["fix"]
