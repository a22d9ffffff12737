"""The stats service's published numbers: counters from CounterService, today's events from EventRecorder."""

from __future__ import annotations

from collections.abc import Mapping

from src.services.stats.counters import CounterService
from src.services.stats.events import EventRecorder
from src.types.models import ChannelStats, CounterKind, DailyStats


class StatsSnapshotView:
    """Implements `src.types.ports.StatsView` for monitoring, presence and commands."""

    def __init__(self, counters: CounterService, recorder: EventRecorder) -> None:
        self._counters = counters
        self._recorder = recorder

    def current_counts(self) -> Mapping[CounterKind, int | None]:
        """The newest value of each counter."""
        return self._counters.current_counts()

    def counter_states(self) -> list[ChannelStats]:
        """Each counter channel's state."""
        return self._counters.counter_states()

    def today(self) -> DailyStats:
        """Today's events so far."""
        return self._recorder.today()
