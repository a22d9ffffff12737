"""The resilient port: an outage opens the breaker so Discord is not hammered."""

from __future__ import annotations

import pytest

from src.core.exceptions import PermanentDiscordError, RateLimitedError, TransientDiscordError
from src.core.resilient_port import ResilientDiscord
from src.types.models import BreakerState
from src.utils.breaker import BreakerRegistry
from tests.clock import ManualClock
from tests.fakes import FakeDiscord

CHANNEL = 7


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def inner(clock: ManualClock) -> FakeDiscord:
    return FakeDiscord(clock, (CHANNEL,))


@pytest.fixture
def port(inner: FakeDiscord, clock: ManualClock) -> ResilientDiscord:
    return ResilientDiscord(inner, BreakerRegistry(clock=clock), clock, failure_threshold=3, reset_timeout=60)


async def test_outage_opens_the_breaker_and_stops_requests(port, inner):
    """After 3 transient failures further renames fail at once without reaching Discord."""
    inner.rename_errors[CHANNEL] = [TransientDiscordError("HTTP 503")] * 10
    for _ in range(10):
        with pytest.raises(TransientDiscordError):
            await port.rename_channel(CHANNEL, "x")
    assert inner.rename_attempts[CHANNEL] == 3
    assert port.breaker.state is BreakerState.OPEN


async def test_breaker_lets_a_trial_through_after_the_cool_down_and_closes(port, inner, clock):
    """Once the cool-down passes one call is tried; its success closes the breaker."""
    inner.rename_errors[CHANNEL] = [TransientDiscordError("HTTP 503")] * 3
    for _ in range(3):
        with pytest.raises(TransientDiscordError):
            await port.rename_channel(CHANNEL, "x")
    await clock.advance(61)
    await port.rename_channel(CHANNEL, "👥 Members: 5")
    assert inner.name(CHANNEL) == "👥 Members: 5"
    assert port.breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize("error", [PermanentDiscordError("403"), RateLimitedError(30.0)])
async def test_permissions_and_rate_limits_do_not_open_it(port, inner, error):
    """403s and 429s are the caller's business, not an outage: the breaker stays closed."""
    inner.rename_errors[CHANNEL] = [error] * 5
    for _ in range(5):
        with pytest.raises(type(error)):
            await port.rename_channel(CHANNEL, "x")
    assert port.breaker.state is BreakerState.CLOSED
