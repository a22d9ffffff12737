"""A circuit breaker: stop calling a failing dependency for a while, then probe it one call at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import TypeVar

import structlog

from src.core.exceptions import CircuitOpenError
from src.types.models import BreakerSnapshot, BreakerState
from src.types.ports import Clock
from src.utils.clock import SystemClock
from src.utils.text import describe_error

log = structlog.get_logger(__name__)

T = TypeVar("T")
_MAX_ERROR_LEN = 200


class CircuitBreaker:
    """Stops calling a dependency after repeated transient failures, then probes it one call at a time."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
        clock: Clock | None = None,
        counts_as_failure: Callable[[BaseException], bool],
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if reset_timeout < 0:
            raise ValueError(f"reset_timeout must be >= 0, got {reset_timeout}")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.counts_as_failure = counts_as_failure
        self._clock: Clock = clock or SystemClock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_mono: float | None = None
        self._opened_at: datetime | None = None
        self._last_error: str | None = None
        self._trial_in_flight = False
        # Bumped on every opening so outcomes of calls admitted before it can be told apart.
        self._generation = 0

    @property
    def state(self) -> BreakerState:
        """Return the current state, moving OPEN to HALF_OPEN once the cool-down has passed."""
        if self._state is BreakerState.OPEN and self._cooldown_left() <= 0:
            self._state = BreakerState.HALF_OPEN
            self._trial_in_flight = False
            log.info("breaker.half_open", breaker=self.name)
        return self._state

    @property
    def consecutive_failures(self) -> int:
        """Return the number of counted failures since the last success."""
        return self._failures

    @property
    def opened_at(self) -> datetime | None:
        """Return when the breaker last opened (clock.now()), or None while closed."""
        return self._opened_at

    @property
    def last_error(self) -> str | None:
        """Return a summary of the most recent counted failure, kept after recovery."""
        return self._last_error

    @property
    def retry_in(self) -> float:
        """Return seconds until an open breaker lets a trial call through (0 otherwise)."""
        return self._cooldown_left() if self.state is BreakerState.OPEN else 0.0

    def snapshot(self) -> BreakerSnapshot:
        """Return the breaker's current health fields."""
        return BreakerSnapshot(
            name=self.name,
            state=self.state,
            consecutive_failures=self._failures,
            opened_at=self._opened_at,
            last_error=self._last_error,
            retry_in=self.retry_in,
        )

    def record_success(self) -> None:
        """Record a successful call: reset the failure count and close the breaker."""
        self._failures = 0
        self._trial_in_flight = False
        if self._state is not BreakerState.CLOSED:
            self._close()

    def record_failure(self, exc: BaseException) -> None:
        """Record a failed call; only errors `counts_as_failure` accepts move the breaker."""
        if not self.counts_as_failure(exc):
            # Not an outage, but the half-open trial is over, so the next caller may probe.
            self._trial_in_flight = False
            return
        self._last_error = describe_error(exc, _MAX_ERROR_LEN)
        self._failures += 1
        state = self.state
        if state is BreakerState.HALF_OPEN or (
            state is BreakerState.CLOSED and self._failures >= self.failure_threshold
        ):
            self._open()

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Await `fn()` through the breaker; raise CircuitOpenError without calling it when open."""
        generation = self._admit()
        if generation is None:
            raise CircuitOpenError(self.name, self.retry_in)
        try:
            result = await fn()
        except BaseException as exc:
            if generation == self._generation:
                self.record_failure(exc)
            raise
        # A call admitted before the breaker opened says nothing about the dependency now.
        if generation == self._generation:
            self.record_success()
        return result

    def _admit(self) -> int | None:
        """Return the current generation if a call may proceed, claiming the trial slot if half-open."""
        state = self.state
        if state is BreakerState.CLOSED:
            return self._generation
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return self._generation
        return None

    def _cooldown_left(self) -> float:
        """Return the seconds left of the current cool-down (0 if not cooling down)."""
        if self._opened_mono is None:
            return 0.0
        return max(0.0, self.reset_timeout - (self._clock.monotonic() - self._opened_mono))

    def _open(self) -> None:
        """Move to OPEN and start a fresh cool-down."""
        self._state = BreakerState.OPEN
        self._generation += 1
        self._trial_in_flight = False
        self._opened_mono = self._clock.monotonic()
        self._opened_at = self._clock.now()
        log.warning(
            "breaker.opened",
            breaker=self.name,
            failures=self._failures,
            error=self._last_error,
            retry_in=self.reset_timeout,
        )

    def _close(self) -> None:
        """Move to CLOSED and forget the outage."""
        self._state = BreakerState.CLOSED
        self._trial_in_flight = False
        self._opened_mono = None
        self._opened_at = None
        log.info("breaker.closed", breaker=self.name)


class BreakerRegistry:
    """Named circuit breakers, so the heartbeat can report on all of them."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get_or_create(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
        clock: Clock | None = None,
        counts_as_failure: Callable[[BaseException], bool],
    ) -> CircuitBreaker:
        """Return the breaker called `name`, creating it with these settings if it does not exist."""
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = CircuitBreaker(
                name,
                failure_threshold=failure_threshold,
                reset_timeout=reset_timeout,
                clock=clock or self._clock,
                counts_as_failure=counts_as_failure,
            )
            self._breakers[name] = breaker
        return breaker

    def __iter__(self) -> Iterator[CircuitBreaker]:
        """Iterate over the breakers in creation order."""
        return iter(list(self._breakers.values()))

    def __len__(self) -> int:
        """Return how many breakers exist."""
        return len(self._breakers)
