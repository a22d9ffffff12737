"""The history of every counted value (members, online, bans, ... role:ID; never goal) as compact time series.

`record` keeps a sample in memory; a loop appends the samples to the UTC day's journal at most once a minute
(and on stop), so a crash loses at most the last minute. Once a day (and at start) compaction thins the past:

- `history/raw/YYYY-MM-DD.jsonl`: every sample of one UTC day, for the last RAW_DAYS days. A line holds the
  sample's time (epoch seconds) and either every value or only what changed since the line before
  (null: the value went away); the first line a process writes to a journal, and every FULL_LINE_EVERY-th,
  holds every value, so a damaged line is forgotten by the next full one:
      {"t":1772668800,"full":{"members":1200,"online":310,"role:77":40}}
      {"t":1772669100,"diff":{"online":312}}
      {"t":1772669400}
- `history/hourly/YYYY-MM.json`: per key, per UTC hour, [min, max, last], for HOURLY_DAYS days:
      {"schema_version":1,"month":"2026-03","series":{"members":{"2026-03-01T05":[1200,1204,1203]}}}
- `history/daily/YYYY.json`: per key, per local date in the configured zone, [min, max, last], kept as
  long as RETENTION_DAYS (which also bounds the finer files when it is shorter):
      {"schema_version":1,"year":2026,"series":{"members":{"2026-03-01":[1198,1210,1207]}}}

Every step writes its result before deleting its source, and writing a bucket again (or merging it into
itself) changes nothing, so a crash between steps, or a second run, ends in the same files. A reader takes,
for each stretch of time, the finest resolution holding a point there; it loads one file at a time, and
keeps only the one key's points of it, so the cost of a read does not grow with the length of the history.
Nothing of the history stays in memory between reads but the samples not yet flushed.

Reads take no lock: a read that runs while compaction moves a day from raw to hourly may miss that day once.
An hour goes to the local day its start falls on (in a half-hour zone, an hour straddling midnight counts
for the earlier day); a daily document keeps the dates of the zone it was written in.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from src.core.config import Settings
from src.core.exceptions import StoreError
from src.services.stats.history import DailyHistory
from src.services.stats.history_buckets import (
    DAY,
    HOUR,
    Bucket,
    BucketFolder,
    Point,
    RawCursor,
    RawReplay,
    Triple,
    as_triple,
    as_utc,
    encode_samples,
    hourly_from_samples,
    local_date,
    local_midnight,
    merge,
    month_start,
    next_month,
    parse_hour_key,
    stem_of,
)
from src.types.models import DailyStats
from src.types.ports import Clock, JsonStore
from src.utils.backoff import Backoff
from src.utils.logging import get_logger
from src.utils.loop import Loop

RAW_FOLDER = "history/raw"
HOURLY_FOLDER = "history/hourly"
DAILY_FOLDER = "history/daily"
RAW_SUFFIX = ".jsonl"
SCHEMA_VERSION = 1  # of the hourly and daily documents
FLUSH_INTERVAL = 60.0  # seconds: the most samples a crash can lose
COMPACT_INTERVAL = 24 * 3600.0
RAW_DAYS = 7  # full resolution for the UTC days after this many days ago
HOURLY_DAYS = 90  # hourly buckets for the local days after this many days ago
FULL_LINE_EVERY = 60  # diff lines between two full lines of a raw journal
MAX_PENDING = 5000  # samples kept while the disk refuses them (days at the usual refresh): then the oldest go
YIELD_EVERY = 256  # points merged by `read` between two chances for the event loop to run other work
NOT_RECORDED = frozenset({"goal"})  # a target, not a count

Series = dict[str, dict[str, Triple]]  # key -> bucket key (hour key or ISO date) -> [min, max, last]
_Loader = Callable[[], Awaitable[list[Point]]]


def raw_name(day: date) -> str:
    """The store name of the raw journal of UTC day `day`."""
    return f"{RAW_FOLDER}/{day.isoformat()}{RAW_SUFFIX}"


def hourly_name(year: int, month: int) -> str:
    """The store name of the hourly document of a UTC month."""
    return f"{HOURLY_FOLDER}/{year:04d}-{month:02d}.json"


def daily_name(year: int) -> str:
    """The store name of the daily document of a year (of local dates)."""
    return f"{DAILY_FOLDER}/{year:04d}.json"


@dataclass(frozen=True, slots=True)
class _Sample:
    """One recorded sample; `seq` tells flushed samples apart even when older ones were dropped meanwhile."""

    seq: int
    at: int  # epoch seconds
    values: Mapping[str, int]


def _members_triple(day: DailyStats) -> Triple | None:
    """The members bucket a day file gives: min and max of its start and end count, last the end."""
    counts = [c for c in (day.member_count_start, day.member_count_end) if c is not None]
    if not counts:
        return None
    return (min(counts), max(counts), counts[-1])


def _instant(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class _Stream:
    """One resolution's points in time order, loading its files one at a time, when the merge reaches them."""

    def __init__(
        self, files: list[tuple[datetime, _Loader]], span_end: Callable[[datetime], datetime]
    ) -> None:
        self._files = deque(sorted(files, key=lambda file: file[0]))  # (no point is earlier, loader)
        self._points: list[tuple[datetime, int, Point]] = []  # a heap; the int keeps file order on ties
        self._order = itertools.count()
        self.span_end = span_end  # where the span of a point of this resolution ends

    def head(self) -> tuple[datetime, bool] | None:
        """The earliest the next point can be, and whether that is a loaded point (else a file's bound)."""
        point = self._points[0][0] if self._points else None
        bound = self._files[0][0] if self._files else None
        if point is not None and (bound is None or point <= bound):
            return point, True
        return None if bound is None else (bound, False)

    async def load_next(self) -> None:
        """Load the next file's points."""
        _, load = self._files.popleft()
        for point in await load():
            heapq.heappush(self._points, (point.at, next(self._order), point))

    def pop(self) -> Point:
        """Take the earliest loaded point."""
        return heapq.heappop(self._points)[2]

    async def has_point_before(self, end: datetime) -> bool:
        """Whether a point is earlier than `end`, loading only the files that could hold one."""
        while (head := self.head()) is not None and head[0] < end:
            if head[1]:
                return True
            await self.load_next()
        return False


class CountHistory:
    """Samples every counted value at each refresh and keeps it as raw, hourly and daily series on disk."""

    def __init__(self, settings: Settings, clock: Clock, store: JsonStore) -> None:
        self._settings = settings
        self._zone = settings.zone
        self._clock = clock
        self._store = store
        self._log = get_logger(__name__, service="stats")
        self._pending: deque[_Sample] = deque()
        self._last_values: Mapping[str, int] = {}
        self._seq = 0
        self._dropped = 0
        self._cursors: dict[date, RawCursor] = {}  # per raw journal: what its last written line left
        self._bad_files: set[str] = set()  # files whose bad lines or entries were already logged
        self._lock = asyncio.Lock()  # one writer at a time: flushing, compacting and seeding
        self._started = False
        self._flusher = Loop(
            "count-history-flusher",
            self._flush_or_raise,
            clock=clock,
            interval=FLUSH_INTERVAL,
            backoff=Backoff(FLUSH_INTERVAL, 10 * FLUSH_INTERVAL),
            immediate=False,
            on_error=self._flush_failed,
        )
        self._compactor = Loop(
            "count-history-compactor",
            self.compact,
            clock=clock,
            interval=COMPACT_INTERVAL,
            backoff=Backoff(300.0, 3600.0),  # a failed day is tried again within the hour, not tomorrow
        )

    @property
    def pending_samples(self) -> int:
        """How many recorded samples are not on disk yet."""
        return len(self._pending)

    # --- recording ------------------------------------------------------------------------------------------

    def record(self, values: Mapping[str, int | None]) -> None:
        """Keep a sample of `values` taken now (memory only, never blocks); None (unknown) is left out."""
        kept: Mapping[str, int] = {
            str(key): int(value)  # str(): a CounterKind is stored by its value
            for key, value in values.items()
            if value is not None and key not in NOT_RECORDED
        }
        if not kept:
            return
        if kept == self._last_values:
            kept = self._last_values  # an unchanged sample shares the mapping: samples are never mutated
        self._last_values = kept
        if len(self._pending) >= MAX_PENDING:
            self._pending.popleft()
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                self._log.error("count_history.samples_dropped", dropped=self._dropped, kept=MAX_PENDING)
        self._seq += 1
        self._pending.append(_Sample(self._seq, int(self._clock.now().timestamp()), kept))

    async def start(self) -> None:
        """Start the flusher and the compaction (once now, then daily)."""
        if self._started:
            return
        self._started = True
        self._flusher.start()
        self._compactor.start()

    async def stop(self) -> None:
        """Stop both loops and write the samples still in memory; a service never started writes nothing."""
        if not self._started:
            return
        self._started = False
        await self._compactor.cancel()  # safe to cut short: every step can run again
        await self._flusher.stop()
        if not await self.flush():
            self._log.error("count_history.stop_unflushed", pending=len(self._pending))

    async def flush(self) -> bool:
        """Append every pending sample to its UTC day's journal; True when all are on disk."""
        async with self._lock:
            return await self._write_pending()

    async def _write_pending(self) -> bool:
        """Append the pending samples, a run of one day at a time. The caller holds the lock."""
        batch = list(self._pending)
        for day, group in itertools.groupby(batch, key=lambda s: _instant(s.at).date()):
            run = list(group)
            # Forgotten until the append succeeds: after a failed or cut-short append the retry starts with a
            # full line, whatever part of the failed batch reached the disk.
            cursor = self._cursors.pop(day, None)
            lines, cursor = encode_samples([(s.at, s.values) for s in run], cursor, FULL_LINE_EVERY)
            try:
                await self._store.append_lines(raw_name(day), lines)
            except StoreError as exc:
                self._log.error(
                    "count_history.flush_failed",
                    day=day.isoformat(),
                    pending=len(self._pending),
                    error=str(exc),
                )
                return False
            if cursor is not None:
                self._cursors[day] = cursor
            last = run[-1].seq
            while self._pending and self._pending[0].seq <= last:
                self._pending.popleft()
        yesterday = self._clock.now().date() - DAY
        self._cursors = {d: c for d, c in self._cursors.items() if d >= yesterday}
        return True

    async def _flush_or_raise(self) -> None:
        """One flush; raise when it failed so the loop backs off."""
        if not await self.flush():
            raise StoreError(f"{len(self._pending)} history samples are not on disk yet")

    def _flush_failed(self, exc: Exception, retry_in: float | None) -> None:
        """Log a failed flush: the store error was logged by `flush`; a bug gets its traceback here."""
        if isinstance(exc, StoreError):
            self._log.info("count_history.flush_retry", pending=len(self._pending), retry_in=retry_in)
        else:
            self._log.error("count_history.flush_error", error=repr(exc), retry_in=retry_in, exc_info=exc)

    # --- compaction -----------------------------------------------------------------------------------------

    async def compact(self) -> None:
        """Thin the past: old raw days into hours, old hours into local days, and drop what retention ends."""
        async with self._lock:
            now = self._clock.now()
            today = local_date(now, self._zone)
            await self._raw_to_hourly(now.date() - timedelta(days=RAW_DAYS))
            await self._hourly_to_daily(local_midnight(today - timedelta(days=HOURLY_DAYS), self._zone))
            await self._prune(today - timedelta(days=self._settings.retention_days))

    async def _raw_to_hourly(self, before: date) -> None:
        """Turn raw journals of UTC days before `before` into hourly buckets, then delete them."""
        days = [d for d in await self._raw_days() if d < before]
        for (year, month), group in itertools.groupby(days, key=lambda d: (d.year, d.month)):
            month_days = list(group)
            name = hourly_name(year, month)
            series = await self._load(name, parse_hour_key)
            if series is None:
                continue  # logged; the raw days stay until their month can be written
            for day in month_days:
                replay = RawReplay(await self._store.read_lines(raw_name(day)))
                hours = hourly_from_samples(replay)
                self._note_skipped(raw_name(day), replay.skipped)
                for key, buckets in hours.items():
                    # A UTC hour lies in one raw day only, so its bucket is replaced, never merged twice.
                    series.setdefault(key, {}).update(buckets)
            await self._save(name, {"month": f"{year:04d}-{month:02d}"}, series)
            for day in month_days:
                await self._store.delete(raw_name(day))
            self._log.info(
                "count_history.raw_compacted", month=f"{year:04d}-{month:02d}", days=len(month_days)
            )

    async def _hourly_to_daily(self, cut: datetime) -> None:
        """Turn hourly buckets before `cut` (a local midnight) into local-day buckets, then remove them."""
        months = [(y, m) for y, m in await self._hourly_months() if month_start(y, m) < cut]
        days: dict[int, Series] = {}  # year -> series of the local days built
        done: list[tuple[int, int]] = []
        for year, month in months:
            series = await self._load(hourly_name(year, month), parse_hour_key)
            if series is None:
                break  # a local day may span two months: none after an unreadable one is built without it
            for key, hours in series.items():
                for hour in sorted(hours):  # hour keys sort in time order: `last` ends up the latest
                    at = parse_hour_key(hour)
                    if at < cut:
                        day = local_date(at, self._zone)
                        buckets = days.setdefault(day.year, {}).setdefault(key, {})
                        buckets[day.isoformat()] = merge(buckets.get(day.isoformat()), hours[hour])
            done.append((year, month))
        for year, built in sorted(days.items()):
            name = daily_name(year)
            stored = await self._load(name, date.fromisoformat)
            if stored is None:
                return  # the hours stay until their year can be written
            for key, buckets in built.items():
                known = stored.setdefault(key, {})
                # A day already there is a part written before a crash (or a seed): merging is idempotent, and
                # months are removed oldest first, so what is merged now is never earlier than what is there.
                known.update({d: merge(known.get(d), triple) for d, triple in buckets.items()})
            await self._save(name, {"year": year}, stored)
        for year, month in done:  # oldest first: see above
            await self._drop_before(
                hourly_name(year, month), parse_hour_key, cut, {"month": f"{year:04d}-{month:02d}"}
            )
        if days:
            self._log.info("count_history.hourly_compacted", months=len(done), before=cut.isoformat())

    async def _prune(self, before: date) -> None:
        """Delete everything from before local date `before`, at every resolution."""
        cut = local_midnight(before, self._zone)
        deleted = 0
        for day in await self._raw_days():
            if datetime(day.year, day.month, day.day, tzinfo=UTC) + DAY <= cut:
                await self._store.delete(raw_name(day))
                deleted += 1
        for year, month in await self._hourly_months():
            name = hourly_name(year, month)
            if month_start(*next_month(year, month)) <= cut:
                await self._store.delete(name)
                deleted += 1
            elif month_start(year, month) < cut:
                await self._drop_before(name, parse_hour_key, cut, {"month": f"{year:04d}-{month:02d}"})
        for year in await self._daily_years():
            if year < before.year:
                await self._store.delete(daily_name(year))
                deleted += 1
            elif year == before.year:
                await self._drop_before(daily_name(year), date.fromisoformat, before, {"year": year})
        if deleted:
            self._log.info("count_history.pruned", files=deleted, before=before.isoformat())

    async def _drop_before(
        self, name: str, parse_key: Callable[[str], Any], cut: datetime | date, header: dict[str, Any]
    ) -> None:
        """Remove the buckets of a document that start before `cut`; a document left empty is deleted."""
        series = await self._load(name, parse_key)
        if series is None:
            return
        kept = {
            key: {b: t for b, t in buckets.items() if parse_key(b) >= cut} for key, buckets in series.items()
        }
        if kept != series:
            await self._save(name, header, kept)

    # --- seeding --------------------------------------------------------------------------------------------

    async def seed_daily(self, days: Iterable[DailyStats]) -> int:
        """Put each past day's member counts into the daily series where nothing covers that day yet.

        Today is left out (its counts still move and the samples cover it). Returns how many days were added.
        """
        today = local_date(self._clock.now(), self._zone)
        wanted: dict[date, Triple] = {}
        for day in days:
            triple = _members_triple(day)
            if triple is not None and day.date < today:
                wanted[day.date] = triple
        if not wanted:
            return 0
        async with self._lock:
            for year in sorted({d.year for d in wanted}):
                stored = await self._load(daily_name(year), date.fromisoformat)
                # A year whose document is not ours cannot take a day; a day it already holds is not replaced.
                known = None if stored is None else stored.get("members", {})
                wanted = {
                    d: t
                    for d, t in wanted.items()
                    if d.year != year or (known is not None and d.isoformat() not in known)
                }
            if wanted:
                covered = await self._finer_member_dates(min(wanted), max(wanted))
                wanted = {d: t for d, t in wanted.items() if d not in covered}
            for year in sorted({d.year for d in wanted}):
                stored = await self._load(daily_name(year), date.fromisoformat)
                if stored is None:
                    continue
                members = stored.setdefault("members", {})
                members.update({d.isoformat(): t for d, t in wanted.items() if d.year == year})
                await self._save(daily_name(year), {"year": year}, stored)
        if wanted:
            self._log.info("count_history.seeded", days=len(wanted), first=min(wanted).isoformat())
        return len(wanted)

    async def _finer_member_dates(self, first: date, last: date) -> set[date]:
        """The local dates from `first` to `last` that have raw, pending or hourly member counts."""
        start, end = local_midnight(first, self._zone), local_midnight(last + DAY, self._zone)
        covered: set[date] = set()

        def note(at: datetime) -> None:
            if start <= at < end:
                covered.add(local_date(at, self._zone))

        for sample in self._pending:
            if "members" in sample.values:
                note(_instant(sample.at))
        for day in await self._raw_days():
            if _overlaps(_utc_midnight(day), _utc_midnight(day) + DAY, start, end):
                replay = RawReplay(await self._store.read_lines(raw_name(day)))
                for at, values in replay:
                    if "members" in values:
                        note(_instant(at))
                self._note_skipped(raw_name(day), replay.skipped)
        for year, month in await self._hourly_months():
            if _overlaps(month_start(year, month), month_start(*next_month(year, month)), start, end):
                series = await self._load(hourly_name(year, month), parse_hour_key)
                for hour in (series or {}).get("members", {}):
                    note(parse_hour_key(hour))
        return covered

    # --- reading --------------------------------------------------------------------------------------------

    async def read(self, key: str, start: datetime, end: datetime) -> AsyncGenerator[Point, None]:
        """The points of `key` from `start` to `end` (exclusive) in time order, at the finest resolution held.

        A daily or hourly point is left out when a finer point lies within its span. Files are loaded one at a
        time, as the points reach them; the samples not flushed yet come last.
        """
        streams = await self._streams(key, as_utc(start), as_utc(end))  # coarse to fine
        merged = 0
        while True:
            merged += 1
            if merged % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a year holds thousands of points: let events in between
            # The stream whose next point (or next file) is earliest; on a tie the coarser one, so its point
            # is checked against the finer points starting with it.
            heads = [(head[0], i, head[1]) for i, s in enumerate(streams) if (head := s.head()) is not None]
            if not heads:
                return
            _, i, loaded = min(heads)
            stream = streams[i]
            if not loaded:
                await stream.load_next()
                continue
            point = stream.pop()
            span_end = stream.span_end(point.at)
            covered = False
            for finer in streams[i + 1 :]:
                if await finer.has_point_before(span_end):
                    covered = True
                    break
            if not covered:
                yield point

    async def buckets(
        self, key: str, start: datetime, end: datetime, bucket: Bucket, zone: tzinfo | None = None
    ) -> list[Point]:
        """The points of `key` folded into chart buckets ([min, max, last] each), oldest first.

        `bucket` is a length aligned on the UTC epoch, or "day" for local dates in `zone` (the configured zone
        by default). ValueError when the span would make more than MAX_CHART_BUCKETS buckets.
        """
        folder = BucketFolder(bucket, zone or self._zone)
        folder.check_span(as_utc(start), as_utc(end))
        async for point in self.read(key, start, end):
            folder.add(point)
        return folder.points()

    async def _streams(self, key: str, start: datetime, end: datetime) -> tuple[_Stream, _Stream, _Stream]:
        """The daily, hourly and raw streams of `key` over the range, no file loaded yet."""
        zone = self._zone
        pending: dict[date, list[tuple[int, int]]] = {}
        for sample in self._pending:  # a snapshot: a flush during the read must neither lose nor repeat one
            if key in sample.values:
                pending.setdefault(_instant(sample.at).date(), []).append((sample.at, sample.values[key]))
        daily = _Stream(
            [
                (_year_bound(y), self._daily_loader(y, key, start, end))
                for y in await self._daily_years()
                if _overlaps(_year_bound(y), _year_bound(y + 1) + 4 * DAY, start, end)
            ],
            lambda at: local_midnight(local_date(at, zone) + DAY, zone),
        )
        hourly = _Stream(
            [
                (month_start(y, m), self._hourly_loader(y, m, key, start, end))
                for y, m in await self._hourly_months()
                if _overlaps(month_start(y, m), month_start(*next_month(y, m)), start, end)
            ],
            lambda at: at + HOUR,
        )
        raw_days = set(await self._raw_days())
        raw = _Stream(
            [
                (_utc_midnight(d), self._raw_loader(d, d in raw_days, key, start, end, pending.get(d, [])))
                for d in sorted(raw_days.union(pending))
                if _overlaps(_utc_midnight(d), _utc_midnight(d) + DAY, start, end)
            ],
            lambda at: at,
        )
        return daily, hourly, raw

    def _daily_loader(self, year: int, key: str, start: datetime, end: datetime) -> _Loader:
        async def load() -> list[Point]:
            series = await self._load(daily_name(year), date.fromisoformat)
            points = []
            for day, (low, high, last) in (series or {}).get(key, {}).items():
                at = local_midnight(date.fromisoformat(day), self._zone)
                if start <= at < end:
                    points.append(Point(at, low, high, last))
            return points

        return load

    def _hourly_loader(self, year: int, month: int, key: str, start: datetime, end: datetime) -> _Loader:
        async def load() -> list[Point]:
            series = await self._load(hourly_name(year, month), parse_hour_key)
            points = []
            for hour, (low, high, last) in (series or {}).get(key, {}).items():
                at = parse_hour_key(hour)
                if start <= at < end:
                    points.append(Point(at, low, high, last))
            return points

        return load

    def _raw_loader(
        self,
        day: date,
        stored: bool,
        key: str,
        start: datetime,
        end: datetime,
        pending: list[tuple[int, int]],
    ) -> _Loader:
        async def load() -> list[Point]:
            samples: list[tuple[int, int]] = []
            if stored:
                lines = await self._store.read_lines(raw_name(day))
                # A day of 5-minute lines replayed value by value: off the event loop, like the parsing.
                samples, skipped = await asyncio.to_thread(_samples_of, lines, key)
                self._note_skipped(raw_name(day), skipped)
            # Pending samples already in the file (flushed since the snapshot) are not repeated.
            flushed_up_to = max((at for at, _ in samples), default=None)
            samples += [s for s in pending if flushed_up_to is None or s[0] > flushed_up_to]
            points = [Point(at, v, v, v) for at, v in ((_instant(t), v) for t, v in samples)]
            return [p for p in points if start <= p.at < end]

        return load

    # --- files ----------------------------------------------------------------------------------------------

    async def _raw_days(self) -> list[date]:
        """The UTC days that have a raw journal, oldest first."""
        found = []
        for name in await self._store.names(RAW_FOLDER, RAW_SUFFIX):
            try:
                found.append(date.fromisoformat(stem_of(name, RAW_SUFFIX)))
            except ValueError:
                continue  # not one of ours
        return sorted(found)

    async def _hourly_months(self) -> list[tuple[int, int]]:
        """The (year, month) of each hourly document, oldest first."""
        found = []
        for name in await self._store.names(HOURLY_FOLDER):
            try:
                parsed = datetime.strptime(stem_of(name, ".json"), "%Y-%m")  # noqa: DTZ007 - a month, no time
            except ValueError:
                continue
            found.append((parsed.year, parsed.month))
        return sorted(found)

    async def _daily_years(self) -> list[int]:
        """The year of each daily document, oldest first."""
        stems = (stem_of(name, ".json") for name in await self._store.names(DAILY_FOLDER))
        return sorted(int(stem) for stem in stems if len(stem) == 4 and stem.isdigit())

    async def _load(self, name: str, parse_key: Callable[[str], Any]) -> Series | None:
        """The series of an hourly or daily document ({} when there is none), or None when it is not ours.

        Entries that are not buckets are left out with a log; a document of another schema is left alone.
        """
        doc = await self._store.read(name)
        if doc is None:
            return {}
        if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION:
            self._log.error("count_history.unknown_document", file=name)
            return None
        raw_series = doc.get("series")
        if not isinstance(raw_series, dict):
            self._log.error("count_history.unknown_document", file=name)
            return None
        # A month of hourly buckets of every key is thousands of entries: checked off the event loop.
        series, skipped = await asyncio.to_thread(_checked_series, raw_series, parse_key)
        self._note_skipped(name, skipped)
        return series

    async def _save(self, name: str, header: dict[str, Any], series: Series) -> None:
        """Write a document of `series` (buckets in time order), or delete it when it holds no bucket."""
        kept = {key: dict(sorted(buckets.items())) for key, buckets in sorted(series.items()) if buckets}
        if not kept:
            await self._store.delete(name)
            return
        body = {key: {b: list(t) for b, t in buckets.items()} for key, buckets in kept.items()}
        await self._store.write(name, {"schema_version": SCHEMA_VERSION, **header, "series": body})

    def _note_skipped(self, name: str, skipped: int) -> None:
        """Log a file's unreadable lines or entries once (they were left out, the rest still counts)."""
        if skipped and name not in self._bad_files:
            self._bad_files.add(name)
            self._log.error("count_history.entries_skipped", file=name, skipped=skipped)


def _parses(parse_key: Callable[[str], Any], key: str) -> bool:
    try:
        parse_key(key)
    except ValueError:
        return False
    return True


def _year_bound(year: int) -> datetime:
    """No local date of `year` starts before this, in any zone (the daily file's dates may be of another)."""
    return datetime(year, 1, 1, tzinfo=UTC) - 2 * DAY


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


def _samples_of(lines: list[Any], key: str) -> tuple[list[tuple[int, int]], int]:
    """The (time, value) samples of `key` a raw journal's lines hold, and how many lines were skipped."""
    replay = RawReplay(lines)
    samples = [(at, values[key]) for at, values in replay if key in values]
    return samples, replay.skipped


def _checked_series(raw_series: dict[str, Any], parse_key: Callable[[str], Any]) -> tuple[Series, int]:
    """The well-formed buckets of a document's series, and how many entries were not buckets."""
    series: Series = {}
    skipped = 0
    for key, buckets in raw_series.items():
        if not isinstance(buckets, dict):
            skipped += 1
            continue
        kept: dict[str, Triple] = {}
        for bucket, value in buckets.items():
            triple = as_triple(value)
            if triple is None or not _parses(parse_key, bucket):
                skipped += 1
                continue
            kept[bucket] = triple
        series[key] = kept
    return series, skipped


async def seed_from_days(counts: CountHistory, days: DailyHistory, dates: Iterable[date]) -> int:
    """Seed the daily member series from the day files of `dates`, one day in memory at a time."""
    slim = []
    for d in dates:
        day = await days.load_day(d)
        if day is not None and (day.member_count_start is not None or day.member_count_end is not None):
            # Only the two counts: a year of day files with their events would not fit in memory at once.
            slim.append(
                DailyStats(
                    date=d, member_count_start=day.member_count_start, member_count_end=day.member_count_end
                )
            )
    return await counts.seed_daily(slim)
