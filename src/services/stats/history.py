"""Member events on disk: one JSON file per day (`events/YYYY-MM-DD.json`) and beside it the day's journal.

The journal (`events/YYYY-MM-DD.jsonl`) holds one line per change not yet in the day file, appended in
batches, so recording costs what changed, not the size of the day. A reader sees the day file with its
journal replayed onto it. Folding writes that merged day atomically, then deletes the journal; a crash between
the two only means the journal is replayed again, which changes nothing (every change is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from src.types.models import DailyStats, EventKind, MemberEvent
from src.types.ports import JsonStore
from src.utils.cache import TTLCache
from src.utils.logging import get_logger
from src.utils.store import parse_lines

FOLDER = "events"
JOURNAL_SUFFIX = ".jsonl"
CACHE_DAYS = 64  # a few weeks of reports and /stats calls
CACHE_TTL = 300.0
_REPLAY_IN_THREAD = 1000  # journal lines: below this, replaying on the event loop takes under ~10 ms

_Identity = tuple[EventKind, str, datetime, datetime | None]


def _utc(ts: datetime) -> datetime:
    """`ts` in UTC; a naive timestamp is taken to be UTC already (what Discord sends)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _identity(event: MemberEvent) -> _Identity:
    """Which stored event a journal line is about: every field that never changes once it is recorded.

    At least as fine as the recorder's event key (which never lets two events with one key into a day), so
    a line finds exactly the event it was written for; only a ban's `member_removed` may change later.
    """
    joined_at = _utc(event.joined_at) if event.joined_at is not None else None
    return (event.kind, event.member_id, _utc(event.timestamp), joined_at)


def day_name(d: date) -> str:
    """The store name of the file holding day `d`."""
    return f"{FOLDER}/{d.isoformat()}.json"


def journal_name(d: date) -> str:
    """The store name of day `d`'s journal: the changes its file does not hold yet."""
    return f"{FOLDER}/{d.isoformat()}{JOURNAL_SUFFIX}"


class Change(StrEnum):
    """What one journal line does to its day; applying a line twice is the same as applying it once."""

    ADD = "add"  # an event was recorded (an event the day already holds stays as it is)
    DROP = "drop"  # a leave was removed: it was the member-remove half of a ban
    MARK = "mark"  # a ban was found to have removed a member
    COUNTS = "counts"  # the day's member counts: the day's own start count wins, the latest end replaces


def change_line(change: Change, event: MemberEvent) -> str:
    """One journal line for a change to `event` (its cached JSON is reused, as in the day file)."""
    return f'{{"op":"{change.value}","event":{event.json_text}}}'


def counts_line(start: int | None, end: int | None) -> str:
    """One journal line for the day's member counts."""
    return json.dumps({"op": Change.COUNTS.value, "start": start, "end": end}, separators=(",", ":"))


def _count(value: Any) -> int | None:
    """A member count from a journal line; anything but a whole number or null is refused."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError(f"not a member count: {value!r}")


def replay(stats: DailyStats, lines: Iterable[Any]) -> tuple[DailyStats, int]:
    """`stats` with journal `lines` applied in order, and how many lines were not understood (skipped).

    Idempotent: an add of an event already there, a drop of one that is gone, a mark of a marked ban and a
    counts line change nothing the second time, so replaying onto an already folded day is harmless.
    """
    events = {_identity(e): e for e in stats.events}
    start, end = stats.member_count_start, stats.member_count_end
    skipped = 0
    for line in lines:
        try:
            change = Change(line["op"])
            if change is Change.COUNTS:
                line_start, line_end = _count(line["start"]), _count(line["end"])
                start = line_start if start is None else start
                end = line_end if line_end is not None else end
                continue
            event = MemberEvent.model_validate(line["event"])
        except (KeyError, TypeError, ValueError):  # a pydantic ValidationError is a ValueError
            skipped += 1  # written by a newer version, or damaged: the rest of the journal still counts
            continue
        key = _identity(event)
        if change is Change.ADD:
            events.setdefault(key, event)
        elif change is Change.DROP:
            events.pop(key, None)
        else:
            current = events.get(key)
            if current is not None and current.kind is EventKind.BAN and current.member_removed is not True:
                events[key] = current.with_member_removed()
    replayed = DailyStats(
        date=stats.date, events=list(events.values()), member_count_start=start, member_count_end=end
    )
    return replayed, skipped


def read_recorded_events(data_dir: Path) -> list[MemberEvent]:
    """Every event recorded under `data_dir/events`, each day file with its journal replayed, oldest first.

    Blocking, for readers outside the bot (the demo's view, tests, benchmarks). A day file is replaced
    atomically and a torn journal line is left out, so a read never sees half an event; a file that cannot be
    read at this moment is skipped.
    """
    folder = data_dir / FOLDER
    events: list[MemberEvent] = []
    days = sorted(
        {p.name.split(".", 1)[0] for p in folder.glob("*.json*") if p.suffix in (".json", ".jsonl")}
    )
    for stem in days:
        try:
            day = date.fromisoformat(stem)
        except ValueError:
            continue
        with contextlib.suppress(OSError, ValueError):
            file, journal = folder / f"{stem}.json", folder / f"{stem}{JOURNAL_SUFFIX}"
            stats = (
                DailyStats.model_validate_json(file.read_bytes()) if file.exists() else DailyStats(date=day)
            )
            if journal.exists():
                stats, _ = replay(stats, parse_lines(journal.read_bytes()).values)
            events.extend(stats.events)
    return sorted(events, key=lambda e: e.timestamp)


def _date_of(name: str, suffix: str) -> date | None:
    """The date in a store name like `events/2026-11-21.json`, or None for a file that is not ours."""
    stem = name.rsplit("/", 1)[-1].removesuffix(suffix)
    try:
        return date.fromisoformat(stem)
    except ValueError:
        return None  # not one of ours (a note someone left in the folder)


class DailyHistory:
    """Reads and writes the per-day event files and their journals through the JSON store."""

    def __init__(
        self, store: JsonStore, *, cache_ttl: float = CACHE_TTL, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        # Past days are read again and again (/stats week, weekly reports) but change only when this object
        # writes them or appends to their journal, which invalidates the entry; the ttl bounds staleness
        # from another process's import.
        self._cache: TTLCache[date, DailyStats | None] = TTLCache(CACHE_DAYS, cache_ttl, timer=timer)
        self._log = get_logger(__name__, service="stats")

    async def load_day(self, d: date) -> DailyStats | None:
        """Day `d` as recorded: its file with its journal replayed onto it, or None when it has neither.

        Nothing is written. The result is shared: callers must not mutate it.
        """
        return await self._cache.get_or_compute(d, lambda: self._read_merged(d))

    async def _read_merged(self, d: date) -> DailyStats | None:
        """Read day `d`'s file and journal from the store and merge them."""
        stored = await self._read_day(d)
        lines = await self._store.read_lines(journal_name(d))
        if not lines:
            return stored
        return await self._replay(stored or DailyStats(date=d), lines)

    async def _replay(self, stats: DailyStats, lines: list[Any]) -> DailyStats:
        """`replay`, in a worker thread for a long journal (validating 100,000 lines takes about a second)."""
        if len(lines) < _REPLAY_IN_THREAD:
            merged, skipped = replay(stats, lines)
        else:
            merged, skipped = await asyncio.to_thread(replay, stats, lines)
        if skipped:
            self._log.error("history.journal_lines_skipped", day=stats.date.isoformat(), skipped=skipped)
        return merged

    async def _read_day(self, d: date) -> DailyStats | None:
        """Read day `d`'s file from the store (an invalid file is quarantined there)."""

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
        try:
            await self._store.write_json_text(day_name(stats.date), stats.to_json_text())
        finally:
            self._cache.invalidate(stats.date)  # and after: a read meanwhile may have cached the old file

    async def append_journal(self, d: date, lines: Sequence[str]) -> None:
        """Append changes to day `d`'s journal, durably; raises StoreError when the append fails."""
        self._cache.invalidate(d)
        try:
            await self._store.append_lines(journal_name(d), lines)
        finally:
            self._cache.invalidate(d)  # a read during the append may have cached the journal without it

    async def fold_day(self, stats: DailyStats) -> None:
        """Write `stats` as its day's file, then delete the day's journal, which `stats` must already hold."""
        await self.save_day(stats)
        try:
            await self._store.delete(journal_name(stats.date))
        finally:
            self._cache.invalidate(stats.date)

    async def fold_journal(self, d: date) -> int:
        """Replay day `d`'s journal into its file (atomically), then delete it; return its number of lines."""
        self._cache.invalidate(d)
        stored = await self._read_day(d)
        lines = await self._store.read_lines(journal_name(d))
        if lines:  # a journal holding nothing but a torn line needs no write, only deleting
            await self.save_day(await self._replay(stored or DailyStats(date=d), lines))
        await self._store.delete(journal_name(d))
        self._cache.invalidate(d)
        return len(lines)

    async def journal_dates(self) -> list[date]:
        """The dates that have a journal, oldest first."""
        names = await self._store.names(FOLDER, JOURNAL_SUFFIX)
        return sorted(d for d in (_date_of(n, JOURNAL_SUFFIX) for n in names) if d is not None)

    async def days(self, start: date, end: date) -> list[DailyStats]:
        """Every day from `start` to `end` inclusive, an empty DailyStats for days without events stored."""
        result: list[DailyStats] = []
        d = start
        while d <= end:
            result.append(await self.load_day(d) or DailyStats(date=d))
            d += timedelta(days=1)
        return result

    async def stored_dates(self) -> list[date]:
        """The dates that have a day file or a journal, oldest first."""
        names = await self._store.names(FOLDER)
        found = {d for d in (_date_of(n, ".json") for n in names) if d is not None}
        return sorted(found.union(await self.journal_dates()))

    async def prune(self, today: date, retention_days: int) -> list[date]:
        """Delete day files and journals older than `retention_days` before `today`; return their dates."""
        cutoff = today - timedelta(days=retention_days)
        deleted = [d for d in await self.stored_dates() if d < cutoff]
        for d in deleted:
            self._cache.invalidate(d)
            await self._store.delete(journal_name(d))
            await self._store.delete(day_name(d))
        if deleted:
            self._log.info(
                "history.pruned", days=len(deleted), oldest=deleted[0].isoformat(), cutoff=cutoff.isoformat()
            )
        return deleted
