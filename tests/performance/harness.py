"""Shared benchmark tools: the bot as a separate process against an in-process sandbox, and result rows."""

from __future__ import annotations

import asyncio
import math
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import psutil

from src.core.config import Settings, load_settings
from src.sandbox import Sandbox
from src.utils.logging import configure_logging

COUNTERS = ("members", "online", "bans")
DISCORD_RENAME_WINDOW = 600.0  # Discord's hidden rename window in real seconds
STOP_TIMEOUT = 10.0  # the bot promises to exit within 10 s of SIGTERM
POLL = 0.05
MB = 1024 * 1024
_SNOWFLAKE = re.compile(r"\d{6,}")


class BenchError(RuntimeError):
    """A benchmark could not measure what it set out to (the bot died, a wait timed out)."""


@dataclass
class Row:
    """One reported figure: what, how much, against which target, and whether it met it (None: info)."""

    metric: str
    value: float | int | str | None
    unit: str = ""
    target: str = ""
    passed: bool | None = None

    def shown_value(self) -> str:
        """The value formatted for the markdown table."""
        value = self.value
        if value is None:
            return "n/a"
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            value = int(value)  # a count per simulated hour reads better as 13 than as 13.0
        if isinstance(value, float):
            if not math.isfinite(value):
                return str(value)
            digits = 0 if abs(value) >= 1000 else 1 if abs(value) >= 10 else 2 if abs(value) >= 1 else 3
            text = f"{value:,.{digits}f}"
        elif isinstance(value, int):
            text = f"{value:,}"
        else:
            text = value
        return f"{text} {self.unit}".strip()


@dataclass
class BenchResult:
    """What one benchmark measured: rows for the table, raw figures for results.json."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    error: str | None = None

    def add(self, *args: Any, **kwargs: Any) -> Row:
        """Append a row (same arguments as `Row`) and return it."""
        row = Row(*args, **kwargs)
        self.rows.append(row)
        return row

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def quiet_logging() -> None:
    """Keep the sandbox's per-request and per-member log lines out of the measurements and the terminal."""
    configure_logging("WARNING", "json", stream=sys.stderr)


def median(values: Iterable[float]) -> float:
    """The median of `values` (NaN when empty)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def max_in_window(times: Iterable[float], window: float) -> int:
    """The most events inside any half-open window [t, t + window), as a sliding-window limiter counts."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] + window <= t:
            start += 1
        best = max(best, end - start + 1)
    return best


def counter_renames(sb: Sandbox) -> dict[str, list[float]]:
    """Sandbox-clock times of the successful renames of each counter channel."""
    ids = sb.channel_ids
    return {key: [r.t for r in sb.journal.renames(ids[key])] for key in COUNTERS}


def first_counter_rename(sb: Sandbox) -> float | None:
    """Sandbox-clock time (time.monotonic, system-wide on Linux) of the first counter rename, or None."""
    times = [t for ts in counter_renames(sb).values() for t in ts]
    return min(times) if times else None


def rename_429s(sb: Sandbox) -> int:
    """Renames of the counter channels the hidden limit refused."""
    ids = sb.channel_ids
    return sum(len(sb.journal.rename_429s(ids[key])) for key in COUNTERS)


def local_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for services driven in this process (no Discord involved): fake channel ids, UTC days."""
    values: dict[str, Any] = {
        "bot_token": "bench-token-not-a-secret",
        "member_count_channel_id": 1001,
        "online_count_channel_id": 1002,
        "ban_count_channel_id": 1003,
        "heartbeat_channel_id": 1004,
        "stats_channel_id": 1005,
        "data_dir": data_dir,
        "timezone": "UTC",
        **overrides,
    }
    return load_settings(None, **values)


def route_of(method: str, path: str, query: dict[str, str]) -> str:
    """A request's route with ids folded, e.g. `GET /guilds/{id}?with_counts=true`."""
    route = f"{method} {_SNOWFLAKE.sub('{id}', path)}"
    with_counts = query.get("with_counts", "").lower() in ("true", "1")  # discord.py sends 1
    return route + ("?with_counts=true" if with_counts else "")


def requests_by_route(sb: Sandbox, since: float, until: float) -> dict[str, int]:
    """REST requests the sandbox answered in [since, until), counted per route."""
    counts = Counter(route_of(r.method, r.path, r.query) for r in sb.journal.requests if since <= r.t < until)
    return dict(sorted(counts.items()))


def bot_env(sb: Sandbox, data_dir: Path, settings: Mapping[str, object]) -> dict[str, str]:
    """Environment for `python -m src run` against `sb`: our settings, none of the developer's."""
    # Any StatsBot variable set in the caller's shell would silently change what is measured.
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    ids = sb.channel_ids
    env.update(
        BOT_TOKEN=str(sb.info()["token"]),
        MEMBER_COUNT_CHANNEL_ID=str(ids["members"]),
        ONLINE_COUNT_CHANNEL_ID=str(ids["online"]),
        BAN_COUNT_CHANNEL_ID=str(ids["bans"]),
        HEARTBEAT_CHANNEL_ID=str(ids["heartbeat"]),
        STATS_CHANNEL_ID=str(ids["stats"]),
        DISCORD_API_BASE_URL=sb.rest_url,
        DISCORD_GATEWAY_URL=sb.gateway_url,
        DATA_DIR=str(data_dir),
        CHANNEL_RENAME_WINDOW=str(DISCORD_RENAME_WINDOW / sb.config.time_scale),
        LOG_FORMAT="json",
        TIMEZONE="UTC",
    )
    env.update({name.upper(): str(value) for name, value in settings.items()})
    return env


class BotProcess:
    """`python -m src run` as a child process against `sb`; always stopped (SIGTERM, then kill) on exit."""

    def __init__(self, sb: Sandbox, workdir: Path, **settings: object) -> None:
        self.sb = sb
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.log_path = workdir / "bot.log"
        self.env = bot_env(sb, self.data_dir, settings)
        self.spawned_at = math.nan
        self.exit_code: int | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._ps: psutil.Process | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        # A file, not a pipe: a chatty bot must never block on a pipe nobody is reading.
        self._log: BinaryIO = self.log_path.open("wb")

    async def __aenter__(self) -> BotProcess:
        """Spawn the bot."""
        try:
            await self.start()
        except BaseException:
            await self.stop()  # closes the log file even though the bot never ran
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the bot whatever happened."""
        await self.stop()

    async def start(self) -> None:
        """Spawn the process; `spawned_at` is taken just before, on the sandbox's clock."""
        self.spawned_at = time.monotonic()
        # cwd is the scratch folder so the repository's config/.env and .env are not read.
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "src",
            "run",
            env=self.env,
            cwd=self.workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        self._ps = psutil.Process(self._process.pid)

    @property
    def pid(self) -> int:
        """The bot's process id."""
        return self._psutil().pid

    @property
    def alive(self) -> bool:
        """Whether the bot is still running."""
        return self._process is not None and self._process.returncode is None

    def cpu_seconds(self) -> float:
        """User plus system CPU seconds the bot has used so far (all its threads)."""
        times = self._psutil().cpu_times()
        return float(times.user + times.system)

    def rss_mb(self) -> float:
        """The bot's resident set size in MiB."""
        return float(self._psutil().memory_info().rss) / MB

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the bot's log, for error messages."""
        self._log.flush()
        with suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        return ""

    async def wait_until(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """Poll `predicate` until truthy; raise BenchError if the bot exits or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if not self.alive:
                raise BenchError(
                    f"the bot exited ({self._running().returncode}) while waiting for {what}:\n"
                    + self.log_tail()
                )
            if time.monotonic() > deadline:
                raise BenchError(f"timed out after {timeout:g}s waiting for {what}:\n" + self.log_tail())
            await asyncio.sleep(POLL)

    async def stop(self) -> int | None:
        """SIGTERM, wait up to STOP_TIMEOUT, then kill; return the exit status."""
        process = self._process
        try:
            if process is not None and process.returncode is None:
                with suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
                except TimeoutError:
                    with suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
            self.exit_code = None if process is None else process.returncode
        finally:
            self._log.close()
        return self.exit_code

    def _running(self) -> asyncio.subprocess.Process:
        if self._process is None:
            raise BenchError("the bot was not started")
        return self._process

    def _psutil(self) -> psutil.Process:
        if self._ps is None:
            raise BenchError("the bot was not started")
        return self._ps


async def wait_for_counters_shown(bot: BotProcess, timeout: float = 30.0) -> float:
    """Wait for the bot's first counter rename; return its sandbox-clock time."""
    t: float = await bot.wait_until(lambda: first_counter_rename(bot.sb), timeout, "the first counter rename")
    return t


class LoopStallMonitor:
    """The longest time this event loop could not run a short ticker: how long work blocked the loop."""

    def __init__(self, tick: float = 0.001, limit_s: float = 600.0) -> None:
        self.tick = tick
        self.limit_s = limit_s  # the ticker ends by itself even if nobody stops it
        self.max_stall_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopStallMonitor:
        """Start ticking."""
        self._task = asyncio.create_task(self._run(), name="loop-stall-monitor")
        await asyncio.sleep(0)  # let the ticker take its first timestamp
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop ticking."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def reset(self) -> None:
        """Let the ticker catch up with whatever blocked the loop before, then forget the stalls so far."""
        await asyncio.sleep(self.tick * 5)
        self.max_stall_s = 0.0

    async def _run(self) -> None:
        deadline = time.perf_counter() + self.limit_s
        while time.perf_counter() < deadline:
            before = time.perf_counter()
            await asyncio.sleep(self.tick)
            self.max_stall_s = max(self.max_stall_s, time.perf_counter() - before - self.tick)


class LoopCpuStallMonitor(LoopStallMonitor):
    """A `LoopStallMonitor` that also notes the loop thread's own CPU time in each stall.

    On shared cores a stall is partly code running on the loop and partly the thread waiting for a core (or
    for the GIL); `max_busy_s`, the most CPU the loop thread used in one stall, is the code's part alone.
    """

    def __init__(self, tick: float = 0.001, limit_s: float = 600.0) -> None:
        super().__init__(tick, limit_s)
        self.max_busy_s = 0.0

    async def __aenter__(self) -> LoopCpuStallMonitor:
        """Start ticking."""
        await super().__aenter__()
        return self

    async def reset(self) -> None:
        """Let the ticker catch up, then forget the stalls and the CPU so far."""
        await super().reset()
        self.max_busy_s = 0.0

    async def _run(self) -> None:
        deadline = time.perf_counter() + self.limit_s
        while time.perf_counter() < deadline:
            before, cpu_before = time.perf_counter(), time.thread_time()
            await asyncio.sleep(self.tick)
            self.max_stall_s = max(self.max_stall_s, time.perf_counter() - before - self.tick)
            self.max_busy_s = max(self.max_busy_s, time.thread_time() - cpu_before)
