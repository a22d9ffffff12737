"""Tests for src.utils.breaker: the circuit breaker and the registry the heartbeat reports from."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from structlog.testing import capture_logs

from src.core.exceptions import CircuitOpenError, PermanentDiscordError, TransientDiscordError
from src.types.models import BreakerSnapshot, BreakerState
from src.utils.breaker import BreakerRegistry, CircuitBreaker
from tests.clock import ManualClock

# --------------------------------------------------------------------------- helpers


def outage(exc: BaseException) -> bool:
    """Count only transient Discord errors, as the REST breaker does."""
    return isinstance(exc, TransientDiscordError)


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


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def breaker(clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker(
        "discord", failure_threshold=3, reset_timeout=60.0, clock=clock, counts_as_failure=outage
    )


async def fail_times(breaker: CircuitBreaker, n: int) -> None:
    """Drive `n` counted failures through `breaker.call`."""
    for _ in range(n):
        with pytest.raises(TransientDiscordError):
            await breaker.call(failing(lambda: TransientDiscordError("503")))


def record_failures(breaker: CircuitBreaker, n: int) -> None:
    """Record `n` counted failures by hand, as a caller that does not use `call` would."""
    for _ in range(n):
        breaker.record_failure(TransientDiscordError("timeout"))


# --------------------------------------------------------------------------- circuit breaker


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
    breaker = CircuitBreaker("discord", failure_threshold=1, clock=clock, counts_as_failure=outage)
    with pytest.raises(PermanentDiscordError):
        await breaker.call(failing(lambda: PermanentDiscordError("missing access")))
    assert (breaker.state, breaker.consecutive_failures) == (BreakerState.CLOSED, 0)


async def test_success_of_call_admitted_before_opening_does_not_close(clock: ManualClock) -> None:
    """A slow call that started while closed cannot close a breaker that opened meanwhile."""
    breaker = CircuitBreaker("discord", failure_threshold=1, clock=clock, counts_as_failure=outage)
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


async def test_manual_record_failure_opens_and_call_is_refused(breaker: CircuitBreaker) -> None:
    """record_failure counts like a failed call; once open, call() refuses without calling fn."""
    for _ in range(3):
        assert breaker.state is BreakerState.CLOSED
        breaker.record_failure(TransientDiscordError("timeout"))
    fn = Scripted("ok")
    with pytest.raises(CircuitOpenError):
        await breaker.call(fn)
    assert fn.calls == 0


async def test_manual_failures_then_cool_down_admit_one_trial(
    breaker: CircuitBreaker, clock: ManualClock
) -> None:
    """After a cool-down, a breaker opened by record_failure admits one call until its outcome is in."""
    record_failures(breaker, 3)
    await clock.advance(60.0)
    release = asyncio.Event()

    async def slow_trial() -> str:
        await release.wait()
        return "ok"

    trial = asyncio.create_task(breaker.call(slow_trial))
    await asyncio.sleep(0)  # let the trial claim the slot
    second = Scripted("ok")
    with pytest.raises(CircuitOpenError):
        await breaker.call(second)
    release.set()
    assert (await trial, second.calls) == ("ok", 0)


async def test_manual_record_success_closes_a_half_open_breaker(
    breaker: CircuitBreaker, clock: ManualClock
) -> None:
    """record_success in half-open closes the breaker."""
    record_failures(breaker, 3)
    await clock.advance(60.0)
    before = breaker.state
    breaker.record_success()
    assert (before, breaker.state) == (BreakerState.HALF_OPEN, BreakerState.CLOSED)


def test_breaker_rejects_zero_threshold() -> None:
    """A threshold below one is a configuration error."""
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("x", failure_threshold=0, counts_as_failure=outage)


def test_breaker_rejects_negative_reset_timeout() -> None:
    """A negative cool-down is a configuration error."""
    with pytest.raises(ValueError, match="reset_timeout"):
        CircuitBreaker("x", reset_timeout=-1.0, counts_as_failure=outage)


# --------------------------------------------------------------------------- registry


def test_registry_returns_the_same_breaker_for_a_name(clock: ManualClock) -> None:
    """get_or_create hands back the existing breaker for a known name."""
    registry = BreakerRegistry(clock=clock)
    first = registry.get_or_create("discord", counts_as_failure=outage)
    assert first is registry.get_or_create("discord", failure_threshold=9, counts_as_failure=outage)


def test_registry_iterates_over_all_breakers(clock: ManualClock) -> None:
    """Iterating the registry lists every breaker in creation order."""
    registry = BreakerRegistry(clock=clock)
    registry.get_or_create("discord", counts_as_failure=outage)
    registry.get_or_create("store", counts_as_failure=outage)
    assert [b.name for b in registry] == ["discord", "store"]


def test_registry_snapshots_all_closed(clock: ManualClock) -> None:
    """With no failures, every breaker's snapshot reads closed."""
    registry = BreakerRegistry(clock=clock)
    registry.get_or_create("discord", counts_as_failure=outage)
    assert [b.snapshot().state for b in registry] == [BreakerState.CLOSED]


def test_registry_snapshots_show_the_one_open_breaker(clock: ManualClock) -> None:
    """One tripped breaker reads open in the registry's snapshots while the others stay closed."""
    registry = BreakerRegistry(clock=clock)
    registry.get_or_create("store", counts_as_failure=outage)
    registry.get_or_create("discord", failure_threshold=1, counts_as_failure=outage).record_failure(
        TransientDiscordError("timeout")
    )
    assert [(b.name, b.snapshot().state) for b in registry] == [
        ("store", BreakerState.CLOSED),
        ("discord", BreakerState.OPEN),
    ]
