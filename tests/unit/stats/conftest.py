"""Stats test fixtures: the counter stack (counters, goal, admin, answers) wired as the app wires it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest

from src.core.counter_answers import CounterAnswers
from src.services.stats.counter_admin import CounterAdmin
from src.services.stats.counter_specs import environment_counters
from src.services.stats.counters import CounterService
from src.services.stats.goal_keeper import GoalKeeper
from src.types.models import CounterSpec
from tests.clock import ManualClock
from tests.fakes import GUILD, FakeDiscord, MemoryStore, make_settings


class CounterStack:
    """The counter service with its goal keeper, counter admin and command answers, on fakes."""

    def __init__(
        self,
        port: FakeDiscord,
        clock: ManualClock,
        store: MemoryStore,
        extra: Sequence[CounterSpec] = (),
        **settings: Any,
    ) -> None:
        self.settings = make_settings(**settings)
        self.goals = GoalKeeper(port, clock, store, max_backoff=60.0)
        specs = [*environment_counters(self.settings), *extra]
        self.counters = CounterService(self.settings, port, clock, store, specs, self.goals)
        self.admin = CounterAdmin(port, store, self.counters)
        self.answers = CounterAnswers(clock, self.admin, self.counters, self.goals)
        self.port, self.clock = port, clock

    async def start(self) -> CounterStack:
        """Start in the app's order: goal, command-made counters, then the counters themselves."""
        await self.goals.start(GUILD)
        await self.admin.load(GUILD)
        await self.counters.start()
        await self.clock.advance(0)
        return self

    async def stop(self) -> None:
        """Stop the counters and the goal keeper."""
        await self.counters.stop()
        await self.goals.stop()

    async def members(self, count: int) -> None:
        """A member joins or leaves: the gateway count moves and the bot passes it on."""
        self.port.gateway_members = count
        self.counters.set_member_count(count)
        await self.clock.advance(0)


StartStack = Callable[..., Awaitable[CounterStack]]


@pytest.fixture
async def services() -> AsyncIterator[list[CounterService]]:
    """Every CounterService a test builds; all are stopped afterwards so no task outlives its test."""
    made: list[CounterService] = []
    yield made
    for service in made:
        await service.stop()


@pytest.fixture
async def start_stack(port: FakeDiscord, clock: ManualClock, store: MemoryStore) -> AsyncIterator[StartStack]:
    """Start counter stacks on the test's port, clock and store; all are stopped afterwards."""
    started: list[CounterStack] = []

    async def start(extra: Sequence[CounterSpec] = (), **settings: Any) -> CounterStack:
        stack = CounterStack(port, clock, store, extra, **settings)
        started.append(stack)
        return await stack.start()

    yield start
    for stack in started:
        await stack.stop()
