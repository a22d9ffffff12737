"""A periodic task on the injected clock that survives any failure of one run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from src.types.ports import Clock
from src.utils.logging import get_logger


class PeriodicTask:
    """Runs `work` at once, then every `interval` seconds of `clock` time, until stopped."""

    def __init__(
        self, name: str, clock: Clock, interval: float, work: Callable[[], Awaitable[object]]
    ) -> None:
        self.name = name
        self.interval = interval
        self._clock = clock
        self._work = work
        self._task: asyncio.Task[None] | None = None
        self._log = get_logger(__name__, service="monitoring", task=name)

    @property
    def running(self) -> bool:
        """Whether the loop task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the loop; calling it again while it runs does nothing."""
        if self.running:
            return
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the loop and wait until it has ended."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # asyncio.wait does not re-raise the task's cancellation, so a cancel aimed at our caller
        # still reaches it instead of being swallowed here.
        await asyncio.wait({task})

    async def _run(self) -> None:
        while True:
            try:
                await self._work()
            except Exception:
                # One bad run (Discord down, a bug in a formatter) must never end the monitoring.
                self._log.exception("loop.run_failed")
            await self._clock.sleep(self.interval)
