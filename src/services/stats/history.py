"""Member events on disk: one JSON file per day (`events/YYYY-MM-DD.json`), so a write costs one day."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from src.types.models import DailyStats
from src.types.ports import JsonStore
from src.utils.cache import TTLCache
from src.utils.logging import get_logger

FOLDER = "events"
CACHE_DAYS = 64  # a few weeks of reports and /stats calls
CACHE_TTL = 300.0


def day_name(d: date) -> str:
    """The store name of the file holding day `d`."""
    return f"{FOLDER}/{d.isoformat()}.json"


class DailyHistory:
    """Reads and writes the per-day event files through the atomic JSON store."""

    def __init__(
        self, store: JsonStore, *, cache_ttl: float = CACHE_TTL, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        # Past days are read again and again (/stats week, weekly reports) but change only when this object
        # writes them, which invalidates the entry; the ttl bounds staleness from another process's import.
        self._cache: TTLCache[date, DailyStats | None] = TTLCache(CACHE_DAYS, cache_ttl, timer=timer)
        self._log = get_logger(__name__, service="stats")

    async def load_day(self, d: date) -> DailyStats | None:
        """The stored day `d`, or None when there is none (shared: callers must not mutate it)."""
        return await self._cache.get_or_compute(d, lambda: self._read_day(d))

    async def _read_day(self, d: date) -> DailyStats | None:
        """Read day `d` from the store (an invalid file is quarantined there)."""

        def validate(raw: Any) -> DailyStats:
            stats = DailyStats.model_validate(raw)
            if stats.date != d:  # a file renamed by hand would otherwise be merged into the wrong day
                raise ValueError(f"file for {d} holds date {stats.date}")
            return stats

        result: DailyStats | None = await self._store.read(day_name(d), validate=validate)
        return result

    async def save_day(self, stats: DailyStats) -> None:
        """Atomically replace the file of `stats.date`; raises StoreError when the write fails."""
        self._cache.invalidate(stats.date)  # before the write: a failed write must not leave a stale entry
        await self._store.write_json_text(day_name(stats.date), stats.to_json_text())

    async def days(self, start: date, end: date) -> list[DailyStats]:
        """Every day from `start` to `end` inclusive, an empty DailyStats for days without a file."""
        result: list[DailyStats] = []
        d = start
        while d <= end:
            result.append(await self.load_day(d) or DailyStats(date=d))
            d += timedelta(days=1)
        return result

    async def stored_dates(self) -> list[date]:
        """The dates that have a day file, oldest first."""
        found: list[date] = []
        for name in await self._store.names(FOLDER):
            stem = name.rsplit("/", 1)[-1].removesuffix(".json")
            try:
                found.append(date.fromisoformat(stem))
            except ValueError:
                continue  # not one of ours (a note someone left in the folder)
        return sorted(found)

    async def prune(self, today: date, retention_days: int) -> list[date]:
        """Delete day files older than `retention_days` before `today`; return the deleted dates."""
        cutoff = today - timedelta(days=retention_days)
        deleted = [d for d in await self.stored_dates() if d < cutoff]
        for d in deleted:
            self._cache.invalidate(d)
            await self._store.delete(day_name(d))
        if deleted:
            self._log.info(
                "history.pruned", days=len(deleted), oldest=deleted[0].isoformat(), cutoff=cutoff.isoformat()
            )
        return deleted
