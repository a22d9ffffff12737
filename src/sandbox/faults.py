"""Injected REST trouble over "METHOD /path" regexes: faults (a chosen status) and delays (a late answer)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from src.types.ports import Clock


@dataclass
class Rule:
    """What faults and delays share: which routes they match and how long they apply."""

    pattern: re.Pattern[str]
    remaining: int | None  # uses left, or None for no count
    until: float | None  # clock.monotonic() deadline, or None for no duration

    def expired(self, now: float) -> bool:
        """Tell whether the rule has used up its count or its duration."""
        return (self.remaining is not None and self.remaining <= 0) or (
            self.until is not None and now >= self.until
        )


@dataclass
class Fault(Rule):
    """One injected failure."""

    status: int
    global_429: bool
    retry_after: float


@dataclass
class Delay(Rule):
    """One injected slow answer: the request is handled at once, its response waits `seconds`."""

    seconds: float


RuleT = TypeVar("RuleT", bound=Rule)


class _Rules(Generic[RuleT]):
    """Live rules in the order they were added; the first live match answers a request."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._rules: list[RuleT] = []

    def deadline(self, count: int | None, duration: float | None) -> float | None:
        """Check a rule's bounds and return its deadline on the clock (None: no duration)."""
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        if duration is not None and duration <= 0:
            raise ValueError("duration must be positive")
        return None if duration is None else self._clock.monotonic() + duration

    def add(self, rule: RuleT) -> RuleT:
        """Register a rule."""
        self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        self._rules.clear()

    @property
    def active(self) -> list[RuleT]:
        """The rules that still apply."""
        now = self._clock.monotonic()
        return [r for r in self._rules if not r.expired(now)]

    def match(self, route: str) -> RuleT | None:
        """Return (and consume one use of) the first live rule whose pattern matches `route`."""
        self._rules = self.active
        for rule in self._rules:
            if rule.pattern.search(route):
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule
        return None


class FaultInjector(_Rules[Fault]):
    """Holds the active faults; the first live fault matching a request answers it."""

    def add_fault(
        self,
        pattern: str,
        *,
        status: int = 500,
        count: int | None = None,
        duration: float | None = None,
        global_429: bool = False,
        retry_after: float = 1.0,
    ) -> Fault:
        """Register a fault; `duration` is in seconds of the sandbox clock from now."""
        if not 400 <= status <= 599:
            raise ValueError("a fault status must be 4xx or 5xx")
        until = self.deadline(count, duration)
        return self.add(
            Fault(
                pattern=re.compile(pattern),
                remaining=count,
                until=until,
                status=status,
                global_429=global_429,
                retry_after=max(0.0, retry_after),
            )
        )


class DelayInjector(_Rules[Delay]):
    """Holds the active delays; the first live delay matching a request holds its response back."""

    def add_delay(
        self, pattern: str, seconds: float, *, count: int | None = None, duration: float | None = None
    ) -> Delay:
        """Register a delay of `seconds` per response; `duration` is in seconds of the sandbox clock."""
        if not seconds > 0:
            raise ValueError("seconds must be positive")
        until = self.deadline(count, duration)
        return self.add(
            Delay(pattern=re.compile(pattern), remaining=count, until=until, seconds=float(seconds))
        )
