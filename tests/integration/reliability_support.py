"""Helpers shared by the reliability suite (test_reliability_*.py); this module holds no tests.

The bot runs as a real `python -m src run` process where a test needs signals or a clean stderr, and
in-process (`start_bot`) where it needs to patch the store. Every process started here is killed in a
`finally` by `bot_process`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from src.core.config import Settings
from src.sandbox import Sandbox
from src.services.stats.history import read_recorded_events
from src.utils.store import parse_lines
from tests.integration.conftest import wait_until

START_TIMEOUT = 20.0  # a cold interpreter importing discord.py on a loaded 2-core machine


def bot_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes `python -m src run` use `settings` (plus `extra` variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["BOT_TOKEN"] = settings.bot_token.get_secret_value()
    env["LOG_FORMAT"] = "json"
    for name, value in settings.model_dump(exclude={"bot_token"}).items():
        if value is not None:
            env[name.upper()] = value.strftime("%H:%M:%S") if hasattr(value, "strftime") else str(value)
    env["WEEKLY_REPORT_DAY"] = str(settings.weekly_report_day)
    env.update(extra)
    return env


@dataclass
class BotProcess:
    """A running `python -m src run`; stderr goes to a file so a chatty bot never blocks on a full pipe."""

    process: asyncio.subprocess.Process
    log_path: Path

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (non-JSON lines are skipped)."""
        lines = []
        for raw in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines

    def events(self, name: str) -> list[dict[str, Any]]:
        """The log lines whose event is `name`."""
        return [line for line in self.log_lines() if line.get("event") == name]


@asynccontextmanager
async def bot_process(
    settings: Settings,
    workdir: Path,
    name: str = "bot",
    *,
    argv: tuple[str, ...] = ("-m", "src", "run"),
    **extra_env: str,
) -> AsyncIterator[BotProcess]:
    """Start the bot (`python -m src run`, or `argv`) in the existing folder `workdir`; killed on exit."""
    log_path = workdir / f"{name}.stderr"
    with log_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *argv,
            env=bot_env(settings, **extra_env),
            cwd=workdir,  # no stray .env or config/.env is read from the repository
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        yield BotProcess(process, log_path)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def wait_counters_shown(sb: Sandbox, *, timeout: float = START_TIMEOUT) -> None:
    """Wait until the bot (wherever it runs) has renamed the ban and member counters to the right values."""
    ids = sb.channel_ids
    await wait_until(
        lambda: sb.channel_name(ids["bans"]) == f"🔨 Bans: {sb.ban_count:,}",
        timeout=timeout,
        what="the ban counter to show the ban count",
    )
    await wait_until(
        lambda: sb.channel_name(ids["members"]) == f"👥 Members: {sb.member_count:,}",
        timeout=timeout,
        what="the member counter to show the member count",
    )


def day_file_events(data_dir: Path) -> list[dict[str, Any]]:
    """Every event recorded under `data_dir/events`: each day file with its journal replayed onto it."""
    return [event.model_dump(mode="json") for event in read_recorded_events(data_dir)]


def corrupt_files(data_dir: Path) -> list[Path]:
    """Files the store moved aside as unreadable."""
    return sorted(p for p in data_dir.rglob("*") if ".corrupt-" in p.name)


def unparsable_json_files(data_dir: Path) -> list[str]:
    """Data files, backups and journals that do not parse (a journal may end in one torn line)."""
    bad = []
    for path in sorted(data_dir.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or ".json" not in path.name:
            continue
        if path.suffix == ".jsonl":
            dropped = parse_lines(path.read_bytes()).dropped
            bad += [f"{path.relative_to(data_dir)}: {d.reason}" for d in dropped if not d.last]
            continue
        try:
            json.loads(path.read_bytes().decode("utf-8"))
        except ValueError as exc:
            bad.append(f"{path.relative_to(data_dir)}: {exc}")
    return bad


def member_add_send_times(sb: Sandbox) -> list[float]:
    """When the gateway wrote each GUILD_MEMBER_ADD, in order (sandbox monotonic clock = time.monotonic)."""
    return [g.t for g in sb.journal.gateway_events("send") if g.event == "GUILD_MEMBER_ADD"]
