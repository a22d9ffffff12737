"""The sandbox command line: JSON info as the first stdout line, clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp

from src.sandbox.cli import main

REPO = Path(__file__).resolve().parents[3]


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


def test_invalid_option_value_returns_2() -> None:
    """A time scale of zero is refused with exit code 2."""
    assert main(["--time-scale", "0"]) == 2
