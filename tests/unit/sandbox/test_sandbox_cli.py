"""The sandbox command line: JSON info (or shell exports) first on stdout, clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from src.sandbox import Sandbox, SandboxConfig
from src.sandbox.cli import main, shell_exports
from tests.clock import ManualClock

REPO = Path(__file__).resolve().parents[3]
EXPECTED_EXPORTS = (
    "DISCORD_API_BASE_URL",
    "DISCORD_GATEWAY_URL",
    "BOT_TOKEN",
    "MEMBER_COUNT_CHANNEL_ID",
    "ONLINE_COUNT_CHANNEL_ID",
    "BAN_COUNT_CHANNEL_ID",
    "HEARTBEAT_CHANNEL_ID",
    "STATS_CHANNEL_ID",
    "CHANNEL_RENAME_WINDOW",
    "SANDBOX_CONTROL_URL",
)


async def test_prints_info_then_stops_cleanly_on_sigterm() -> None:
    """The first stdout line is the info JSON; SIGTERM stops the process with exit code 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from src.sandbox.cli import main; raise SystemExit(main(['--members', '10', '--token', 'cli-t']))",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
        info = json.loads(line)
        async with aiohttp.ClientSession() as session, session.get(info["control_url"] + "/state") as resp:
            state = await resp.json()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert (info["token"], state["member_count"], code) == ("cli-t", 11, 0)


def test_invalid_option_value_exits_2_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    """A time scale of zero is refused with exit code 2 and a line naming --time-scale."""
    with pytest.raises(SystemExit) as info:
        main(["--time-scale", "0"])
    assert info.value.code == 2
    assert "argument --time-scale: 0 is not a number above 0" in capsys.readouterr().err


async def test_exports_source_to_the_sandbox_settings(clock: ManualClock, tmp_path: Path) -> None:
    """Sourced by bash, the exports give the bot the sandbox's URLs, token (quoted) and channel ids."""
    config = SandboxConfig(token="it's a $token", time_scale=20)
    async with Sandbox(config, clock=clock) as sb:
        (tmp_path / "sandbox.env").write_text(shell_exports(sb), encoding="utf-8")
        info = sb.info()
    names = [*EXPECTED_EXPORTS]
    script = ". ./sandbox.env && printf '%s\\n' " + " ".join(f'"${name}"' for name in names)
    bash = await asyncio.create_subprocess_exec(
        "bash", "-c", script, cwd=tmp_path, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(bash.communicate(), timeout=10)
    sourced = dict(zip(names, out.decode().splitlines(), strict=True))
    ids = info["channel_ids"]
    expected = [
        info["rest_url"],
        info["gateway_url"],
        "it's a $token",
        *(str(ids[key]) for key in ("members", "online", "bans", "heartbeat", "stats")),
        "30.0",
        info["control_url"],
    ]
    assert sourced == dict(zip(names, expected, strict=True))


async def test_print_env_prints_exports_at_once_then_serves_until_sigterm() -> None:
    """--print-env writes every export line straight away, keeps serving, and exits 0 on SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "src",
        "sandbox",
        "--members",
        "10",
        "--print-env",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        lines = [
            (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode() for _ in EXPECTED_EXPORTS
        ]
        exports = dict(shlex.split(line)[1].split("=", 1) for line in lines)
        control = exports["SANDBOX_CONTROL_URL"]
        async with aiohttp.ClientSession() as session, session.get(control + "/state") as resp:
            state = await resp.json()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert [line.split("=", 1)[0] for line in lines] == [f"export {name}" for name in EXPECTED_EXPORTS]
    assert (state["member_count"], code) == (11, 0)
