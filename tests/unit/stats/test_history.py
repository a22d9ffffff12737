"""DailyHistory: one JSON file per day under events/, read back, listed and pruned."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from src.services.stats.history import Change, DailyHistory, change_line
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.store import AtomicJsonStore

DAY = date(2026, 11, 21)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def history(root: Path) -> DailyHistory:
    return DailyHistory(AtomicJsonStore(root))


def a_day(d: date = DAY, joins: int = 1) -> DailyStats:
    events = [
        MemberEvent(
            kind=EventKind.JOIN,
            member_id=str(123456789012345678 + i),
            username=f"user{i}",
            timestamp=datetime(d.year, d.month, d.day, 15, 0, i, tzinfo=UTC),
        )
        for i in range(joins)
    ]
    return DailyStats(date=d, events=events, member_count_start=1000, member_count_end=1000 + joins)


async def test_save_day_writes_one_json_file_per_day(history: DailyHistory, root: Path) -> None:
    """A saved day is events/YYYY-MM-DD.json holding the DailyStats JSON with string member ids."""
    await history.save_day(a_day())

    stored = json.loads((root / "events" / "2026-11-21.json").read_text())
    assert stored["schema_version"] == 1
    assert stored["date"] == "2026-11-21"
    assert stored["events"][0]["member_id"] == "123456789012345678"
    assert (stored["member_count_start"], stored["member_count_end"]) == (1000, 1001)


async def test_load_day_returns_what_was_saved(history: DailyHistory) -> None:
    """A saved day loads back equal."""
    await history.save_day(a_day(joins=3))

    assert await history.load_day(DAY) == a_day(joins=3)


async def test_load_day_of_a_day_without_file_is_none(history: DailyHistory) -> None:
    """A day with no file loads as None."""
    assert await history.load_day(DAY) is None


async def test_a_file_holding_another_date_is_quarantined(history: DailyHistory, root: Path) -> None:
    """A day file whose content is for another date is refused and moved aside, not merged."""
    folder = root / "events"
    folder.mkdir(parents=True)
    (folder / "2026-11-21.json").write_text(a_day(date(2026, 11, 20)).model_dump_json())

    assert await history.load_day(DAY) is None
    assert any(p.name.startswith("2026-11-21.json.corrupt-") for p in folder.iterdir())


async def test_days_fills_missing_days_with_empty_ones(history: DailyHistory) -> None:
    """days() returns one entry per day in the range; days without a file are empty."""
    await history.save_day(a_day(date(2026, 11, 17), joins=2))

    days = await history.days(date(2026, 11, 16), date(2026, 11, 18))

    assert [d.date for d in days] == [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)]
    assert [len(d.events) for d in days] == [0, 2, 0]


async def test_stored_dates_lists_day_files_oldest_first(history: DailyHistory, root: Path) -> None:
    """stored_dates() lists the days that have files, sorted, ignoring other files in the folder."""
    for d in (date(2026, 11, 3), date(2025, 1, 1), date(2026, 2, 9)):
        await history.save_day(a_day(d))
    (root / "events" / "notes.json").write_text("{}")

    assert await history.stored_dates() == [date(2025, 1, 1), date(2026, 2, 9), date(2026, 11, 3)]


async def test_prune_deletes_only_days_older_than_retention(history: DailyHistory, root: Path) -> None:
    """prune() removes day files older than the retention and keeps the rest."""
    for d in (date(2025, 10, 16), date(2025, 10, 17), date(2026, 11, 20)):
        await history.save_day(a_day(d))

    deleted = await history.prune(DAY, retention_days=400)  # cutoff: 2025-10-17

    assert deleted == [date(2025, 10, 16)]
    assert sorted(p.name for p in (root / "events").glob("*.json")) == ["2025-10-17.json", "2026-11-20.json"]


async def test_a_day_with_only_a_journal_is_listed_and_pruned(history: DailyHistory, root: Path) -> None:
    """A day whose events are still all in its journal counts as stored, and is pruned with its journal."""
    old, recent = date(2025, 10, 16), date(2026, 11, 20)
    for d in (old, recent):
        await history.append_journal(d, [change_line(Change.ADD, a_day(d).events[0])])

    assert await history.stored_dates() == [old, recent]
    assert await history.prune(DAY, retention_days=400) == [old]
    assert sorted(p.name for p in (root / "events").iterdir()) == ["2026-11-20.jsonl"]


async def test_repeated_reads_of_a_day_are_served_from_the_cache(tmp_path):
    """Reading the same stored day twice reads the disk once."""
    store = AtomicJsonStore(tmp_path)
    history = DailyHistory(store)
    await history.save_day(DailyStats(date=date(2026, 3, 1), member_count_start=5))
    first = await history.load_day(date(2026, 3, 1))
    (tmp_path / "events" / "2026-03-01.json").unlink()  # a second disk read would now find nothing
    assert await history.load_day(date(2026, 3, 1)) == first


async def test_saving_a_day_replaces_the_cached_copy(tmp_path):
    """A day written after it was read is read back new, not from a stale cache entry."""
    history = DailyHistory(AtomicJsonStore(tmp_path))
    await history.save_day(DailyStats(date=date(2026, 3, 1), member_count_start=5))
    await history.load_day(date(2026, 3, 1))
    await history.save_day(DailyStats(date=date(2026, 3, 1), member_count_start=9))
    loaded = await history.load_day(date(2026, 3, 1))
    assert loaded is not None
    assert loaded.member_count_start == 9


async def test_cached_days_expire(tmp_path):
    """After the ttl the file is read again, so another process's import shows up."""
    now = [0.0]
    store = AtomicJsonStore(tmp_path)
    history = DailyHistory(store, cache_ttl=10, timer=lambda: now[0])
    assert await history.load_day(date(2026, 3, 1)) is None
    await DailyHistory(store).save_day(DailyStats(date=date(2026, 3, 1), member_count_start=3))
    now[0] = 11.0
    loaded = await history.load_day(date(2026, 3, 1))
    assert loaded is not None
    assert loaded.member_count_start == 3
