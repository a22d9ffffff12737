"""`python -m src doctor` against the sandbox: the printed table, the fixes and the exit status."""

from __future__ import annotations

import asyncio
import io
import os
import re
import sys
from pathlib import Path

import pytest

from src.core.config import Settings
from src.core.doctor import run_doctor
from src.sandbox import Sandbox, SandboxConfig
from tests.integration.conftest import sandbox_settings

REPO = Path(__file__).resolve().parents[2]


def _row(output: str, check: str) -> str:
    """The table line of `check` ("STATS_CHANNEL_ID  ok  #stats ...")."""
    return next(line for line in output.splitlines() if re.match(rf"{re.escape(check)}\s", line))


async def _doctor(sandbox, tmp_path, **overrides) -> tuple[int, str]:
    """Run the doctor in this event loop and return (exit status, printed text)."""
    out = io.StringIO()
    status = await run_doctor(sandbox_settings(sandbox, tmp_path / "data", **overrides), out)
    return status, out.getvalue()


async def test_a_clean_setup_passes_with_exit_0(sandbox, tmp_path):
    """The seeded sandbox passes every check; the doctor says so and exits 0."""
    status, output = await _doctor(sandbox, tmp_path)
    assert status == 0
    assert output.rstrip().endswith("All checks passed.")
    for check in ("Token", "Server", "MEMBER_COUNT_CHANNEL_ID", "STATS_CHANNEL_ID", "Ban Members"):
        assert re.match(rf"{re.escape(check)}\s+ok\s", _row(output, check))


async def test_the_doctor_uses_rest_only(sandbox, tmp_path):
    """The doctor logs in over REST and never opens a gateway session."""
    await _doctor(sandbox, tmp_path)
    assert sandbox.journal.requests_matching(r"GET /users/@me")
    assert sandbox.journal.identify_count() == 0
    assert sandbox.journal.gateway_events() == []


async def test_a_seeded_permission_problem_and_a_text_counter_fail_with_fixes(sandbox, tmp_path):
    """Send Messages denied on the heartbeat channel and a text channel as a counter: two fixes, exit 1."""
    sandbox.set_channel_permissions(sandbox.channel_ids["heartbeat"], send_messages=False)

    status, output = await _doctor(sandbox, tmp_path, ban_count_channel_id=sandbox.channel_ids["general"])

    assert status == 1
    assert "FAIL" in _row(output, "HEARTBEAT_CHANNEL_ID")
    assert "missing Send Messages" in output
    assert "FAIL" in _row(output, "BAN_COUNT_CHANNEL_ID")
    assert "2 problems to fix:" in output
    assert "1. BAN_COUNT_CHANNEL_ID: #general is a text channel" in output
    assert "create a voice channel" in output
    assert "2. HEARTBEAT_CHANNEL_ID: Open #heartbeat > Edit Channel > Permissions" in output
    assert "select the StatsBot role and allow Send Messages" in output


async def test_a_missing_channel_is_named_with_its_setting(sandbox, tmp_path):
    """A channel id that does not exist fails its row and the fix names the setting to correct."""
    status, output = await _doctor(sandbox, tmp_path, stats_channel_id=123)
    assert status == 1
    assert "no such channel" in _row(output, "STATS_CHANNEL_ID")
    assert "set STATS_CHANNEL_ID to the id of the daily and weekly reports channel" in output


async def test_the_token_never_appears_in_the_output(sandbox, tmp_path):
    """Neither a passing nor a failing run prints the token."""
    sandbox.set_channel_permissions(sandbox.channel_ids["stats"], view=False)
    _, output = await _doctor(sandbox, tmp_path)
    assert sandbox.config.token not in output


async def test_a_rejected_token_fails_with_the_reset_fix(sandbox, tmp_path):
    """A token Discord refuses is one failing row with the Reset Token fix, exit 1."""
    status, output = await _doctor(sandbox, tmp_path, bot_token="not-the-token")
    assert status == 1
    assert "FAIL" in _row(output, "Token")
    assert "Reset Token" in output
    assert "not-the-token" not in output


async def test_members_intent_without_the_portal_switch_fails(tmp_path):
    """MEMBERS_INTENT=true while the application has no Server Members intent fails with the fix."""
    async with Sandbox(SandboxConfig(members=10, privileged_intents_enabled=False)) as sb:
        status, output = await _doctor(sb, tmp_path)
    assert status == 1
    assert "Server Members: off" in _row(output, "Privileged intents")
    assert "FAIL" in _row(output, "MEMBERS_INTENT")
    assert "Turn on Server Members Intent" in output
    assert "or set MEMBERS_INTENT=false" in output


async def test_members_intent_off_needs_no_portal_switch(tmp_path):
    """With MEMBERS_INTENT=false the missing intent is not a problem."""
    async with Sandbox(SandboxConfig(members=10, privileged_intents_enabled=False)) as sb:
        status, output = await _doctor(sb, tmp_path, members_intent=False)
    assert status == 0
    assert re.match(r"MEMBERS_INTENT\s+ok\s", _row(output, "MEMBERS_INTENT"))


def _cli_env(settings: Settings | None) -> dict[str, str]:
    """The environment of a `python -m src doctor` run: only these settings, no inherited ones."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env["PYTHONPATH"] = str(REPO)
    if settings is not None:
        for name in ("member_count_channel_id", "online_count_channel_id", "ban_count_channel_id"):
            env[name.upper()] = str(getattr(settings, name))
        env["HEARTBEAT_CHANNEL_ID"] = str(settings.heartbeat_channel_id)
        env["STATS_CHANNEL_ID"] = str(settings.stats_channel_id)
        env["BOT_TOKEN"] = settings.bot_token.get_secret_value()
        env["DISCORD_API_BASE_URL"] = settings.discord_api_base_url or ""
        env["LOG_FORMAT"] = "json"
    return env


async def _cli(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run `python -m src doctor` as a user would and return (exit status, stdout)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "src",
        "doctor",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, stdout.decode()


@pytest.mark.parametrize(("broken", "expected"), [(False, 0), (True, 1)])
async def test_the_command_line_exits_0_when_clean_and_1_on_problems(sandbox, tmp_path, broken, expected):
    """`python -m src doctor` prints the table and exits 0 for the clean sandbox, 1 with a text counter."""
    overrides = {"online_count_channel_id": sandbox.channel_ids["general"]} if broken else {}
    settings = sandbox_settings(sandbox, tmp_path / "data", **overrides)

    status, output = await _cli(_cli_env(settings), tmp_path)

    assert status == expected
    assert _row(output, "ONLINE_COUNT_CHANNEL_ID")
    assert sandbox.config.token not in output


async def test_the_command_line_exits_2_on_configuration_errors(tmp_path):
    """Missing settings are a configuration error: exit 2 before anything is checked."""
    status, _ = await _cli(_cli_env(None), tmp_path)
    assert status == 2
