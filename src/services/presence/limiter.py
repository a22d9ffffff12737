"""A sliding-window rate limiter on the injected clock."""

from __future__ import annotations

from collections import deque

from src.types.ports import Clock


class SlidingWindowLimiter:
    """Allows at most `limit` events in any `window` seconds of clock time."""

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"need limit >= 1 and window > 0, got limit={limit} window={window}")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._times: deque[float] = deque()

    def wait_time(self) -> float:
        """Seconds until one more event is allowed (0 when allowed now)."""
        now = self._clock.monotonic()
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) < self.limit:
            return 0.0
        return self._times[0] + self.window - now

    def try_acquire(self) -> bool:
        """Record an event and return True if the window has room, else return False."""
        if self.wait_time() > 0:
            return False
        self._times.append(self._clock.monotonic())
        return True
