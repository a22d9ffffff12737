"""Benchmark 3: sustained join events recorded to disk, end to end and in process, and CPU per event."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from src.sandbox import Sandbox, SandboxConfig
from src.services.stats.events import EventRecorder
from src.services.stats.history import JOURNAL_SUFFIX, Change, DailyHistory
from src.types.models import EventKind, MemberEvent
from src.utils.clock import SystemClock
from src.utils.store import AtomicJsonStore, parse_lines
from tests.performance.harness import (
    BenchError,
    BenchResult,
    BotProcess,
    LoopStallMonitor,
    local_settings,
    wait_for_counters_shown,
)

TARGET_RATE = 3000.0  # events per second recorded to disk
TARGET_CPU_MS = 0.3  # CPU milliseconds per event
SETTLE = 1.5  # seconds after the first rename for start-up work (ban count, heartbeat post) to finish
DISK_POLL = 0.2


def joins_on_disk(data_dir: Path) -> tuple[int, float]:
    """Joins on disk under DATA_DIR (day files and journals) and the newest file's mtime; blocking.

    Only joins are sent, so a journal's joins are its add lines of joins; a poll between a fold's write and
    its journal's delete may count some twice, but only once every join is on disk (folds wait for quiet).
    """
    total, newest = 0, 0.0
    folder = data_dir / "events"
    for path in folder.glob("*.json"):
        try:
            document = json.loads(path.read_bytes())
            newest = max(newest, path.stat().st_mtime)
        except (OSError, ValueError):
            continue  # replaced between glob and read: the next poll sees the new file
        total += sum(1 for event in document.get("events", []) if event.get("kind") == EventKind.JOIN)
    for path in folder.glob(f"*{JOURNAL_SUFFIX}"):
        try:
            lines = parse_lines(path.read_bytes()).values
            newest = max(newest, path.stat().st_mtime)
        except OSError:
            continue  # folded and deleted between glob and read: its day file holds the joins now
        total += sum(
            1 for line in lines if line["op"] == Change.ADD and line["event"]["kind"] == EventKind.JOIN
        )
    return total, newest


async def push_joins(sb: Sandbox, joins: int, batch: int) -> None:
    """Send `joins` GUILD_MEMBER_ADD as fast as the sandbox can: `batch` queued, then written, per round."""
    for sent in range(0, joins, batch):
        await asyncio.gather(*(sb.add_member() for _ in range(min(batch, joins - sent))))


async def measure_end_to_end(joins: int, batch: int = 200, timeout: float = 120.0) -> dict[str, Any]:
    """Joins through the gateway into a separate bot process, until all are in the day file."""
    with tempfile.TemporaryDirectory(prefix="statsbot-bench-events-") as folder:
        async with (
            Sandbox(SandboxConfig(members=1000, bans=25)) as sb,
            BotProcess(sb, Path(folder)) as bot,
        ):
            await wait_for_counters_shown(bot)
            await asyncio.sleep(SETTLE)
            cpu0, mono0, wall0 = bot.cpu_seconds(), time.monotonic(), time.time()
            await push_joins(sb, joins, batch)
            sent_s = time.monotonic() - mono0
            deadline = mono0 + timeout
            while True:
                # Parsing a multi-megabyte day file and its journal stays off the loop that feeds the gateway.
                on_disk, newest = await asyncio.to_thread(joins_on_disk, bot.data_dir)
                if on_disk >= joins:
                    break
                if not bot.alive or time.monotonic() > deadline:
                    raise BenchError(
                        f"{on_disk:,} of {joins:,} joins on disk after {timeout:g}s:\n" + bot.log_tail()
                    )
                await asyncio.sleep(DISK_POLL)
            cpu = bot.cpu_seconds() - cpu0
            # The file's mtime says when the last write landed, finer than the polling interval.
            recorded_s = max(newest - wall0, sent_s)
    return {
        "joins": joins,
        "sent_s": sent_s,
        "recorded_s": recorded_s,
        "bot_cpu_s": cpu,
        "send_rate": joins / sent_s,
        "recorded_rate": joins / recorded_s,
        "cpu_ms_per_event": cpu / joins * 1000,
    }


async def measure_recorder(events: int, per_tick: int, large_day: int) -> dict[str, Any]:
    """EventRecorder + AtomicJsonStore alone: `per_tick` events then a flush, as its 1 s flusher would."""
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="statsbot-bench-recorder-") as folder:
        data_dir = Path(folder) / "data"
        recorder = EventRecorder(local_settings(data_dir), clock, DailyHistory(AtomicJsonStore(data_dir)))
        flushes: list[dict[str, float]] = []
        base = clock.now()
        cpu = wall = 0.0  # summed over the recording and flushing only, not the stall monitor's settling
        async with LoopStallMonitor() as stalls:
            for start in range(0, events, per_tick):
                cpu0, wall0 = time.process_time(), time.perf_counter()
                for n in range(start, min(events, start + per_tick)):
                    # Built here as the bot builds one per gateway event: part of the per-event cost.
                    recorder.record(
                        MemberEvent(
                            kind=EventKind.JOIN,
                            member_id=str(10**17 + n),
                            username=f"member{n}",
                            display_name=f"Member {n}",
                            timestamp=base + timedelta(microseconds=n),
                        )
                    )
                cpu += time.process_time() - cpu0
                wall += time.perf_counter() - wall0
                await stalls.reset()
                cpu0, wall0 = time.process_time(), time.perf_counter()
                if not await recorder.flush():
                    raise BenchError("a recorder flush failed")
                flush_s = time.perf_counter() - wall0
                cpu += time.process_time() - cpu0
                wall += flush_s
                flushes.append(
                    {
                        "events_in_day": min(events, start + per_tick),
                        "flush_ms": flush_s * 1000,
                        "loop_blocked_ms": stalls.max_stall_s * 1000,
                    }
                )
            large = await _large_day_flush(recorder, events, large_day, clock, stalls)
    return {
        "events": events,
        "per_tick": per_tick,
        "cpu_s": cpu,
        "wall_s": wall,
        "cpu_ms_per_event": cpu / events * 1000,
        "events_per_cpu_second": events / cpu,
        "events_per_wall_second": events / wall,
        "flushes": flushes,
        "large_day": large,
    }


async def _large_day_flush(
    recorder: EventRecorder, recorded: int, large_day: int, clock: SystemClock, stalls: LoopStallMonitor
) -> dict[str, float]:
    """Grow the day to `large_day` events, then time one flush and how long it blocked the event loop."""
    base = clock.now()
    for n in range(recorded, large_day):
        recorder.record(
            MemberEvent(
                kind=EventKind.JOIN,
                member_id=str(10**17 + n),
                username=f"member{n}",
                timestamp=base + timedelta(microseconds=n),
            )
        )
    if not await recorder.flush():  # writes the bulk; the measured flush below adds one event
        raise BenchError("a recorder flush failed")
    recorder.record(
        MemberEvent(kind=EventKind.JOIN, member_id=str(9 * 10**17), username="last", timestamp=clock.now())
    )
    await stalls.reset()
    started = time.perf_counter()
    if not await recorder.flush():
        raise BenchError("a recorder flush failed")
    return {
        "events_in_day": max(recorded, large_day) + 1,
        "flush_ms": (time.perf_counter() - started) * 1000,
        "loop_blocked_ms": stalls.max_stall_s * 1000,
    }


async def bench_events(
    joins: tuple[int, ...] = (20_000, 100_000),
    recorder_events: int = 20_000,
    per_tick: int = 3000,
    large_day: int = 100_000,
) -> BenchResult:
    """Events per second recorded to disk and CPU per event: (a) end to end, (b) recorder + store only."""
    result = BenchResult("events", "3. Join events recorded to disk")
    # A fresh bot per size: the larger run shows how the per-event cost grows with the day's size.
    runs = [await measure_end_to_end(n) for n in joins]
    local = await measure_recorder(recorder_events, per_tick, large_day)
    result.details = {"end_to_end": runs, "in_process": local}
    for e2e in runs:
        n = e2e["joins"]
        result.add(f"(a) {n:,} joins: sandbox send rate (ceiling for (a))", e2e["send_rate"], "events/s")
        result.add(
            f"(a) {n:,} joins: recorded to disk, end to end",
            e2e["recorded_rate"],
            "events/s",
            target=f">= {TARGET_RATE:,.0f}/s",
            passed=e2e["recorded_rate"] >= TARGET_RATE,
        )
        result.add(
            f"(a) {n:,} joins: bot CPU per event",
            e2e["cpu_ms_per_event"],
            "ms",
            target=f"< {TARGET_CPU_MS:g} ms",
            passed=e2e["cpu_ms_per_event"] < TARGET_CPU_MS,
        )
        result.add(
            f"(a) {n:,} joins: bot capacity on one core (1 / CPU per event)",
            1000 / e2e["cpu_ms_per_event"],
            "events/s",
        )
    result.add(
        f"(b) recorder+store: {recorder_events:,} events, flush every {per_tick:,}",
        local["events_per_wall_second"],
        "events/s",
        target=f">= {TARGET_RATE:,.0f}/s",
        passed=local["events_per_wall_second"] >= TARGET_RATE,
    )
    result.add(
        "(b) CPU per event",
        local["cpu_ms_per_event"],
        "ms",
        target=f"< {TARGET_CPU_MS:g} ms",
        passed=local["cpu_ms_per_event"] < TARGET_CPU_MS,
    )
    first, last = local["flushes"][0], local["flushes"][-1]
    result.add(f"(b) flush with {first['events_in_day']:,} events in the day", first["flush_ms"], "ms")
    result.add(f"(b) flush with {last['events_in_day']:,} events in the day", last["flush_ms"], "ms")
    large = local["large_day"]
    result.add(f"(b) flush with {large['events_in_day']:,} events in the day", large["flush_ms"], "ms")
    result.add(
        f"(b) event loop blocked by that flush ({large['events_in_day']:,} events)",
        large["loop_blocked_ms"],
        "ms",
    )
    return result
