"""CountHistory: samples flushed to raw journals, compacted to hours and local days, read back lazily."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from contextlib import aclosing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from src.core.exceptions import StoreError
from src.services.stats import count_history
from src.services.stats.count_history import CountHistory
from src.services.stats.history_buckets import Point, local_midnight
from src.types.models import CounterKind, DailyStats
from src.utils.store import AtomicJsonStore
from tests.clock import ManualClock
from tests.fakes import MemoryStore, make_settings

START = datetime(2026, 3, 1, 5, tzinfo=UTC)  # Sunday 00:00 in New York
RAW = "history/raw/2026-03-01.jsonl"
HOURLY = "history/hourly/2026-03.json"
DAILY = "history/daily/2026.json"
NEW_YORK = ZoneInfo("America/New_York")
EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


class CountingStore(MemoryStore):
    """A MemoryStore that notes every document and journal read, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    async def read(self, name: str, *, validate: Any = None) -> Any | None:
        self.reads.append(name)
        return await super().read(name, validate=validate)

    async def read_lines(self, name: str) -> list[Any]:
        self.reads.append(name)
        return await super().read_lines(name)


class FailingStore(MemoryStore):
    """A MemoryStore whose next writes or deletes of names with a given prefix fail, as a crash would stop."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_write: str | None = None
        self.fail_delete: str | None = None

    async def write(self, name: str, data: Any) -> None:
        if self.fail_write is not None and name.startswith(self.fail_write):
            raise StoreError(f"could not write {name}")
        await super().write(name, data)

    async def delete(self, name: str) -> None:
        if self.fail_delete is not None and name.startswith(self.fail_delete):
            raise StoreError(f"could not delete {name}")
        await super().delete(name)


def history_on(store: MemoryStore, clock: ManualClock, **settings: Any) -> CountHistory:
    return CountHistory(make_settings(**{"timezone": "America/New_York", **settings}), clock, store)


async def start(history: CountHistory, clock: ManualClock) -> None:
    """Start the service and let its loops reach their first wait."""
    await history.start()
    await clock.advance(0)


async def move_to(clock: ManualClock, when: datetime) -> None:
    await clock.advance((when - clock.now()).total_seconds())


async def record_at(history: CountHistory, clock: ManualClock, when: datetime, **values: int) -> None:
    await move_to(clock, when)
    history.record(values)


async def points(
    history: CountHistory, key: str, start: datetime = EVER[0], end: datetime = EVER[1]
) -> list[Point]:
    return [p async for p in history.read(key, start, end)]


def values_of(found: Sequence[Point]) -> list[tuple[datetime, float, float, float]]:
    return [(p.at, p.low, p.high, p.last) for p in found]


def samples_of(found: Sequence[Point]) -> list[tuple[datetime, float]]:
    assert all(p.low == p.high == p.last for p in found)
    return [(p.at, p.last) for p in found]


async def first_day_samples(history: CountHistory, clock: ManualClock) -> None:
    """Four samples on 2026-03-01 (UTC): three in 05:xx, one in 06:xx (all on the 1st in New York)."""
    await record_at(history, clock, START, members=100, online=10)
    await record_at(history, clock, START + timedelta(minutes=20), members=104, online=12)
    await record_at(history, clock, START + timedelta(minutes=40), members=102, online=12)
    await record_at(history, clock, START + timedelta(minutes=70), members=101, online=9)
    assert await history.flush()


async def first_day_on(store: MemoryStore) -> None:
    """`first_day_samples` flushed to `store` by a service of its own."""
    clock = ManualClock(START)
    await first_day_samples(history_on(store, clock), clock)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


# --- recording and flushing ---------------------------------------------------------------------------------


async def test_recorded_samples_read_back_after_a_flush(store: MemoryStore, clock: ManualClock) -> None:
    """Flushed samples are one raw journal of their UTC day and read back as points in time order."""
    history = history_on(store, clock)
    await first_day_samples(history, clock)

    assert len(store.document(RAW)) == 4
    assert samples_of(await points(history, "members")) == [
        (START, 100),
        (START + timedelta(minutes=20), 104),
        (START + timedelta(minutes=40), 102),
        (START + timedelta(minutes=70), 101),
    ]


async def test_unchanged_values_are_stored_compactly(store: MemoryStore, clock: ManualClock) -> None:
    """Only the first line holds every value; a value that did not change is still read at every sample."""
    history = history_on(store, clock)
    await record_at(history, clock, START, members=100, online=10, **{"role:7": 3})
    await record_at(history, clock, START + timedelta(minutes=5), members=100, online=11, **{"role:7": 3})
    await record_at(history, clock, START + timedelta(minutes=10), members=100, online=11, **{"role:7": 3})
    await history.flush()

    epoch = int(START.timestamp())
    assert store.document(RAW) == [
        {"t": epoch, "full": {"members": 100, "online": 10, "role:7": 3}},
        {"t": epoch + 300, "diff": {"online": 11}},
        {"t": epoch + 600},
    ]
    assert [p.last for p in await points(history, "role:7")] == [3, 3, 3]


async def test_goal_and_unknown_values_are_not_recorded(store: MemoryStore, clock: ManualClock) -> None:
    """The goal is a target, not a count, and a None value is unknown: neither is kept."""
    history = history_on(store, clock)
    history.record({"members": 5, "goal": 1000, "online": None})
    history.record({"goal": 1000})
    await history.flush()

    assert store.document(RAW) == [{"t": int(START.timestamp()), "full": {"members": 5}}]


async def test_the_flusher_writes_once_a_minute(store: MemoryStore, clock: ManualClock) -> None:
    """A started service appends the samples FLUSH_INTERVAL after start, not before."""
    history = history_on(store, clock)
    await start(history, clock)
    history.record({"members": 5})
    await clock.advance(count_history.FLUSH_INTERVAL - 1)
    assert RAW not in store.files

    await clock.advance(1)

    assert len(store.document(RAW)) == 1
    assert history.pending_samples == 0
    await history.stop()


async def test_a_crash_loses_only_the_unflushed_samples(store: MemoryStore, clock: ManualClock) -> None:
    """What was on disk when the process died reads back; the samples since the last flush are gone."""
    history = history_on(store, clock)
    await start(history, clock)
    await record_at(history, clock, START + timedelta(seconds=30), members=1)
    await clock.advance(30)  # the flush
    await record_at(history, clock, START + timedelta(seconds=90), members=2)
    crashed = MemoryStore()
    crashed.files = dict(store.files)  # the disk as the crash left it
    await history.stop()

    after = history_on(crashed, clock)
    assert samples_of(await points(after, "members")) == [(START + timedelta(seconds=30), 1)]


async def test_stop_writes_what_is_pending(store: MemoryStore, clock: ManualClock) -> None:
    """Stopping a started service appends the samples still in memory."""
    history = history_on(store, clock)
    await start(history, clock)
    history.record({"members": 5})

    await history.stop()

    assert store.document(RAW) == [{"t": int(START.timestamp()), "full": {"members": 5}}]


async def test_a_service_never_started_writes_nothing_on_stop(store: MemoryStore, clock: ManualClock) -> None:
    """stop() without start() leaves the store untouched, even with samples recorded."""
    history = history_on(store, clock)
    history.record({"members": 5})

    await history.stop()

    assert store.files == {}


async def test_a_failed_flush_keeps_the_samples_and_the_retry_starts_full(
    store: MemoryStore, clock: ManualClock
) -> None:
    """Samples refused by the disk stay pending; the next append starts with a full line."""
    history = history_on(store, clock)
    await record_at(history, clock, START, members=1, online=1)
    await history.flush()
    await record_at(history, clock, START + timedelta(minutes=1), members=2, online=1)
    store.fail_writes = True

    with capture_logs() as logs:
        assert not await history.flush()

    assert history.pending_samples == 1
    assert any(entry["event"] == "count_history.flush_failed" for entry in logs)
    store.fail_writes = False
    assert await history.flush()
    assert store.document(RAW)[1] == {"t": int(START.timestamp()) + 60, "full": {"members": 2, "online": 1}}


async def test_pending_samples_are_capped(store: MemoryStore, clock: ManualClock, monkeypatch: Any) -> None:
    """While the disk refuses samples, only the newest MAX_PENDING are kept, and the drop is logged."""
    monkeypatch.setattr(count_history, "MAX_PENDING", 3)
    history = history_on(store, clock)

    with capture_logs() as logs:
        for value in range(5):
            await record_at(history, clock, START + timedelta(minutes=value), members=value)

    assert [p.last for p in await points(history, "members")] == [2, 3, 4]
    assert [entry["dropped"] for entry in logs if entry["event"] == "count_history.samples_dropped"] == [1]


async def test_pending_samples_are_read_with_the_flushed_ones(store: MemoryStore, clock: ManualClock) -> None:
    """A read returns the samples on disk and then those not flushed yet, each once."""
    history = history_on(store, clock)
    await record_at(history, clock, START, members=1)
    await history.flush()
    await record_at(history, clock, START + timedelta(minutes=1), members=2)

    assert [p.last for p in await points(history, "members")] == [1, 2]


async def test_a_flush_during_a_read_neither_loses_nor_repeats(
    store: MemoryStore, clock: ManualClock
) -> None:
    """Samples flushed while a read is under way come out once, whether from the file or from memory."""
    history = history_on(store, clock)
    assert await history.seed_daily([DailyStats(date=date(2026, 2, 20), member_count_start=1)]) == 1
    await record_at(history, clock, START, members=2)
    await history.flush()
    await record_at(history, clock, START + timedelta(minutes=1), members=3)

    async with aclosing(history.read("members", *EVER)) as stream:
        found = [await anext(stream)]  # the daily point: the raw journal is not read yet
        assert await history.flush()
        found += [point async for point in stream]

    assert [p.last for p in found] == [1, 2, 3]


async def test_counter_kinds_are_recorded_by_their_value(store: MemoryStore, clock: ManualClock) -> None:
    """Keys given as CounterKind are stored as their plain names, and the goal is left out."""
    history = history_on(store, clock)
    history.record({CounterKind.MEMBERS: 5, CounterKind.GOAL: 10})
    await history.flush()

    assert store.document(RAW) == [{"t": int(START.timestamp()), "full": {"members": 5}}]


# --- compaction ---------------------------------------------------------------------------------------------


async def test_raw_days_older_than_a_week_become_hourly_buckets(
    store: MemoryStore, clock: ManualClock
) -> None:
    """A raw day past RAW_DAYS turns into exact per-hour [min, max, last] and its journal is deleted."""
    history = history_on(store, clock)
    await first_day_samples(history, clock)
    await move_to(clock, datetime(2026, 3, 8, 23, tzinfo=UTC))
    await history.compact()
    assert RAW in store.files  # still within the week

    await move_to(clock, datetime(2026, 3, 9, 0, 30, tzinfo=UTC))
    await history.compact()

    assert RAW not in store.files
    assert store.document(HOURLY) == {
        "schema_version": 1,
        "month": "2026-03",
        "series": {
            "members": {"2026-03-01T05": [100, 104, 102], "2026-03-01T06": [101, 101, 101]},
            "online": {"2026-03-01T05": [10, 12, 12], "2026-03-01T06": [9, 9, 9]},
        },
    }
    assert values_of(await points(history, "members")) == [
        (START, 100, 104, 102),
        (START + timedelta(hours=1), 101, 101, 101),
    ]


async def test_hours_older_than_90_days_become_local_days(store: MemoryStore, clock: ManualClock) -> None:
    """Hourly buckets past HOURLY_DAYS fold into one [min, max, last] per local date; the month is deleted."""
    history = history_on(store, clock)
    await first_day_samples(history, clock)
    await move_to(clock, datetime(2026, 3, 9, tzinfo=UTC))
    await history.compact()

    await move_to(clock, datetime(2026, 5, 31, 12, tzinfo=UTC))  # local 2026-03-01 is 91 days ago
    await history.compact()

    assert HOURLY not in store.files
    assert store.document(DAILY) == {
        "schema_version": 1,
        "year": 2026,
        "series": {"members": {"2026-03-01": [100, 104, 101]}, "online": {"2026-03-01": [9, 12, 9]}},
    }
    assert values_of(await points(history, "online")) == [(START, 9, 12, 9)]


async def test_daily_buckets_follow_the_local_day_across_dst(store: MemoryStore, clock: ManualClock) -> None:
    """Hourly samples across 2026-03-08 (23 hours in New York) land in the right local days."""
    history = history_on(store, clock)
    first = datetime(2026, 3, 7, 12, tzinfo=UTC)
    for hour in range(48):
        await record_at(history, clock, first + timedelta(hours=hour), members=hour)
    await history.flush()
    await move_to(clock, datetime(2026, 6, 10, tzinfo=UTC))

    await history.compact()

    # Local 03-07 ends at 05:00Z on the 8th (hour 17); local 03-08 is 23 hours long, ending 04:00Z on the 9th.
    assert store.document(DAILY)["series"]["members"] == {
        "2026-03-07": [0, 16, 16],
        "2026-03-08": [17, 39, 39],
        "2026-03-09": [40, 47, 47],
    }


async def test_compaction_twice_changes_nothing(store: MemoryStore, clock: ManualClock) -> None:
    """A second compaction at the same time leaves every file as the first one did."""
    history = history_on(store, clock)
    await first_day_samples(history, clock)
    await move_to(clock, datetime(2026, 3, 20, tzinfo=UTC))
    await history.compact()
    once = dict(store.files)

    await history.compact()

    assert store.files == once


async def test_a_crash_between_hourly_write_and_raw_delete_changes_nothing() -> None:
    """When deleting the compacted raw day fails, the next run ends with the files of a clean run."""
    clean, broken = MemoryStore(), FailingStore()
    for store in (clean, broken):
        await first_day_on(store)
    later = ManualClock(datetime(2026, 3, 20, tzinfo=UTC))
    await history_on(clean, later).compact()
    broken.fail_delete = "history/raw/"

    with pytest.raises(StoreError):
        await history_on(broken, later).compact()
    assert HOURLY in broken.files
    assert RAW in broken.files
    broken.fail_delete = None
    await history_on(broken, later).compact()

    assert broken.files == clean.files


async def test_a_crash_between_daily_write_and_hourly_removal_changes_nothing() -> None:
    """When removing the compacted hours fails, the next run ends with the files of a clean run."""
    clean, broken = MemoryStore(), FailingStore()
    for store in (clean, broken):
        await first_day_on(store)
        await history_on(store, ManualClock(datetime(2026, 3, 20, tzinfo=UTC))).compact()
    later = ManualClock(datetime(2026, 6, 10, tzinfo=UTC))
    await history_on(clean, later).compact()
    broken.fail_delete = "history/hourly/"

    with pytest.raises(StoreError):
        await history_on(broken, later).compact()
    assert DAILY in broken.files
    assert HOURLY in broken.files
    broken.fail_delete = None
    await history_on(broken, later).compact()

    assert broken.files == clean.files


async def test_retention_deletes_what_is_older_at_every_resolution(
    store: MemoryStore, clock: ManualClock
) -> None:
    """Past RETENTION_DAYS, daily buckets go, and shorter retention also cuts hours and raw days."""
    history = history_on(store, clock, retention_days=30)
    await first_day_samples(history, clock)
    await move_to(clock, datetime(2026, 3, 31, 12, tzinfo=UTC))  # local 03-01 is 30 days ago: kept
    await history.compact()
    assert HOURLY in store.files

    await move_to(clock, datetime(2026, 4, 1, 12, tzinfo=UTC))
    await history.compact()

    assert [name for name in store.files if name.startswith("history/")] == []


async def test_retention_removes_old_daily_buckets_and_years(store: MemoryStore, clock: ManualClock) -> None:
    """Daily buckets older than RETENTION_DAYS are removed; a year left with none is deleted."""
    history = history_on(store, clock, retention_days=400)
    days = [DailyStats(date=date(2025, 1, 20), member_count_start=5, member_count_end=6)]
    days += [DailyStats(date=date(2025, 2, 10), member_count_start=7, member_count_end=8)]
    days += [DailyStats(date=date(2026, 2, 10), member_count_start=9, member_count_end=9)]
    assert await history.seed_daily(days) == 3
    await move_to(clock, datetime(2026, 3, 10, tzinfo=UTC))  # 400 days back is 2025-02-02

    await history.compact()

    assert store.document("history/daily/2025.json")["series"] == {"members": {"2025-02-10": [7, 8, 8]}}
    assert store.document(DAILY)["series"] == {"members": {"2026-02-10": [9, 9, 9]}}
    await move_to(clock, datetime(2026, 12, 31, tzinfo=UTC))
    await history.compact()
    assert "history/daily/2025.json" not in store.files


async def test_start_compacts_once_then_daily(store: MemoryStore, clock: ManualClock) -> None:
    """start() compacts right away in the background, and again a day later."""
    history = history_on(store, clock)
    await first_day_samples(history, clock)
    await move_to(clock, datetime(2026, 3, 8, 12, tzinfo=UTC))
    await start(history, clock)
    assert RAW in store.files  # seven days old: not yet

    await clock.advance(count_history.COMPACT_INTERVAL)

    assert RAW not in store.files
    assert HOURLY in store.files
    await history.stop()


async def test_a_document_of_another_schema_is_left_alone(store: MemoryStore, clock: ManualClock) -> None:
    """An hourly document not ours is neither read nor overwritten, and the raw days stay."""
    history = history_on(store, clock)
    await first_day_samples(history, clock)
    await store.write(HOURLY, {"schema_version": 99, "whatever": True})
    await move_to(clock, datetime(2026, 3, 20, tzinfo=UTC))

    with capture_logs() as logs:
        await history.compact()
        found = await points(history, "members")

    assert store.document(HOURLY) == {"schema_version": 99, "whatever": True}
    assert RAW in store.files
    assert len(found) == 4
    assert any(entry["event"] == "count_history.unknown_document" for entry in logs)


# --- reading ------------------------------------------------------------------------------------------------


async def test_reading_across_resolutions_takes_the_finest_in_time_order(
    store: MemoryStore, clock: ManualClock
) -> None:
    """Daily, then hourly, then raw points in time order; a coarse point covered by finer data is left out."""
    history = history_on(store, clock)
    await first_day_samples(history, clock)  # becomes daily
    await record_at(history, clock, datetime(2026, 4, 15, 10, tzinfo=UTC), members=200)  # becomes hourly
    await record_at(history, clock, datetime(2026, 4, 15, 10, 30, tzinfo=UTC), members=210)
    await history.flush()
    await move_to(clock, datetime(2026, 6, 1, 12, tzinfo=UTC))
    await history.compact()
    await record_at(history, clock, datetime(2026, 6, 1, 12, 5, tzinfo=UTC), members=300)  # raw
    # A seed for a day with hourly data, as a crash could leave it: the finer data wins.
    await history.flush()
    await store.write(
        DAILY,
        {
            "schema_version": 1,
            "year": 2026,
            "series": {"members": {"2026-03-01": [100, 104, 101], "2026-04-15": [1, 1, 1]}},
        },
    )

    found = await points(history, "members")

    assert values_of(found) == [
        (START, 100, 104, 101),
        (datetime(2026, 4, 15, 10, tzinfo=UTC), 200, 210, 210),
        (datetime(2026, 6, 1, 12, 5, tzinfo=UTC), 300, 300, 300),
    ]


async def test_a_read_keeps_to_its_range(store: MemoryStore, clock: ManualClock) -> None:
    """Only points from start (inclusive) to end (exclusive) are returned."""
    history = history_on(store, clock)
    await first_day_samples(history, clock)

    found = await points(history, "members", START + timedelta(minutes=20), START + timedelta(minutes=70))

    assert [p.last for p in found] == [104, 102]


async def test_a_year_is_read_one_file_at_a_time() -> None:
    """Reading a year of history reads each file once, in time order, never far ahead of the points."""
    store = CountingStore()
    day = datetime(2025, 9, 1, 4, tzinfo=UTC)
    clock = ManualClock(day)
    history = history_on(store, clock)
    for _ in range(366):
        for hour in range(0, 24, 6):
            await record_at(
                history, clock, day + timedelta(hours=hour), members=int(day.timestamp()) // 86400
            )
        await history.flush()
        await history.compact()
        day += timedelta(days=1)
    files = sorted(name for name in store.files if name.startswith("history/"))
    assert [len([n for n in files if f"/{kind}/" in n]) for kind in ("daily", "hourly", "raw")] == [2, 3, 8]
    held = sum(
        len(store.document(n)) if "/raw/" in n else len(store.document(n)["series"]["members"]) for n in files
    )
    store.reads.clear()

    reads_at: list[tuple[datetime, int]] = []
    async with aclosing(history.read("members", *EVER)) as stream:
        async for point in stream:
            reads_at.append((point.at, len(store.reads)))

    assert len(reads_at) == held  # every daily, hourly and raw point: none covers another
    assert Counter(store.reads) == Counter(files)
    assert store.reads == sorted(files, key=file_start)
    assert reads_at[0][1] == 1
    for at, reads in reads_at:  # a file is loaded only when the points reach (or nearly reach) its start
        assert reads <= sum(1 for name in files if file_start(name) < at + timedelta(days=2))


def file_start(name: str) -> datetime:
    stem = name.rsplit("/", 1)[1].split(".")[0]
    if "/daily/" in name:
        return datetime(int(stem), 1, 1, tzinfo=UTC) - timedelta(days=2)
    if "/hourly/" in name:
        return datetime.strptime(stem, "%Y-%m").replace(tzinfo=UTC)
    return datetime.fromisoformat(stem).replace(tzinfo=UTC)


async def test_lines_that_are_not_samples_are_skipped_with_a_log(
    store: MemoryStore, clock: ManualClock
) -> None:
    """A damaged journal line is left out (logged once); the other samples still read."""
    history = history_on(store, clock)
    epoch = int(START.timestamp())
    await store.append_lines(
        RAW,
        [
            json.dumps({"t": epoch, "full": {"members": 1}}),
            json.dumps({"t": "soon", "full": {"members": 2}}),
            json.dumps([1, 2, 3]),
            json.dumps({"t": epoch + 60, "diff": {"members": 3}}),
        ],
    )

    with capture_logs() as logs:
        found = await points(history, "members")
        await points(history, "members")

    assert [p.last for p in found] == [1, 3]
    assert [entry["skipped"] for entry in logs if entry["event"] == "count_history.entries_skipped"] == [2]


async def test_a_torn_last_line_is_skipped(tmp_path: Path, clock: ManualClock) -> None:
    """On the real store, a line cut short by a crash is dropped and the journal still reads."""
    store = AtomicJsonStore(tmp_path)
    history = history_on(store, clock)  # type: ignore[arg-type]
    await record_at(history, clock, START, members=1)
    await history.flush()
    with (tmp_path / RAW).open("a") as journal:
        journal.write('{"t":17726')

    assert [p.last for p in await points(history, "members")] == [1]


async def test_bad_buckets_in_a_document_are_skipped(store: MemoryStore, clock: ManualClock) -> None:
    """Buckets that are not three whole numbers, or not named by an hour, are left out of a read."""
    history = history_on(store, clock)
    await store.write(
        HOURLY,
        {
            "schema_version": 1,
            "month": "2026-03",
            "series": {"members": {"2026-03-01T05": [1, 2, 2], "2026-03-01T06": [1, 2], "soon": [1, 1, 1]}},
        },
    )

    with capture_logs() as logs:
        found = await points(history, "members")

    assert values_of(found) == [(START, 1, 2, 2)]
    assert any(entry["event"] == "count_history.entries_skipped" for entry in logs)


# --- chart buckets ------------------------------------------------------------------------------------------


async def day_buckets(
    zone: str, samples: list[tuple[datetime, int]]
) -> list[tuple[datetime, float, float, float]]:
    clock = ManualClock(samples[0][0])
    history = history_on(MemoryStore(), clock, timezone=zone)
    for when, value in samples:
        await record_at(history, clock, when, members=value)
    start, end = samples[0][0] - timedelta(days=1), samples[-1][0] + timedelta(days=1)
    return values_of(await history.buckets("members", start, end, "day"))


async def test_day_buckets_across_spring_forward() -> None:
    """In New York, local 2026-03-08 is 23 hours: its bucket starts at 05:00Z, the next at 04:00Z."""
    found = await day_buckets(
        "America/New_York",
        [
            (datetime(2026, 3, 8, 4, 30, tzinfo=UTC), 1),  # 03-07 23:30 EST
            (datetime(2026, 3, 8, 5, 30, tzinfo=UTC), 2),  # 03-08 00:30 EST
            (datetime(2026, 3, 9, 3, 30, tzinfo=UTC), 3),  # 03-08 23:30 EDT
            (datetime(2026, 3, 9, 4, 30, tzinfo=UTC), 4),  # 03-09 00:30 EDT
        ],
    )

    assert found == [
        (datetime(2026, 3, 7, 5, tzinfo=UTC), 1, 1, 1),
        (datetime(2026, 3, 8, 5, tzinfo=UTC), 2, 3, 3),
        (datetime(2026, 3, 9, 4, tzinfo=UTC), 4, 4, 4),
    ]


async def test_day_buckets_across_fall_back() -> None:
    """In New York, local 2026-11-01 is 25 hours: from 04:00Z to 05:00Z the next day."""
    found = await day_buckets(
        "America/New_York",
        [
            (datetime(2026, 11, 1, 3, 30, tzinfo=UTC), 1),  # 10-31 23:30 EDT
            (datetime(2026, 11, 1, 4, 30, tzinfo=UTC), 2),  # 11-01 00:30 EDT
            (datetime(2026, 11, 2, 4, 30, tzinfo=UTC), 3),  # 11-01 23:30 EST
            (datetime(2026, 11, 2, 5, 30, tzinfo=UTC), 4),  # 11-02 00:30 EST
        ],
    )

    assert found == [
        (datetime(2026, 10, 31, 4, tzinfo=UTC), 1, 1, 1),
        (datetime(2026, 11, 1, 4, tzinfo=UTC), 2, 3, 3),
        (datetime(2026, 11, 2, 5, tzinfo=UTC), 4, 4, 4),
    ]


async def test_day_buckets_in_a_half_hour_zone() -> None:
    """In Kolkata (UTC+5:30) a local day starts at 18:30Z."""
    found = await day_buckets(
        "Asia/Kolkata",
        [(datetime(2026, 3, 1, 18, 29, tzinfo=UTC), 1), (datetime(2026, 3, 1, 18, 31, tzinfo=UTC), 2)],
    )

    assert found == [
        (datetime(2026, 2, 28, 18, 30, tzinfo=UTC), 1, 1, 1),
        (datetime(2026, 3, 1, 18, 30, tzinfo=UTC), 2, 2, 2),
    ]


async def test_hour_buckets_fold_samples(store: MemoryStore, clock: ManualClock) -> None:
    """Hourly chart buckets hold the [min, max, last] of the samples in each hour."""
    history = history_on(store, clock)
    await first_day_samples(history, clock)

    found = await history.buckets("members", START, START + timedelta(hours=2), timedelta(hours=1))

    assert values_of(found) == [(START, 100, 104, 102), (START + timedelta(hours=1), 101, 101, 101)]


# --- seeding ------------------------------------------------------------------------------------------------


async def test_seed_puts_day_file_counts_into_the_daily_series(
    store: MemoryStore, clock: ManualClock
) -> None:
    """Each past day's start and end member counts become [min, max, end]; days without counts are skipped."""
    history = history_on(store, clock)
    days = [
        DailyStats(date=date(2026, 2, 26), member_count_start=90, member_count_end=85),
        DailyStats(date=date(2026, 2, 27), member_count_start=85),
        DailyStats(date=date(2026, 2, 28)),
    ]

    assert await history.seed_daily(days) == 2

    assert store.document(DAILY)["series"] == {
        "members": {"2026-02-26": [85, 90, 85], "2026-02-27": [85, 85, 85]}
    }
    assert [p.at for p in await points(history, "members")] == [
        local_midnight(date(2026, 2, 26), NEW_YORK),
        local_midnight(date(2026, 2, 27), NEW_YORK),
    ]


async def test_seed_never_replaces_finer_or_existing_data(store: MemoryStore, clock: ManualClock) -> None:
    """Days already daily, with raw or pending samples, and today are left as they are."""
    history = history_on(store, clock)
    await first_day_samples(history, clock)  # raw samples on local 2026-03-01
    await move_to(clock, datetime(2026, 3, 3, 17, tzinfo=UTC))
    history.record({"members": 150})  # pending, local 2026-03-03 (today)
    assert await history.seed_daily([DailyStats(date=date(2026, 2, 27), member_count_start=1)]) == 1

    added = await history.seed_daily(
        [
            DailyStats(date=date(2026, 2, 27), member_count_start=2, member_count_end=2),
            DailyStats(date=date(2026, 3, 1), member_count_start=3, member_count_end=3),
            DailyStats(date=date(2026, 3, 2), member_count_start=4, member_count_end=4),
            DailyStats(date=date(2026, 3, 3), member_count_start=5, member_count_end=5),
        ]
    )

    assert added == 1
    assert store.document(DAILY)["series"]["members"] == {"2026-02-27": [1, 1, 1], "2026-03-02": [4, 4, 4]}


async def test_seed_skips_days_with_hourly_data(store: MemoryStore, clock: ManualClock) -> None:
    """A day whose samples were compacted to hours already has finer data: it is not seeded."""
    history = history_on(store, clock)
    await first_day_samples(history, clock)
    await move_to(clock, datetime(2026, 3, 20, tzinfo=UTC))
    await history.compact()

    added = await history.seed_daily(
        [DailyStats(date=date(2026, 3, 1), member_count_start=1, member_count_end=2)]
    )

    assert added == 0
    assert DAILY not in store.files


async def test_a_long_read_lets_other_tasks_run_between_its_points(
    store: MemoryStore, clock: ManualClock
) -> None:
    """Reading 1,000 points hands the event loop back every 256 points: a chart never holds events up."""
    history = history_on(store, clock)
    for minute in range(1000):
        await record_at(history, clock, START + timedelta(minutes=minute), members=1000 + minute)
    ticks = 0

    async def other_work() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    worker = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    before = ticks
    found = await points(history, "members")
    during = ticks - before
    worker.cancel()
    assert len(found) == 1000
    assert during >= 3  # at least one turn per 256 points merged
