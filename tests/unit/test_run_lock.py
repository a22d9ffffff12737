"""One StatsBot per DATA_DIR: the lock the running bot holds, and what a second taker is told."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from src.core.app import run_bot
from src.utils.run_lock import LOCK_NAME, DataDirBusy, RunLock
from tests.fakes import make_settings


def test_a_second_taker_is_refused_naming_the_holder_pid(tmp_path: Path) -> None:
    """While one lock is held another on the same DATA_DIR raises DataDirBusy with the holder's pid."""
    with RunLock(tmp_path), pytest.raises(DataDirBusy, match=r"StatsBot \(pid \d+\) is running on"):
        RunLock(tmp_path).acquire()


def test_released_lock_can_be_taken_again(tmp_path: Path) -> None:
    """After release (or the holder's exit) the next run takes the lock."""
    first = RunLock(tmp_path)
    first.acquire()
    first.release()
    with RunLock(tmp_path) as second:
        assert (tmp_path / LOCK_NAME).read_text(encoding="ascii").isdigit()
        assert second.path == tmp_path / LOCK_NAME


def test_other_data_dirs_are_independent(tmp_path: Path) -> None:
    """Two bots with their own DATA_DIRs both run."""
    with RunLock(tmp_path / "a"), RunLock(tmp_path / "b"):
        assert (tmp_path / "a" / LOCK_NAME).exists()
        assert (tmp_path / "b" / LOCK_NAME).exists()


async def test_a_second_bot_on_the_same_data_dir_exits_1_with_the_fix(tmp_path: Path) -> None:
    """`run` while another StatsBot holds DATA_DIR logs bot.data_dir_busy with the fix and exits 1 at once."""
    with RunLock(tmp_path), capture_logs() as logs:
        assert await run_bot(make_settings(data_dir=tmp_path)) == 1
    [busy] = [entry for entry in logs if entry["event"] == "bot.data_dir_busy"]
    assert busy["fix"] == "stop that StatsBot, or give this one its own DATA_DIR"
