"""The one backoff policy: exponential waits, optionally with full jitter, built on tenacity's strategies.

Loops use `Backoff.delay(failures)` between failed iterations; one-off retries hand `Backoff.strategy()` to
tenacity directly, so both follow the same curve.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import RetryCallState, wait_exponential, wait_random_exponential
from tenacity.wait import wait_base


@dataclass(frozen=True, slots=True)
class Backoff:
    """Wait `base`, then twice that, then four times ... never more than `cap` seconds."""

    base: float
    cap: float
    jitter: bool = False  # full jitter: a uniform draw between 0 and the exponential wait

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0:
            raise ValueError(f"base and cap must be >= 0, got base={self.base} cap={self.cap}")

    def strategy(self) -> wait_base:
        """Return the tenacity wait strategy for this policy (attempt 1 waits `base`)."""
        if self.jitter:
            return wait_random_exponential(multiplier=self.base, max=self.cap)
        return wait_exponential(multiplier=self.base, max=self.cap)

    def delay(self, failures: int) -> float:
        """Return the wait after the `failures`-th consecutive failure (1-based; 0 or less waits nothing)."""
        if failures < 1:
            return 0.0
        # tenacity's strategies read only the attempt number; overflow past the cap is handled there.
        state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
        state.attempt_number = failures
        return float(self.strategy()(state))
