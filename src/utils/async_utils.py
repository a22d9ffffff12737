"""Retry with full-jitter backoff, transient-error classification and a circuit breaker."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NoReturn, TypeVar

import aiohttp
import discord
import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from src.core.exceptions import (
    CircuitOpenError,
    PermanentDiscordError,
    RateLimitedError,
    TransientDiscordError,
)
from src.types.ports import Clock
from src.utils.clock import SystemClock

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Shared default source so unseeded policies do not each pay for seeding from the OS.
_DEFAULT_RNG = random.Random()
# 2**64 seconds is already beyond any cap; bounding the exponent avoids float overflow.
_MAX_EXPONENT = 64
_MAX_ERROR_LEN = 200


def _is_transient_status(status: int | None) -> bool:
    """Return True for HTTP statuses worth retrying: 429 and the 5xx range."""
    return status is not None and (status == 429 or status >= 500)


def is_transient_error(exc: BaseException) -> bool:
    """Return True if retrying `exc` later could succeed (outage, timeout, rate limit)."""
    if isinstance(exc, PermanentDiscordError | discord.LoginFailure):
        return False
    if isinstance(exc, TransientDiscordError | RateLimitedError | discord.RateLimited):
        return True
    if isinstance(exc, discord.DiscordServerError):
        return True
    if isinstance(exc, discord.HTTPException):
        # 401/403/404 and other 4xx mean the request itself is wrong; repeating it cannot help.
        return _is_transient_status(exc.status)
    if isinstance(exc, aiohttp.ClientResponseError):
        return _is_transient_status(exc.status)
    # Anything else (TypeError, KeyError, ...) is a bug: retrying would only hide it.
    return isinstance(exc, TimeoutError | ConnectionError | aiohttp.ClientError)


def _retry_after(exc: BaseException | None) -> float | None:
    """Return the server-imposed minimum wait carried by a rate-limit error, if any."""
    if isinstance(exc, RateLimitedError | discord.RateLimited):
        return exc.retry_after
    return None


def _describe(exc: BaseException) -> str:
    """Return a short, single-line 'Class: message' summary for health output."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= _MAX_ERROR_LEN else text[: _MAX_ERROR_LEN - 1] + "…"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures (exponential backoff, full jitter)."""

    attempts: int = 5
    base: float = 1.0
    cap: float = 60.0
    sleep: Callable[[float], Awaitable[None]] | None = None
    rng: random.Random | None = None
    is_transient: Callable[[BaseException], bool] = is_transient_error

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")
        if self.base < 0 or self.cap < 0:
            raise ValueError(f"base and cap must be >= 0, got base={self.base} cap={self.cap}")

    def backoff(self, failures: int) -> float:
        """Return a full-jitter wait after the `failures`-th consecutive failure (1-based)."""
        exponent = min(max(failures - 1, 0), _MAX_EXPONENT)
        bound = min(self.cap, self.base * 2**exponent)
        return (self.rng or _DEFAULT_RNG).uniform(0.0, bound)

    async def run(self, fn: Callable[[], Awaitable[T]], *, operation: str = "") -> T:
        """Await `fn()`, retrying transient errors; re-raise the last error when attempts run out."""
        sleep = self.sleep or asyncio.sleep
        attempts = self.attempts

        async def _sleep(seconds: float) -> None:
            # tenacity hands over its DoSleep float subclass; callers' sleeps get a plain float.
            await sleep(float(seconds))

        def _wait(state: RetryCallState) -> float:
            if state.attempt_number >= attempts:
                # No sleep follows the last attempt; skipping the draw keeps one draw per real sleep.
                return 0.0
            wait = self.backoff(state.attempt_number)
            retry_after = _retry_after(state.outcome.exception() if state.outcome else None)
            return wait if retry_after is None else max(wait, retry_after)

        def _log_failed(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "retry.attempt_failed",
                operation=operation,
                attempt=state.attempt_number,
                attempts=attempts,
                wait=round(state.upcoming_sleep, 3),
                error=type(exc).__name__,
            )

        def _give_up(state: RetryCallState) -> NoReturn:
            exc = state.outcome.exception() if state.outcome else None
            if exc is None:  # pragma: no cover - tenacity only gives up after a failed attempt
                raise RuntimeError("retry gave up without an exception")
            log.warning(
                "retry.gave_up",
                operation=operation,
                attempt=state.attempt_number,
                attempts=attempts,
                error=type(exc).__name__,
            )
            # Callers handle our own exception types; tenacity's RetryError would hide them.
            raise exc

        retrying = AsyncRetrying(
            sleep=_sleep,
            stop=stop_after_attempt(attempts),
            wait=_wait,
            retry=retry_if_exception(self.is_transient),
            before_sleep=_log_failed,
            retry_error_callback=_give_up,
        )
        # Awaiting fn() ourselves (rather than `retrying(fn)`) works for lambdas returning
        # coroutines, which tenacity would otherwise call without awaiting.
        async for attempt in retrying:
            with attempt:
                return await fn()
        raise RuntimeError("retry loop ended without an outcome")  # pragma: no cover


async def retry_async(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int = 5,
    base: float = 1.0,
    cap: float = 60.0,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    is_transient: Callable[[BaseException], bool] = is_transient_error,
    operation: str = "",
    rng: random.Random | None = None,
) -> T:
    """Await `fn()` under a one-off `RetryPolicy` built from these arguments."""
    policy = RetryPolicy(
        attempts=attempts, base=base, cap=cap, sleep=sleep, rng=rng, is_transient=is_transient
    )
    return await policy.run(fn, operation=operation)


class BreakerState(StrEnum):
    """Where a circuit breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A point-in-time view of a breaker for health reports."""

    name: str
    state: BreakerState
    consecutive_failures: int
    opened_at: datetime | None
    last_error: str | None
    retry_in: float


class CircuitBreaker:
    """Stops calling a dependency after repeated transient failures, then probes it one call at a time."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
        clock: Clock | None = None,
        counts_as_failure: Callable[[BaseException], bool] = is_transient_error,
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

    def allow(self) -> bool:
        """Return True if a call may go ahead now; in HALF_OPEN this claims the single trial slot."""
        return self._admit() is not None

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
        self._last_error = _describe(exc)
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
        counts_as_failure: Callable[[BaseException], bool] = is_transient_error,
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

    def any_open(self) -> bool:
        """Return True if any breaker is not CLOSED (a half-open one has not recovered yet)."""
        return any(breaker.state is not BreakerState.CLOSED for breaker in self)
