"""Fixtures for the monitoring tests."""

from __future__ import annotations

import pytest

from tests.clock import ManualClock

from .fakes import FakeDiscord, FakeSampler, FakeStats, MemoryStore


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def port(clock: ManualClock) -> FakeDiscord:
    return FakeDiscord(clock)


@pytest.fixture
def stats() -> FakeStats:
    return FakeStats()


@pytest.fixture
def sampler() -> FakeSampler:
    return FakeSampler()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()
