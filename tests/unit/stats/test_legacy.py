"""Importing the original StatsBot's member_stats.json into the per-day event files."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from src.services.stats.history import DailyHistory
from src.services.stats.legacy import LegacyImportError, import_legacy
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.store import AtomicJsonStore

NEW_YORK = ZoneInfo("America/New_York")

LEGACY: dict[str, Any] = {
    "2024-03-01": {
        "joins": [
            {"id": 111111111111111111, "username": "alice", "timestamp": "2024-03-01T12:34:56.789012-05:00"},
            {
                "id": "222222222222222222",
                "username": "bob",
                "timestamp": "2024-03-01T13:00:00",
            },  # naive: Eastern
            {"id": 333, "username": "late", "timestamp": "2024-03-01T22:30:00-05:00"},  # 03:30 UTC next day
            {"id": "not-a-number", "username": "broken", "timestamp": "2024-03-01T14:00:00"},  # malformed
        ],
        "leaves": [{"id": 444, "username": "carol", "timestamp": "2024-03-01T15:00:00"}],
        "bans": [],
    },
    "2024-03-02": {
        "joins": [],
        "leaves": [{"id": 555, "username": "dave", "timestamp": "2024-03-02T09:00:00.5"}],
        "bans": [
            {"id": 555, "username": "dave", "timestamp": "2024-03-02T09:00:03"}
        ],  # the leave was this ban
    },
}


@pytest.fixture
def legacy_file(tmp_path: Path) -> Path:
    path = tmp_path / "old" / "member_stats.json"
    path.parent.mkdir()
    path.write_text(json.dumps(LEGACY, indent=2))
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def history(root: Path) -> DailyHistory:
    return DailyHistory(AtomicJsonStore(root))


def contents(path: Path) -> bytes:
    return path.read_bytes()


def stored(root: Path, day: str) -> list[tuple[str, str]]:
    events = json.loads((root / "events" / f"{day}.json").read_text())["events"]
    return [(e["kind"], e["member_id"]) for e in events]


async def test_import_writes_day_files_with_the_right_events(
    legacy_file: Path, history: DailyHistory, root: Path
) -> None:
    """Naive and aware timestamps, int and string ids all land in New York day files with string ids."""
    summary = await import_legacy(legacy_file, history, NEW_YORK)

    assert stored(root, "2024-03-01") == [
        ("join", "111111111111111111"),
        ("join", "222222222222222222"),
        ("leave", "444"),
        ("join", "333"),
    ]
    assert stored(root, "2024-03-02") == [("ban", "555")]
    assert (summary.days, summary.joins, summary.leaves, summary.bans) == (2, 3, 1, 1)


async def test_days_are_rebucketed_into_the_configured_zone(
    legacy_file: Path, history: DailyHistory, root: Path
) -> None:
    """With UTC configured, a 22:30 Eastern join is filed on the next day."""
    await import_legacy(legacy_file, history, UTC)

    assert ("join", "333") in stored(root, "2024-03-02")
    assert ("join", "333") not in stored(root, "2024-03-01")


async def test_malformed_entries_are_skipped_with_a_warning(legacy_file: Path, history: DailyHistory) -> None:
    """A broken entry is counted as skipped and logged, and the rest still imports."""
    with capture_logs() as logs:
        summary = await import_legacy(legacy_file, history, NEW_YORK)

    assert summary.skipped == 1
    warnings = [entry for entry in logs if entry["event"] == "legacy.entry_skipped"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    assert warnings[0]["day"] == "2024-03-01"


async def test_a_second_import_adds_nothing(legacy_file: Path, history: DailyHistory, root: Path) -> None:
    """Importing the same file again leaves the day files as they are and reports nothing added."""
    await import_legacy(legacy_file, history, NEW_YORK)
    before = {p.name: p.read_bytes() for p in (root / "events").iterdir()}

    again = await import_legacy(legacy_file, history, NEW_YORK)

    assert (again.days, again.joins, again.leaves, again.bans) == (0, 0, 0, 0)
    assert {p.name: p.read_bytes() for p in (root / "events").iterdir()} == before


async def test_import_merges_with_events_already_recorded(
    legacy_file: Path, history: DailyHistory, root: Path
) -> None:
    """An existing day file keeps its events and its member counts; legacy events are added to it."""
    recorded = MemberEvent(
        kind=EventKind.UNBAN, member_id="999", username="eve", timestamp=datetime(2024, 3, 1, 20, tzinfo=UTC)
    )
    await history.save_day(DailyStats(date=date(2024, 3, 1), events=[recorded], member_count_start=50))

    await import_legacy(legacy_file, history, NEW_YORK)

    day = await history.load_day(date(2024, 3, 1))
    assert day is not None
    assert day.member_count_start == 50
    assert ("unban", "999") in stored(root, "2024-03-01")
    assert day.count(EventKind.JOIN) == 3


async def test_the_legacy_file_is_left_untouched(legacy_file: Path, history: DailyHistory) -> None:
    """The import only reads the original file."""
    original = contents(legacy_file)

    await import_legacy(legacy_file, history, NEW_YORK)

    assert contents(legacy_file) == original


async def test_an_unreadable_file_is_a_clear_error(tmp_path: Path, history: DailyHistory) -> None:
    """A file that is not JSON raises LegacyImportError naming the file."""
    path = tmp_path / "member_stats.json"
    path.write_text("{not json")

    with pytest.raises(LegacyImportError, match=r"member_stats\.json"):
        await import_legacy(path, history, NEW_YORK)


@pytest.mark.parametrize(
    "content",
    [
        {"total_members": 1234, "total_bans": 56, "last_updated": "2024-03-01T12:00:00"},
        {"2024-03-01": {"joins": 5, "leaves": 2, "bans": 0}},
        {"2024-03-01": {"members": 1234}},
        {},
        [{"id": 1, "username": "ann", "timestamp": "2024-03-01T12:00:00"}],
    ],
    ids=["summary-object", "counts-not-lists", "other-day-object", "empty-object", "list"],
)
async def test_a_file_without_days_of_events_is_an_error_naming_the_expected_shape(
    tmp_path: Path, history: DailyHistory, root: Path, content: Any
) -> None:
    """JSON with no day holding a joins, leaves or bans list is refused with one line naming the file."""
    path = tmp_path / "final_stats.json"
    path.write_text(json.dumps(content))

    with pytest.raises(LegacyImportError) as info:
        await import_legacy(path, history, NEW_YORK)

    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert 'expected the original bot\'s member_stats.json: {"YYYY-MM-DD": {"joins": [...]' in message
    assert not await asyncio.to_thread(root.exists)


async def test_unrecognised_days_beside_real_ones_are_skipped(
    tmp_path: Path, history: DailyHistory, root: Path
) -> None:
    """A file with real days and some other keys imports the days and counts the others as skipped."""
    path = tmp_path / "member_stats.json"
    path.write_text(json.dumps({**LEGACY, "version": 2}))

    summary = await import_legacy(path, history, NEW_YORK)

    assert (summary.joins, summary.skipped) == (3, 2)


async def test_a_second_import_counts_the_duplicates(legacy_file: Path, history: DailyHistory) -> None:
    """Every event found already stored on a second import is counted as a duplicate."""
    await import_legacy(legacy_file, history, NEW_YORK)

    again = await import_legacy(legacy_file, history, NEW_YORK)

    assert again.duplicates == 5  # 3 joins, carol's leave and dave's ban (his leave was the ban)
