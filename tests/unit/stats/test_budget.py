"""Tests for RenameBudget: Discord's 2 renames per 10 minutes per channel, persisted across restarts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from src.services.stats.budget import BUDGET_FILE, RenameBudget
from src.utils.store import AtomicJsonStore
from tests.clock import ManualClock

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CHANNEL = 123456789012345678
OTHER = 987654321098765432


class MemoryStore:
    """An in-memory stand-in for AtomicJsonStore that round-trips through JSON like the real one."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}

    async def read(self, name: str, *, validate: Callable[[Any], Any] | None = None) -> Any | None:
        if name not in self.files:
            return None
        data = json.loads(self.files[name])
        return validate(data) if validate else data

    async def write(self, name: str, data: Any) -> None:
        self.files[name] = json.dumps(data)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def budget(clock: ManualClock) -> RenameBudget:
    return RenameBudget(clock, limit=2, window=600.0, margin=1.0)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


async def test_two_renames_then_blocked_until_window_passes(budget: RenameBudget, clock: ManualClock) -> None:
    """After 2 renames the channel is blocked until the first leaves the window (plus the margin)."""
    budget.record(CHANNEL, clock.now())
    await clock.advance(10)
    budget.record(CHANNEL, clock.now())
    assert not budget.can_rename(CHANNEL)
    await clock.advance(590)  # exactly one window after the first rename: still inside the margin
    assert not budget.can_rename(CHANNEL)
    await clock.advance(1)
    assert budget.can_rename(CHANNEL)


async def test_one_rename_leaves_the_second_free(budget: RenameBudget, clock: ManualClock) -> None:
    """With one rename in the window the next is allowed at once."""
    budget.record(CHANNEL, clock.now())
    assert budget.can_rename(CHANNEL)
    assert budget.next_slot(CHANNEL) == clock.now()


async def test_next_slot_is_oldest_rename_plus_window_and_margin(
    budget: RenameBudget, clock: ManualClock
) -> None:
    """A full window frees up when its oldest rename is window + margin old."""
    budget.record(CHANNEL, at(0))
    budget.record(CHANNEL, at(300))
    await clock.advance(400)
    assert budget.next_slot(CHANNEL) == at(601)


async def test_next_slot_of_unused_channel_is_now(budget: RenameBudget, clock: ManualClock) -> None:
    """A channel never renamed can be renamed now."""
    await clock.advance(42)
    assert budget.next_slot(CHANNEL) == clock.now()


async def test_channels_have_separate_windows(budget: RenameBudget, clock: ManualClock) -> None:
    """Filling one channel's window leaves another channel free."""
    budget.record(CHANNEL, clock.now())
    budget.record(CHANNEL, clock.now())
    assert not budget.can_rename(CHANNEL)
    assert budget.can_rename(OTHER)


async def test_penalise_blocks_until_retry_after(budget: RenameBudget, clock: ManualClock) -> None:
    """A 429's retry_after blocks the channel even when our own window has room."""
    budget.penalise(CHANNEL, 120.0)
    assert budget.next_slot(CHANNEL) == at(120)
    await clock.advance(119)
    assert not budget.can_rename(CHANNEL)
    await clock.advance(1)
    assert budget.can_rename(CHANNEL)


async def test_penalise_never_shortens_a_longer_block(budget: RenameBudget, clock: ManualClock) -> None:
    """A shorter retry_after after a longer one keeps the longer block."""
    budget.penalise(CHANNEL, 500.0)
    budget.penalise(CHANNEL, 10.0)
    assert budget.next_slot(CHANNEL) == at(500)


async def test_record_refuses_naive_datetimes(budget: RenameBudget) -> None:
    """A time without a zone is refused rather than guessed."""
    with pytest.raises(ValueError, match="timezone-aware"):
        budget.record(CHANNEL, datetime(2026, 3, 1, 12, 0))  # noqa: DTZ001 - the naive time under test


async def test_to_json_uses_string_ids_iso_times_and_schema_version(
    budget: RenameBudget, clock: ManualClock
) -> None:
    """The document has a schema_version, channel ids as strings and ISO 8601 UTC times."""
    budget.record(CHANNEL, clock.now())
    assert budget.to_json() == {
        "schema_version": 1,
        "limit": 2,
        "window": 600.0,
        "channels": {
            str(CHANNEL): {"renames": ["2026-03-01T12:00:00+00:00"], "blocked_until": None},
        },
    }


async def test_to_json_drops_renames_older_than_the_window(budget: RenameBudget, clock: ManualClock) -> None:
    """Renames that left the window are not persisted."""
    budget.record(CHANNEL, at(0))
    budget.record(OTHER, at(0))
    await clock.advance(400)
    budget.record(OTHER, clock.now())
    await clock.advance(300)
    assert budget.to_json()["channels"] == {
        str(OTHER): {"renames": ["2026-03-01T12:06:40+00:00"], "blocked_until": None},
    }


async def test_from_json_drops_entries_older_than_the_window(clock: ManualClock) -> None:
    """Loading a stale document keeps only renames still inside the window."""
    document = {
        "schema_version": 1,
        "limit": 2,
        "window": 600.0,
        "channels": {
            str(CHANNEL): {
                "renames": ["2026-03-01T11:40:00+00:00", "2026-03-01T11:55:00+00:00"],
                "blocked_until": "2026-03-01T11:58:00+00:00",
            },
        },
    }
    budget = RenameBudget.from_json(document, clock, limit=2, window=600.0)
    assert list(budget.timeline(CHANNEL).renames) == [datetime(2026, 3, 1, 11, 55, tzinfo=UTC)]
    assert budget.can_rename(CHANNEL)


async def test_restart_inside_window_does_not_allow_a_third_rename(clock: ManualClock) -> None:
    """A budget saved after 2 renames and loaded by a restarted bot still blocks the third."""
    store = MemoryStore()
    first = RenameBudget(clock, limit=2, window=600.0)
    first.record(CHANNEL, clock.now())
    await clock.advance(200)
    first.record(CHANNEL, clock.now())
    await first.save(store)
    await clock.advance(100)  # the restart

    second = await RenameBudget.load(store, clock, limit=2, window=600.0)
    assert not second.can_rename(CHANNEL)
    assert second.next_slot(CHANNEL) == at(601)


async def test_penalty_survives_a_restart(budget: RenameBudget, clock: ManualClock) -> None:
    """A 429 block is persisted, so a restart does not walk straight into a second 429."""
    store = MemoryStore()
    budget.penalise(CHANNEL, 300.0)
    await budget.save(store)
    reloaded = await RenameBudget.load(store, clock, limit=2, window=600.0)
    assert reloaded.next_slot(CHANNEL) == at(300)


async def test_load_without_a_file_gives_an_empty_budget(clock: ManualClock) -> None:
    """The first start has no state file and may rename at once."""
    budget = await RenameBudget.load(MemoryStore(), clock)
    assert budget.can_rename(CHANNEL)
    assert budget.to_json()["channels"] == {}


async def test_save_to_real_store_writes_state_file(
    budget: RenameBudget, clock: ManualClock, tmp_path: Path
) -> None:
    """The real store gets state/rename_budget.json with the renames in it."""
    store = AtomicJsonStore(tmp_path, clock=clock)
    budget.record(CHANNEL, clock.now())
    await budget.save(store)
    on_disk = json.loads((tmp_path / "state" / "rename_budget.json").read_text(encoding="utf-8"))
    assert BUDGET_FILE == "state/rename_budget.json"
    assert on_disk["schema_version"] == 1
    assert on_disk["channels"][str(CHANNEL)]["renames"] == ["2026-03-01T12:00:00+00:00"]


async def test_real_store_round_trip_blocks_across_restart(clock: ManualClock, tmp_path: Path) -> None:
    """Saved to and loaded from the real store, a full window stays full."""
    store = AtomicJsonStore(tmp_path, clock=clock)
    first = RenameBudget(clock, limit=2, window=600.0)
    first.record(CHANNEL, clock.now())
    first.record(CHANNEL, clock.now())
    await first.save(store)
    second = await RenameBudget.load(AtomicJsonStore(tmp_path, clock=clock), clock, limit=2, window=600.0)
    assert not second.can_rename(CHANNEL)


async def test_invalid_state_file_loads_as_empty_budget_with_log(clock: ManualClock, tmp_path: Path) -> None:
    """A state file of the wrong shape is quarantined by the store and the budget starts empty."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "rename_budget.json").write_text('{"schema_version": 1, "channels": []}', encoding="utf-8")
    with capture_logs() as logs:
        budget = await RenameBudget.load(AtomicJsonStore(tmp_path, clock=clock), clock)
    assert budget.can_rename(CHANNEL)
    assert "store.quarantined" in [entry["event"] for entry in logs]
