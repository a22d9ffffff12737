"""BackupService: one archive a day, the first at once, and failures retried without stopping the bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from src.services.stats.backups import BackupService
from src.utils.archive import archive_name, list_archives, make_archive
from tests.clock import ManualClock

START = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
DAY = 24 * 3600.0


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "events").mkdir(parents=True)
    (root / "events" / "2026-11-29.json").write_text("{}")
    return root


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def service(data: Path, clock: ManualClock) -> AsyncIterator[BackupService]:
    made = BackupService(data, data / "backups", clock)
    yield made
    await made.stop()


async def wait_for_archives(backups: Path, count: int, clock: ManualClock) -> list[str]:
    """Let the worker thread finish (real time, bounded) until `count` archives exist."""
    for _ in range(500):
        await clock.advance(0)
        names = [p.name for p in list_archives(backups)]
        if len(names) >= count:
            return names
        await asyncio.sleep(0.01)
    return [p.name for p in list_archives(backups)]


async def test_the_first_archive_waits_ten_minutes_so_start_up_stays_quick(
    service: BackupService, data: Path, clock: ManualClock
) -> None:
    """A bot with no backup yet makes none during start-up, and its first ten minutes after it."""
    await service.start()
    await clock.advance(599)
    assert list_archives(data / "backups") == []
    await clock.advance(1)
    assert await wait_for_archives(data / "backups", 1, clock) == [
        archive_name(START + timedelta(minutes=10))
    ]


async def test_the_next_archive_waits_until_the_newest_is_a_day_old(
    service: BackupService, data: Path, clock: ManualClock
) -> None:
    """An archive made 20 h ago: nothing now, the next one 4 h later."""
    make_archive(data, data / "backups", START - timedelta(hours=20))
    await service.start()
    await clock.advance(3 * 3600)
    assert len(list_archives(data / "backups")) == 1
    await clock.advance(3600)
    names = await wait_for_archives(data / "backups", 2, clock)
    assert names[-1] == archive_name(START + timedelta(hours=4))


async def test_a_failed_archive_is_logged_and_retried(data: Path, clock: ManualClock, tmp_path: Path) -> None:
    """A BACKUP_DIR that cannot be created logs backup.failed and the service tries again later."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backup folder should be")
    service = BackupService(data, blocker / "backups", clock)
    with capture_logs() as logs:
        await service.start()
        await clock.advance(600)
        for _ in range(100):
            await clock.advance(0)
            if any(e["event"] == "backup.failed" for e in logs):
                break
            await asyncio.sleep(0.01)
    await service.stop()
    [failed] = [e for e in logs if e["event"] == "backup.failed"]
    assert failed["retry_in"] == 300.0
    assert "BACKUP_DIR" in failed["error"]
