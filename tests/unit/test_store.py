"""Tests for the crash-safe JSON store: what ends up on disk, what read returns, what gets logged."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import threading
from collections.abc import MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

import src.utils.store as store_module
from src.core.exceptions import StoreError
from src.utils.store import AtomicJsonStore
from tests.clock import ManualClock

DAY = "events/2026-11-21.json"
STAMP = "20261121T101530Z"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 21, 10, 15, 30, tzinfo=UTC))


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> AtomicJsonStore:
    return AtomicJsonStore(tmp_path, backups=3, clock=clock)


def on_disk(tmp_path: Path) -> list[str]:
    """Every file under tmp_path, relative and sorted, hidden ones included."""
    return sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())


def events_of(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == name]


def require_int_count(doc: Any) -> Any:
    """A validator like the state loaders use: `count` must be an int."""
    if not isinstance(doc, dict) or not isinstance(doc.get("count"), int):
        raise ValueError("count must be an int")
    return doc


# --- round trip ---------------------------------------------------------------------------------


async def test_write_then_read_round_trips(store: AtomicJsonStore) -> None:
    """What was written is what is read back."""
    data = {"joins": 3, "users": ["ana", "Zoë"], "nested": {"x": [1, 2.5, None, True]}}
    await store.write(DAY, data)
    assert await store.read(DAY) == data


async def test_write_creates_subfolders_with_compact_utf8_json(
    store: AtomicJsonStore, tmp_path: Path
) -> None:
    """The file lands in a new subfolder as compact, key-order-preserving, non-ASCII-escaped JSON."""
    await store.write("state/deep/counters.json", {"b": 1, "a": "é"})
    raw = (tmp_path / "state" / "deep" / "counters.json").read_bytes()
    assert raw == '{"b":1,"a":"é"}'.encode()


async def test_write_encodes_datetimes_as_isoformat(store: AtomicJsonStore, tmp_path: Path) -> None:
    """Datetimes and dates are stored as ISO 8601 strings."""
    when = datetime(2026, 11, 21, 10, 15, 30, tzinfo=UTC)
    await store.write("state/t.json", {"at": when, "day": when.date()})
    assert json.loads((tmp_path / "state/t.json").read_text()) == {
        "at": "2026-11-21T10:15:30+00:00",
        "day": "2026-11-21",
    }


async def test_read_missing_returns_none(store: AtomicJsonStore) -> None:
    """A document that was never written reads as None."""
    assert await store.read("state/never.json") is None


async def test_unserialisable_data_raises_and_keeps_file(store: AtomicJsonStore, tmp_path: Path) -> None:
    """Data JSON cannot encode raises StoreError and leaves the previous file alone."""
    await store.write(DAY, {"n": 1})
    with pytest.raises(StoreError, match="serialise"):
        await store.write(DAY, {"n": object()})
    assert (tmp_path / DAY).read_bytes() == b'{"n":1}'


@pytest.mark.parametrize("bad", ["../escape.json", "/abs.json", ".hidden.json", "a//b.json", "x.json.bak1"])
async def test_invalid_names_are_rejected(store: AtomicJsonStore, bad: str) -> None:
    """Names that escape the root or collide with the store's own files are refused."""
    with pytest.raises(ValueError, match="invalid store name"):
        await store.write(bad, {})


# --- failed writes ------------------------------------------------------------------------------


async def test_interrupted_write_keeps_previous_file_byte_identical(
    store: AtomicJsonStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the final replace fails, the previous file is untouched and the caller gets a StoreError."""
    await store.write(DAY, {"n": 1})
    before = (tmp_path / DAY).read_bytes()
    monkeypatch.setattr("src.utils.store.os.replace", _raise_on(tmp_path / DAY, os.replace))
    with pytest.raises(StoreError, match="Input/output error") as caught:
        await store.write(DAY, {"n": 2})
    assert isinstance(caught.value.__cause__, OSError)
    assert (tmp_path / DAY).read_bytes() == before


async def test_interrupted_write_leaves_no_temp_file(
    store: AtomicJsonStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails at its last step cleans up its temp file."""
    await store.write(DAY, {"n": 1})
    monkeypatch.setattr("src.utils.store.os.replace", _raise_on(tmp_path / DAY, os.replace))
    with pytest.raises(StoreError):
        await store.write(DAY, {"n": 2})
    assert [f for f in on_disk(tmp_path) if ".tmp-" in f] == []


async def test_failed_write_is_reported_in_health(
    store: AtomicJsonStore, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed write shows in health with its time and error, and is logged as store.write_failed."""
    monkeypatch.setattr("src.utils.store.os.fsync", _always_fail(errno.EIO))
    with capture_logs() as logs, pytest.raises(StoreError):
        await store.write(DAY, {"n": 1})
    assert not store.health.ok
    assert store.health.consecutive_failures == 1
    assert store.health.last_failure == clock.now()
    assert "Input/output error" in (store.health.last_error or "")
    assert events_of(logs, "store.write_failed")[0]["log_level"] == "error"


async def test_successful_write_resets_health(
    store: AtomicJsonStore, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After failures, the next successful write makes health ok again and records its time."""
    monkeypatch.setattr("src.utils.store.os.fsync", _always_fail(errno.EIO))
    for _ in range(2):
        with pytest.raises(StoreError):
            await store.write(DAY, {"n": 1})
    monkeypatch.undo()
    await clock.advance(5)
    await store.write(DAY, {"n": 1})
    assert store.health.ok
    assert store.health.last_success == clock.now()


async def test_disk_full_error_names_file_and_cause(
    store: AtomicJsonStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC surfaces as a StoreError naming the file and 'No space left on device'."""
    monkeypatch.setattr("src.utils.store.os.fsync", _always_fail(errno.ENOSPC))
    with pytest.raises(StoreError) as caught:
        await store.write(DAY, {"n": 1})
    message = str(caught.value)
    assert DAY in message
    assert "No space left on device" in message
    assert "ENOSPC" in message


async def test_writes_work_where_hard_links_are_unsupported(
    store: AtomicJsonStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On filesystems without hard links, writes still succeed and keep the previous version as bak1."""
    monkeypatch.setattr("src.utils.store.os.link", _always_fail(errno.EPERM))
    await store.write(DAY, {"n": 1})
    await store.write(DAY, {"n": 2})
    assert (tmp_path / DAY).read_bytes() == b'{"n":2}'
    assert (tmp_path / f"{DAY}.bak1").read_bytes() == b'{"n":1}'


# --- corruption and recovery --------------------------------------------------------------------


async def _two_versions_then_corrupt(store: AtomicJsonStore, tmp_path: Path, garbage: bytes) -> None:
    await store.write(DAY, {"count": 1})
    await store.write(DAY, {"count": 2})
    (tmp_path / DAY).write_bytes(garbage)


async def test_corrupt_file_is_quarantined_with_clock_timestamp(
    store: AtomicJsonStore, tmp_path: Path
) -> None:
    """A corrupt main file is moved aside as <name>.corrupt-<UTC stamp> with its bytes intact."""
    await _two_versions_then_corrupt(store, tmp_path, b"\x00\x01garbage")
    with capture_logs() as logs:
        await store.read(DAY)
    assert (tmp_path / f"{DAY}.corrupt-{STAMP}").read_bytes() == b"\x00\x01garbage"
    [event] = events_of(logs, "store.quarantined")
    assert event["log_level"] == "error"
    assert event["quarantined_as"] == f"{DAY}.corrupt-{STAMP}"


async def test_corrupt_file_is_replaced_by_newest_valid_backup(
    store: AtomicJsonStore, tmp_path: Path
) -> None:
    """Reading a corrupt file returns the newest backup and puts it back as the main file."""
    await _two_versions_then_corrupt(store, tmp_path, b"not json at all")
    with capture_logs() as logs:
        assert await store.read(DAY) == {"count": 1}
    assert (tmp_path / DAY).read_bytes() == b'{"count":1}'
    assert events_of(logs, "store.restored_from_backup")[0]["backup"] == f"{DAY}.bak1"


@pytest.mark.parametrize(
    "garbage",
    [b'{"count":2,"users":["a', b"", b'{"count":"\xff\xfe"}'],
    ids=["truncated", "empty", "not-utf8"],
)
async def test_truncated_empty_or_non_utf8_file_is_recovered(
    store: AtomicJsonStore, tmp_path: Path, garbage: bytes
) -> None:
    """A truncated, empty or non-UTF-8 file is quarantined and the backup returned."""
    await _two_versions_then_corrupt(store, tmp_path, garbage)
    assert await store.read(DAY) == {"count": 1}
    assert (tmp_path / f"{DAY}.corrupt-{STAMP}").read_bytes() == garbage


async def test_file_failing_validate_is_recovered(store: AtomicJsonStore, tmp_path: Path) -> None:
    """Valid JSON that the validator rejects is quarantined and the newest passing backup returned."""
    await store.write(DAY, {"count": 1})
    await store.write(DAY, {"count": "two"})
    assert await store.read(DAY, validate=require_int_count) == {"count": 1}
    assert (tmp_path / f"{DAY}.corrupt-{STAMP}").read_bytes() == b'{"count":"two"}'


async def test_read_returns_what_validate_returns(store: AtomicJsonStore) -> None:
    """The validator's result (e.g. a model) is what read hands back."""
    await store.write(DAY, {"count": 4})
    assert await store.read(DAY, validate=lambda d: d["count"] * 10) == 40


async def test_invalid_newest_backup_is_skipped(store: AtomicJsonStore, tmp_path: Path) -> None:
    """When bak1 is also bad, the next older valid backup is used."""
    await store.write(DAY, {"count": 1})
    await store.write(DAY, {"count": 2})
    await store.write(DAY, {"count": 3})
    (tmp_path / DAY).write_bytes(b"{")
    (tmp_path / f"{DAY}.bak1").write_bytes(b"{")
    assert await store.read(DAY) == {"count": 1}


async def test_no_valid_backup_returns_none_and_keeps_corrupt_bytes(
    store: AtomicJsonStore, tmp_path: Path
) -> None:
    """Without a usable backup, read returns None, logs store.unrecoverable, and the bytes stay on disk."""
    (tmp_path / "events").mkdir()
    (tmp_path / DAY).write_bytes(b'{"count":7,')
    with capture_logs() as logs:
        assert await store.read(DAY) is None
    assert (tmp_path / f"{DAY}.corrupt-{STAMP}").read_bytes() == b'{"count":7,'
    [event] = events_of(logs, "store.unrecoverable")
    assert event["log_level"] == "error"


async def test_second_quarantine_in_same_second_gets_counter(store: AtomicJsonStore, tmp_path: Path) -> None:
    """Two quarantines at the same clock second never overwrite each other."""
    (tmp_path / "events").mkdir()
    (tmp_path / DAY).write_bytes(b"first")
    await store.read(DAY)
    (tmp_path / DAY).write_bytes(b"second")
    await store.read(DAY)
    assert (tmp_path / f"{DAY}.corrupt-{STAMP}").read_bytes() == b"first"
    assert (tmp_path / f"{DAY}.corrupt-{STAMP}-1").read_bytes() == b"second"


async def test_missing_main_file_is_restored_from_backup(store: AtomicJsonStore, tmp_path: Path) -> None:
    """If the main file is gone but a backup exists (crash mid-rotation), the backup is restored."""
    await store.write(DAY, {"count": 1})
    await store.write(DAY, {"count": 2})
    (tmp_path / DAY).unlink()
    assert await store.read(DAY) == {"count": 1}
    assert (tmp_path / DAY).read_bytes() == b'{"count":1}'


# --- backups ------------------------------------------------------------------------------------


async def test_backups_hold_previous_versions_newest_first(store: AtomicJsonStore, tmp_path: Path) -> None:
    """After many writes exactly N backups remain, bak1 the newest previous version."""
    for n in range(10):
        await store.write(DAY, {"n": n})
    backups = sorted(f for f in on_disk(tmp_path) if ".bak" in f)
    assert backups == [f"{DAY}.bak1", f"{DAY}.bak2", f"{DAY}.bak3"]
    assert [json.loads((tmp_path / b).read_text())["n"] for b in backups] == [8, 7, 6]


async def test_write_after_restore_keeps_distinct_backups(store: AtomicJsonStore, tmp_path: Path) -> None:
    """Writing after a restore from bak1 does not duplicate that version and push out an older one."""
    for n in range(4):
        await store.write(DAY, {"count": n})
    (tmp_path / DAY).write_bytes(b"{")
    await store.read(DAY)
    await store.write(DAY, {"count": 9})
    versions = [json.loads((tmp_path / f"{DAY}.bak{i}").read_text())["count"] for i in (1, 2, 3)]
    assert versions == [2, 1, 0]


async def test_zero_backups_keeps_only_main_file(tmp_path: Path) -> None:
    """With backups=0 no backup files are created."""
    store = AtomicJsonStore(tmp_path, backups=0)
    await store.write(DAY, {"n": 1})
    await store.write(DAY, {"n": 2})
    assert on_disk(tmp_path) == [DAY]


# --- concurrency --------------------------------------------------------------------------------


async def test_concurrent_writes_to_one_name_last_call_wins(store: AtomicJsonStore, tmp_path: Path) -> None:
    """Fifty concurrent writes leave the last value, valid JSON, and no temp files."""
    await asyncio.gather(*(store.write(DAY, {"n": n, "pad": "x" * n}) for n in range(50)))
    assert json.loads((tmp_path / DAY).read_text()) == {"n": 49, "pad": "x" * 49}
    assert [f for f in on_disk(tmp_path) if ".tmp-" in f] == []


async def test_writes_to_different_names_run_concurrently(
    store: AtomicJsonStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two files can be written at the same time (both threads meet at a barrier)."""
    barrier = threading.Barrier(2, timeout=5)
    real = store_module._write_atomically

    def meeting(*args: Any) -> None:
        barrier.wait()
        real(*args)

    monkeypatch.setattr(store_module, "_write_atomically", meeting)
    await asyncio.gather(store.write("a/x.json", 1), store.write("b/y.json", 2))
    assert (await store.read("a/x.json"), await store.read("b/y.json")) == (1, 2)


async def test_cancelled_write_is_not_overtaken_by_a_later_one(
    store: AtomicJsonStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelling a write whose I/O is under way still leaves the later write's value on disk."""
    entered, release = threading.Event(), threading.Event()
    real = store_module._write_atomically

    def slow_first(path: Path, payload: bytes, *rest: Any) -> None:
        if payload == b'"first"':
            entered.set()
            release.wait(5)
        real(path, payload, *rest)

    monkeypatch.setattr(store_module, "_write_atomically", slow_first)
    first = asyncio.create_task(store.write(DAY, "first"))
    assert await asyncio.to_thread(entered.wait, 5)
    first.cancel()
    second = asyncio.create_task(store.write(DAY, "second"))
    await asyncio.sleep(0)
    release.set()
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert (tmp_path / DAY).read_bytes() == b'"second"'


async def test_write_does_not_block_the_event_loop(
    store: AtomicJsonStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a write's I/O is stuck in its thread, other coroutines keep running."""
    entered, release = threading.Event(), threading.Event()
    real = store_module._write_atomically

    def stuck(*args: Any) -> None:
        entered.set()
        release.wait(5)
        real(*args)

    monkeypatch.setattr(store_module, "_write_atomically", stuck)
    write = asyncio.create_task(store.write(DAY, {"n": 1}))
    assert await asyncio.to_thread(entered.wait, 5)
    assert not write.done()  # we are running on the loop while the write is still in progress
    release.set()
    await write
    assert (tmp_path / DAY).read_bytes() == b'{"n":1}'


# --- list and delete ----------------------------------------------------------------------------


async def test_list_returns_only_current_documents(store: AtomicJsonStore, tmp_path: Path) -> None:
    """list() names current files, sorted, without temp, backup or quarantined files."""
    await store.write("events/2026-11-22.json", {})
    await store.write(DAY, {"count": 1})
    await store.write(DAY, {"count": 2})
    (tmp_path / "events" / ".2026-11-21.json.tmp-abc").write_bytes(b"{")
    (tmp_path / "events" / "2026-11-20.json").write_bytes(b"{")
    await store.read("events/2026-11-20.json")  # quarantines it
    (tmp_path / "events" / "notes.txt").write_text("x")
    assert await store.names("events") == [DAY, "events/2026-11-22.json"]


async def test_list_missing_folder_is_empty(store: AtomicJsonStore) -> None:
    """Listing a folder that does not exist yet returns no names."""
    assert await store.names("events") == []


async def test_delete_removes_main_and_backups(store: AtomicJsonStore, tmp_path: Path) -> None:
    """delete() leaves nothing of the document behind."""
    await store.write("events/keep.json", 1)
    for n in range(5):
        await store.write(DAY, n)
    await store.delete(DAY)
    assert on_disk(tmp_path) == ["events/keep.json"]
    assert await store.read(DAY) is None


async def test_delete_missing_is_fine(store: AtomicJsonStore) -> None:
    """Deleting a document that does not exist is not an error."""
    await store.delete("state/never.json")
    assert store.health.ok


# --- journals -----------------------------------------------------------------------------------

JOURNAL = "events/2026-11-21.jsonl"


async def test_appended_lines_are_read_back_in_order(store: AtomicJsonStore, tmp_path: Path) -> None:
    """Each appended text is one line of the file, and read_lines returns their values in order."""
    await store.append_lines(JOURNAL, ['{"n":1}', '{"n":2}'])
    await store.append_lines(JOURNAL, ['{"n":3}'])
    assert (tmp_path / JOURNAL).read_bytes() == b'{"n":1}\n{"n":2}\n{"n":3}\n'
    assert await store.read_lines(JOURNAL) == [{"n": 1}, {"n": 2}, {"n": 3}]


async def test_read_lines_of_a_missing_journal_is_empty(store: AtomicJsonStore) -> None:
    """A journal that was never written reads as no lines."""
    assert await store.read_lines(JOURNAL) == []


async def test_a_torn_last_line_is_dropped_and_logged_once(store: AtomicJsonStore, tmp_path: Path) -> None:
    """A last line cut short by a power cut is left out, the lines before it kept, and logged once."""
    await store.append_lines(JOURNAL, ['{"n":1}'])
    with (tmp_path / JOURNAL).open("ab") as journal:
        journal.write(b'{"n":')
    with capture_logs() as logs:
        assert await store.read_lines(JOURNAL) == [{"n": 1}]
        assert await store.read_lines(JOURNAL) == [{"n": 1}]
    [dropped] = events_of(logs, "store.line_dropped")
    assert (dropped["log_level"], dropped["last_line"], dropped["offset"]) == ("warning", True, 8)


async def test_a_bad_line_before_the_last_is_dropped_as_an_error(
    store: AtomicJsonStore, tmp_path: Path
) -> None:
    """A line in the middle that is not JSON is left out with an error; the lines around it are kept."""
    (tmp_path / "events").mkdir()
    (tmp_path / JOURNAL).write_bytes(b'{"n":1}\n\x00\x00\x00\n{"n":3}\n')
    with capture_logs() as logs:
        assert await store.read_lines(JOURNAL) == [{"n": 1}, {"n": 3}]
    [dropped] = events_of(logs, "store.line_dropped")
    assert (dropped["log_level"], dropped["last_line"]) == ("error", False)


async def test_an_append_after_a_torn_line_starts_on_a_new_line(
    store: AtomicJsonStore, tmp_path: Path
) -> None:
    """The first line appended after a crash is not glued to the torn one, so it is kept."""
    await store.append_lines(JOURNAL, ['{"n":1}'])
    with (tmp_path / JOURNAL).open("ab") as journal:
        journal.write(b'{"n":')
    await store.append_lines(JOURNAL, ['{"n":3}'])
    assert await store.read_lines(JOURNAL) == [{"n": 1}, {"n": 3}]


async def test_a_failed_append_raises_shows_in_health_and_leaves_the_journal_as_it_was(
    store: AtomicJsonStore, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An fsync error: StoreError naming the cause, health records it, the file keeps its old bytes."""
    await store.append_lines(JOURNAL, ['{"n":1}'])
    before = (tmp_path / JOURNAL).read_bytes()
    monkeypatch.setattr("src.utils.store.os.fsync", _always_fail(errno.EIO))
    with capture_logs() as logs, pytest.raises(StoreError, match="Input/output error"):
        await store.append_lines(JOURNAL, ['{"n":2}'])
    assert (tmp_path / JOURNAL).read_bytes() == before
    assert store.health.consecutive_failures == 1
    assert store.health.last_failure == clock.now()
    assert events_of(logs, "store.append_failed")[0]["log_level"] == "error"


async def test_a_new_journal_syncs_its_folder_once(
    store: AtomicJsonStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new file's (and new folder's) entry is made durable when created, not again on every append."""
    synced: list[Path] = []
    real = store_module._fsync_dir

    def sync(folder: Path) -> None:
        synced.append(folder)
        real(folder)

    monkeypatch.setattr(store_module, "_fsync_dir", sync)
    await store.append_lines(JOURNAL, ['{"n":1}'])
    await store.append_lines(JOURNAL, ['{"n":2}'])
    assert synced == [tmp_path, tmp_path / "events"]


async def test_a_line_holding_a_newline_is_refused(store: AtomicJsonStore, tmp_path: Path) -> None:
    """A text spanning two lines would read back as two broken ones, so nothing is appended."""
    with pytest.raises(ValueError, match="newline"):
        await store.append_lines(JOURNAL, ['{"n":\n1}'])
    assert await store.read_lines(JOURNAL) == []


async def test_journals_are_listed_by_their_suffix_and_deleted_like_documents(store: AtomicJsonStore) -> None:
    """names() tells day files and journals apart by suffix; delete() removes a journal."""
    await store.write(DAY, {})
    await store.append_lines(JOURNAL, ["1"])
    assert (await store.names("events"), await store.names("events", ".jsonl")) == ([DAY], [JOURNAL])
    await store.delete(JOURNAL)
    assert await store.read_lines(JOURNAL) == []


# --- helpers ------------------------------------------------------------------------------------


def _always_fail(code: int) -> Any:
    def fail(*_: Any, **__: Any) -> None:
        raise OSError(code, os.strerror(code))

    return fail


def _raise_on(target: Path, real_replace: Any) -> Any:
    def replace(src: Any, dst: Any) -> None:
        if Path(dst) == target:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
        real_replace(src, dst)

    return replace


async def test_write_json_text_is_atomic_with_backups(tmp_path):
    """Pre-serialised JSON is written like any document, the previous version kept as a backup."""
    store = AtomicJsonStore(tmp_path)
    await store.write_json_text("events/day.json", '{"v":1}')
    await store.write_json_text("events/day.json", '{"v":2}')
    assert await store.read("events/day.json") == {"v": 2}
    assert json.loads((tmp_path / "events" / "day.json.bak1").read_text()) == {"v": 1}


async def test_purge_copies_deletes_only_the_older_versions_that_name_it(tmp_path: Path) -> None:
    """After rewriting a file without a member, its backups still holding the member's id are deleted."""
    store = AtomicJsonStore(tmp_path, backups=3)
    await store.write("events/day.json", {"events": ["other"]})
    await store.write("events/day.json", {"events": ["other", "member-777"]})
    await store.write("events/day.json", {"events": ["other"]})  # rewritten without the member
    removed = await store.purge_copies("events/day.json", lambda raw: b"member-777" in raw)
    assert removed == ["events/day.json.bak1"]
    leftovers = sorted(p.name for p in (tmp_path / "events").iterdir())
    assert leftovers == ["day.json", "day.json.bak2"]
    assert b"member-777" not in (tmp_path / "events" / "day.json.bak2").read_bytes()
