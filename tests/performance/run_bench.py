"""`make bench`: run every benchmark once, print a markdown table, write bench/results.json and results.md.

Figures are reported as measured; a missed target is shown as FAIL but does not fail the run. The exit
status is 1 only when a benchmark could not measure at all (the bot died, a wait timed out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from tests.performance.bench_charts import bench_charts
from tests.performance.bench_counters import bench_counters
from tests.performance.bench_events import bench_events
from tests.performance.bench_memory import bench_memory
from tests.performance.bench_raid import bench_raid
from tests.performance.bench_startup import bench_startup
from tests.performance.bench_steady import bench_steady
from tests.performance.bench_store import bench_store
from tests.performance.harness import BenchResult, quiet_logging

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "bench"
REPRODUCE = "make bench  # or: .venv/bin/python -m tests.performance.run_bench"

Bench = Callable[[], Awaitable[BenchResult]]
# Cheap in-process benchmarks first, so a broken bot still leaves their figures in the results.
BENCHMARKS: dict[str, tuple[str, Bench]] = {
    "memory": ("1. Memory and CPU after ready", bench_memory),
    "startup": ("2. Start-up to first counter rename", bench_startup),
    "events": ("3. Join events recorded to disk", bench_events),
    "store": ("4. Store flush vs history size and day size", bench_store),
    "steady": ("5. Steady state, REST per simulated hour", bench_steady),
    "raid": ("6. Simulated one-hour raid", bench_raid),
    "counters": ("7. Every counter kind", bench_counters),
    "charts": ("8. Charts and count history", bench_charts),
}
ORDER = ("store", "events", "charts", "startup", "memory", "counters", "steady", "raid")


async def run_one(name: str, title: str, bench: Bench) -> BenchResult:
    """Run one benchmark; an exception becomes an error row instead of ending the whole run."""
    print(f"running {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        result = await bench()
    except Exception as exc:
        result = BenchResult(name, title, error=f"{type(exc).__name__}: {exc}")
        result.details = {"traceback": traceback.format_exc()}
        result.add("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    result.duration_s = time.perf_counter() - started
    print(f"  {name} took {result.duration_s:.1f} s", file=sys.stderr, flush=True)
    return result


async def run_all(names: Sequence[str]) -> list[BenchResult]:
    """Run the named benchmarks one after another (never side by side: they would share the 2 cores)."""
    results = []
    for name in names:
        title, bench = BENCHMARKS[name]
        results.append(await run_one(name, title, bench))
    return results


def result_label(passed: bool | None, error: str | None) -> str:
    """PASS, FAIL, ERROR, or empty for an informational figure."""
    if error is not None:
        return "ERROR"
    return "" if passed is None else "PASS" if passed else "FAIL"


def markdown_table(results: Sequence[BenchResult]) -> str:
    """Every row of every benchmark as one markdown table."""
    lines = ["| Benchmark | Metric | Value | Target | Result |", "|---|---|---|---|---|"]
    for result in results:
        for row in result.rows:
            cells = [
                result.title,
                row.metric,
                row.shown_value(),
                row.target,
                result_label(row.passed, result.error if row.metric == "error" else None),
            ]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """Python and platform facts that make figures comparable between runs."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "memory_total_mb": round(psutil.virtual_memory().total / (1024 * 1024)),
    }


def summary(results: Sequence[BenchResult]) -> dict[str, int]:
    """How many targets passed and failed, and how many benchmarks errored."""
    targets = [row.passed for result in results for row in result.rows if row.passed is not None]
    return {
        "targets_passed": sum(1 for p in targets if p),
        "targets_failed": sum(1 for p in targets if not p),
        "benchmarks_errored": sum(1 for r in results if r.error is not None),
    }


def write_results(results: Sequence[BenchResult], out: Path, started: datetime, duration_s: float) -> str:
    """Write results.json and results.md into `out`; return the markdown table."""
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(results)
    counts = summary(results)
    env = environment()
    document: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 1),
        "environment": env,
        "summary": counts,
        "reproduce": REPRODUCE,
        "benchmarks": [result.to_json() for result in results],
    }
    (out / "results.json").write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    markdown = (
        "# StatsBot benchmarks\n\n"
        f"Measured {document['date']} in {duration_s:.0f} s on {env['platform']} ({env['cpu_count']} CPUs), "
        f"Python {env['python']}: {counts['targets_passed']} targets passed, "
        f"{counts['targets_failed']} failed, {counts['benchmarks_errored']} benchmarks errored.\n\n"
        f"{table}\n\n"
        f"Reproduce: `{REPRODUCE}` (about 2-3 minutes; every figure in `bench/results.json`).\n"
    )
    (out / "results.md").write_text(markdown, encoding="utf-8")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks, print the table, write the result files; 1 if a benchmark errored."""
    parser = argparse.ArgumentParser(prog="python -m tests.performance.run_bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for results.json/results.md")
    args = parser.parse_args(argv)
    names = [name for name in ORDER if not args.only or name in args.only]
    quiet_logging()
    started, clock0 = datetime.now(UTC), time.perf_counter()
    results = asyncio.run(run_all(names))
    # Print in the numbered order of the brief, whatever order they ran in.
    results.sort(key=lambda r: list(BENCHMARKS).index(r.name))
    duration = time.perf_counter() - clock0
    table = write_results(results, args.out, started, duration)
    print(table)
    print(f"\nbench finished in {duration:.0f} s; wrote results.json and results.md in {args.out}")
    return 1 if summary(results)["benchmarks_errored"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
