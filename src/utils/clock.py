"""The real clock and a shifted one for the demo, both satisfying `src.types.ports.Clock`."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime


class SystemClock:
    """Wall-clock time, the monotonic clock and `asyncio.sleep`."""

    def now(self) -> datetime:
        """Return the current time in UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Return `time.monotonic()`."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        await asyncio.sleep(max(0.0, seconds))


class ShiftedClock(SystemClock):
    """Real time that starts at `start`: lets the demo and end-to-end tests cross a midnight in seconds."""

    def __init__(self, start: datetime) -> None:
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        """Return the shifted current time in UTC."""
        return datetime.now(UTC) + self._offset
