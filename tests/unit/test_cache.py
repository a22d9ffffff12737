"""Tests for src.utils.cache: TTL expiry, counters, eviction and single-flight computation."""

from __future__ import annotations

import asyncio

import pytest

from src.utils.cache import CacheStats, TTLCache


class FakeTimer:
    """A monotonic timer that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def timer() -> FakeTimer:
    return FakeTimer()


@pytest.fixture
def cache(timer: FakeTimer) -> TTLCache[str, int]:
    return TTLCache(maxsize=3, ttl=10.0, timer=timer)


def test_get_missing_key_returns_none_and_counts_a_miss(cache: TTLCache[str, int]) -> None:
    """A lookup of an absent key returns None and is counted as a miss."""
    assert cache.get("a") is None
    assert cache.stats == CacheStats(hits=0, misses=1, expirations=0, size=0)


def test_get_after_set_returns_value_and_counts_a_hit(cache: TTLCache[str, int]) -> None:
    """A stored value is returned and counted as a hit."""
    cache.set("a", 1)
    assert cache.get("a") == 1
    assert cache.stats == CacheStats(hits=1, misses=0, expirations=0, size=1)


def test_entry_is_live_until_ttl_has_passed(cache: TTLCache[str, int], timer: FakeTimer) -> None:
    """An entry is still returned just before its ttl runs out."""
    cache.set("a", 1)
    timer.now = 9.999
    assert cache.get("a") == 1


def test_entry_expires_after_ttl(cache: TTLCache[str, int], timer: FakeTimer) -> None:
    """An entry is gone once its ttl has passed."""
    cache.set("a", 1)
    timer.now = 10.0
    assert cache.get("a") is None


def test_lookup_of_expired_entry_counts_an_expiration_and_a_miss(
    cache: TTLCache[str, int], timer: FakeTimer
) -> None:
    """Finding a key present but expired counts one expiration and one miss."""
    cache.set("a", 1)
    timer.now = 11.0
    cache.get("a")
    assert cache.stats == CacheStats(hits=0, misses=1, expirations=1, size=0)


def test_set_refreshes_the_ttl(cache: TTLCache[str, int], timer: FakeTimer) -> None:
    """Setting a key again restarts its ttl."""
    cache.set("a", 1)
    timer.now = 8.0
    cache.set("a", 2)
    timer.now = 15.0
    assert cache.get("a") == 2


def test_maxsize_evicts_least_recently_used(cache: TTLCache[str, int]) -> None:
    """Past maxsize, the least recently used entry is evicted."""
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("c", 3)
    cache.get("a")  # makes "b" the least recently used
    cache.set("d", 4)
    assert [cache.get(k) for k in ("a", "b", "c", "d")] == [1, None, 3, 4]


def test_invalidate_removes_the_key(cache: TTLCache[str, int]) -> None:
    """An invalidated key is no longer returned."""
    cache.set("a", 1)
    cache.invalidate("a")
    assert cache.get("a") is None


def test_invalidate_of_absent_key_is_a_no_op(cache: TTLCache[str, int]) -> None:
    """Invalidating a key that is not cached leaves other entries alone."""
    cache.set("a", 1)
    cache.invalidate("zzz")
    assert cache.get("a") == 1


def test_clear_empties_the_cache(cache: TTLCache[str, int]) -> None:
    """After clear() no entry is left."""
    cache.set("a", 1)
    cache.set("b", 2)
    cache.clear()
    assert cache.stats.size == 0


def test_rejects_non_positive_ttl(timer: FakeTimer) -> None:
    """A ttl of zero is a configuration error."""
    with pytest.raises(ValueError, match="ttl"):
        TTLCache[str, int](maxsize=1, ttl=0, timer=timer)


async def test_get_or_compute_caches_the_computed_value(cache: TTLCache[str, int]) -> None:
    """The factory runs on a miss only; the next call is served from the cache."""
    calls = 0

    async def factory() -> int:
        nonlocal calls
        calls += 1
        return 42

    first = await cache.get_or_compute("a", factory)
    second = await cache.get_or_compute("a", factory)
    assert (first, second, calls) == (42, 42, 1)


async def test_get_or_compute_recomputes_after_expiry(cache: TTLCache[str, int], timer: FakeTimer) -> None:
    """Once the cached value expires, the factory runs again."""
    values = iter([1, 2])

    async def factory() -> int:
        return next(values)

    await cache.get_or_compute("a", factory)
    timer.now = 10.0
    assert await cache.get_or_compute("a", factory) == 2


async def test_concurrent_get_or_compute_runs_the_factory_once(cache: TTLCache[str, int]) -> None:
    """Ten concurrent callers for one key share a single computation."""
    started, release = asyncio.Event(), asyncio.Event()
    calls = 0

    async def factory() -> int:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return 7

    tasks = [asyncio.create_task(cache.get_or_compute("k", factory)) for _ in range(10)]
    await started.wait()
    release.set()
    results = await asyncio.gather(*tasks)
    assert results == [7] * 10
    assert calls == 1


async def test_failing_factory_propagates_to_every_waiter(cache: TTLCache[str, int]) -> None:
    """When the shared computation fails, every concurrent caller gets its exception."""
    started, release = asyncio.Event(), asyncio.Event()

    async def factory() -> int:
        started.set()
        await release.wait()
        raise LookupError("boom")

    tasks = [asyncio.create_task(cache.get_or_compute("k", factory)) for _ in range(5)]
    await started.wait()
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results)


async def test_failed_computation_is_not_cached_and_next_call_recomputes(cache: TTLCache[str, int]) -> None:
    """After a failure nothing is cached and the next caller runs the factory again."""
    outcomes: list[int | Exception] = [LookupError("boom"), 5]

    async def factory() -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with pytest.raises(LookupError):
        await cache.get_or_compute("k", factory)
    assert cache.get("k") is None
    assert await cache.get_or_compute("k", factory) == 5


async def test_cancelling_one_waiter_does_not_cancel_the_shared_computation(
    cache: TTLCache[str, int],
) -> None:
    """A cancelled caller leaves the computation running for the others."""
    started, release = asyncio.Event(), asyncio.Event()

    async def factory() -> int:
        started.set()
        await release.wait()
        return 3

    quitter = asyncio.create_task(cache.get_or_compute("k", factory))
    stayer = asyncio.create_task(cache.get_or_compute("k", factory))
    await started.wait()
    quitter.cancel()
    release.set()
    assert await stayer == 3
    with pytest.raises(asyncio.CancelledError):
        await quitter


async def test_invalidate_during_computation_keeps_its_result_out_of_the_cache(
    cache: TTLCache[str, int],
) -> None:
    """A value computed before an invalidation is not written back afterwards."""
    started, release = asyncio.Event(), asyncio.Event()

    async def factory() -> int:
        started.set()
        await release.wait()
        return 1

    task = asyncio.create_task(cache.get_or_compute("k", factory))
    await started.wait()
    cache.invalidate("k")
    release.set()
    assert await task == 1
    assert cache.get("k") is None
