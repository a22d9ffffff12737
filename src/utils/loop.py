"""The one primitive for periodic work, with discord.ext.tasks' semantics on an injected clock.

- `start()` runs the body (at once, or after the first interval), then again after every interval.
- `stop()` lets the current iteration finish and ends the loop; a wait in progress ends at once.
- `cancel()` ends it now, even mid-iteration.
- An iteration that raises is logged (or handed to `on_error`) and the loop goes on, after the backoff
  when one is given.
- The interval is a number of seconds, or a function asked before every wait; None (or a function
  answering None) waits until `wake()` is called (new work arrived).
- With `wake_reschedules`, a `wake()` also cuts a timed wait short and asks the interval function again: for a
  schedule a new value can bring forward (a counter whose error just became noticeable), never shorter than
  the function says, so a rate-limit wait is not cut short.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from src.core.exceptions import StatsBotError
from src.types.ports import Clock
from src.utils.backoff import Backoff
from src.utils.logging import get_logger
from src.utils.text import describe_error

Interval = float | Callable[[], float | None] | None  # None: wait for wake()
ErrorHandler = Callable[[Exception, float | None], None]  # the error and the wait before the next try

log = get_logger(__name__)


class Loop:
    """Runs `body` again and again until stopped; one failure never ends it."""

    def __init__(
        self,
        name: str,
        body: Callable[[], Awaitable[object]],
        *,
        clock: Clock,
        interval: Interval,
        backoff: Backoff | None = None,
        immediate: bool = True,
        on_error: ErrorHandler | None = None,
        wake_reschedules: bool = False,
    ) -> None:
        self.name = name
        self._body = body
        self._clock = clock
        self._interval = interval
        self._backoff = backoff
        self._immediate = immediate
        self._on_error = on_error
        self._wake_reschedules = wake_reschedules and callable(interval)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_iteration = False
        self._failures = 0

    @property
    def running(self) -> bool:
        """Return whether the loop's task is alive."""
        return self._task is not None and not self._task.done()

    @property
    def failures(self) -> int:
        """Return how many iterations in a row have raised."""
        return self._failures

    def start(self) -> None:
        """Start the loop; calling it again while it runs does nothing."""
        if self.running:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """End a wait for work (an interval of None) now; remembered if the loop is busy."""
        self._wake.set()

    async def stop(self) -> None:
        """Finish the current iteration, then end the loop; return once it has ended."""
        task = self._task
        if task is None:
            return
        self._stopping = True
        if task is asyncio.current_task():
            return  # called from the body: the loop ends when this iteration does
        if not self._in_iteration:
            task.cancel()  # only a wait is interrupted, never the body
        await _wait_ended(task)
        self._task = None

    async def cancel(self) -> None:
        """End the loop now, even in the middle of an iteration; return once it has ended."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        task.cancel()
        await _wait_ended(task)

    async def _run(self) -> None:
        delay: float | None = self._next_interval()
        first = True
        while not self._stopping:
            if not (first and self._immediate):
                # A backoff after a failure is never cut short by a wake: that would undo the backoff.
                await self._wait(delay, reschedule=self._wake_reschedules and not self._failures)
            first = False
            if self._stopping:
                return
            self._wake.clear()  # a wake during the body must start another iteration
            self._in_iteration = True
            try:
                await self._body()
            except Exception as exc:
                self._failures += 1
                delay = self._after_failure(exc)
            else:
                self._failures = 0
                delay = self._next_interval()
            finally:
                self._in_iteration = False

    def _after_failure(self, exc: Exception) -> float | None:
        """Log a failed iteration and return the wait before the next one."""
        wait = self._backoff.delay(self._failures) if self._backoff else self._next_interval()
        if self._on_error is not None:
            self._on_error(exc, wait)
            return wait
        # StatsBot's own errors are expected outages (disk, Discord); anything else is a bug worth a trace.
        log.error(
            "loop.iteration_failed",
            loop=self.name,
            failures=self._failures,
            error=describe_error(exc),
            retry_in=wait,
            exc_info=not isinstance(exc, StatsBotError),
        )
        return wait

    def _next_interval(self) -> float | None:
        return self._interval() if callable(self._interval) else self._interval

    async def _wait(self, delay: float | None, *, reschedule: bool) -> None:
        """Sleep `delay` seconds; None waits for `wake()`, then asks an interval function again."""
        while True:
            if delay is None:
                await self._wake.wait()
            elif delay <= 0:
                await asyncio.sleep(0)  # a body that never awaits must still let other tasks run
                return
            elif not reschedule:
                await self._clock.sleep(delay)
                return
            elif await self._slept(delay):
                return
            self._wake.clear()
            if not callable(self._interval):
                return
            delay = self._interval()  # the new work may still have to wait its turn (a rate limit)

    async def _slept(self, delay: float) -> bool:
        """Sleep `delay` seconds unless `wake()` comes first; return whether the whole delay passed."""
        sleeper = asyncio.ensure_future(self._clock.sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            done, _ = await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
        return sleeper in done


async def _wait_ended(task: asyncio.Task[None]) -> None:
    """Wait for `task` to end without swallowing a cancellation aimed at the caller."""
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        # The loop catches every Exception from its body, so only a bug in Loop itself lands here.
        log.error("loop.crashed", loop=task.get_name(), error=repr(task.exception()))
