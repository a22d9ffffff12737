"""Benchmark 4: the cost of one flush of today's events as the history in DATA_DIR and the day itself grow.

In process: (1) a flush against 1 to 400 stored day files; (2) 100 new events flushed into a day already
holding 100,000 against the same into an empty day: bytes written, time, and how long the event loop stalled.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from src.services.stats.events import EventRecorder
from src.services.stats.history import DailyHistory, day_name
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.clock import SystemClock
from src.utils.store import AtomicJsonStore
from tests.performance.harness import BenchResult, LoopStallMonitor, local_settings, median

FLAT_RATIO = 1.25  # "flat": fsync latency on a shared disk alone moves a median by 10-20 %
PAST_DAY_EVENTS = 50  # history files only need to exist; their size does not enter a flush
# A flush of 100 new events into a day of 100,000 against one into an empty day.
LARGE_DAY_FLUSH_MS = 2.0
LARGE_DAY_FLUSH_BYTES = 64 * 1024
LARGE_DAY_RATIO = 1.5
LOOP_BLOCKED_MS = 10.0


def _events(day: date, count: int, first_id: int) -> list[MemberEvent]:
    """`count` joins spread over `day` (noon UTC onwards, one second apart)."""
    start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)
    return [
        MemberEvent(
            kind=EventKind.JOIN,
            member_id=str(first_id + i),
            username=f"member{first_id + i}",
            display_name=f"Member {first_id + i}",
            timestamp=start + timedelta(seconds=i),
        )
        for i in range(count)
    ]


def _seed_history(data_dir: Path, today: date, days: int, today_events: int) -> None:
    """Write `days` day files, today's holding `today_events` events, as the bot would have left them."""
    # Plain writes without fsync: these files are the fixture, not what is measured.
    template = DailyStats(date=today, events=_events(today, PAST_DAY_EVENTS, 10**17)).model_dump(mode="json")
    for back in range(1, days):
        d = today - timedelta(days=back)
        path = data_dir / day_name(d)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**template, "date": d.isoformat()}), encoding="utf-8")
    stats = DailyStats(date=today, events=_events(today, today_events, 2 * 10**17))
    path = data_dir / day_name(today)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stats.model_dump(mode="json")), encoding="utf-8")


class _ByteCountingStore(AtomicJsonStore):
    """The real store, adding up the bytes each write or append hands to the disk."""

    def __init__(self, root: Path, clock: SystemClock) -> None:
        super().__init__(root, clock=clock)
        self.bytes_written = 0

    async def write_json_text(self, name: str, text: str) -> None:
        self.bytes_written += len(text.encode("utf-8"))
        await super().write_json_text(name, text)

    async def append_lines(self, name: str, lines: Sequence[str]) -> None:
        self.bytes_written += sum(len(line.encode("utf-8")) + 1 for line in lines)
        await super().append_lines(name, lines)


class _Day:
    """A recorder on its own DATA_DIR whose today already holds `events` events, flushed `batch` at a time."""

    def __init__(self, root: Path, events: int, batch: int, clock: SystemClock) -> None:
        self.events = events
        self.batch = batch
        self.clock = clock
        data_dir = root / f"day-{events}"
        _seed_history(data_dir, clock.now().date(), 1, events)
        self.store = _ByteCountingStore(data_dir, clock)
        self.recorder = EventRecorder(local_settings(data_dir), clock, DailyHistory(self.store))
        self.walls: list[float] = []
        self.bytes: list[int] = []
        self.stalls: list[float] = []
        self.fold_ms = self.fold_loop_blocked_ms = math.nan
        self._next_id = 5 * 10**17

    async def flush_batch(self, stalls: LoopStallMonitor, *, measured: bool = True) -> None:
        """Record `batch` new joins, then time the flush that writes them and watch the loop meanwhile."""
        for _ in range(self.batch):
            self._next_id += 1
            self.recorder.record(
                MemberEvent(
                    kind=EventKind.JOIN,
                    member_id=str(self._next_id),
                    username=f"newcomer{self._next_id}",
                    display_name=f"Newcomer {self._next_id}",
                    timestamp=self.clock.now(),
                )
            )
        await stalls.reset()
        written = self.store.bytes_written
        started = time.perf_counter()
        ok = await self.recorder.flush()
        wall = time.perf_counter() - started
        if not ok:
            raise RuntimeError(f"a flush into the day of {self.events:,} events failed")
        if measured:
            self.walls.append(wall)
            self.bytes.append(self.store.bytes_written - written)
            self.stalls.append(stalls.max_stall_s)

    async def fold(self, stalls: LoopStallMonitor) -> None:
        """Stop the recorder, which folds the day's journal into its file, timing it and watching the loop."""
        await stalls.reset()
        started = time.perf_counter()
        await self.recorder.stop()
        self.fold_ms = (time.perf_counter() - started) * 1000
        self.fold_loop_blocked_ms = stalls.max_stall_s * 1000

    def summary(self) -> dict[str, Any]:
        """Median time and bytes per flush, the worst loop stall, the fold, and the raw samples."""
        return {
            "fold_ms": self.fold_ms,
            "fold_loop_blocked_ms": self.fold_loop_blocked_ms,
            "events_in_day": self.events,
            "batch": self.batch,
            "wall_ms": median(self.walls) * 1000,
            "bytes": median(self.bytes),
            "max_loop_blocked_ms": max(self.stalls, default=0.0) * 1000,
            "wall_ms_samples": [round(w * 1000, 3) for w in self.walls],
            "bytes_samples": self.bytes,
            "loop_blocked_ms_samples": [round(s * 1000, 3) for s in self.stalls],
        }


async def measure_large_day(large_day: int, batch: int, repeats: int) -> dict[str, dict[str, Any]]:
    """Flushes of `batch` new events into a day of `large_day` events and into an empty day, interleaved."""
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="statsbot-bench-large-day-") as folder:
        days = [_Day(Path(folder), events, batch, clock) for events in (0, large_day)]
        async with LoopStallMonitor() as stalls:
            for day in days:
                # The first flush merges the stored day into memory, as the bot does once after start-up.
                await day.flush_batch(stalls, measured=False)
            for _ in range(repeats):
                for day in days:
                    await day.flush_batch(stalls)
            for day in days:
                await day.fold(stalls)
        empty, large = (day.summary() for day in days)
    return {"empty": empty, "large": large}


class _History:
    """One DATA_DIR seeded with `days` day files and a recorder on it, warmed up like the bot after start."""

    def __init__(self, root: Path, days: int, today_events: int, clock: SystemClock) -> None:
        self.days = days
        self.data_dir = root / f"history-{days}"
        self.clock = clock
        _seed_history(self.data_dir, clock.now().date(), days, today_events)
        store = AtomicJsonStore(self.data_dir, clock=clock)
        self.recorder = EventRecorder(local_settings(self.data_dir), clock, DailyHistory(store))
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self._next_id = 4 * 10**17

    async def flush_one(self, *, measured: bool = True) -> None:
        """Record one new join and time the flush that writes it."""
        self._next_id += 1
        self.recorder.record(
            MemberEvent(
                kind=EventKind.JOIN,
                member_id=str(self._next_id),
                username=f"newcomer{self._next_id}",
                timestamp=self.clock.now(),
            )
        )
        cpu0, wall0 = time.process_time(), time.perf_counter()
        ok = await self.recorder.flush()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0  # CPU includes the worker thread
        if not ok:
            raise RuntimeError(f"a flush failed with {self.days} day files")
        if measured:
            self.walls.append(wall)
            self.cpus.append(cpu)

    def summary(self) -> dict[str, Any]:
        """Median figures and the raw samples."""
        return {
            "days": self.days,
            "day_files": len(list((self.data_dir / "events").glob("*.json"))),
            "wall_ms": median(self.walls) * 1000,
            "cpu_ms": median(self.cpus) * 1000,
            "wall_ms_samples": [round(w * 1000, 3) for w in self.walls],
        }


async def measure_flushes(
    history_days: tuple[int, ...], today_events: int, repeats: int
) -> list[dict[str, Any]]:
    """Median flush cost at each history size, sizes measured in turn so machine noise hits them alike."""
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="statsbot-bench-store-") as folder:
        histories = [_History(Path(folder), days, today_events, clock) for days in history_days]
        for history in histories:
            # The first flush merges today's file into memory, as the bot does once after start-up.
            await history.flush_one(measured=False)
        for _ in range(repeats):
            for history in histories:
                await history.flush_one()
        return [history.summary() for history in histories]


async def bench_store(
    history_days: tuple[int, ...] = (1, 100, 400),
    today_events: int = 1000,
    repeats: int = 21,
    large_day: int = 100_000,
    batch: int = 100,
) -> BenchResult:
    """Flush cost at each history size (target: flat) and of `batch` events into a day of `large_day`."""
    result = BenchResult("store", "4. Store flush vs history size and day size")
    runs = await measure_flushes(history_days, today_events, repeats)
    sizes = await measure_large_day(large_day, batch, repeats)
    result.details = {"today_events": today_events, "repeats": repeats, "runs": runs, "day_size": sizes}
    for run in runs:
        files = f"{run['days']} day file{'s' * (run['days'] != 1)}"
        result.add(
            f"{files}: flush of today's {today_events:,} events (median wall)",
            run["wall_ms"],
            "ms",
        )
        result.add(f"{files}: same flush (median CPU)", run["cpu_ms"], "ms")
    first, last = runs[0], runs[-1]
    ratio = last["wall_ms"] / first["wall_ms"] if first["wall_ms"] else float("nan")
    cpu_ratio = last["cpu_ms"] / first["cpu_ms"] if first["cpu_ms"] else float("nan")
    result.add(
        f"ratio {last['days']}-day / {first['days']}-day (wall)",
        ratio,
        "x",
        target=f"flat (<= {FLAT_RATIO:g})",
        passed=ratio <= FLAT_RATIO,
    )
    result.add(f"ratio {last['days']}-day / {first['days']}-day (CPU)", cpu_ratio, "x")
    _add_day_size_rows(result, sizes["empty"], sizes["large"])
    return result


def _add_day_size_rows(result: BenchResult, empty: dict[str, Any], large: dict[str, Any]) -> None:
    """The rows comparing a flush into a large day with the same flush into an empty one."""
    into = f"flush of {large['batch']:,} new events into a day of {large['events_in_day']:,}"
    result.add(
        f"{into} (median wall)",
        large["wall_ms"],
        "ms",
        target=f"<= {LARGE_DAY_FLUSH_MS:g} ms",
        passed=large["wall_ms"] <= LARGE_DAY_FLUSH_MS,
    )
    result.add(
        f"{into}: bytes written (median)",
        large["bytes"] / 1024,
        "KiB",
        target=f"<= {LARGE_DAY_FLUSH_BYTES // 1024} KiB",
        passed=large["bytes"] <= LARGE_DAY_FLUSH_BYTES,
    )
    result.add("same flush into an empty day (median wall)", empty["wall_ms"], "ms")
    ratio = large["wall_ms"] / empty["wall_ms"] if empty["wall_ms"] else float("nan")
    result.add(
        f"ratio day of {large['events_in_day']:,} / empty day (wall)",
        ratio,
        "x",
        target=f"<= {LARGE_DAY_RATIO:g}",
        passed=ratio <= LARGE_DAY_RATIO,
    )
    result.add(
        f"{into}: longest event-loop stall (worst of {len(large['wall_ms_samples'])})",
        large["max_loop_blocked_ms"],
        "ms",
        target=f"<= {LOOP_BLOCKED_MS:g} ms",
        passed=large["max_loop_blocked_ms"] <= LOOP_BLOCKED_MS,
    )
    fold = "fold of that day's journal into its file (off the hot path: once quiet, after midnight, on stop)"
    result.add(f"{fold} (wall)", large["fold_ms"], "ms")
    result.add(f"{fold}: longest event-loop stall", large["fold_loop_blocked_ms"], "ms")
