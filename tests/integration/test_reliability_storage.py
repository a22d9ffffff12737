"""Storage faults: corrupt files are restored; a full or read-only disk loses no accepted event.

Corrupt and truncated files are quarantined and restored; a full or read-only DATA_DIR is logged and
alerted, loses no accepted event, and leaves counters and presence working.

The disk faults are simulated in-process (the tests run as root, so chmod would not stop a write): the
store's os-level file creation fails with ENOSPC or EROFS under DATA_DIR while the outage lasts.
"""

from __future__ import annotations

import errno
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from src.sandbox import Sandbox
from src.services.stats.budget import BUDGET_FILE, RenameBudget, validate_budget_document
from src.services.stats.history import DailyHistory
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.clock import SystemClock
from src.utils.store import AtomicJsonStore
from tests.integration.conftest import WINDOW, wait_until
from tests.integration.reliability_support import corrupt_files, day_file_events, wait_counters_shown

pytestmark = pytest.mark.integration

STORE_ALERT = "⚠️ Data store cannot write"
DISK_RETRY = 1.0  # MAX_BACKOFF for these runs: the recorder retries the disk every second
# Discord allows 5 presence updates per 20 s: rotating every 2 s spends at most 5 in a run this short, so
# no update is held back and stopping need not wait for the limiter to let the idle presence through.
PRESENCE_EVERY = 2.0


class DiskOutage:
    """While `active`, creating any file under `root` fails with `code`, as on a full or read-only disk."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, root: Path, code: int) -> None:
        self.active = False
        real_open = os.open
        prefix = str(root)

        def open_or_fail(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
            if self.active and flags & os.O_CREAT and os.fspath(path).startswith(prefix):
                raise OSError(code, os.strerror(code), os.fspath(path))
            return real_open(path, flags, mode, dir_fd=dir_fd)

        # The store creates its temp files with os.open; only paths under DATA_DIR are affected.
        monkeypatch.setattr(os, "open", open_or_fail)


def _join(member_id: str, username: str) -> MemberEvent:
    return MemberEvent(
        kind=EventKind.JOIN,
        member_id=member_id,
        username=username,
        timestamp=datetime.now(UTC) - timedelta(seconds=1),
    )


def _alerts(sb: Sandbox, title: str) -> list[dict[str, Any]]:
    return [m for m in sb.messages(sb.channel_ids["heartbeat"]) if m["embeds"][0]["title"].startswith(title)]


def _joined_ids(data_dir: Path) -> set[str]:
    return {e["member_id"] for e in day_file_events(data_dir) if e["kind"] == "join"}


async def test_corrupt_day_file_is_quarantined_restored_from_backup_and_recording_goes_on(
    sandbox, start_bot, tmp_path
):
    """A day file that no longer parses is moved aside, its backup is used, and new joins are still saved."""
    data_dir = tmp_path / "data"
    today = datetime.now(UTC).date()  # FAST runs the bot in UTC
    history = DailyHistory(AtomicJsonStore(data_dir))
    await history.save_day(DailyStats(date=today, events=[_join("111", "early_bird")]))
    await history.save_day(DailyStats(date=today, events=[_join("111", "early_bird"), _join("222", "x")]))
    day_file = data_dir / "events" / f"{today.isoformat()}.json"
    garbage = b'{"schema_version":1,"date":"' + bytes(range(256))  # a torn write after a disk error
    day_file.write_bytes(garbage)

    with capture_logs() as logs:
        run = await start_bot(presence_update_interval=PRESENCE_EVERY).started()
        newcomer = await sandbox.add_member(username="after_the_crash")
        await wait_until(lambda: str(newcomer) in _joined_ids(data_dir), timeout=5, what="the join on disk")
    assert await run.stop() == 0

    (quarantined,) = corrupt_files(data_dir)
    assert quarantined.name.startswith(f"{day_file.name}.corrupt-")
    assert quarantined.read_bytes() == garbage
    assert {"111", str(newcomer)} <= _joined_ids(data_dir)
    restored = [e for e in logs if e["event"] == "store.restored_from_backup"]
    assert [e["file"] for e in restored] == [f"events/{today.isoformat()}.json"]


async def test_truncated_budget_file_is_quarantined_restored_and_counters_still_rename(
    sandbox, start_bot, tmp_path
):
    """A rename-budget file cut short is moved aside and restored from its backup; counters still rename."""
    data_dir = tmp_path / "data"
    store = AtomicJsonStore(data_dir)
    budget = RenameBudget(SystemClock(), window=WINDOW)
    await budget.save(store)
    budget.penalise(sandbox.channel_ids["online"], 0.5)  # a second version, so a backup exists
    await budget.save(store)
    budget_file = data_dir / BUDGET_FILE
    whole = budget_file.read_bytes()
    budget_file.write_bytes(whole[: len(whole) // 2])  # cut short, as by a disk that lied about fsync

    with capture_logs() as logs:
        run = await start_bot(presence_update_interval=PRESENCE_EVERY).started()
        await wait_counters_shown(sandbox, timeout=3 * WINDOW)
    assert await run.stop() == 0

    (quarantined,) = corrupt_files(data_dir)
    assert quarantined.name.startswith(f"{budget_file.name}.corrupt-")
    assert quarantined.read_bytes() == whole[: len(whole) // 2]
    restored = [e for e in logs if e["event"] == "store.restored_from_backup"]
    assert [e["file"] for e in restored] == [BUDGET_FILE]
    assert validate_budget_document(json.loads(budget_file.read_bytes()))


async def test_full_disk_is_logged_and_alerted_and_loses_no_accepted_join(
    sandbox, start_bot, tmp_path, monkeypatch
):
    """ENOSPC: the failure is logged and alerted, joins wait in memory, and all reach the disk afterwards."""
    data_dir = tmp_path / "data"
    run = await start_bot(
        alert_store_failures=2, max_backoff=DISK_RETRY, presence_update_interval=PRESENCE_EVERY
    ).started()
    await wait_counters_shown(sandbox)
    disk = DiskOutage(monkeypatch, data_dir, errno.ENOSPC)

    with capture_logs() as logs:
        disk.active = True
        during = {str(await sandbox.add_member(username=f"during_outage_{i}")) for i in range(5)}
        await wait_until(lambda: _alerts(sandbox, STORE_ALERT), timeout=10, what="the store alert")
        assert not during & _joined_ids(data_dir)
        assert run.app.recorder.pending_events >= len(during)
        disk.active = False
        await wait_until(lambda: during <= _joined_ids(data_dir), timeout=10, what="writes to resume")
    assert await run.stop() == 0

    failures = [e for e in logs if e["event"] == "events.flush_failed"]
    assert failures
    assert all("ENOSPC" in e["error"] for e in failures)
    assert run.app.recorder.pending_events == 0


async def test_read_only_data_dir_leaves_counters_and_presence_working(
    sandbox, start_bot, tmp_path, monkeypatch
):
    """EROFS: the member counter still renames, presence still updates (showing trouble), writes resume."""
    data_dir = tmp_path / "data"
    run = await start_bot(presence_update_interval=PRESENCE_EVERY, max_backoff=DISK_RETRY).started()
    await wait_counters_shown(sandbox)
    disk = DiskOutage(monkeypatch, data_dir, errno.EROFS)
    presences_before = len(sandbox.journal.presences)

    disk.active = True
    during = {str(await sandbox.add_member()) for _ in range(3)}
    await wait_until(lambda: not run.app.store.health.ok, timeout=5, what="a failed write")
    members = f"👥 Members: {sandbox.member_count:,}"
    await wait_until(
        lambda: sandbox.channel_name(sandbox.channel_ids["members"]) == members,
        timeout=3 * WINDOW,
        what="the member counter to rename while the disk is read-only",
    )
    troubled = await wait_until(
        lambda: next((p for p in sandbox.journal.presences[presences_before:] if p["status"] == "dnd"), None),
        timeout=6,
        what="a presence update (do-not-disturb: the store is failing) while the disk is read-only",
    )
    still_failing = not run.app.store.health.ok
    current_texts = {
        f"👥 {sandbox.member_count:,} members",
        f"🟢 {sandbox.online_count:,} online",
        f"🔨 {sandbox.ban_count:,} bans",
    }
    disk.active = False
    await wait_until(lambda: during <= _joined_ids(data_dir), timeout=10, what="writes to resume")
    assert await run.stop() == 0

    assert still_failing
    assert troubled["activities"][0]["name"] in current_texts
