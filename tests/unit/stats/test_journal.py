"""The day's journal: a flush appends only what changed, a crash loses nothing, folds keep day files whole."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from src.core.config import Settings
from src.services.stats.events import EventRecorder
from src.services.stats.history import Change, DailyHistory, change_line, counts_line, replay
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.store import AtomicJsonStore
from tests.clock import ManualClock
from tests.fakes import MemoryStore

NOON_NY = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)  # Saturday 12:00 in New York
DAY = date(2026, 11, 21)
DAY_FILE, JOURNAL = "events/2026-11-21.json", "events/2026-11-21.jsonl"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(timezone="America/New_York")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOON_NY)


def recorder_on(root: Path, settings: Settings, clock: ManualClock) -> EventRecorder:
    return EventRecorder(settings, clock, DailyHistory(AtomicJsonStore(root)))


async def started(root: Path, settings: Settings, clock: ManualClock) -> EventRecorder:
    """A started recorder whose today already has a day file (so every flush appends to the journal)."""
    await DailyHistory(AtomicJsonStore(root)).save_day(DailyStats(date=DAY))
    recorder = recorder_on(root, settings, clock)
    await recorder.start()
    return recorder


async def restart(root: Path, settings: Settings, clock: ManualClock) -> None:
    """Start a new recorder on `root` (which folds what it finds) and stop it again, with nothing recorded."""
    recorder = recorder_on(root, settings, clock)
    await recorder.start()
    await recorder.stop()


async def started_in_memory(store: MemoryStore, settings: Settings, clock: ManualClock) -> EventRecorder:
    """Like `started`, on the in-memory store, so the flusher's schedule runs without worker threads."""
    await DailyHistory(store).save_day(DailyStats(date=DAY))
    recorder = EventRecorder(settings, clock, DailyHistory(store))
    await recorder.start()
    return recorder


def event(member_id: int, at: datetime, kind: EventKind = EventKind.JOIN) -> MemberEvent:
    return MemberEvent(kind=kind, member_id=str(member_id), username=f"user{member_id}", timestamp=at)


def day_file(root: Path, d: date = DAY) -> Path:
    return root / "events" / f"{d.isoformat()}.json"


def journal(root: Path, d: date = DAY) -> Path:
    return root / "events" / f"{d.isoformat()}.jsonl"


def stored(root: Path, d: date = DAY) -> DailyStats:
    return DailyStats.model_validate_json(day_file(root, d).read_bytes())


def kinds(stats: DailyStats | None) -> list[tuple[str, str]]:
    return [(e.kind.value, e.member_id) for e in stats.events] if stats else []


def crash_copy(root: Path, to: Path) -> Path:
    """The data folder as a power cut right now would leave it: everything flushed, nothing more."""
    shutil.copytree(root, to)
    return to


# --- a flush costs what changed ---------------------------------------------------------------------------


async def _bytes_of_one_flush(root: Path, settings: Settings, clock: ManualClock, stored_events: int) -> int:
    """Bytes a flush of 100 new joins adds under DATA_DIR when the day already holds `stored_events`."""
    base = NOON_NY - timedelta(hours=2)
    await DailyHistory(AtomicJsonStore(root)).save_day(
        DailyStats(
            date=DAY,
            events=[event(10**6 + i, base + timedelta(seconds=i / 10)) for i in range(stored_events)],
        )
    )
    recorder = recorder_on(root, settings, clock)
    await recorder.start()
    before = day_file(root).read_bytes()
    for member in range(100):
        recorder.record(event(member, NOON_NY + timedelta(milliseconds=member)))
    assert await recorder.flush()

    assert day_file(root).read_bytes() == before  # the day file is not rewritten by a flush
    written = journal(root).stat().st_size
    await recorder.stop()
    return written


async def test_a_flush_appends_only_the_new_events_whatever_the_size_of_the_day(
    tmp_path: Path, settings: Settings, clock: ManualClock
) -> None:
    """100 new joins cost the same bytes on disk whether the day already holds 10,000 events or none."""
    into_empty = await _bytes_of_one_flush(tmp_path / "empty", settings, clock, 0)
    into_full = await _bytes_of_one_flush(tmp_path / "full", settings, clock, 10_000)

    assert into_full == into_empty
    assert into_full < 100 * 300  # about one line of JSON per new event


# --- crashes ---------------------------------------------------------------------------------------------


async def test_a_torn_last_line_is_dropped_and_everything_before_it_is_kept(
    root: Path, tmp_path: Path, settings: Settings, clock: ManualClock
) -> None:
    """A power cut mid-append leaves half a line: a restart keeps every whole line and logs the torn one."""
    recorder = await started(root, settings, clock)
    recorder.record(event(1, NOON_NY))
    recorder.record(event(2, NOON_NY + timedelta(seconds=1)))
    assert await recorder.flush()
    crashed = crash_copy(root, tmp_path / "crashed")
    await recorder.stop()
    with journal(crashed).open("ab") as torn:
        torn.write(change_line(Change.ADD, event(3, NOON_NY + timedelta(seconds=2))).encode()[:40])

    with capture_logs() as logs:
        restarted = recorder_on(crashed, settings, clock)
        await restarted.start()
        await restarted.stop()

    assert kinds(stored(crashed)) == [("join", "1"), ("join", "2")]
    assert not journal(crashed).exists()
    dropped = [e for e in logs if e["event"] == "store.line_dropped"]
    assert [(e["log_level"], e["last_line"]) for e in dropped] == [("warning", True)]


async def test_start_folds_a_journal_left_by_a_crash_and_deletes_it(
    root: Path, tmp_path: Path, settings: Settings, clock: ManualClock
) -> None:
    """After a crash, the next start writes every journaled event of every day into its file."""
    yesterday = date(2026, 11, 20)
    history = DailyHistory(AtomicJsonStore(root))
    await history.save_day(DailyStats(date=DAY, events=[event(1, NOON_NY)]))
    recorder = recorder_on(root, settings, clock)
    await recorder.start()
    recorder.record(event(2, NOON_NY + timedelta(seconds=1)))
    recorder.observe_member_count(1002)
    assert await recorder.flush()
    # And yesterday's journal, as a crash just after midnight leaves it (before that day's fold).
    await history.append_journal(yesterday, [change_line(Change.ADD, event(3, NOON_NY - timedelta(days=1)))])
    crashed = crash_copy(root, tmp_path / "crashed")
    await recorder.stop()

    with capture_logs() as logs:
        await restart(crashed, settings, clock)

    assert kinds(stored(crashed)) == [("join", "1"), ("join", "2")]
    assert stored(crashed).member_count_end == 1002
    assert kinds(stored(crashed, yesterday)) == [("join", "3")]
    assert list((crashed / "events").glob("*.jsonl")) == []
    assert [e["day"] for e in logs if e["event"] == "events.journal_folded"] == ["2026-11-20", "2026-11-21"]


async def test_a_crash_between_folding_and_deleting_the_journal_replays_it_harmlessly(
    root: Path, tmp_path: Path, settings: Settings, clock: ManualClock
) -> None:
    """A journal that survives its fold is folded again at start: no event twice, nothing else changed."""
    recorder = await started(root, settings, clock)
    recorder.record(event(1, NOON_NY))
    recorder.record(event(7, NOON_NY, EventKind.LEAVE))
    recorder.record(event(7, NOON_NY + timedelta(seconds=2), EventKind.BAN))
    recorder.record(event(8, NOON_NY, EventKind.BAN))
    recorder.record(event(8, NOON_NY + timedelta(seconds=1), EventKind.LEAVE))
    recorder.observe_member_count(1000)
    recorder.observe_member_count(999)
    assert await recorder.flush()
    left_behind = journal(root).read_bytes()
    await recorder.stop()  # folds, then deletes the journal
    folded = day_file(root).read_bytes()
    journal(root).write_bytes(left_behind)  # as if the power went before the delete reached the disk

    await restart(root, settings, clock)

    assert stored(root) == DailyStats.model_validate_json(folded)
    assert kinds(stored(root)) == [("join", "1"), ("ban", "7"), ("ban", "8")]
    assert not journal(root).exists()


async def test_a_ban_swallowing_a_journaled_leave_comes_out_right_after_a_crash(
    root: Path, tmp_path: Path, settings: Settings, clock: ManualClock
) -> None:
    """A leave already in the journal, then its ban: the folded day holds the ban, which removed a member."""
    recorder = await started(root, settings, clock)
    recorder.record(event(7, NOON_NY, EventKind.LEAVE))
    assert await recorder.flush()
    recorder.record(event(7, NOON_NY + timedelta(seconds=3), EventKind.BAN))
    assert await recorder.flush()
    crashed = crash_copy(root, tmp_path / "crashed")
    await recorder.stop()

    await restart(crashed, settings, clock)

    assert [(e.kind, e.member_removed) for e in stored(crashed).events] == [(EventKind.BAN, True)]


async def test_a_ban_marked_as_removing_a_member_later_comes_out_right_after_a_crash(
    root: Path, tmp_path: Path, settings: Settings, clock: ManualClock
) -> None:
    """A ban journaled before its member-remove arrived is folded as one ban that removed a member."""
    recorder = await started(root, settings, clock)
    recorder.record(event(7, NOON_NY, EventKind.BAN))
    assert await recorder.flush()
    recorder.record(event(7, NOON_NY + timedelta(seconds=2), EventKind.LEAVE))
    assert await recorder.flush()
    crashed = crash_copy(root, tmp_path / "crashed")
    await recorder.stop()

    await restart(crashed, settings, clock)

    assert [(e.kind, e.member_removed) for e in stored(crashed).events] == [(EventKind.BAN, True)]
    assert stored(crashed).net_change == -1


# --- readers ---------------------------------------------------------------------------------------------


async def test_load_day_sees_journaled_events_before_any_fold_and_writes_nothing(
    root: Path, settings: Settings, clock: ManualClock
) -> None:
    """A report or /stats reading the day sees every flushed event before the day file holds them."""
    recorder = await started(root, settings, clock)
    recorder.record(event(1, NOON_NY))
    recorder.record(event(2, NOON_NY + timedelta(seconds=1)))
    assert await recorder.flush()
    on_disk = day_file(root).read_bytes(), journal(root).read_bytes()

    seen = await DailyHistory(AtomicJsonStore(root)).load_day(DAY)

    assert kinds(seen) == [("join", "1"), ("join", "2")]
    assert kinds(stored(root)) == []
    assert (day_file(root).read_bytes(), journal(root).read_bytes()) == on_disk
    await recorder.stop()


async def test_a_cached_day_is_read_again_after_its_journal_grows(root: Path) -> None:
    """load_day never serves a copy older than the day's last append."""
    history = DailyHistory(AtomicJsonStore(root))
    await history.append_journal(DAY, [change_line(Change.ADD, event(1, NOON_NY))])
    assert kinds(await history.load_day(DAY)) == [("join", "1")]

    await history.append_journal(DAY, [change_line(Change.ADD, event(2, NOON_NY))])

    assert kinds(await history.load_day(DAY)) == [("join", "1"), ("join", "2")]


# --- when the day file is brought up to date -------------------------------------------------------------


async def test_a_quiet_day_is_folded_into_its_file(settings: Settings, clock: ManualClock) -> None:
    """Two seconds after the last change (not sooner) the day file holds every event; the journal is gone."""
    store = MemoryStore()
    recorder = await started_in_memory(store, settings, clock)
    recorder.record(event(1, NOON_NY))
    await clock.advance(0)
    assert set(store.files) == {DAY_FILE, JOURNAL}

    await clock.advance(1.9)
    assert set(store.files) == {DAY_FILE, JOURNAL}
    await clock.advance(0.1)

    assert set(store.files) == {DAY_FILE}
    assert [e["member_id"] for e in store.document(DAY_FILE)["events"]] == ["1"]
    await recorder.stop()


async def test_a_day_is_folded_at_the_first_flush_after_it_ends(settings: Settings) -> None:
    """Events keep coming across midnight: a second after its last change, yesterday's file is whole."""
    before_midnight = datetime(2026, 11, 22, 4, 59, 59, tzinfo=UTC)  # 23:59:59 in New York
    clock = ManualClock(before_midnight)
    store = MemoryStore()
    recorder = await started_in_memory(store, settings, clock)
    recorder.record(event(1, before_midnight))
    await clock.advance(0)
    assert JOURNAL in store.files

    await clock.advance(1)  # midnight: one second without changes, far from quiet enough to fold
    recorder.record(event(2, clock.now()))
    await clock.advance(1)

    assert set(store.files) == {DAY_FILE, "events/2026-11-22.json"}
    assert [e["member_id"] for e in store.document(DAY_FILE)["events"]] == ["1"]
    await recorder.stop()


async def test_a_failed_fold_keeps_the_journal_and_is_tried_again(
    settings: Settings, clock: ManualClock
) -> None:
    """A disk error during a fold loses nothing: readers still see the events and the fold succeeds later."""
    store = MemoryStore()
    history = DailyHistory(store)
    recorder = await started_in_memory(store, settings, clock)
    recorder.record(event(1, NOON_NY))
    await clock.advance(0)
    store.fail_writes = True

    with capture_logs() as logs:
        await clock.advance(2)
    assert set(store.files) == {DAY_FILE, JOURNAL}
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["events.fold_failed"]
    assert kinds(await history.load_day(DAY)) == [("join", "1")]
    store.fail_writes = False
    await clock.advance(4)  # past the backoff after one failure

    assert set(store.files) == {DAY_FILE}
    await recorder.stop()


async def test_a_days_first_write_creates_its_file_and_later_ones_append(
    root: Path, settings: Settings, clock: ManualClock
) -> None:
    """A day with nothing stored gets its day file at its first flush (so no journal is ever without one)."""
    recorder = recorder_on(root, settings, clock)
    await recorder.start()
    recorder.record(event(1, NOON_NY))
    assert await recorder.flush()
    assert (kinds(stored(root)), journal(root).exists()) == ([("join", "1")], False)

    recorder.record(event(2, NOON_NY + timedelta(seconds=1)))
    assert await recorder.flush()

    assert (kinds(stored(root)), journal(root).exists()) == ([("join", "1")], True)
    await recorder.stop()


async def test_stop_folds_every_journal(root: Path, settings: Settings, clock: ManualClock) -> None:
    """After a clean stop the day files hold everything and no journal is left."""
    recorder = await started(root, settings, clock)
    recorder.record(event(1, NOON_NY))
    assert await recorder.flush()
    assert journal(root).exists()

    await recorder.stop()

    assert kinds(stored(root)) == [("join", "1")]
    assert list((root / "events").glob("*.jsonl")) == []


# --- replaying lines -------------------------------------------------------------------------------------

BAN = event(7, NOON_NY, EventKind.BAN).model_copy(update={"member_removed": False})
LEAVE = event(7, NOON_NY + timedelta(seconds=2), EventKind.LEAVE)
JOIN = event(1, NOON_NY)
LINES = [
    change_line(Change.ADD, JOIN),
    change_line(Change.ADD, LEAVE),
    change_line(Change.ADD, BAN),
    change_line(Change.DROP, LEAVE),
    change_line(Change.MARK, BAN.with_member_removed()),
    counts_line(1000, 1004),
    counts_line(1000, 999),
]


@pytest.mark.parametrize("start", [0, 2, 4, 7], ids=lambda n: f"{n}-lines-already-folded")
def test_replaying_a_journal_onto_a_day_that_already_holds_part_of_it_changes_nothing_more(
    start: int,
) -> None:
    """Whatever prefix of the journal the day file already holds, replaying all of it gives the same day."""
    parsed: list[Any] = [json.loads(line) for line in LINES]
    once, _ = replay(DailyStats(date=DAY), parsed)
    partly, _ = replay(DailyStats(date=DAY), parsed[:start])

    again, skipped = replay(partly, parsed)

    assert again == once
    assert skipped == 0
    assert [(e.kind, e.member_removed) for e in once.events] == [
        (EventKind.JOIN, None),
        (EventKind.BAN, True),
    ]
    assert (once.member_count_start, once.member_count_end) == (1000, 999)


def test_a_line_that_is_not_understood_is_skipped() -> None:
    """A line from a newer version (or damaged) is counted as skipped; the others still apply."""
    lines: list[Any] = [{"op": "rename", "event": {}}, [], json.loads(change_line(Change.ADD, JOIN))]

    replayed, skipped = replay(DailyStats(date=DAY), lines)

    assert (kinds(replayed), skipped) == ([("join", "1")], 2)
