"""Injected REST failures: a regex over "METHOD /path" answering a chosen status for a count or a duration."""

from __future__ import annotations

import re
from dataclasses import dataclass

from src.types.ports import Clock


@dataclass
class Fault:
    """One injected failure; `remaining` and `until` (clock time) bound how long it applies."""

    pattern: re.Pattern[str]
    status: int
    remaining: int | None
    until: float | None
    global_429: bool
    retry_after: float

    def expired(self, now: float) -> bool:
        """Tell whether the fault has used up its count or its duration."""
        return (self.remaining is not None and self.remaining <= 0) or (
            self.until is not None and now >= self.until
        )


class FaultInjector:
    """Holds the active faults; the first live fault matching a request answers it."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._faults: list[Fault] = []

    def add(
        self,
        pattern: str,
        *,
        status: int = 500,
        count: int | None = None,
        duration: float | None = None,
        global_429: bool = False,
        retry_after: float = 1.0,
    ) -> Fault:
        """Register a fault; `duration` is in real seconds from now."""
        if not 400 <= status <= 599:
            raise ValueError("a fault status must be 4xx or 5xx")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        if duration is not None and duration <= 0:
            raise ValueError("duration must be positive")
        until = None if duration is None else self._clock.monotonic() + duration
        fault = Fault(re.compile(pattern), status, count, until, global_429, max(0.0, retry_after))
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        self._faults.clear()

    @property
    def active(self) -> list[Fault]:
        """The faults that still apply."""
        now = self._clock.monotonic()
        return [f for f in self._faults if not f.expired(now)]

    def match(self, route: str) -> Fault | None:
        """Return (and consume one use of) the first live fault whose pattern matches `route`."""
        now = self._clock.monotonic()
        self._faults = [f for f in self._faults if not f.expired(now)]
        for fault in self._faults:
            if fault.pattern.search(route):
                if fault.remaining is not None:
                    fault.remaining -= 1
                return fault
        return None
