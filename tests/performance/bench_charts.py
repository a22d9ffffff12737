"""Benchmark 8: a year of count history read back for a chart, and charts drawn in a worker process.

In process, on a temporary DATA_DIR. A year of 5-minute samples of five counts is written through
`CountHistory` itself (`record` at fabricated times, `flush` about once a fabricated day, then one `compact`),
which leaves what a bot running for a year keeps: 7 days raw, ~83 days hourly, ~275 days daily. Then:

1. the year's daily buckets, and the week's hourly and 5-minute buckets, are read back: time, the event
   loop's longest stall, peak memory (tracemalloc) and how many files each read opened;
2. a 1-year daily chart and a 7-day full-resolution chart are drawn by `ProcessChartRenderer` from this
   running loop: wall time, the worker's CPU (RUSAGE_CHILDREN deltas) and peak RSS, this process's RSS
   before, during and after, and the loop's longest stall.

A stall is judged on its wall time, the worst of the runs. Beside it: the most CPU the loop thread itself
used in one stall (the rest of a stall is waiting: for a core, on 2 shared cores with the worker busy on one,
or for the GIL a store thread holds) and the full garbage collections that fell in the runs (each stalls the
loop, whichever thread triggered it).
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import random
import resource
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from src.services.stats.count_history import (
    DAILY_FOLDER,
    HOURLY_FOLDER,
    RAW_FOLDER,
    RAW_SUFFIX,
    CountHistory,
)
from src.services.stats.history_buckets import HOUR, Bucket, Point
from src.types.charts import ChartSpec, Panel, PanelKind, Series
from src.utils.charts import PNG_SIGNATURE, ProcessChartRenderer
from src.utils.store import AtomicJsonStore
from tests.performance.harness import MB, BenchResult, LoopCpuStallMonitor, local_settings, median

NOW = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # noon in New York
ZONE = "America/New_York"  # a zone with DST: the year holds both changes
SAMPLE_EVERY = 300  # seconds: the bot's refresh
FLUSH_EVERY = 288  # samples per fabricated flush: one a day (the bot flushes each minute; same files)
KEYS = ("members", "online", "bans", "humans", "bots")
LOOP_BLOCKED_MS = 10.0  # issue #14: drawing a chart blocks the bot's event loop at most this long
RSS_GROWTH_MB = 1.0  # the bot's own RSS after drawing: no growth beyond allocator noise
WATCH_EVERY = 0.005  # seconds between RSS samples while a chart is drawn


class _FixedClock:
    """A clock standing where the fabrication puts it; CountHistory's loops never start, so nothing sleeps."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        """The fabricated time."""
        return self.at

    def monotonic(self) -> float:
        """The fabricated time in seconds."""
        return self.at.timestamp()

    async def sleep(self, seconds: float) -> None:
        """Never waits: nothing here is scheduled."""
        await asyncio.sleep(0)


class _CountingStore(AtomicJsonStore):
    """The real store, noting every document and journal read (a read is one file opened, or looked for)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.opened: list[str] = []

    async def read(self, name: str, *, validate: Any = None) -> Any | None:
        """Note the name, then read as usual."""
        self.opened.append(name)
        return await super().read(name, validate=validate)

    async def read_lines(self, name: str) -> list[Any]:
        """Note the name, then read as usual."""
        self.opened.append(name)
        return await super().read_lines(name)


def _samples(start: int, end: int, seed: int = 14) -> Iterator[tuple[int, dict[str, int]]]:
    """Every 5 minutes from `start` to `end` (epoch seconds): a slowly growing guild with a daily rhythm."""
    rng = random.Random(seed)
    members, bans, bots = 10_000, 120, 40
    for at in range(start, end, SAMPLE_EVERY):
        roll = rng.random()
        members += 1 if roll < 0.04 else -1 if roll < 0.07 else 0
        bans += rng.random() < 0.002
        bots += rng.random() < 0.0005
        phase = 2 * math.pi * (at % 86_400) / 86_400
        online = round(members * (0.22 + 0.06 * math.sin(phase))) + rng.randint(-15, 15)
        yield at, {"members": members, "online": online, "bans": bans, "humans": members - bots, "bots": bots}


def _stored_files(data_dir: Path) -> dict[str, int]:
    """How many raw journals, hourly and daily documents the history folder holds."""
    return {
        "raw": len(list((data_dir / RAW_FOLDER).glob(f"*{RAW_SUFFIX}"))),
        "hourly": len(list((data_dir / HOURLY_FOLDER).glob("*.json"))),
        "daily": len(list((data_dir / DAILY_FOLDER).glob("*.json"))),
    }


async def fabricate(data_dir: Path, days: int) -> dict[str, Any]:
    """Write `days` days of samples up to NOW through CountHistory, then compact as the daily loop would."""
    clock = _FixedClock(NOW)
    history = CountHistory(local_settings(data_dir, timezone=ZONE), clock, AtomicJsonStore(data_dir))
    end = int(NOW.timestamp())
    start = end - days * 86_400
    started = time.perf_counter()
    samples = 0
    for at, values in _samples(start, end):
        clock.at = datetime.fromtimestamp(at, UTC)
        history.record(values)
        samples += 1
        if history.pending_samples >= FLUSH_EVERY and not await history.flush():
            raise RuntimeError(f"a fabricated flush at {clock.at} failed")
    clock.at = NOW
    if not await history.flush():
        raise RuntimeError("the last fabricated flush failed")
    flushed = time.perf_counter()
    await history.compact()
    return {
        "days": days,
        "samples": samples,
        "keys": len(KEYS),
        "record_and_flush_s": flushed - started,
        "compact_s": time.perf_counter() - flushed,
        "files": _stored_files(data_dir),
        "bytes": sum(p.stat().st_size for p in (data_dir / "history").rglob("*") if p.is_file()),
    }


class _FullCollections:
    """Times CPython's full (generation 2) garbage collections while installed: they stall the loop too."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self._started = 0.0

    def __enter__(self) -> _FullCollections:
        """Start timing."""
        gc.callbacks.append(self._note)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop timing."""
        gc.callbacks.remove(self._note)

    def _note(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.durations.append(time.perf_counter() - self._started)


def _kind(name: str) -> str:
    return "raw" if name.startswith(RAW_FOLDER) else "hourly" if name.startswith(HOURLY_FOLDER) else "daily"


async def measure_reads(
    data_dir: Path, reads: dict[str, tuple[timedelta, Bucket]], repeats: int
) -> tuple[dict[str, dict[str, Any]], dict[str, list[Point]]]:
    """Each read of "members" `repeats` times, interleaved (time, stalls, files opened); then its memory."""
    zone = local_settings(data_dir, timezone=ZONE).zone
    store = _CountingStore(data_dir)
    # A new CountHistory, as after a restart: nothing pending, nothing cached.
    history = CountHistory(local_settings(data_dir, timezone=ZONE), _FixedClock(NOW), store)
    walls: dict[str, list[float]] = {name: [] for name in reads}
    cpus: dict[str, list[float]] = {name: [] for name in reads}
    stalls_s: dict[str, list[float]] = {name: [] for name in reads}
    busy_s: dict[str, list[float]] = {name: [] for name in reads}
    opened: dict[str, list[str]] = {}
    points: dict[str, list[Point]] = {}
    full_gcs: dict[str, list[float]] = {name: [] for name in reads}
    async with LoopCpuStallMonitor() as stalls:
        for _ in range(repeats):
            for name, (span, bucket) in reads.items():
                store.opened.clear()
                await stalls.reset()
                with _FullCollections() as collections:
                    cpu0, wall0 = time.process_time(), time.perf_counter()
                    points[name] = await history.buckets("members", NOW - span, NOW, bucket, zone)
                    walls[name].append(time.perf_counter() - wall0)
                    cpus[name].append(time.process_time() - cpu0)  # includes the store's worker threads
                full_gcs[name] += collections.durations
                stalls_s[name].append(stalls.max_stall_s)
                busy_s[name].append(stalls.max_busy_s)
                opened[name] = list(store.opened)
    runs: dict[str, dict[str, Any]] = {}
    for name, (span, bucket) in reads.items():
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            await history.buckets("members", NOW - span, NOW, bucket, zone)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        kinds = Counter(_kind(n) for n in opened[name])
        runs[name] = {
            "span_days": span / timedelta(days=1),
            "bucket": bucket if isinstance(bucket, str) else f"{bucket.total_seconds():g} s",
            "points": len(points[name]),
            "wall_ms": median(walls[name]) * 1000,
            "cpu_ms": median(cpus[name]) * 1000,
            "max_loop_blocked_ms": max(stalls_s[name]) * 1000,
            "median_loop_blocked_ms": median(stalls_s[name]) * 1000,
            "max_loop_busy_ms": max(busy_s[name]) * 1000,
            "loop_blocked_ms_samples": [round(s * 1000, 2) for s in stalls_s[name]],
            "loop_busy_ms_samples": [round(s * 1000, 2) for s in busy_s[name]],
            "full_gc_ms": [round(d * 1000, 2) for d in full_gcs[name]],
            "peak_kib": peak / 1024,
            "files_opened": len(opened[name]),
            "files_by_kind": {kind: kinds.get(kind, 0) for kind in ("daily", "hourly", "raw")},
            "opened": opened[name],
            "wall_ms_samples": [round(w * 1000, 2) for w in walls[name]],
        }
    return runs, points


def line_chart(title: str, points: list[Point], zone: tzinfo) -> ChartSpec:
    """A one-panel line chart of the members count at `points` (each bucket's last value)."""
    first, last = points[0].at.astimezone(zone), points[-1].at.astimezone(zone)
    return ChartSpec(
        title=title,
        subtitle=f"{first.day} {first:%b %Y} to {last.day} {last:%b %Y}, {ZONE}",
        panels=[
            Panel(
                kind=PanelKind.LINE,
                title="Members",
                series=[Series(label="Members", values=[p.last for p in points])],
                times=[p.at.astimezone(zone) for p in points],
            )
        ],
        alt_text=f"Members from {points[0].last:,.0f} to {points[-1].last:,.0f} over {len(points)} points.",
    )


def _vm_hwm_kib(pid: int) -> int:
    """A process's peak RSS so far (VmHWM, KiB); 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class _Watch:
    """Samples this process's RSS and its children's peak RSS every few ms, on this loop, until closed."""

    def __init__(self, me: psutil.Process) -> None:
        self._me = me
        self.rss_peak = 0
        self.child_peak_kib = 0
        self._tid = threading.get_native_id()  # children are spawned from the loop's thread
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _Watch:
        """Start sampling."""
        self._task = asyncio.create_task(self._run(), name="chart-rss-watch")
        await asyncio.sleep(0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop sampling."""
        self._sample()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _children(self) -> list[int]:
        try:
            with open(f"/proc/{os.getpid()}/task/{self._tid}/children", encoding="ascii") as listed:
                return [int(pid) for pid in listed.read().split()]
        except OSError:  # no CONFIG_PROC_CHILDREN: psutil walks every process instead
            return [child.pid for child in self._me.children()]

    def _sample(self) -> None:
        self.rss_peak = max(self.rss_peak, self._me.memory_info().rss)
        for pid in self._children():
            self.child_peak_kib = max(self.child_peak_kib, _vm_hwm_kib(pid))

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(WATCH_EVERY)


async def _draw(
    renderer: ProcessChartRenderer, spec: ChartSpec, stalls: LoopCpuStallMonitor, me: psutil.Process
) -> dict[str, Any]:
    """Draw one chart through the worker; its wall time, the worker's CPU and peak RSS, the loop's stall."""
    await stalls.reset()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with _FullCollections() as collections:
        async with _Watch(me) as watch:
            png = await renderer.render(spec)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not png.startswith(PNG_SIGNATURE):
        raise RuntimeError("the chart worker returned something that is not a PNG")
    # ru_maxrss of RUSAGE_CHILDREN is the largest child ever reaped: exact for this one when it rose.
    child_peak_kib = max(watch.child_peak_kib, after.ru_maxrss if after.ru_maxrss > before.ru_maxrss else 0)
    return {
        "wall_ms": wall * 1000,
        "worker_cpu_ms": (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000,
        "loop_blocked_ms": stalls.max_stall_s * 1000,
        "loop_busy_ms": stalls.max_busy_s * 1000,
        "full_gc_ms": [round(d * 1000, 2) for d in collections.durations],
        "worker_peak_mb": child_peak_kib / 1024,
        "own_rss_peak_mb": watch.rss_peak / MB,
        "png_bytes": len(png),
    }


async def measure_drawing(specs: dict[str, ChartSpec], matplotlib_dir: Path, repeats: int) -> dict[str, Any]:
    """A cold first chart, then each chart `repeats` times interleaved, watching this process's RSS."""
    me = psutil.Process()
    renderer = ProcessChartRenderer(matplotlib_dir=matplotlib_dir)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in specs}
    async with LoopCpuStallMonitor() as stalls:
        # The first worker finds no font cache and builds it; it also warms this process (imports, pipes).
        cold = await _draw(renderer, next(iter(specs.values())), stalls, me)
        gc.collect()
        rss_before = me.memory_info().rss / MB
        for _ in range(repeats):
            for name, spec in specs.items():
                runs[name].append(await _draw(renderer, spec, stalls, me))
        gc.collect()
        rss_after = me.memory_info().rss / MB
    charts = {}
    for name, drawn in runs.items():
        charts[name] = {
            "points": len(specs[name].panels[0].times),
            "wall_ms": median(d["wall_ms"] for d in drawn),
            "worker_cpu_ms": median(d["worker_cpu_ms"] for d in drawn),
            "max_loop_blocked_ms": max(d["loop_blocked_ms"] for d in drawn),
            "median_loop_blocked_ms": median(d["loop_blocked_ms"] for d in drawn),
            "max_loop_busy_ms": max(d["loop_busy_ms"] for d in drawn),
            "worker_peak_mb": max(d["worker_peak_mb"] for d in drawn),
            "png_bytes": drawn[-1]["png_bytes"],
            "runs": drawn,
        }
    return {
        "cold": cold,
        "charts": charts,
        "rss_before_mb": rss_before,
        "rss_peak_mb": max(d["own_rss_peak_mb"] for drawn in runs.values() for d in drawn),
        "rss_after_mb": rss_after,
        "charts_drawn": repeats * len(specs),
    }


async def bench_charts(days: int = 365, repeats: int = 5) -> BenchResult:
    """A year of count history read back for charts, and charts drawn in a worker (loop blocked <= 10 ms)."""
    result = BenchResult("charts", "8. Charts and count history")
    reads: dict[str, tuple[timedelta, Bucket]] = {
        "year_daily": (timedelta(days=365), "day"),
        "week_hourly": (timedelta(days=7), HOUR),
        "week_5min": (timedelta(days=7), timedelta(seconds=SAMPLE_EVERY)),
    }
    with tempfile.TemporaryDirectory(prefix="statsbot-bench-charts-") as folder:
        data_dir = Path(folder) / "data"
        made = await fabricate(data_dir, days)
        read_runs, points = await measure_reads(data_dir, reads, repeats)
        zone = local_settings(data_dir, timezone=ZONE).zone
        specs = {
            "year_daily": line_chart("Members, the last 365 days", points["year_daily"], zone),
            "week_5min": line_chart("Members, the last 7 days", points["week_5min"], zone),
        }
        drawing = await measure_drawing(specs, Path(folder) / "matplotlib", repeats)
    result.details = {"history": made, "reads": read_runs, "drawing": drawing, "repeats": repeats}
    _add_history_rows(result, made, read_runs)
    _add_drawing_rows(result, drawing)
    return result


def _add_stall_rows(
    result: BenchResult, label: str, run: dict[str, Any], runs: int, *, judged: bool = True
) -> None:
    """The longest event-loop stall (judged against the drawing target, or only shown), and the median."""
    worst = run["max_loop_blocked_ms"]
    if judged:
        result.add(
            f"{label}: longest event-loop stall (worst of {runs})",
            worst,
            "ms",
            target=f"<= {LOOP_BLOCKED_MS:g} ms",
            passed=worst <= LOOP_BLOCKED_MS,
        )
    else:  # the issue sets the 10 ms target for drawing; a read's stall is shown, not judged
        result.add(f"{label}: longest event-loop stall (worst of {runs})", worst, "ms")
    result.add(
        f"{label}: longest stall, median of {runs} / most CPU the loop thread used in one stall "
        "(the rest: waiting for a core or the GIL)",
        f"{run['median_loop_blocked_ms']:.1f} ms / {run['max_loop_busy_ms']:.1f} ms",
    )


def _add_history_rows(result: BenchResult, made: dict[str, Any], reads: dict[str, dict[str, Any]]) -> None:
    files = made["files"]
    result.add(
        f"history fabricated through CountHistory: {made['days']} days of 5-minute samples of "
        f"{made['keys']} keys (record + flush, then compact); files kept raw / hourly / daily",
        f"{made['samples']:,} samples in {made['record_and_flush_s'] + made['compact_s']:.1f} s; "
        f"{files['raw']} / {files['hourly']} / {files['daily']}",
    )
    labels = {
        "year_daily": "read 365 days of members in daily buckets",
        "week_hourly": "read 7 days of members in hourly buckets",
        "week_5min": "read 7 days of members at full resolution (5-minute buckets)",
    }
    for name, run in reads.items():
        label = f"{labels[name]} ({run['points']:,} points)"
        by_kind = run["files_by_kind"]
        result.add(f"{label}: median wall", run["wall_ms"], "ms")
        result.add(f"{label}: peak memory (tracemalloc)", run["peak_kib"], "KiB")
        result.add(
            f"{label}: files opened (daily / hourly / raw)",
            f"{run['files_opened']} ({by_kind['daily']} / {by_kind['hourly']} / {by_kind['raw']})",
        )
        _add_stall_rows(result, label, run, len(run["wall_ms_samples"]), judged=False)
    collections = [ms for run in reads.values() for ms in run["full_gc_ms"]]
    timed = sum(len(run["wall_ms_samples"]) for run in reads.values())
    result.add(
        f"full garbage collections (generation 2) during the {timed} timed reads: count, longest",
        f"{len(collections)}, {max(collections, default=0.0):.1f} ms",
    )


def _add_drawing_rows(result: BenchResult, drawing: dict[str, Any]) -> None:
    cold = drawing["cold"]
    result.add(
        "first chart, empty matplotlib cache (the worker builds its font cache): wall", cold["wall_ms"], "ms"
    )
    labels = {"year_daily": "1-year daily chart", "week_5min": "7-day full-resolution chart"}
    for name, chart in drawing["charts"].items():
        label = f"{labels[name]} ({chart['points']:,} points) via ProcessChartRenderer"
        result.add(f"{label}: median wall", chart["wall_ms"], "ms")
        result.add(f"{label}: worker CPU (median)", chart["worker_cpu_ms"], "ms")
        result.add(f"{label}: worker peak RSS", chart["worker_peak_mb"], "MiB")
        _add_stall_rows(result, label, chart, len(chart["runs"]))
    collections = [
        ms for chart in drawing["charts"].values() for run in chart["runs"] for ms in run["full_gc_ms"]
    ]
    result.add(
        f"full garbage collections (generation 2) in this process during the {drawing['charts_drawn']} "
        "timed charts: count, longest",
        f"{len(collections)}, {max(collections, default=0.0):.1f} ms",
    )
    result.add("this process's RSS before drawing", drawing["rss_before_mb"], "MiB")
    result.add("this process's RSS, peak while drawing", drawing["rss_peak_mb"], "MiB")
    result.add(f"this process's RSS after {drawing['charts_drawn']} charts", drawing["rss_after_mb"], "MiB")
    growth = drawing["rss_after_mb"] - drawing["rss_before_mb"]
    result.add(
        "this process's RSS growth (after - before)",
        growth,
        "MiB",
        target=f"<= {RSS_GROWTH_MB:g} MiB (drawing happens in the worker)",
        passed=growth <= RSS_GROWTH_MB,
    )
