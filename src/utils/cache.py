"""A typed TTL cache with hit/miss/expiry counters and single-flight async computation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import cachetools

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING = object()


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A point-in-time copy of a cache's counters."""

    hits: int
    misses: int
    expirations: int
    size: int


class _ExpiryCountingTTLCache(cachetools.TTLCache[K, V, float]):
    """cachetools' TTL cache that counts every entry it drops because its ttl ran out."""

    def __init__(self, maxsize: int, ttl: float, timer: Callable[[], float]) -> None:
        super().__init__(maxsize, ttl, timer)
        self.expirations = 0

    def expire(self, time: float | None = None) -> list[tuple[K, V]]:
        """Drop expired entries, counting them, and return them."""
        # cachetools sweeps from both lookups and inserts; counting here catches every expiry
        # whichever operation happens to notice it first.
        expired = super().expire(time)
        self.expirations += len(expired)
        return expired


class TTLCache(Generic[K, V]):
    """A bounded LRU cache whose entries expire `ttl` seconds (of `timer`) after being set."""

    def __init__(self, maxsize: int, ttl: float, *, timer: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        if ttl <= 0:
            raise ValueError(f"ttl must be > 0, got {ttl}")
        self._data: _ExpiryCountingTTLCache[K, V] = _ExpiryCountingTTLCache(maxsize, ttl, timer)
        self._inflight: dict[K, asyncio.Task[V]] = {}
        self._hits = 0
        self._misses = 0

    @property
    def stats(self) -> CacheStats:
        """Return the current counters; expired entries are swept first so `size` is exact."""
        self._data.expire()
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            expirations=self._data.expirations,
            size=len(self._data),
        )

    def get(self, key: K) -> V | None:
        """Return the live value for `key`, or None on a miss."""
        found = self._lookup(key)
        return None if found is _MISSING else cast(V, found)

    def set(self, key: K, value: V) -> None:
        """Store `value` under `key` with a fresh ttl."""
        self._data[key] = value

    def invalidate(self, key: K) -> None:
        """Forget `key`, including any computation in flight for it."""
        self._data.pop(key, None)
        # Dropping the in-flight entry stops a computation that started before the invalidation
        # from writing its (possibly stale) result back; its current waiters still get it.
        self._inflight.pop(key, None)

    def clear(self) -> None:
        """Forget every entry and every computation in flight; counters are kept."""
        self._data.clear()
        self._inflight.clear()

    async def get_or_compute(self, key: K, factory: Callable[[], Awaitable[V]]) -> V:
        """Return the cached value, or compute it once for all concurrent callers of `key`."""
        found = self._lookup(key)
        if found is not _MISSING:
            return cast(V, found)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._compute(key, factory), name=f"cache.compute:{key!r}")
            task.add_done_callback(_consume_exception)
            self._inflight[key] = task
        # Shielded so one caller being cancelled does not cancel the computation the others share.
        return await asyncio.shield(task)

    async def _compute(self, key: K, factory: Callable[[], Awaitable[V]]) -> V:
        """Run `factory`, cache its result unless invalidated meanwhile, and clear the in-flight slot."""
        me = asyncio.current_task()
        try:
            value = await factory()
            if self._inflight.get(key) is me:
                self.set(key, value)
            return value
        finally:
            if self._inflight.get(key) is me:
                del self._inflight[key]

    def _lookup(self, key: K) -> object:
        """Return the live value or `_MISSING`, counting the hit or miss."""
        # Sweeping first turns "present but expired" into a counted expiry rather than a silent miss.
        self._data.expire()
        found = self._data.get(key, _MISSING)
        if found is _MISSING:
            self._misses += 1
        else:
            self._hits += 1
        return found


def _consume_exception(task: asyncio.Task[Any]) -> None:
    """Mark a failed computation's exception as retrieved even if every waiter was cancelled."""
    if not task.cancelled():
        task.exception()
