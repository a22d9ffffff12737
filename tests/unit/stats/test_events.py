"""EventRecorder: events land in the right day file, in batched writes, without loss or double counting."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from src.core.config import Settings
from src.core.exceptions import StoreError
from src.services.stats.events import EventRecorder
from src.services.stats.history import DailyHistory
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.store import AtomicJsonStore
from tests.clock import ManualClock

NOON_NY = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)  # Saturday 12:00 in New York


class CountingStore(AtomicJsonStore):
    """The real store, counting completed writes and journal appends; `failing` fails both (disk full)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.writes = 0
        self.in_flight = 0
        self.failed_writes = 0
        self.failing = False
        self._written = asyncio.Condition()

    async def write_json_text(self, name: str, text: str) -> None:
        async with self._counted(name):
            await super().write_json_text(name, text)

    async def append_lines(self, name: str, lines: Sequence[str]) -> None:
        async with self._counted(name):
            await super().append_lines(name, lines)

    @asynccontextmanager
    async def _counted(self, name: str) -> AsyncIterator[None]:
        if self.failing:
            self.failed_writes += 1
            raise StoreError(f"could not write {name}: No space left on device (ENOSPC)")
        self.in_flight += 1
        try:
            yield
            self.writes += 1
        finally:
            self.in_flight -= 1
            async with self._written:
                self._written.notify_all()

    async def wait_writes(self, count: int) -> None:
        """Wait (for the worker thread, not for clock time) until `count` writes have completed."""
        async with self._written:
            await asyncio.wait_for(self._written.wait_for(lambda: self.writes >= count), timeout=10)

    async def idle(self) -> None:
        """Wait until no write is running in a worker thread."""
        async with self._written:
            await asyncio.wait_for(self._written.wait_for(lambda: self.in_flight == 0), timeout=10)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(timezone="America/New_York")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOON_NY)


@pytest.fixture
def store(root: Path) -> CountingStore:
    return CountingStore(root)


@pytest.fixture
def recorder(settings: Settings, clock: ManualClock, store: CountingStore) -> EventRecorder:
    return EventRecorder(settings, clock, DailyHistory(store))


def event(
    member_id: int, at: datetime, kind: EventKind = EventKind.JOIN, *, bot: bool = False
) -> MemberEvent:
    return MemberEvent(
        kind=kind, member_id=str(member_id), username=f"user{member_id}", timestamp=at, bot=bot
    )


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until `condition()` holds; store I/O finishes in worker threads meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not condition():
        assert loop.time() < deadline, "condition never held"
        await asyncio.sleep(0)


def day_file(root: Path, day: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((root / "events" / f"{day}.json").read_text())
    return loaded


def kinds(root: Path, day: str) -> list[tuple[str, str]]:
    return [(e["kind"], e["member_id"]) for e in day_file(root, day)["events"]]


async def seen(root: Path, day: str) -> list[tuple[str, str]]:
    """(kind, member id) of each event of `day` as a reader sees it while the bot runs: file plus journal."""
    stored = await DailyHistory(AtomicJsonStore(root)).load_day(date.fromisoformat(day))
    return [(e.kind.value, e.member_id) for e in stored.events] if stored else []


async def test_spring_forward_events_land_in_the_local_day(recorder: EventRecorder, root: Path) -> None:
    """Around the 2026-03-08 DST change, events are filed by New York date (EST before, EDT after)."""
    recorder.record(event(1, datetime(2026, 3, 8, 4, 30, tzinfo=UTC)))  # 23:30 EST, 7 March
    recorder.record(event(2, datetime(2026, 3, 8, 6, 59, tzinfo=UTC)))  # 01:59 EST, 8 March
    recorder.record(event(3, datetime(2026, 3, 8, 7, 1, tzinfo=UTC)))  # 03:01 EDT, 8 March

    await recorder.stop()

    assert kinds(root, "2026-03-07") == [("join", "1")]
    assert kinds(root, "2026-03-08") == [("join", "2"), ("join", "3")]


async def test_events_around_new_york_midnight_land_in_the_right_day(
    recorder: EventRecorder, root: Path
) -> None:
    """23:59:59 New York time is still that day; 00:00:00 is the next (05:00 UTC in winter)."""
    recorder.record(event(1, datetime(2026, 11, 21, 4, 59, 59, tzinfo=UTC)))
    recorder.record(event(2, datetime(2026, 11, 21, 5, 0, 0, tzinfo=UTC)))

    await recorder.stop()

    assert kinds(root, "2026-11-20") == [("join", "1")]
    assert kinds(root, "2026-11-21") == [("join", "2")]


async def test_a_burst_of_10000_joins_is_written_in_few_batches(
    recorder: EventRecorder, clock: ManualClock, store: CountingStore, root: Path
) -> None:
    """10,000 joins in a minute all reach the file with at most one write per second, not one per join."""
    await recorder.start()
    member = 0
    for _ in range(100):  # 100 joins every 0.6 s: 10,000 joins over 60 s
        for _ in range(100):
            member += 1
            recorder.record(event(member, clock.now()))
        await clock.advance(0.6)
        await store.idle()  # let the worker thread finish, as real time would
    written_while_running = store.writes
    await recorder.stop()

    assert len(day_file(root, "2026-11-21")["events"]) == 10_000
    # At most one write per second of the 60 s (plus the first) while the joins arrive; far from one write
    # per join. The lower bound says the writes kept pace with the burst (not one big write at the end);
    # it leaves room for a batch whose worker thread had not started when the test moved the clock on.
    assert 40 <= written_while_running <= 61


async def test_events_are_on_disk_within_a_second_without_an_explicit_flush(
    recorder: EventRecorder, clock: ManualClock, store: CountingStore, root: Path
) -> None:
    """A join arriving right after a write is in the file once a second of clock time has passed."""
    await recorder.start()
    recorder.record(event(1, clock.now()))
    await store.wait_writes(1)
    recorder.record(event(2, clock.now()))

    await clock.advance(1.0)
    await store.wait_writes(2)

    assert await seen(root, "2026-11-21") == [("join", "1"), ("join", "2")]
    assert recorder.pending_events == 0
    await recorder.stop()


async def test_stop_writes_events_still_in_memory(
    recorder: EventRecorder, root: Path, clock: ManualClock
) -> None:
    """stop() flushes events the flusher has not written yet."""
    await recorder.start()
    recorder.record(event(1, clock.now()))

    await recorder.stop()

    assert kinds(root, "2026-11-21") == [("join", "1")]


@pytest.mark.parametrize("ban_first", [True, False], ids=["ban-then-leave", "leave-then-ban"])
async def test_a_ban_is_recorded_as_a_ban_not_also_a_leave(
    recorder: EventRecorder, root: Path, ban_first: bool
) -> None:
    """A ban and the member-remove Discord sends with it, in either order, leave just the ban."""
    ban = event(7, NOON_NY, EventKind.BAN)
    leave = event(7, NOON_NY + timedelta(seconds=2), EventKind.LEAVE)
    for e in (ban, leave) if ban_first else (leave, ban):
        recorder.record(e)

    await recorder.stop()

    assert kinds(root, "2026-11-21") == [("ban", "7")]


@pytest.mark.parametrize("ban_first", [True, False], ids=["ban-then-leave", "leave-then-ban"])
async def test_a_ban_with_its_member_remove_is_marked_as_removing_a_member(
    recorder: EventRecorder, root: Path, ban_first: bool
) -> None:
    """The stored ban says it removed a member, whichever half arrived first; the day's net change is -1."""
    ban = event(7, NOON_NY, EventKind.BAN)
    leave = event(7, NOON_NY + timedelta(seconds=2), EventKind.LEAVE)
    for e in (ban, leave) if ban_first else (leave, ban):
        recorder.record(e)

    await recorder.stop()

    assert [e["member_removed"] for e in day_file(root, "2026-11-21")["events"]] == [True]
    assert DailyStats.model_validate(day_file(root, "2026-11-21")).net_change == -1


async def test_a_ban_of_someone_who_was_not_a_member_removes_nobody(
    recorder: EventRecorder, root: Path
) -> None:
    """A ban by id with no member-remove is stored as such, and the day's numbers still add up."""
    recorder.record(event(1, NOON_NY))
    recorder.record(event(8, NOON_NY + timedelta(seconds=1), EventKind.BAN))

    await recorder.stop()

    stored = DailyStats.model_validate(day_file(root, "2026-11-21"))
    assert [(e.kind, e.member_removed) for e in stored.events] == [
        (EventKind.JOIN, None),
        (EventKind.BAN, False),
    ]
    assert (stored.net_change, stored.bans_of_non_members()) == (1, 1)


async def test_without_the_members_intent_a_ban_counts_as_removing_a_member(
    make_settings: Callable[..., Settings], clock: ManualClock, store: CountingStore, root: Path
) -> None:
    """No member-remove events come without the members intent, so a ban is taken to remove a member."""
    settings = make_settings(timezone="America/New_York", members_intent=False)
    recorder = EventRecorder(settings, clock, DailyHistory(store))
    recorder.record(event(8, NOON_NY, EventKind.BAN))

    await recorder.stop()

    stored = DailyStats.model_validate(day_file(root, "2026-11-21"))
    assert ([e.member_removed for e in stored.events], stored.net_change) == ([None], -1)


async def test_a_ban_removes_a_leave_already_written_to_disk(
    recorder: EventRecorder, store: CountingStore, root: Path, clock: ManualClock
) -> None:
    """A ban arriving after its leave was flushed leaves only the ban, in what readers see and in the file."""
    await recorder.start()
    recorder.record(event(7, NOON_NY, EventKind.LEAVE))
    await store.wait_writes(1)
    assert await seen(root, "2026-11-21") == [("leave", "7")]
    recorder.record(event(7, NOON_NY + timedelta(seconds=3), EventKind.BAN))

    await recorder.stop()

    assert kinds(root, "2026-11-21") == [("ban", "7")]


async def test_a_leave_long_after_a_ban_is_still_a_leave(recorder: EventRecorder, root: Path) -> None:
    """Only a leave within the matching window belongs to a ban."""
    recorder.record(event(7, NOON_NY, EventKind.BAN))
    recorder.record(event(7, NOON_NY + timedelta(minutes=5), EventKind.LEAVE))

    await recorder.stop()

    assert kinds(root, "2026-11-21") == [("ban", "7"), ("leave", "7")]


async def test_replayed_events_are_recorded_once(
    recorder: EventRecorder, store: CountingStore, root: Path, clock: ManualClock
) -> None:
    """The same event delivered again (before or after it was written) appears once in the file."""
    await recorder.start()
    join = event(1, NOON_NY)
    recorder.record(join)
    recorder.record(join)
    await store.wait_writes(1)
    recorder.record(join.model_copy())

    await recorder.stop()

    assert kinds(root, "2026-11-21") == [("join", "1")]


async def test_bot_accounts_are_flagged(recorder: EventRecorder, root: Path) -> None:
    """A bot's join is stored with bot=true."""
    recorder.record(event(1, NOON_NY, bot=True))

    await recorder.stop()

    assert day_file(root, "2026-11-21")["events"][0]["bot"] is True


async def test_failed_writes_lose_nothing_once_the_disk_recovers(
    recorder: EventRecorder, store: CountingStore, clock: ManualClock, root: Path
) -> None:
    """Events accepted while writes fail stay pending and all reach the file after recovery."""
    await recorder.start()
    store.failing = True
    for member in range(1, 4):
        recorder.record(event(member, clock.now()))
        await clock.advance(5)
    assert store.failed_writes >= 2
    assert recorder.pending_events == 3

    store.failing = False
    await clock.advance(60)  # past the longest backoff
    await store.wait_writes(1)

    assert [m for _, m in await seen(root, "2026-11-21")] == ["1", "2", "3"]
    assert recorder.pending_events == 0
    await recorder.stop()


async def test_a_failed_write_is_logged(recorder: EventRecorder, store: CountingStore) -> None:
    """A failing write logs events.flush_failed with the number of pending events."""
    store.failing = True
    recorder.record(event(1, NOON_NY))

    with capture_logs() as logs:
        assert await recorder.flush() is False

    failed = [entry for entry in logs if entry["event"] == "events.flush_failed"]
    assert len(failed) == 1
    assert failed[0]["pending"] == 1
    assert "ENOSPC" in failed[0]["error"]


async def test_a_restart_continues_todays_file(
    settings: Settings, clock: ManualClock, root: Path, recorder: EventRecorder
) -> None:
    """A new recorder on the same folder sees today's stored events and appends to them."""
    recorder.record(event(1, NOON_NY))
    recorder.record(event(2, NOON_NY))
    await recorder.stop()

    restarted = EventRecorder(settings, clock, DailyHistory(AtomicJsonStore(root)))
    await restarted.start()
    assert restarted.today().count(EventKind.JOIN) == 2
    restarted.record(event(3, clock.now()))
    await restarted.stop()

    assert [m for _, m in kinds(root, "2026-11-21")] == ["1", "2", "3"]


async def test_a_late_event_for_an_earlier_day_is_merged_into_its_file(
    recorder: EventRecorder, root: Path
) -> None:
    """An event for a day not held in memory is added to that day's file, not written over it."""
    history = DailyHistory(AtomicJsonStore(root))
    await history.save_day(
        DailyStats(date=date(2026, 11, 19), events=[event(1, datetime(2026, 11, 19, 15, 0, tzinfo=UTC))])
    )

    recorder.record(event(2, datetime(2026, 11, 19, 16, 0, tzinfo=UTC)))
    await recorder.stop()

    assert [m for _, m in kinds(root, "2026-11-19")] == ["1", "2"]


async def test_member_counts_keep_the_first_and_latest_of_the_day(
    settings: Settings, clock: ManualClock, root: Path, recorder: EventRecorder
) -> None:
    """The day's first observed count is its start (kept across a restart); the latest is its end."""
    recorder.observe_member_count(1000)
    recorder.observe_member_count(1004)
    await recorder.stop()
    restarted = EventRecorder(settings, clock, DailyHistory(AtomicJsonStore(root)))
    await restarted.start()
    restarted.observe_member_count(1010)
    await restarted.stop()

    stored = day_file(root, "2026-11-21")
    assert (stored["member_count_start"], stored["member_count_end"]) == (1000, 1010)


async def test_old_days_are_pruned_again_a_day_later(
    recorder: EventRecorder, clock: ManualClock, root: Path
) -> None:
    """A day file that reaches the retention age while the bot runs is deleted within a day."""
    history = DailyHistory(AtomicJsonStore(root))
    aging = date(2025, 10, 17)  # exactly 400 days before today: kept today, too old tomorrow
    await history.save_day(DailyStats(date=aging))
    await recorder.start()
    assert await history.stored_dates() == [aging]

    await clock.advance(24 * 3600 + 1)
    await until(lambda: not (root / "events" / "2025-10-17.json").exists())

    await recorder.stop()


async def test_start_prunes_days_older_than_the_retention(recorder: EventRecorder, root: Path) -> None:
    """On start, day files older than RETENTION_DAYS (400) are deleted and newer ones kept."""
    history = DailyHistory(AtomicJsonStore(root))
    for d in (date(2025, 10, 16), date(2025, 10, 18)):
        await history.save_day(DailyStats(date=d))

    await recorder.start()
    await recorder.stop()

    assert await history.stored_dates() == [date(2025, 10, 18)]


# --- replays: each event recorded once -------------------------------------------------------------------


def joined(member_id: int, at: datetime, joined_at: datetime) -> MemberEvent:
    """A join delivered at `at` for a member Discord says joined at `joined_at`."""
    return event(member_id, at).model_copy(update={"joined_at": joined_at})


async def test_a_join_delivered_twice_is_recorded_once(recorder: EventRecorder, root: Path) -> None:
    """The same member and joined_at, delivered again a minute later (a RESUME replay), is one join."""
    recorder.record(joined(1, NOON_NY, NOON_NY))
    recorder.record(joined(1, NOON_NY + timedelta(minutes=1), NOON_NY))

    await recorder.stop()

    assert kinds(root, "2026-11-21") == [("join", "1")]


async def test_a_rejoin_is_a_new_join(recorder: EventRecorder, root: Path) -> None:
    """Join, leave, join again (a new joined_at): two joins and a leave."""
    recorder.record(joined(1, NOON_NY, NOON_NY))
    recorder.record(event(1, NOON_NY + timedelta(minutes=1), EventKind.LEAVE))
    recorder.record(joined(1, NOON_NY + timedelta(minutes=2), NOON_NY + timedelta(minutes=2)))

    await recorder.stop()

    assert kinds(root, "2026-11-21") == [("join", "1"), ("leave", "1"), ("join", "1")]


@pytest.mark.parametrize("kind", [EventKind.LEAVE, EventKind.BAN, EventKind.UNBAN])
async def test_the_same_event_again_with_nothing_between_is_a_replay(
    recorder: EventRecorder, root: Path, kind: EventKind
) -> None:
    """A leave, ban or unban repeated 30 s later, with no opposite event between, is recorded once."""
    recorder.record(event(1, NOON_NY, kind))
    recorder.record(event(1, NOON_NY + timedelta(seconds=30), kind))

    await recorder.stop()

    assert kinds(root, "2026-11-21") == [(kind.value, "1")]


async def test_an_opposite_event_between_makes_the_repeat_real(recorder: EventRecorder, root: Path) -> None:
    """Ban, unban, ban again: two bans and an unban are recorded."""
    for minute, kind in enumerate((EventKind.BAN, EventKind.UNBAN, EventKind.BAN)):
        recorder.record(event(1, NOON_NY + timedelta(minutes=minute), kind))

    await recorder.stop()

    assert kinds(root, "2026-11-21") == [("ban", "1"), ("unban", "1"), ("ban", "1")]


async def test_a_fresh_session_forgets_what_could_be_replayed(recorder: EventRecorder, root: Path) -> None:
    """After a fresh gateway session a second leave is real: the join between may have been missed."""
    recorder.record(event(1, NOON_NY, EventKind.LEAVE))
    recorder.new_session()
    recorder.record(event(1, NOON_NY + timedelta(hours=2), EventKind.LEAVE))

    await recorder.stop()

    assert kinds(root, "2026-11-21") == [("leave", "1"), ("leave", "1")]


async def test_a_replayed_join_after_midnight_stays_on_the_day_it_happened(
    recorder: EventRecorder, root: Path
) -> None:
    """A join at 23:59:59 replayed after midnight is filed once, on the day the member joined."""
    before_midnight = datetime(2026, 11, 22, 4, 59, 59, tzinfo=UTC)  # 23:59:59 in New York
    recorder.record(joined(1, before_midnight, before_midnight))
    recorder.record(joined(1, before_midnight + timedelta(seconds=5), before_midnight))

    await recorder.stop()

    assert kinds(root, "2026-11-21") == [("join", "1")]
    assert not (root / "events" / "2026-11-22.json").exists()


async def test_a_replayed_join_and_the_leave_after_it_are_recorded_once(
    recorder: EventRecorder, root: Path
) -> None:
    """Join then leave, both delivered again in order (a RESUME replaying the tail): one of each."""
    first = [joined(1, NOON_NY, NOON_NY), event(1, NOON_NY + timedelta(seconds=20), EventKind.LEAVE)]
    replayed = [e.model_copy(update={"timestamp": e.timestamp + timedelta(minutes=1)}) for e in first]
    for e in [*first, *replayed, *replayed]:
        recorder.record(e)

    await recorder.stop()

    assert kinds(root, "2026-11-21") == [("join", "1"), ("leave", "1")]


async def test_a_replayed_ban_of_a_member_is_recorded_once_and_says_so(recorder: EventRecorder) -> None:
    """Join, ban and its member-remove replayed: record() answers False for each repeat, nothing is added."""
    original = [
        joined(1, NOON_NY, NOON_NY),
        event(1, NOON_NY + timedelta(seconds=30), EventKind.BAN),
        event(1, NOON_NY + timedelta(seconds=31), EventKind.LEAVE),
    ]
    assert [recorder.record(e) for e in original] == [True, True, True]
    replay = [e.model_copy(update={"timestamp": e.timestamp + timedelta(minutes=2)}) for e in original]

    assert [recorder.record(e) for e in replay] == [False, False, False]
    assert [(e.kind, e.member_removed) for e in recorder.today().events] == [
        (EventKind.JOIN, None),
        (EventKind.BAN, True),
    ]
