"""A daily backup archive of DATA_DIR, made off the event loop, keeping the newest seven."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from src.types.ports import Clock
from src.utils.archive import Archive, ArchiveError, archive_time, list_archives, make_archive
from src.utils.backoff import Backoff
from src.utils.logging import get_logger
from src.utils.loop import Loop
from src.utils.text import describe_error

KEEP = 7
EVERY = timedelta(days=1)
# With no archive yet, the first waits this long: compressing DATA_DIR must not compete with start-up.
FIRST_AFTER = timedelta(minutes=10)
RETRY = Backoff(300.0, 3600.0)  # a full disk or a bad BACKUP_DIR: try again in 5 minutes, then less often


class BackupService:
    """Makes `DATA_DIR`'s archive when the newest one is a day old (10 minutes after start if none)."""

    def __init__(self, data_dir: Path, backup_dir: Path, clock: Clock, *, keep: int = KEEP) -> None:
        self._data_dir = data_dir
        self._backup_dir = backup_dir
        self._clock = clock
        self._keep = keep
        self._started_at: datetime | None = None
        self._log = get_logger(__name__, service="stats")
        self._loop = Loop(
            "backups",
            self._backup_if_due,
            clock=clock,
            interval=self._until_due,
            backoff=RETRY,
            immediate=False,
            on_error=self._failed,
        )

    async def start(self) -> None:
        """Start the daily schedule."""
        self._started_at = self._clock.now()
        self._loop.start()

    async def stop(self) -> None:
        """Stop at once; an archive cut short is left as `.partial` and never taken for a backup."""
        await self._loop.cancel()

    async def backup_now(self) -> Archive:
        """Make an archive now, in a worker thread; raises ArchiveError with what to fix."""
        archive = await asyncio.to_thread(
            make_archive, self._data_dir, self._backup_dir, self._clock.now(), keep=self._keep
        )
        self._log.info("backup.made", archive=str(archive.path), files=archive.files, bytes=archive.size)
        return archive

    def last_backup_at(self) -> datetime | None:
        """Return when the newest archive was made (from its name), or None when there is none."""
        archives = list_archives(self._backup_dir)
        return archive_time(archives[-1]) if archives else None

    def _until_due(self) -> float:
        """Seconds until the newest archive is a day old, or (with none yet) until the first is due."""
        last = self.last_backup_at()
        due = last + EVERY if last is not None else (self._started_at or self._clock.now()) + FIRST_AFTER
        return max(0.0, (due - self._clock.now()).total_seconds())

    async def _backup_if_due(self) -> None:
        """Make the day's archive unless one was made less than a day ago."""
        if self._until_due() <= 0:
            await self.backup_now()

    def _failed(self, exc: Exception, retry_in: float | None) -> None:
        """Log a failed archive with the fix; the loop tries again after `retry_in`."""
        error = str(exc) if isinstance(exc, ArchiveError) else describe_error(exc)
        self._log.error(
            "backup.failed", error=error, retry_in=retry_in, exc_info=not isinstance(exc, ArchiveError)
        )
