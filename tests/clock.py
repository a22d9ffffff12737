"""A clock that moves only when a test says so, satisfying `src.types.ports.Clock`."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta


class ManualClock:
    """A clock that only moves when a test calls `advance`; sleepers wake when their time comes."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        """Return the manual time."""
        return self._now

    def monotonic(self) -> float:
        """Return seconds advanced since creation."""
        return self._mono

    async def sleep(self, seconds: float) -> None:
        """Wait until `advance` has moved the clock past `seconds` from now."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in order and letting each run before the next wakes."""
        target = self._mono + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            due, _, future = heapq.heappop(self._sleepers)
            self._now += timedelta(seconds=due - self._mono)
            self._mono = due
            if not future.done():
                future.set_result(None)
            await settle()
        self._now += timedelta(seconds=target - self._mono)
        self._mono = target
        await settle()

    @property
    def pending_sleepers(self) -> int:
        """How many sleepers are waiting (useful to know a loop has parked)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())


async def settle() -> None:
    """Yield to the loop so woken and started tasks run until they block again."""
    for _ in range(50):
        await asyncio.sleep(0)
