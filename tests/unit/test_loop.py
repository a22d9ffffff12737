"""Tests for src.utils.loop: discord.ext.tasks' Loop semantics on an injected clock, one semantic per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from src.core.exceptions import TransientDiscordError
from src.utils.backoff import Backoff
from src.utils.loop import Loop
from tests.clock import ManualClock

MakeLoop = Callable[..., Loop]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def make_loop(clock: ManualClock) -> AsyncIterator[MakeLoop]:
    """Build loops on the manual clock; every loop still alive is cancelled after the test."""
    loops: list[Loop] = []

    def build(body: Any, **kwargs: Any) -> Loop:
        loop = Loop(kwargs.pop("name", "test"), body, clock=clock, **kwargs)
        loops.append(loop)
        return loop

    yield build
    for loop in loops:
        await loop.cancel()


async def settle(clock: ManualClock) -> None:
    """Let every task run until it blocks, without moving the clock."""
    await clock.advance(0)


class Body:
    """A loop body that records when it ran; it raises the scripted errors first, in order."""

    def __init__(self, clock: ManualClock, *errors: Exception | None) -> None:
        self.clock = clock
        self.errors = list(errors)
        self.times: list[float] = []

    async def __call__(self) -> None:
        self.times.append(self.clock.monotonic())
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error


class SlowBody:
    """A body that waits `seconds` on the clock mid-iteration, then records that it finished."""

    def __init__(self, clock: ManualClock, seconds: float = 5.0) -> None:
        self.clock = clock
        self.seconds = seconds
        self.started = 0
        self.finished = 0

    async def __call__(self) -> None:
        self.started += 1
        await self.clock.sleep(self.seconds)
        self.finished += 1


# --------------------------------------------------------------------------- schedule


async def test_runs_at_once_then_every_interval(make_loop: MakeLoop, clock: ManualClock) -> None:
    """By default the body runs at start, then once per interval."""
    body = Body(clock)
    make_loop(body, interval=10.0).start()
    await settle(clock)
    await clock.advance(30.0)
    assert body.times == [0.0, 10.0, 20.0, 30.0]


async def test_not_immediate_waits_one_interval_first(make_loop: MakeLoop, clock: ManualClock) -> None:
    """With immediate=False the first run comes one interval after start."""
    body = Body(clock)
    make_loop(body, interval=10.0, immediate=False).start()
    await settle(clock)
    await clock.advance(15.0)
    assert body.times == [10.0]


async def test_start_twice_runs_one_loop(make_loop: MakeLoop, clock: ManualClock) -> None:
    """A second start() while running does not start a second loop."""
    body = Body(clock)
    loop = make_loop(body, interval=10.0)
    loop.start()
    loop.start()
    await settle(clock)
    await clock.advance(10.0)
    assert body.times == [0.0, 10.0]


# --------------------------------------------------------------------------- stop and cancel


async def test_stop_during_an_iteration_lets_it_finish(make_loop: MakeLoop, clock: ManualClock) -> None:
    """stop() mid-iteration returns once the body has done its work after its internal await."""
    body = SlowBody(clock, seconds=5.0)
    loop = make_loop(body, interval=10.0)
    loop.start()
    await settle(clock)
    stopping = asyncio.create_task(loop.stop())
    await clock.advance(5.0)
    assert (stopping.done(), body.finished) == (True, 1)


async def test_no_iteration_runs_after_stop(make_loop: MakeLoop, clock: ManualClock) -> None:
    """Once stop() has returned, the body never runs again."""
    body = SlowBody(clock, seconds=5.0)
    loop = make_loop(body, interval=10.0)
    loop.start()
    await settle(clock)
    stopping = asyncio.create_task(loop.stop())
    await clock.advance(1000.0)
    assert (stopping.done(), body.started, loop.running) == (True, 1, False)


async def test_stop_during_a_wait_returns_at_once(make_loop: MakeLoop, clock: ManualClock) -> None:
    """stop() while the loop sleeps between iterations ends it without the clock moving."""
    loop = make_loop(Body(clock), interval=60.0)
    loop.start()
    await settle(clock)
    stopping = asyncio.create_task(loop.stop())
    await settle(clock)
    assert (stopping.done(), clock.pending_sleepers, loop.running) == (True, 0, False)


async def test_stop_from_inside_the_body_ends_the_loop_after_that_iteration(
    make_loop: MakeLoop, clock: ManualClock
) -> None:
    """A body may stop its own loop (as with discord.ext.tasks): that iteration finishes, no other runs."""
    runs: list[float] = []
    loop: Loop

    async def body() -> None:
        runs.append(clock.monotonic())
        if len(runs) == 2:
            await loop.stop()

    loop = make_loop(body, interval=10.0)
    loop.start()
    await settle(clock)
    await clock.advance(100.0)
    assert (runs, loop.running) == ([0.0, 10.0], False)


async def test_cancel_during_an_iteration_interrupts_it(make_loop: MakeLoop, clock: ManualClock) -> None:
    """cancel() mid-iteration ends the body at its await: the work after it never happens."""
    body = SlowBody(clock, seconds=5.0)
    loop = make_loop(body, interval=10.0)
    loop.start()
    await settle(clock)
    await loop.cancel()
    await clock.advance(100.0)
    assert (body.started, body.finished, loop.running) == (1, 0, False)


async def test_stop_does_not_swallow_the_callers_cancellation(
    make_loop: MakeLoop, clock: ManualClock
) -> None:
    """A task cancelled while awaiting stop() ends cancelled instead of returning normally."""
    loop = make_loop(SlowBody(clock, seconds=100.0), interval=10.0)
    loop.start()
    await settle(clock)
    stopper = asyncio.create_task(loop.stop())
    await settle(clock)
    stopper.cancel()
    await asyncio.wait({stopper})
    assert stopper.cancelled()


# --------------------------------------------------------------------------- failures


async def test_failed_iteration_is_logged(make_loop: MakeLoop, clock: ManualClock) -> None:
    """An iteration that raises logs loop.iteration_failed naming the loop and the error."""
    make_loop(Body(clock, TransientDiscordError("503")), name="heartbeat", interval=10.0).start()
    with capture_logs() as logs:
        await settle(clock)
    failed = [e for e in logs if e["event"] == "loop.iteration_failed"]
    assert [(e["loop"], e["error"], e["log_level"]) for e in failed] == [
        ("heartbeat", "TransientDiscordError: 503", "error")
    ]


async def test_loop_goes_on_after_a_failed_iteration(make_loop: MakeLoop, clock: ManualClock) -> None:
    """A failure does not end the loop: the next iteration runs one interval later."""
    body = Body(clock, RuntimeError("bug"))
    loop = make_loop(body, interval=10.0)
    loop.start()
    await settle(clock)
    await clock.advance(10.0)
    assert (body.times, loop.running) == ([0.0, 10.0], True)


async def test_consecutive_failures_wait_as_the_backoff_says(make_loop: MakeLoop, clock: ManualClock) -> None:
    """With a Backoff, the waits after consecutive failures are 1, 2, 4, 8, 8 s, not the interval."""
    body = Body(clock, *[TransientDiscordError("503")] * 6)
    make_loop(body, interval=100.0, backoff=Backoff(1.0, 8.0)).start()
    await settle(clock)
    await clock.advance(23.0)
    assert body.times == [0.0, 1.0, 3.0, 7.0, 15.0, 23.0]


async def test_success_resets_the_failure_count(make_loop: MakeLoop, clock: ManualClock) -> None:
    """Failures counts consecutive failed iterations and returns to 0 after a success."""
    body = Body(clock, TransientDiscordError("a"), TransientDiscordError("b"))
    loop = make_loop(body, interval=100.0, backoff=Backoff(1.0, 8.0))
    loop.start()
    await settle(clock)
    await clock.advance(1.0)
    counts = [loop.failures]
    await clock.advance(2.0)
    counts.append(loop.failures)
    assert (body.times, counts) == ([0.0, 1.0, 3.0], [2, 0])


async def test_backoff_starts_over_after_a_success(make_loop: MakeLoop, clock: ManualClock) -> None:
    """A failure after a success waits the backoff's base again, not the next step of the old run."""
    fail = TransientDiscordError("503")
    body = Body(clock, fail, fail, None, fail)
    make_loop(body, interval=100.0, backoff=Backoff(1.0, 8.0)).start()
    await settle(clock)
    await clock.advance(104.0)
    assert body.times == [0.0, 1.0, 3.0, 103.0, 104.0]


async def test_on_error_receives_the_exception_and_the_wait(make_loop: MakeLoop, clock: ManualClock) -> None:
    """on_error is handed the raised exception and the backoff's wait before the next try."""
    error = TransientDiscordError("503")
    seen: list[tuple[Exception, float | None]] = []
    make_loop(
        Body(clock, error),
        interval=100.0,
        backoff=Backoff(2.0, 60.0),
        on_error=lambda exc, wait: seen.append((exc, wait)),
    ).start()
    await settle(clock)
    assert seen == [(error, 2.0)]


async def test_on_error_replaces_the_default_log(make_loop: MakeLoop, clock: ManualClock) -> None:
    """With on_error set, a failed iteration logs no loop.iteration_failed."""
    make_loop(Body(clock, RuntimeError("bug")), interval=10.0, on_error=lambda exc, wait: None).start()
    with capture_logs() as logs:
        await settle(clock)
    assert [e["event"] for e in logs] == []


# --------------------------------------------------------------------------- waiting for work


async def test_interval_function_answering_none_waits_for_wake(
    make_loop: MakeLoop, clock: ManualClock
) -> None:
    """While the interval function says None the body does not run, however long; wake() runs it."""
    queued: list[str] = []
    ran_at: list[float] = []

    async def drain() -> None:
        ran_at.append(clock.monotonic())
        queued.clear()

    loop = make_loop(drain, interval=lambda: 0.0 if queued else None, immediate=False)
    loop.start()
    await settle(clock)
    await clock.advance(1000.0)
    before = list(ran_at)
    queued.append("work")
    loop.wake()
    await settle(clock)
    assert (before, ran_at) == ([], [1000.0])


async def test_wake_during_the_body_is_not_lost(make_loop: MakeLoop, clock: ManualClock) -> None:
    """A wake() that arrives while the body runs makes another iteration follow at once."""
    body = SlowBody(clock, seconds=5.0)
    loop = make_loop(body, interval=None)
    loop.start()
    await settle(clock)
    loop.wake()
    await clock.advance(5.0)
    assert (body.started, body.finished) == (2, 1)


async def test_after_a_wake_the_interval_function_is_asked_again(
    make_loop: MakeLoop, clock: ManualClock
) -> None:
    """A function answering None, then 30 s after the wake, makes the body run 30 s after the wake."""
    body = Body(clock)
    answers: list[float | None] = [None, 30.0]
    loop = make_loop(body, interval=lambda: answers.pop(0) if answers else None, immediate=False)
    loop.start()
    await settle(clock)
    await clock.advance(10.0)
    loop.wake()
    await settle(clock)
    await clock.advance(29.0)
    before = list(body.times)
    await clock.advance(1.0)
    assert (before, body.times) == ([], [40.0])


@pytest.mark.parametrize(("reschedules", "expected"), [(True, [15.0]), (False, [100.0, 105.0])])
async def test_wake_reschedules_cuts_a_timed_wait_short_and_asks_again(
    make_loop: MakeLoop, clock: ManualClock, reschedules: bool, expected: list[float]
) -> None:
    """With wake_reschedules a wake during a 100 s wait asks the function again (5 s): it runs at 15 s."""
    body = Body(clock)
    answers: list[float | None] = [100.0, 5.0]
    loop = make_loop(
        body,
        interval=lambda: answers.pop(0) if answers else None,
        immediate=False,
        wake_reschedules=reschedules,
    )
    loop.start()
    await settle(clock)
    await clock.advance(10.0)
    loop.wake()
    await settle(clock)
    await clock.advance(95.0)
    assert body.times == expected


async def test_wake_reschedules_never_waits_less_than_the_function_says(
    make_loop: MakeLoop, clock: ManualClock
) -> None:
    """A wake during a rate-limit wait asks again, and the same remaining wait is kept: no early run."""
    body = Body(clock)
    due = 60.0
    loop = make_loop(
        body,
        interval=lambda: max(0.0, due - clock.monotonic()) if not body.times else None,
        immediate=False,
        wake_reschedules=True,
    )
    loop.start()
    await settle(clock)
    for _ in range(5):
        await clock.advance(10.0)
        loop.wake()
        await settle(clock)
    assert body.times == []
    await clock.advance(10.0)
    assert body.times == [60.0]


async def test_wake_reschedules_never_cuts_a_backoff_short(make_loop: MakeLoop, clock: ManualClock) -> None:
    """After a failure the backoff (8 s) is kept even though wakes arrive and the schedule says now."""
    body = Body(clock, TransientDiscordError("503"))
    loop = make_loop(
        body,
        interval=lambda: 0.0,
        backoff=Backoff(8.0, 8.0),
        wake_reschedules=True,
        on_error=lambda e, w: None,
    )
    loop.start()
    await settle(clock)
    for _ in range(7):
        await clock.advance(1.0)
        loop.wake()
        await settle(clock)
    assert body.times == [0.0]
    await clock.advance(1.0)
    assert body.times[:2] == [0.0, 8.0]


class _Starved(BaseException):
    """Ends a loop that never yields, so a starved test fails instead of hanging."""


async def test_a_zero_wait_still_lets_other_tasks_run(make_loop: MakeLoop, clock: ManualClock) -> None:
    """With an interval of 0 the loop yields between iterations, so other tasks (and stop()) get to run."""
    events: list[str] = []

    async def busy() -> None:
        events.append("body")
        if events.count("body") >= 10:
            raise _Starved

    make_loop(busy, interval=0.0).start()
    for _ in range(2):
        await asyncio.sleep(0)
        events.append("other")
    assert events[:3] == ["body", "other", "body"]
