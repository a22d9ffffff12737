"""Narrow Protocols the monitoring services depend on, so tests can hand in small fakes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from src.types.models import CounterKind, SystemMetrics
from src.utils.async_utils import BreakerSnapshot
from src.utils.store import StoreHealth


class MetricsSource(Protocol):
    """Something that reads the process and host figures (`MetricsSampler` in production)."""

    async def sample(self, latency: float | None) -> SystemMetrics:
        """Return one reading; `latency` is the gateway latency in seconds, if known."""
        ...


class PendingSource(Protocol):
    """The counter service's view of values waiting to be shown in a channel name."""

    def pending_since(self, kind: CounterKind) -> datetime | None:
        """When a changed value of `kind` started waiting to be shown, or None if nothing waits."""
        ...


class HealthStore(Protocol):
    """The slice of `AtomicJsonStore` monitoring uses: JSON documents plus write health."""

    @property
    def health(self) -> StoreHealth:
        """How the store's writes have been going."""
        ...

    async def read(self, name: str, *, validate: Any = None) -> Any | None:
        """Return the stored document `name` (validated), or None when there is none."""
        ...

    async def write(self, name: str, data: Any) -> None:
        """Atomically replace the document `name` with `data`."""
        ...


class BreakerSource(Protocol):
    """Anything that reports a circuit breaker's state (`CircuitBreaker` in production)."""

    def snapshot(self) -> BreakerSnapshot:
        """Return the breaker's current health fields."""
        ...
