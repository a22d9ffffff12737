"""Members and bans as a seeded id range plus additions and removals, and their pagination."""

from __future__ import annotations

import tracemalloc

import pytest

from src.sandbox.config import SandboxConfig
from src.sandbox.ids import SEEDED_MEMBERS_START, SnowflakeFactory
from src.sandbox.idsets import SparseIdSet
from src.sandbox.state import GuildState
from tests.clock import ManualClock


def seeded(count: int) -> SparseIdSet[None]:
    """A set of `count` seeded ids starting at 1000."""
    return SparseIdSet(1000, count)


def test_million_members_are_not_materialised() -> None:
    """Seeding 1,000,000 members allocates almost nothing."""
    tracemalloc.start()
    try:
        state = GuildState(SandboxConfig(members=1_000_000), ManualClock(), SnowflakeFactory(ManualClock()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert state.member_count == 1_000_001
    assert peak < 1_000_000


def test_million_member_count_stays_exact_after_changes() -> None:
    """Adding and removing members keeps the count exact without materialising the range."""
    clock = ManualClock()
    state = GuildState(SandboxConfig(members=1_000_000), clock, SnowflakeFactory(clock))
    state.remove_member(SEEDED_MEMBERS_START)
    state.add_member(username="new")
    state.add_member(username="newer")
    assert state.member_count == 1_000_002
    assert state.members.materialised == 4  # bot, two added, one removed


def test_removed_seeded_id_is_absent() -> None:
    """A removed seeded id is no longer contained nor listed."""
    ids = seeded(10)
    ids.discard(1003)
    assert 1003 not in ids
    assert 1003 not in list(ids.ascending())


def test_readded_seeded_id_counts_once() -> None:
    """Removing then re-adding a seeded id lists and counts it once."""
    ids = seeded(10)
    ids.discard(1003)
    ids.add(1003, None)
    assert len(ids) == 10
    assert list(ids.ascending()).count(1003) == 1


def test_adding_present_id_is_refused() -> None:
    """Adding an id that is already present changes nothing."""
    ids = seeded(10)
    assert not ids.add(1005, None)
    assert len(ids) == 10


def test_discarding_absent_id_is_refused() -> None:
    """Discarding an absent id reports False and keeps the count."""
    ids = seeded(10)
    assert not ids.discard(5)
    assert len(ids) == 10


def test_ascending_merges_added_ids_in_order() -> None:
    """Added ids below, inside and above the range come out sorted."""
    ids = seeded(3)
    for extra in (5, 1001, 2000):
        ids.discard(extra)
        ids.add(extra, None)
    assert list(ids.ascending()) == [5, 1000, 1001, 1002, 2000]


def test_descending_is_reverse_of_ascending() -> None:
    """Descending iteration is the mirror of ascending iteration."""
    ids = seeded(20)
    ids.add(7, None)
    ids.discard(1010)
    assert list(ids.descending()) == list(reversed(list(ids.ascending())))


def test_ban_pages_after_cover_everything_once() -> None:
    """Paging 2,500 bans by `after` in pages of 1,000 yields each id once, ascending."""
    bans = seeded(2500)
    collected: list[int] = []
    after = 0
    while True:
        page = bans.page(1000, after=after)
        collected.extend(page)
        if len(page) < 1000:
            break
        after = page[-1]
    assert len(collected) == 2500
    assert collected == sorted(set(collected))


def test_ban_pages_are_at_most_the_limit() -> None:
    """A page never exceeds its limit."""
    assert [len(seeded(2500).page(1000, after=after)) for after in (0, 1999, 2999)] == [1000, 1000, 500]


def test_before_page_is_closest_ids_ascending() -> None:
    """With `before`, the page holds the ids just below it, in ascending order."""
    assert seeded(2500).page(3, before=1010) == [1007, 1008, 1009]


def test_before_pages_cover_everything_once() -> None:
    """Paging backwards by `before` like discord.py (next before = first id) reaches every id once."""
    bans = seeded(2500)
    collected: list[int] = []
    before = 10**18
    while True:
        page = bans.page(1000, before=before)
        collected.extend(page)
        if len(page) < 1000:
            break
        before = page[0]
    assert sorted(collected) == list(range(1000, 3500))


def test_after_and_before_bound_the_page() -> None:
    """With both bounds, the page holds the smallest ids between them."""
    assert seeded(100).page(1000, after=1010, before=1014) == [1011, 1012, 1013]


def test_banned_user_cannot_join() -> None:
    """A banned user is refused as a new member, like Discord does."""
    clock = ManualClock()
    state = GuildState(SandboxConfig(members=1), clock, SnowflakeFactory(clock))
    state.ban(42)
    with pytest.raises(ValueError, match="banned"):
        state.add_member(42)


def test_snapshot_keeps_the_ids_of_its_time() -> None:
    """A snapshot lists what the set held when taken, whatever is added or removed afterwards."""
    ids = seeded(5)
    ids.discard(1001)
    ids.add(7, None)
    frozen = ids.snapshot()
    ids.discard(1002)
    ids.add(9, None)
    ids.add(1001, None)
    assert (list(frozen.ascending()), len(frozen)) == ([7, 1000, 1002, 1003, 1004], 5)
    assert list(ids.ascending()) == [7, 9, 1000, 1001, 1003, 1004]
