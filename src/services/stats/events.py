"""Member events recorded without blocking the gateway, and written to disk in batches.

`record` only touches memory. A flusher task appends each day's new changes to that day's journal at most once
per `flush_interval`, so a raid of thousands of joins costs about one small append per second, whatever the
size of the day. The day's file is rewritten whole ("folded") only off that path: once the day has been quiet
for a moment, when it has ended, on stop, and at start-up for a journal a crash left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from src.core.config import Settings
from src.core.exceptions import StoreError
from src.services.stats.history import Change, DailyHistory, change_line, counts_line
from src.services.stats.replay_guard import ReplayGuard
from src.types.models import SCHEMA_VERSION, DailyStats, EventKind, MemberEvent
from src.types.ports import Clock
from src.utils.backoff import Backoff
from src.utils.logging import get_logger
from src.utils.loop import Loop

# Discord sends GUILD_BAN_ADD and GUILD_MEMBER_REMOVE for one ban, in either order across reconnects.
BAN_MATCH_WINDOW = timedelta(seconds=10)
# How long bans and leaves stay matchable in memory: long enough that a replay after a resume still
# finds the ban that swallowed its leave.
_MATCH_MEMORY = timedelta(hours=1)
RETENTION_CHECK_INTERVAL = 24 * 3600.0
_REPLAY_MEMORY = timedelta(days=1)  # far longer than Discord keeps a session resumable
# A day's journal is folded into its file once no change has come for this long (a burst is over) ...
FOLD_AFTER_QUIET = 2.0
# ... and for at least this many times as long as the day's last fold took, so folding a big day takes at
# most 1/50 of the time even when its events trickle in just slower than that.
FOLD_QUIET_PER_FOLD_SECOND = 50.0

EventKey = tuple[EventKind, str, datetime]


def as_utc(ts: datetime) -> datetime:
    """`ts` in UTC; a naive timestamp is taken to be UTC already (what Discord sends)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def event_key(event: MemberEvent) -> EventKey:
    """What makes two stored events the same event: kind, member and instant."""
    return (event.kind, event.member_id, as_utc(event.timestamp))


def reconcile(events: Iterable[MemberEvent], window: timedelta = BAN_MATCH_WINDOW) -> list[MemberEvent]:
    """Drop duplicate events and leaves that are the member-remove half of a ban within `window`.

    A ban that swallows a leave is marked as having removed a member.
    """
    unique: dict[EventKey, MemberEvent] = {}
    for event in events:
        unique.setdefault(event_key(event), event)
    bans: dict[str, list[EventKey]] = {}
    for key in unique:
        if key[0] is EventKind.BAN:
            bans.setdefault(key[1], []).append(key)
    for key in [k for k in unique if k[0] is EventKind.LEAVE]:
        ban = next((b for b in bans.get(key[1], ()) if abs(key[2] - b[2]) <= window), None)
        if ban is not None:
            del unique[key]
            if unique[ban].member_removed is not True:
                unique[ban] = unique[ban].with_member_removed()
    return list(unique.values())


@dataclass
class _Day:
    """One day held in memory, keyed by event so duplicates and ban/leave swaps cost O(1)."""

    date: date
    events: dict[EventKey, MemberEvent] = field(default_factory=dict)
    count_start: int | None = None
    count_end: int | None = None
    loaded: bool = False  # merged with the day's file and journal, so writing it cannot lose stored events
    changes: list[tuple[Change, MemberEvent]] = field(default_factory=list)  # not on disk yet, in order
    counts_changed: bool = False  # the counts changed since they were last written
    # Written whole at the next flush: changes made before the day was loaded were merged with what was
    # stored (duplicates and ban/leave pairs reconciled), so they are no longer a list of lines to replay.
    rewrite: bool = False
    # Nothing was stored for it: its first write creates the day file whole (cheap, it is the day's first
    # second), so a journal never exists without its day file and `events/*.json` lists every day with events.
    unstored: bool = False
    journaled: bool = False  # its journal may hold changes its file does not
    appended_at: float = 0.0  # clock.monotonic() of the last append to its journal
    fold_seconds: float = 0.0  # how long its last fold took
    pending: int = 0  # accepted events not yet on disk

    @property
    def dirty(self) -> bool:
        """Whether something in memory is not on disk yet."""
        return bool(self.changes) or self.counts_changed or self.rewrite

    def journal_lines(self, changes: list[tuple[Change, MemberEvent]], counts: bool) -> list[str]:
        """The journal lines for `changes` (and the current counts when `counts`)."""
        lines = [change_line(change, event) for change, event in changes]
        if counts:
            lines.append(counts_line(self.count_start, self.count_end))
        return lines

    def stats(self) -> DailyStats:
        """A DailyStats snapshot (constructed without re-validating events that are already models)."""
        return DailyStats.model_construct(
            schema_version=SCHEMA_VERSION,
            date=self.date,
            events=list(self.events.values()),
            member_count_start=self.count_start,
            member_count_end=self.count_end,
        )

    def merge_stored(self, stored: DailyStats) -> None:
        """Fold the file's content in: stored events first, the file's start count wins, ours ends."""
        merged = reconcile([*stored.events, *self.events.values()])
        self.events = {event_key(e): e for e in merged}
        if stored.member_count_start is not None:
            self.count_start = stored.member_count_start
        if self.count_end is None:
            self.count_end = stored.member_count_end
        self.loaded = True


class EventRecorder:
    """Records joins, leaves, bans and unbans per day in the configured zone; flushes them in batches."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        history: DailyHistory,
        *,
        flush_interval: float = 1.0,
        max_backoff: float = 60.0,
        match_window: timedelta = BAN_MATCH_WINDOW,
        fold_after: float = FOLD_AFTER_QUIET,
    ) -> None:
        self._settings = settings
        self._zone = settings.zone
        self._clock = clock
        self._history = history
        self._flush_interval = flush_interval
        self._max_backoff = max_backoff
        self._window = match_window
        self._fold_after = fold_after
        self._log = get_logger(__name__, service="stats")
        self._days: dict[date, _Day] = {}
        # member id -> recent ban instants / (instant, day, key) of recent leaves, for ban/leave matching
        self._bans: dict[str, list[datetime]] = {}
        self._leaves: dict[str, list[tuple[datetime, date, EventKey]]] = {}
        self._replays = ReplayGuard()
        self._lock = asyncio.Lock()
        self._next_flush_at = 0.0  # monotonic: batches are at least flush_interval apart
        self._started = False
        # Wakes on new events but writes at most once per interval; a failed write (or fold) waits 2, 4, 8
        # ... intervals (up to max_backoff) even when no new event arrives.
        self._flusher = Loop(
            "events-flusher",
            self._flush_batch,
            clock=clock,
            interval=self._until_next_flush,
            backoff=Backoff(2 * flush_interval, max_backoff),
            immediate=False,
            on_error=self._flush_failed,
        )
        self._retention = Loop(
            "events-retention", self._prune, clock=clock, interval=RETENTION_CHECK_INTERVAL, immediate=False
        )

    @property
    def pending_events(self) -> int:
        """How many accepted events are not on disk yet (in a journal counts as on disk)."""
        return sum(day.pending for day in self._days.values())

    def record(self, event: MemberEvent) -> bool:
        """Accept one event: memory only, never blocks; the flusher writes it within about a second.

        Return False when the event was already recorded (a replay), so its effects are not applied twice.
        """
        if event.timestamp.tzinfo is None:
            event = event.model_copy(update={"timestamp": as_utc(event.timestamp)})
        key = event_key(event)
        member_id, ts = key[1], key[2]
        day = self._day(ts.astimezone(self._zone).date())
        if key in day.events or not self._replays.is_new(event.kind, member_id, ts, event.joined_at):
            self._log.debug("events.duplicate", kind=str(event.kind), member_id=member_id)
            return False
        if event.kind is EventKind.LEAVE and self._mark_ban_near(member_id, ts):
            self._log.info("events.leave_was_ban", member_id=member_id)
            return True
        if event.kind is EventKind.BAN:
            removed = self._drop_leaves_near(member_id, ts)
            if removed or self._settings.members_intent:
                # With the members intent a member-remove comes with the ban of a member; until it does
                # (or if it never does: a ban by id of a non-member) the ban removed nobody.
                event = event.model_copy(update={"member_removed": removed})
            self._bans.setdefault(member_id, []).append(ts)
        elif event.kind is EventKind.LEAVE:
            self._leaves.setdefault(member_id, []).append((ts, day.date, key))
        day.events[key] = event
        day.pending += 1
        self._changed(day, Change.ADD, event)
        return True

    def new_session(self) -> None:
        """A fresh gateway session began: nothing from before it can be replayed any more."""
        self._replays.new_session()

    def observe_member_count(self, count: int) -> None:
        """Note the current member count: the day's first observation is its start, the latest its end."""
        day = self._day(self._local_today())
        if day.count_start is not None and day.count_end == count:
            return
        if day.count_start is None:
            day.count_start = count
        day.count_end = count
        day.counts_changed = True
        self._flusher.wake()

    def today(self) -> DailyStats:
        """Today's events and counts as recorded so far (in the configured zone)."""
        today = self._local_today()
        day = self._days.get(today)
        return day.stats() if day else DailyStats(date=today)

    async def start(self) -> None:
        """Fold journals a crash left, load today so a restart continues the day, prune, start the flusher."""
        if self._started:
            return
        self._started = True
        await self._fold_left_journals()
        today = self._day(self._local_today())
        await self._load_into(today)
        await self._prune()
        self._flusher.start()
        self._retention.start()

    async def stop(self) -> None:
        """Stop the background loops, write everything still in memory and fold the journals (shutdown)."""
        self._started = False
        await asyncio.gather(self._flusher.cancel(), self._retention.cancel())
        async with self._lock:
            await self._write_changes()  # appends first: the cheapest way to make everything durable
            # Not needed for safety (a journal is as durable as its day file, and the next start folds it),
            # but a clean stop leaves whole day files for whoever reads them while the bot is down. Events
            # still arriving while the bot stops are written with them.
            for day in self._days.values():
                day.rewrite |= day.journaled
            await self._write_changes()
        if self.pending_events:
            self._log.error("events.stop_unflushed", pending=self.pending_events)

    async def flush(self) -> bool:
        """Write every change now (each day's to its journal); True when everything is on disk."""
        async with self._lock:
            return await self._write_changes()

    def _local_today(self) -> date:
        return self._clock.now().astimezone(self._zone).date()

    def _day(self, d: date) -> _Day:
        day = self._days.get(d)
        if day is None:
            day = self._days[d] = _Day(d)
        return day

    def _changed(self, day: _Day, change: Change, event: MemberEvent) -> None:
        """Queue one change of `day` for its journal and wake the flusher."""
        day.changes.append((change, event))
        self._flusher.wake()

    def _mark_ban_near(self, member_id: str, ts: datetime) -> bool:
        """Find a ban of `member_id` within the window and mark it as having removed a member."""
        ban_ts = next((b for b in self._bans.get(member_id, ()) if abs(ts - b) <= self._window), None)
        if ban_ts is None:
            return False
        day = self._days.get(ban_ts.astimezone(self._zone).date())
        key = (EventKind.BAN, member_id, ban_ts)
        ban = day.events.get(key) if day is not None else None
        if day is not None and ban is not None and ban.member_removed is not True:
            day.events[key] = marked = ban.with_member_removed()
            self._changed(day, Change.MARK, marked)
        return True

    def _drop_leaves_near(self, member_id: str, ts: datetime) -> bool:
        """Remove recorded leaves of `member_id` within the window: the ban replaces them. True if any."""
        dropped = False
        kept = []
        for leave_ts, leave_day, key in self._leaves.get(member_id, ()):
            day = self._days.get(leave_day)
            near = day is not None and abs(ts - leave_ts) <= self._window
            leave = day.events.pop(key, None) if day is not None and near else None
            if day is not None and leave is not None:
                self._log.info("events.leave_replaced_by_ban", member_id=member_id)
                self._changed(day, Change.DROP, leave)
                dropped = True
            else:
                kept.append((leave_ts, leave_day, key))
        self._leaves[member_id] = kept
        return dropped

    async def _fold_left_journals(self) -> None:
        """Fold every journal left by a crash (or by a stop that could not fold) into its day file."""
        try:
            dates = await self._history.journal_dates()
        except StoreError as exc:
            self._log.error("events.journals_unlisted", error=str(exc))
            return
        for d in dates:
            try:
                lines = await self._history.fold_journal(d)
            except StoreError as exc:
                # Nothing is lost: readers merge the journal meanwhile, and the flusher tries the fold again.
                self._log.error("events.fold_failed", day=d.isoformat(), error=str(exc))
                self._day(d).journaled = True
                continue
            self._log.info("events.journal_folded", day=d.isoformat(), lines=lines)

    async def _load_into(self, day: _Day) -> None:
        """Merge the day's file and journal into memory; on a read error the day stays unloaded (retried)."""
        try:
            stored = await self._history.load_day(day.date)
        except StoreError as exc:
            self._log.error("events.load_failed", day=day.date.isoformat(), error=str(exc))
            return
        if stored is None:
            day.loaded = day.unstored = True
            return
        day.rewrite |= day.dirty
        day.merge_stored(stored)
        for event in stored.events:
            key = event_key(event)
            if key[0] is EventKind.BAN:
                self._bans.setdefault(key[1], []).append(key[2])
            elif key[0] is EventKind.LEAVE and key in day.events:
                self._leaves.setdefault(key[1], []).append((key[2], day.date, key))

    async def _write_changes(self) -> bool:
        """Write every dirty day; True when everything accepted is on disk. The caller holds the lock."""
        ok = True
        for day in [d for d in self._days.values() if d.dirty]:
            ok = await self._write_day(day) and ok
        self._forget_old()
        return ok

    async def _write_day(self, day: _Day) -> bool:
        """Append one day's changes to its journal (or write it whole); on failure they stay to be retried."""
        try:
            await self._ensure_loaded(day)
        except StoreError as exc:
            self._flush_failed_for(day, exc)
            return False
        sent = day.pending
        # Taken out before the await: a record() meanwhile starts the next batch instead of joining this one.
        changes, counts, rewrite = day.changes, day.counts_changed, day.rewrite or day.unstored
        day.changes, day.counts_changed, day.rewrite = [], False, False
        try:
            if rewrite:
                await self._history.fold_day(day.stats())
                day.journaled = day.unstored = False
            else:
                await self._history.append_journal(day.date, day.journal_lines(changes, counts))
                day.journaled = True
                day.appended_at = self._clock.monotonic()
        except BaseException as exc:
            # Failed or cancelled mid-write: the changes go back in front to be written again (after a
            # cancel, by the final flush in stop()); a line appended twice changes nothing.
            day.changes[:0] = changes
            day.counts_changed |= counts
            day.rewrite |= rewrite
            if isinstance(exc, StoreError):
                if changes or counts:
                    self._flush_failed_for(day, exc)
                else:  # only a fold: everything is in the journal already
                    self._log.error("events.fold_failed", day=day.date.isoformat(), error=str(exc))
                return False
            raise
        day.pending -= sent
        return True

    def _flush_failed_for(self, day: _Day, exc: StoreError) -> None:
        """Log a day that could not be written, with how many events now wait in memory."""
        self._log.error(
            "events.flush_failed", day=day.date.isoformat(), pending=self.pending_events, error=str(exc)
        )

    async def _ensure_loaded(self, day: _Day) -> None:
        """Merge the stored day into memory before writing it; raises StoreError when it cannot be read."""
        if not day.loaded:
            await self._load_into(day)
            if not day.loaded:
                raise StoreError(f"could not read {day.date} before writing it")

    def _fold_due(self, day: _Day, today: date, now: float) -> bool:
        """Whether a day's journal should be folded into its file now."""
        if not day.journaled or day.dirty:
            return False  # nothing to fold, or changes still to append first (the append might fail)
        if day.date < today:
            return True  # the day has ended
        quiet = max(self._fold_after, FOLD_QUIET_PER_FOLD_SECOND * day.fold_seconds)
        return now - day.appended_at >= quiet

    async def _fold_days(self) -> bool:
        """Fold every journaled day that is due; True unless a fold failed. The caller holds the lock."""
        today, now = self._local_today(), self._clock.monotonic()
        ok = True
        for day in [d for d in self._days.values() if self._fold_due(d, today, now)]:
            started = self._clock.monotonic()
            try:
                await self._ensure_loaded(day)
                await self._history.fold_day(day.stats())
            except StoreError as exc:
                # Nothing is lost: the journal stays, readers merge it, and the next try or start folds it.
                self._log.error("events.fold_failed", day=day.date.isoformat(), error=str(exc))
                ok = False
                continue
            # Changes recorded during the fold are not in it: they are queued for the next append.
            day.journaled = False
            day.fold_seconds = self._clock.monotonic() - started
        return ok

    def _forget_old(self) -> None:
        """Drop match entries past their usefulness and clean days older than yesterday."""
        horizon = self._clock.now() - _MATCH_MEMORY
        for member_id, bans in list(self._bans.items()):
            self._bans[member_id] = [t for t in bans if t >= horizon]
            if not self._bans[member_id]:
                del self._bans[member_id]
        for member_id, leaves in list(self._leaves.items()):
            self._leaves[member_id] = [entry for entry in leaves if entry[0] >= horizon]
            if not self._leaves[member_id]:
                del self._leaves[member_id]
        yesterday = self._local_today() - timedelta(days=1)
        for d in [d for d, day in self._days.items() if d < yesterday and not (day.dirty or day.journaled)]:
            del self._days[d]

    def _until_next_flush(self) -> float | None:
        """Seconds until the next batch or fold, or None while there is nothing to write or fold."""
        now = self._clock.monotonic()
        next_batch = max(0.0, self._next_flush_at - now)
        if any(day.dirty for day in self._days.values()):
            return next_batch
        journaled = [day for day in self._days.values() if day.journaled]
        if not journaled:
            return None
        today = self._local_today()
        if any(self._fold_due(day, today, now) for day in journaled):
            return next_batch
        # Not due yet: look again within an interval, since wake() cannot cut a sleep short and new events
        # must still be written within about a second.
        return self._flush_interval

    async def _flush_batch(self) -> None:
        """Write one batch and fold quiet days; raise when something failed so the loop backs off."""
        self._next_flush_at = self._clock.monotonic() + self._flush_interval
        async with self._lock:
            written = await self._write_changes()
            folded = await self._fold_days()
        if not written:
            raise StoreError(f"{self.pending_events} events are not on disk yet")
        if not folded:
            raise StoreError("a day's journal could not be folded into its file")

    def _flush_failed(self, exc: Exception, retry_in: float | None) -> None:
        """Log a failed batch: the store error was logged by `flush`; a bug gets its traceback here."""
        if isinstance(exc, StoreError):
            self._log.info("events.flush_retry", pending=self.pending_events, retry_in=retry_in)
        else:
            self._log.error("events.flush_error", error=repr(exc), retry_in=retry_in, exc_info=exc)

    async def _prune(self) -> None:
        """Delete day files past RETENTION_DAYS and forget replay memory older than a day."""
        self._replays.forget_before(self._clock.now() - _REPLAY_MEMORY)
        try:
            await self._history.prune(self._local_today(), self._settings.retention_days)
        except Exception:
            self._log.exception("events.prune_failed")
