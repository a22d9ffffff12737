"""Tests for src.utils.backoff: the one exponential backoff policy, alone and driven by tenacity."""

from __future__ import annotations

import pytest
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from src.core.exceptions import TransientDiscordError
from src.utils.backoff import Backoff


class RecordingSleep:
    """An async sleep that returns at once and remembers what it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def always_down(retrying: AsyncRetrying) -> None:
    """Run an operation that always fails an outage under `retrying`."""
    async for attempt in retrying:
        with attempt:
            raise TransientDiscordError("down")


def test_delay_doubles_from_base_up_to_the_cap() -> None:
    """Consecutive failures wait base, 2*base, 4*base ... and never more than cap."""
    backoff = Backoff(1.5, 10.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [1.5, 3.0, 6.0, 10.0, 10.0, 10.0]


@pytest.mark.parametrize("failures", [0, -1, -100], ids=["zero", "minus-one", "minus-hundred"])
def test_delay_is_zero_before_the_first_failure(failures: int) -> None:
    """Fewer than one failure waits nothing."""
    assert Backoff(2.0, 60.0).delay(failures) == 0.0


def test_delay_stays_at_the_cap_for_a_huge_failure_count() -> None:
    """A very long outage waits exactly the cap instead of overflowing."""
    assert Backoff(1.0, 300.0).delay(10_000) == 300.0


def test_jittered_delays_stay_within_the_deterministic_wait() -> None:
    """Every jittered draw lies between 0 and the wait the same policy gives without jitter."""
    jittered, plain = Backoff(0.5, 4.0, jitter=True), Backoff(0.5, 4.0)
    for failures in range(1, 8):
        draws = [jittered.delay(failures) for _ in range(200)]
        assert all(0.0 <= d <= plain.delay(failures) for d in draws), failures


def test_jittered_delays_vary() -> None:
    """Jitter spreads the waits: many draws for the same failure count are not all equal."""
    jittered = Backoff(1.0, 60.0, jitter=True)
    assert len({jittered.delay(3) for _ in range(50)}) > 1


async def test_strategy_gives_tenacity_the_same_curve() -> None:
    """Tenacity's AsyncRetrying, with the policy's strategy, sleeps base, 2*base ... capped."""
    sleep = RecordingSleep()
    retrying = AsyncRetrying(
        sleep=sleep,
        wait=Backoff(0.5, 4.0).strategy(),
        stop=stop_after_attempt(6),
        retry=retry_if_exception_type(TransientDiscordError),
        reraise=True,
    )
    with pytest.raises(TransientDiscordError):
        await always_down(retrying)
    assert sleep.calls == [0.5, 1.0, 2.0, 4.0, 4.0]


@pytest.mark.parametrize(("base", "cap"), [(-1.0, 10.0), (1.0, -10.0)], ids=["negative-base", "negative-cap"])
def test_negative_base_or_cap_is_rejected(base: float, cap: float) -> None:
    """A negative base or cap is a configuration error."""
    with pytest.raises(ValueError, match="base and cap"):
        Backoff(base, cap)
