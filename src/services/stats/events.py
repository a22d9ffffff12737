"""Member events recorded without blocking the gateway, and written to the day files in batches.

`record` only touches memory; a flusher task rewrites each changed day at most once per `flush_interval`,
so a raid of thousands of joins costs about one write per second, not one per join.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from src.core.config import Settings
from src.core.exceptions import StoreError
from src.services.stats.history import DailyHistory
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
    loaded: bool = False  # merged with the day's file, so writing it cannot lose stored events
    dirty: bool = False
    pending: int = 0  # accepted changes not yet on disk

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
    ) -> None:
        self._settings = settings
        self._zone = settings.zone
        self._clock = clock
        self._history = history
        self._flush_interval = flush_interval
        self._max_backoff = max_backoff
        self._window = match_window
        self._log = get_logger(__name__, service="stats")
        self._days: dict[date, _Day] = {}
        # member id -> recent ban instants / (instant, day, key) of recent leaves, for ban/leave matching
        self._bans: dict[str, list[datetime]] = {}
        self._leaves: dict[str, list[tuple[datetime, date, EventKey]]] = {}
        self._replays = ReplayGuard()
        self._lock = asyncio.Lock()
        self._next_flush_at = 0.0  # monotonic: batches are at least flush_interval apart
        self._started = False
        # Wakes on new events but writes at most once per interval; a failed write waits 2, 4, 8 ...
        # intervals (up to max_backoff) even when no new event arrives.
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
        """How many accepted events are not on disk yet."""
        return sum(day.pending for day in self._days.values())

    def record(self, event: MemberEvent) -> None:
        """Accept one event: memory only, never blocks; the flusher writes it within about a second."""
        if event.timestamp.tzinfo is None:
            event = event.model_copy(update={"timestamp": as_utc(event.timestamp)})
        key = event_key(event)
        member_id, ts = key[1], key[2]
        day = self._day(ts.astimezone(self._zone).date())
        if key in day.events or self._replays.is_replay(event.kind, member_id, event.joined_at):
            self._log.debug("events.duplicate", kind=str(event.kind), member_id=member_id)
            return
        self._replays.note(event.kind, member_id, ts, event.joined_at)
        if event.kind is EventKind.LEAVE and self._mark_ban_near(member_id, ts):
            self._log.info("events.leave_was_ban", member_id=member_id)
            return
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
        self._touch(day, pending=1)

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
        self._touch(day, pending=0)

    def today(self) -> DailyStats:
        """Today's events and counts as recorded so far (in the configured zone)."""
        today = self._local_today()
        day = self._days.get(today)
        return day.stats() if day else DailyStats(date=today)

    async def start(self) -> None:
        """Load today's file so a restart continues the day, prune old days, start the flusher."""
        if self._started:
            return
        self._started = True
        today = self._day(self._local_today())
        await self._load_into(today)
        await self._prune()
        self._flusher.start()
        self._retention.start()

    async def stop(self) -> None:
        """Stop the background loops and write everything still in memory (used on shutdown)."""
        self._started = False
        await asyncio.gather(self._flusher.cancel(), self._retention.cancel())
        if not await self.flush():
            self._log.error("events.stop_unflushed", pending=self.pending_events)

    async def flush(self) -> bool:
        """Write every changed day now; True when everything is on disk."""
        async with self._lock:
            ok = True
            for day in [d for d in self._days.values() if d.dirty]:
                ok = await self._write_day(day) and ok
            self._forget_old()
            return ok

    def _local_today(self) -> date:
        return self._clock.now().astimezone(self._zone).date()

    def _day(self, d: date) -> _Day:
        day = self._days.get(d)
        if day is None:
            day = self._days[d] = _Day(d)
        return day

    def _touch(self, day: _Day, *, pending: int) -> None:
        day.dirty = True
        day.pending += pending
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
            day.events[key] = ban.with_member_removed()
            self._touch(day, pending=0)
        return True

    def _drop_leaves_near(self, member_id: str, ts: datetime) -> bool:
        """Remove recorded leaves of `member_id` within the window: the ban replaces them. True if any."""
        dropped = False
        kept = []
        for leave_ts, leave_day, key in self._leaves.get(member_id, ()):
            day = self._days.get(leave_day)
            if (
                abs(ts - leave_ts) <= self._window
                and day is not None
                and day.events.pop(key, None) is not None
            ):
                self._log.info("events.leave_replaced_by_ban", member_id=member_id)
                self._touch(day, pending=0)
                dropped = True
            else:
                kept.append((leave_ts, leave_day, key))
        self._leaves[member_id] = kept
        return dropped

    async def _load_into(self, day: _Day) -> None:
        """Merge the day's file into memory; on a read error the day stays unloaded and is retried."""
        try:
            stored = await self._history.load_day(day.date)
        except StoreError as exc:
            self._log.error("events.load_failed", day=day.date.isoformat(), error=str(exc))
            return
        if stored is None:
            day.loaded = True
            return
        day.merge_stored(stored)
        for event in stored.events:
            key = event_key(event)
            if key[0] is EventKind.BAN:
                self._bans.setdefault(key[1], []).append(key[2])
            elif key[0] is EventKind.LEAVE and key in day.events:
                self._leaves.setdefault(key[1], []).append((key[2], day.date, key))

    async def _write_day(self, day: _Day) -> bool:
        """Write one day; on failure it stays dirty (nothing is dropped) and the error is logged."""
        sent = day.pending
        day.dirty = False  # a record() during the await sets it again, so that event gets its own write
        try:
            if not day.loaded:
                await self._load_into(day)
                if not day.loaded:
                    raise StoreError(f"could not read {day.date} before writing it")
            await self._history.save_day(day.stats())
        except StoreError as exc:
            day.dirty = True
            self._log.error(
                "events.flush_failed", day=day.date.isoformat(), pending=self.pending_events, error=str(exc)
            )
            return False
        except BaseException:
            day.dirty = True  # cancelled mid-write: the final flush in stop() writes it again
            raise
        day.pending -= sent
        return True

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
        for d in [d for d, day in self._days.items() if d < yesterday and not day.dirty]:
            del self._days[d]

    def _until_next_flush(self) -> float | None:
        """Seconds until the next batch may be written, or None while nothing waits to be written."""
        if not any(day.dirty for day in self._days.values()):
            return None
        return max(0.0, self._next_flush_at - self._clock.monotonic())

    async def _flush_batch(self) -> None:
        """Write one batch; raise when something stayed unwritten so the loop backs off."""
        self._next_flush_at = self._clock.monotonic() + self._flush_interval
        if not await self.flush():
            raise StoreError(f"{self.pending_events} events are not on disk yet")

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
