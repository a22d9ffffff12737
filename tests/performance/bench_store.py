"""Benchmark 4: the cost of one flush of today's day file as the history in DATA_DIR grows (in process)."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from src.services.stats.events import EventRecorder
from src.services.stats.history import DailyHistory, day_name
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.clock import SystemClock
from src.utils.store import AtomicJsonStore
from tests.performance.harness import BenchResult, local_settings, median

FLAT_RATIO = 1.25  # "flat": fsync latency on a shared disk alone moves a median by 10-20 %
PAST_DAY_EVENTS = 50  # history files only need to exist; their size does not enter a flush


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
    history_days: tuple[int, ...] = (1, 100, 400), today_events: int = 1000, repeats: int = 21
) -> BenchResult:
    """Flush cost of today's file with `today_events` events at each history size; target: flat."""
    result = BenchResult("store", "4. Store flush vs history size")
    runs = await measure_flushes(history_days, today_events, repeats)
    result.details = {"today_events": today_events, "repeats": repeats, "runs": runs}
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
    return result
