"""Tests for src.utils.async_utils: error classification, jittered retry and the circuit breaker."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import aiohttp
import discord
import pytest
from structlog.testing import capture_logs

from src.core.exceptions import (
    CircuitOpenError,
    PermanentDiscordError,
    RateLimitedError,
    TransientDiscordError,
)
from src.utils.async_utils import (
    BreakerRegistry,
    BreakerSnapshot,
    BreakerState,
    CircuitBreaker,
    RetryPolicy,
    is_transient_error,
    retry_async,
)
from tests.clock import ManualClock

# --------------------------------------------------------------------------- helpers


class FakeResponse:
    """Just enough of aiohttp.ClientResponse for discord.HTTPException's constructor."""

    def __init__(self, status: int, reason: str = "reason") -> None:
        self.status = status
        self.reason = reason


def http_error(cls: type[discord.HTTPException], status: int) -> discord.HTTPException:
    """Build a discord.py HTTP error as the library would raise it."""
    return cls(FakeResponse(status), "message")


class RecordingSleep:
    """A sleep that returns at once and remembers what it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Scripted:
    """An async callable that raises or returns the scripted outcomes in order."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self) -> object:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def failing(exc_factory: Callable[[], BaseException]) -> Callable[[], Awaitable[object]]:
    """Return an async callable that always raises a fresh exception."""

    async def fn() -> object:
        raise exc_factory()

    return fn


async def succeed() -> str:
    return "ok"


# --------------------------------------------------------------------------- is_transient_error


@pytest.mark.parametrize(
    "exc",
    [
        TransientDiscordError("gateway hiccup"),
        RateLimitedError(retry_after=2.0),
        discord.RateLimited(3.0),
        TimeoutError(),
        ConnectionResetError(),
        aiohttp.ServerDisconnectedError(),
        http_error(discord.DiscordServerError, 502),
        http_error(discord.HTTPException, 500),
        http_error(discord.HTTPException, 429),
    ],
    ids=lambda e: type(e).__name__ + (f"-{e.status}" if isinstance(e, discord.HTTPException) else ""),
)
def test_is_transient_error_accepts_outages(exc: BaseException) -> None:
    """Timeouts, disconnects, 5xx and rate limits are worth retrying."""
    assert is_transient_error(exc) is True


@pytest.mark.parametrize(
    "exc",
    [
        PermanentDiscordError("no access", fix="grant Manage Channels"),
        http_error(discord.Forbidden, 403),
        http_error(discord.NotFound, 404),
        http_error(discord.HTTPException, 401),
        http_error(discord.HTTPException, 400),
        discord.LoginFailure("bad token"),
        ValueError("bug"),
        KeyError("bug"),
        asyncio.CancelledError(),
    ],
    ids=lambda e: type(e).__name__ + (f"-{e.status}" if isinstance(e, discord.HTTPException) else ""),
)
def test_is_transient_error_rejects_caller_errors_and_bugs(exc: BaseException) -> None:
    """4xx, login failures, permanent errors and programming errors are not retried."""
    assert is_transient_error(exc) is False


# --------------------------------------------------------------------------- retry


async def test_retry_succeeds_after_two_transient_failures_with_two_sleeps() -> None:
    """Two transient failures then a success return the value after exactly two sleeps."""
    sleep = RecordingSleep()
    fn = Scripted(TransientDiscordError("a"), TransientDiscordError("b"), "done")
    result = await retry_async(fn, sleep=sleep, rng=random.Random(1))
    assert result == "done"
    assert len(sleep.calls) == 2


async def test_retry_waits_stay_within_the_full_jitter_envelope() -> None:
    """Each wait lies in [0, min(cap, base * 2**n)] for the n-th retry."""
    sleep = RecordingSleep()
    with pytest.raises(TransientDiscordError):
        await retry_async(
            failing(lambda: TransientDiscordError("down")),
            attempts=8,
            base=0.5,
            cap=4.0,
            sleep=sleep,
            rng=random.Random(7),
        )
    assert len(sleep.calls) == 7
    for n, wait in enumerate(sleep.calls):
        assert 0.0 <= wait <= min(4.0, 0.5 * 2**n)


async def test_retry_waits_are_drawn_from_the_injected_rng() -> None:
    """With a seeded Random the waits are uniform draws over the growing, capped bound."""
    sleep = RecordingSleep()
    with pytest.raises(TransientDiscordError):
        await retry_async(
            failing(lambda: TransientDiscordError("down")),
            attempts=6,
            base=1.0,
            cap=8.0,
            sleep=sleep,
            rng=random.Random(42),
        )
    mirror = random.Random(42)
    expected = [mirror.uniform(0.0, min(8.0, 1.0 * 2**n)) for n in range(5)]
    assert sleep.calls == expected


@pytest.mark.parametrize(
    "exc",
    [PermanentDiscordError("missing access"), http_error(discord.Forbidden, 403)],
    ids=["PermanentDiscordError", "Forbidden"],
)
async def test_retry_raises_permanent_errors_immediately(exc: BaseException) -> None:
    """A permanent error is raised on the first attempt without sleeping."""
    sleep = RecordingSleep()
    fn = Scripted(exc)
    with pytest.raises(type(exc)):
        await retry_async(fn, sleep=sleep)
    assert (fn.calls, sleep.calls) == (1, [])


async def test_retry_does_not_retry_programming_errors() -> None:
    """A bug (here a TypeError) surfaces at once instead of being retried."""
    fn = Scripted(TypeError("bad argument"))
    with pytest.raises(TypeError):
        await retry_async(fn, sleep=RecordingSleep())
    assert fn.calls == 1


async def test_retry_reraises_the_last_original_exception_when_attempts_run_out() -> None:
    """After the last attempt the caller gets the last error itself, not tenacity's RetryError."""
    last = TransientDiscordError("third")
    fn = Scripted(TransientDiscordError("first"), TransientDiscordError("second"), last)
    with pytest.raises(TransientDiscordError) as caught:
        await retry_async(fn, attempts=3, sleep=RecordingSleep())
    assert caught.value is last
    assert fn.calls == 3


async def test_retry_waits_at_least_retry_after_when_rate_limited() -> None:
    """A RateLimitedError's retry_after is a floor for the next wait."""
    sleep = RecordingSleep()
    fn = Scripted(RateLimitedError(retry_after=7.0), "ok")
    await retry_async(fn, base=0.1, cap=1.0, sleep=sleep, rng=random.Random(3))
    assert sleep.calls[0] >= 7.0


async def test_retry_logs_each_failed_attempt() -> None:
    """Every failed attempt before a retry logs retry.attempt_failed with its details."""
    sleep = RecordingSleep()
    fn = Scripted(TransientDiscordError("a"), TimeoutError(), "ok")
    with capture_logs() as logs:
        await retry_async(fn, sleep=sleep, operation="rename_channel", rng=random.Random(5))
    failed = [e for e in logs if e["event"] == "retry.attempt_failed"]
    assert [(e["log_level"], e["operation"], e["attempt"], e["error"]) for e in failed] == [
        ("warning", "rename_channel", 1, "TransientDiscordError"),
        ("warning", "rename_channel", 2, "TimeoutError"),
    ]
    assert [e["wait"] for e in failed] == [round(w, 3) for w in sleep.calls]


async def test_retry_logs_giving_up_on_the_last_attempt() -> None:
    """Running out of attempts logs retry.gave_up for the final failure."""
    with capture_logs() as logs, pytest.raises(TimeoutError):
        await retry_async(failing(TimeoutError), attempts=2, sleep=RecordingSleep(), operation="fetch")
    assert [(e["event"], e["attempt"]) for e in logs] == [("retry.attempt_failed", 1), ("retry.gave_up", 2)]


async def test_retry_accepts_a_lambda_returning_a_coroutine() -> None:
    """fn may be a plain lambda that returns a coroutine; its result is awaited."""
    fn = Scripted(TransientDiscordError("a"), 11)
    assert await retry_async(lambda: fn(), sleep=RecordingSleep()) == 11


async def test_retry_policy_can_be_reused_across_calls() -> None:
    """One RetryPolicy drives several independent retried operations."""
    policy = RetryPolicy(attempts=2, sleep=RecordingSleep())
    first = await policy.run(Scripted(TransientDiscordError("a"), 1), operation="one")
    second = await policy.run(Scripted(TransientDiscordError("b"), 2), operation="two")
    assert (first, second) == (1, 2)


def test_retry_policy_rejects_zero_attempts() -> None:
    """At least one attempt is required."""
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


# --------------------------------------------------------------------------- circuit breaker


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def breaker(clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker("discord", failure_threshold=3, reset_timeout=60.0, clock=clock)


async def fail_times(breaker: CircuitBreaker, n: int) -> None:
    """Drive `n` counted failures through `breaker.call`."""
    for _ in range(n):
        with pytest.raises(TransientDiscordError):
            await breaker.call(failing(lambda: TransientDiscordError("503")))


async def test_breaker_starts_closed(breaker: CircuitBreaker) -> None:
    """A new breaker is closed and lets calls through."""
    assert await breaker.call(succeed) == "ok"
    assert breaker.state is BreakerState.CLOSED


async def test_breaker_stays_closed_below_the_threshold(breaker: CircuitBreaker) -> None:
    """Fewer consecutive failures than the threshold keep it closed."""
    await fail_times(breaker, 2)
    assert breaker.state is BreakerState.CLOSED


async def test_breaker_opens_after_threshold_consecutive_failures(breaker: CircuitBreaker) -> None:
    """failure_threshold consecutive counted failures open the breaker."""
    await fail_times(breaker, 3)
    assert breaker.state is BreakerState.OPEN


async def test_breaker_success_resets_the_consecutive_count(breaker: CircuitBreaker) -> None:
    """Failures separated by a success are not consecutive, so the breaker stays closed."""
    await fail_times(breaker, 2)
    await breaker.call(succeed)
    await fail_times(breaker, 2)
    assert (breaker.state, breaker.consecutive_failures) == (BreakerState.CLOSED, 2)


async def test_open_breaker_rejects_without_calling_fn(breaker: CircuitBreaker) -> None:
    """An open breaker raises CircuitOpenError and never calls fn."""
    await fail_times(breaker, 3)
    fn = Scripted("ok")
    with pytest.raises(CircuitOpenError) as caught:
        await breaker.call(fn)
    assert fn.calls == 0
    assert caught.value.name == "discord"


async def test_open_breaker_reports_remaining_cool_down(breaker: CircuitBreaker, clock: ManualClock) -> None:
    """CircuitOpenError.retry_in is what is left of the cool-down."""
    await fail_times(breaker, 3)
    await clock.advance(20.0)
    with pytest.raises(CircuitOpenError) as caught:
        await breaker.call(succeed)
    assert caught.value.retry_in == pytest.approx(40.0)


async def test_breaker_stays_open_before_reset_timeout(breaker: CircuitBreaker, clock: ManualClock) -> None:
    """Just before reset_timeout the breaker is still open."""
    await fail_times(breaker, 3)
    await clock.advance(59.9)
    assert breaker.state is BreakerState.OPEN


async def test_breaker_is_half_open_after_reset_timeout(breaker: CircuitBreaker, clock: ManualClock) -> None:
    """Once reset_timeout has passed the breaker reads as half-open."""
    await fail_times(breaker, 3)
    await clock.advance(60.0)
    assert breaker.state is BreakerState.HALF_OPEN


async def test_half_open_success_closes_the_breaker(breaker: CircuitBreaker, clock: ManualClock) -> None:
    """A successful trial call closes the breaker and clears the outage."""
    await fail_times(breaker, 3)
    await clock.advance(60.0)
    await breaker.call(succeed)
    assert (breaker.state, breaker.consecutive_failures, breaker.opened_at) == (BreakerState.CLOSED, 0, None)


async def test_half_open_failure_reopens_with_a_fresh_cool_down(
    breaker: CircuitBreaker, clock: ManualClock
) -> None:
    """A failed trial reopens the breaker, and the cool-down restarts from that failure."""
    await fail_times(breaker, 3)
    await clock.advance(60.0)
    await fail_times(breaker, 1)
    await clock.advance(59.0)
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in == pytest.approx(1.0)


async def test_half_open_allows_only_one_trial_at_a_time(breaker: CircuitBreaker, clock: ManualClock) -> None:
    """While the trial call runs, other calls are rejected without being made."""
    await fail_times(breaker, 3)
    await clock.advance(60.0)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_trial() -> str:
        started.set()
        await release.wait()
        return "ok"

    trial = asyncio.create_task(breaker.call(slow_trial))
    await started.wait()
    second = Scripted("ok")
    with pytest.raises(CircuitOpenError):
        await breaker.call(second)
    release.set()
    await trial
    assert second.calls == 0


async def test_half_open_trial_with_uncounted_error_frees_the_slot(
    breaker: CircuitBreaker, clock: ManualClock
) -> None:
    """A trial that fails with a non-outage error lets the next caller probe."""
    await fail_times(breaker, 3)
    await clock.advance(60.0)
    with pytest.raises(PermanentDiscordError):
        await breaker.call(failing(lambda: PermanentDiscordError("forbidden")))
    assert await breaker.call(succeed) == "ok"


async def test_uncounted_exception_propagates_without_tripping(clock: ManualClock) -> None:
    """A PermanentDiscordError (e.g. a 403) is the caller's problem and does not count."""
    breaker = CircuitBreaker("discord", failure_threshold=1, clock=clock)
    with pytest.raises(PermanentDiscordError):
        await breaker.call(failing(lambda: PermanentDiscordError("missing access")))
    assert (breaker.state, breaker.consecutive_failures) == (BreakerState.CLOSED, 0)


async def test_success_of_call_admitted_before_opening_does_not_close(clock: ManualClock) -> None:
    """A slow call that started while closed cannot close a breaker that opened meanwhile."""
    breaker = CircuitBreaker("discord", failure_threshold=1, clock=clock)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow() -> str:
        started.set()
        await release.wait()
        return "ok"

    slow_call = asyncio.create_task(breaker.call(slow))
    await started.wait()
    await fail_times(breaker, 1)
    release.set()
    await slow_call
    assert breaker.state is BreakerState.OPEN


async def test_breaker_logs_transitions(breaker: CircuitBreaker, clock: ManualClock) -> None:
    """Opening, half-opening and closing each log one event at the right level."""
    with capture_logs() as logs:
        await fail_times(breaker, 3)
        await clock.advance(60.0)
        await breaker.call(succeed)
    assert [(e["event"], e["log_level"], e["breaker"]) for e in logs] == [
        ("breaker.opened", "warning", "discord"),
        ("breaker.half_open", "info", "discord"),
        ("breaker.closed", "info", "discord"),
    ]


async def test_opened_log_carries_failure_count(breaker: CircuitBreaker) -> None:
    """breaker.opened reports how many consecutive failures tripped it."""
    with capture_logs() as logs:
        await fail_times(breaker, 3)
    assert logs[0]["failures"] == 3


def test_snapshot_of_a_fresh_breaker(breaker: CircuitBreaker) -> None:
    """A fresh breaker's snapshot shows no failures, no outage and no error."""
    assert breaker.snapshot() == BreakerSnapshot(
        name="discord",
        state=BreakerState.CLOSED,
        consecutive_failures=0,
        opened_at=None,
        last_error=None,
        retry_in=0.0,
    )


async def test_snapshot_of_an_open_breaker(breaker: CircuitBreaker, clock: ManualClock) -> None:
    """An open breaker's snapshot has when it opened, why, and the time left."""
    await clock.advance(5.0)
    opened_at = clock.now()
    await fail_times(breaker, 3)
    await clock.advance(15.0)
    assert breaker.snapshot() == BreakerSnapshot(
        name="discord",
        state=BreakerState.OPEN,
        consecutive_failures=3,
        opened_at=opened_at,
        last_error="TransientDiscordError: 503",
        retry_in=45.0,
    )


def test_breaker_state_values_are_strings() -> None:
    """State values serialise as the documented strings."""
    assert [s.value for s in BreakerState] == ["closed", "open", "half_open"]


def test_manual_record_failure_opens_and_allow_refuses(breaker: CircuitBreaker) -> None:
    """record_failure counts like a failed call; once open, allow() says no."""
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure(TimeoutError())
    assert breaker.allow() is False


async def test_manual_allow_grants_one_half_open_trial(breaker: CircuitBreaker, clock: ManualClock) -> None:
    """In half-open, allow() is True once until the trial's outcome is recorded."""
    for _ in range(3):
        breaker.record_failure(TimeoutError())
    await clock.advance(60.0)
    assert [breaker.allow(), breaker.allow()] == [True, False]


async def test_manual_record_success_closes_a_half_open_breaker(
    breaker: CircuitBreaker, clock: ManualClock
) -> None:
    """record_success after a granted trial closes the breaker."""
    for _ in range(3):
        breaker.record_failure(TimeoutError())
    await clock.advance(60.0)
    breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_breaker_rejects_zero_threshold() -> None:
    """A threshold below one is a configuration error."""
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("x", failure_threshold=0)


# --------------------------------------------------------------------------- registry


def test_registry_returns_the_same_breaker_for_a_name(clock: ManualClock) -> None:
    """get_or_create hands back the existing breaker for a known name."""
    registry = BreakerRegistry(clock=clock)
    assert registry.get_or_create("discord") is registry.get_or_create("discord", failure_threshold=9)


def test_registry_iterates_over_all_breakers(clock: ManualClock) -> None:
    """Iterating the registry lists every breaker in creation order."""
    registry = BreakerRegistry(clock=clock)
    registry.get_or_create("discord")
    registry.get_or_create("store")
    assert [b.name for b in registry] == ["discord", "store"]


def test_registry_any_open_is_false_when_all_closed(clock: ManualClock) -> None:
    """With every breaker closed, any_open() is False."""
    registry = BreakerRegistry(clock=clock)
    registry.get_or_create("discord")
    assert registry.any_open() is False


def test_registry_any_open_is_true_when_one_is_open(clock: ManualClock) -> None:
    """One open breaker makes any_open() True."""
    registry = BreakerRegistry(clock=clock)
    registry.get_or_create("store")
    registry.get_or_create("discord", failure_threshold=1).record_failure(TimeoutError())
    assert registry.any_open() is True
