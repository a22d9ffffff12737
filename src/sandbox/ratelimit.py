"""Discord-style rate limits: fixed-window buckets (shown in headers) and sliding windows (hidden ones).

Every window is given in Discord's seconds and divided by `time_scale`; every duration handed back
(`reset_after`, `retry_after`) is in real seconds of the injected clock.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass

from src.types.ports import Clock


@dataclass(frozen=True)
class BucketSpec:
    """One route bucket: `limit` requests per `window` seconds per major parameter."""

    name: str
    limit: int
    window: float

    @property
    def bucket_hash(self) -> str:
        """The opaque id sent in `X-RateLimit-Bucket` (stable per route, like Discord's)."""
        return hashlib.md5(self.name.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Verdict:
    """The outcome of taking a slot from a bucket, with what the headers report."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    bucket: str

    @property
    def retry_after(self) -> float:
        """Seconds to wait before retrying (0 when allowed)."""
        return 0.0 if self.allowed else self.reset_after


@dataclass
class _Window:
    """One bucket window: requests left and when (clock time) it resets."""

    remaining: int
    resets_at: float


def round_up_ms(seconds: float) -> float:
    """Round a duration up to whole milliseconds, so a client never retries a hair too early."""
    return math.ceil(max(0.0, seconds) * 1000) / 1000


class BucketRegistry:
    """Fixed-window buckets keyed by (bucket, major parameter); a window starts at its first request."""

    def __init__(self, clock: Clock, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self._clock = clock
        self._scale = time_scale
        self._windows: dict[tuple[str, str], _Window] = {}

    def take(self, spec: BucketSpec, major: str = "") -> Verdict:
        """Consume one request from the bucket, or refuse it if the window is used up."""
        now = self._clock.monotonic()
        key = (spec.bucket_hash, major)
        window = self._windows.get(key)
        if window is None or now >= window.resets_at:
            window = _Window(remaining=spec.limit, resets_at=now + spec.window / self._scale)
            self._windows[key] = window
            self._forget_expired(now)
        reset_after = round_up_ms(window.resets_at - now)
        if window.remaining <= 0:
            return Verdict(False, spec.limit, 0, reset_after, spec.bucket_hash)
        window.remaining -= 1
        return Verdict(True, spec.limit, window.remaining, reset_after, spec.bucket_hash)

    def _forget_expired(self, now: float) -> None:
        """Drop finished windows once in a while, so per-channel keys do not pile up forever."""
        if len(self._windows) > 4096:
            self._windows = {k: w for k, w in self._windows.items() if w.resets_at > now}


class SlidingWindowLimiter:
    """At most `limit` events per `window` seconds per key, counted over a sliding window.

    This is how the hidden channel-rename limit behaves: the next edit is allowed once the oldest
    counted edit has left the window.
    """

    def __init__(self, clock: Clock, *, limit: int, window: float, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self._clock = clock
        self.limit = limit
        self.window = window / time_scale
        self._events: dict[object, deque[float]] = {}

    def _live(self, key: object, now: float) -> deque[float]:
        """Return the key's events still inside the window, dropping the expired ones."""
        events = self._events.setdefault(key, deque())
        while events and events[0] + self.window <= now:
            events.popleft()
        return events

    def retry_after(self, key: object) -> float:
        """Return 0 if an event for `key` is allowed now, else the seconds until it will be."""
        now = self._clock.monotonic()
        events = self._live(key, now)
        if len(events) < self.limit:
            return 0.0
        return round_up_ms(events[len(events) - self.limit] + self.window - now)

    def record(self, key: object) -> None:
        """Count one event for `key` at the current time."""
        now = self._clock.monotonic()
        self._live(key, now).append(now)

    def acquire(self, key: object) -> float:
        """Record an event if allowed and return 0; otherwise return the retry delay and record nothing."""
        wait = self.retry_after(key)
        if wait == 0.0:
            self.record(key)
        return wait

    def count(self, key: object) -> int:
        """Return how many events for `key` are inside the window now."""
        return len(self._live(key, self._clock.monotonic()))
