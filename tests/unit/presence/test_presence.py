"""Tests for PresenceService: rotating texts, unchanged skips, the 5-per-20 s limit, status changes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from structlog.testing import capture_logs

from src.services.presence.service import PresenceRateLimiter, PresenceService
from src.types.models import CounterKind
from tests.clock import ManualClock, settle

from .fakes import FakeDiscord, FakeStats, make_settings

INTERVAL = 300.0


class Health:
    """A switchable store-health flag."""

    def __init__(self) -> None:
        self.ok = True

    def __call__(self) -> bool:
        return self.ok


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def port(clock: ManualClock) -> FakeDiscord:
    return FakeDiscord(clock)


@pytest.fixture
def stats() -> FakeStats:
    stats = FakeStats()
    stats.counts = {CounterKind.MEMBERS: 12_345, CounterKind.ONLINE: 678, CounterKind.BANS: 1_234}
    return stats


@pytest.fixture
def health() -> Health:
    return Health()


def make_service(
    clock: ManualClock, port: FakeDiscord, stats: FakeStats, health: Health, **overrides: Any
) -> PresenceService:
    """A presence service rotating every five minutes unless overridden."""
    settings = make_settings(**{"presence_update_interval": INTERVAL, **overrides})
    return PresenceService(settings, clock, port, stats, health)


class GatedPresenceDiscord(FakeDiscord):
    """A port whose presence updates are recorded, then wait for `release` before returning."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.release = asyncio.Event()

    async def set_presence(self, status: str, text: str | None) -> None:
        await super().set_presence(status, text)
        await self.release.wait()


async def test_rotates_members_online_bans_with_separators(
    clock: ManualClock, port: FakeDiscord, stats: FakeStats, health: Health
) -> None:
    """Each interval shows the next count, formatted with thousands separators, then starts over."""
    service = make_service(clock, port, stats, health)
    await service.start()
    await settle()
    await clock.advance(INTERVAL * 3)
    await service.stop()

    assert port.texts() == ["👥 12,345 members", "🟢 678 online", "🔨 1,234 bans", "👥 12,345 members"]
    assert [u.at for u in port.updates] == [0, INTERVAL, INTERVAL * 2, INTERVAL * 3]
    assert {u.status for u in port.updates} == {"online"}


async def test_unknown_count_is_skipped(
    clock: ManualClock, port: FakeDiscord, stats: FakeStats, health: Health
) -> None:
    """A counter whose value is not known yet is left out of the rotation."""
    stats.counts[CounterKind.ONLINE] = None
    service = make_service(clock, port, stats, health)

    for _ in range(3):
        await service.update()
        await clock.advance(INTERVAL)

    assert port.texts() == ["👥 12,345 members", "🔨 1,234 bans", "👥 12,345 members"]


async def test_identical_presence_is_not_resent(
    clock: ManualClock, port: FakeDiscord, stats: FakeStats, health: Health
) -> None:
    """When the next text and status equal what is shown, no update is sent."""
    stats.counts = {CounterKind.MEMBERS: 500, CounterKind.ONLINE: None, CounterKind.BANS: None}
    service = make_service(clock, port, stats, health)

    sent = [await service.update() for _ in range(4)]

    assert sent == [True, False, False, False]
    assert port.texts() == ["👥 500 members"]
    assert service.current() == ("online", "👥 500 members")


async def test_never_more_than_five_updates_in_twenty_seconds(
    clock: ManualClock, port: FakeDiscord, stats: FakeStats, health: Health
) -> None:
    """With a 0.1 s interval, any 20 s window holds at most 5 presence updates."""
    service = make_service(clock, port, stats, health, presence_update_interval=0.1)
    await service.start()
    await settle()
    await clock.advance(65)
    await service.stop()

    times = [u.at for u in port.updates]
    assert len(times) >= 15  # the limit throttles updates, it does not stop them
    assert all(later - earlier >= 20 - 1e-6 for earlier, later in zip(times, times[5:], strict=False))


async def test_rate_limited_update_is_logged(
    clock: ManualClock, port: FakeDiscord, stats: FakeStats, health: Health
) -> None:
    """An update held back by the limit is logged as presence.rate_limited."""
    service = make_service(clock, port, stats, health)

    with capture_logs() as logs:
        results = [await service.update() for _ in range(6)]

    assert results == [True] * 5 + [False]
    assert [e["event"] for e in logs].count("presence.rate_limited") == 1


async def test_dnd_while_store_cannot_write(
    clock: ManualClock, port: FakeDiscord, stats: FakeStats, health: Health
) -> None:
    """The status is dnd while the store is unhealthy and online again once it recovers."""
    service = make_service(clock, port, stats, health)

    health.ok = False
    await service.update()
    health.ok = True
    await service.update()

    assert [u.status for u in port.updates] == ["dnd", "online"]


async def test_status_change_alone_is_sent(
    clock: ManualClock, port: FakeDiscord, stats: FakeStats, health: Health
) -> None:
    """With one known count, the store failing still changes the presence (same text, new status)."""
    stats.counts = {CounterKind.MEMBERS: 500, CounterKind.ONLINE: None, CounterKind.BANS: None}
    service = make_service(clock, port, stats, health)
    await service.update()

    health.ok = False
    await service.update()

    assert [(u.status, u.text) for u in port.updates] == [
        ("online", "👥 500 members"),
        ("dnd", "👥 500 members"),
    ]


async def test_shutting_down_shows_idle_shutting_down(
    clock: ManualClock, port: FakeDiscord, stats: FakeStats, health: Health
) -> None:
    """shutting_down() sets idle "💤 Shutting down" at once and stops the rotation."""
    service = make_service(clock, port, stats, health)
    await service.start()
    await settle()

    await service.shutting_down()
    await clock.advance(INTERVAL * 3)

    assert (port.updates[-1].status, port.updates[-1].text) == ("idle", "💤 Shutting down")
    assert port.updates[-1].at == 0
    assert len(port.updates) == 2
    assert service.current() == ("idle", "💤 Shutting down")


async def test_shutting_down_waits_for_the_rate_limit(
    clock: ManualClock, port: FakeDiscord, stats: FakeStats, health: Health
) -> None:
    """When five updates were just sent, the restarting notice waits until the window has room."""
    service = make_service(clock, port, stats, health)
    for _ in range(5):
        await service.update()
        await clock.advance(1)

    shutdown = asyncio.create_task(service.shutting_down())
    await settle()
    assert len(port.updates) == 5
    await clock.advance(20)
    await shutdown

    assert port.updates[-1].text == "💤 Shutting down"
    assert port.updates[-1].at == 20


async def test_failed_update_is_logged_and_retried(
    clock: ManualClock, port: FakeDiscord, stats: FakeStats, health: Health
) -> None:
    """A failing presence update is logged; the loop keeps going and the next one is sent."""
    port.fail_presence = 1
    service = make_service(clock, port, stats, health)

    with capture_logs() as logs:
        await service.start()
        await settle()
        await clock.advance(INTERVAL)
        await service.stop()

    assert [e["event"] for e in logs].count("presence.update_failed") == 1
    assert port.texts() == ["🟢 678 online"]
    assert service.current() == ("online", "🟢 678 online")


async def test_loop_survives_an_error_in_the_stats_view(
    clock: ManualClock, port: FakeDiscord, stats: FakeStats, health: Health
) -> None:
    """An exception while reading the counts is logged and the next interval still updates."""
    service = make_service(clock, port, stats, health)
    counts = stats.counts
    stats.counts = None  # type: ignore[assignment]  # makes current_counts().get blow up once

    with capture_logs() as logs:
        await service.start()
        await settle()
        stats.counts = counts
        await clock.advance(INTERVAL)
        await service.stop()

    assert [(e["event"], e["loop"]) for e in logs if e["log_level"] == "error"] == [
        ("loop.iteration_failed", "presence")
    ]
    assert port.texts() == ["👥 12,345 members"]


async def test_stop_lets_an_update_in_flight_finish(
    clock: ManualClock, stats: FakeStats, health: Health
) -> None:
    """stop() during a presence update waits for it, so current() matches what Discord was sent."""
    port = GatedPresenceDiscord(clock)
    service = make_service(clock, port, stats, health)
    await service.start()
    await settle()  # the first update now waits inside set_presence

    stopping = asyncio.create_task(service.stop())
    await settle()
    assert not stopping.done()
    port.release.set()
    await stopping
    await clock.advance(INTERVAL * 3)

    assert port.texts() == ["👥 12,345 members"]
    assert service.current() == ("online", "👥 12,345 members")


async def test_stop_does_not_swallow_a_cancel_aimed_at_its_caller(
    clock: ManualClock, stats: FakeStats, health: Health
) -> None:
    """Cancelling a task that waits in stop() cancels that task; the update still finishes on release."""
    port = GatedPresenceDiscord(clock)
    service = make_service(clock, port, stats, health)
    await service.start()
    await settle()

    stopping = asyncio.create_task(service.stop())
    await settle()
    stopping.cancel()
    await settle()

    assert stopping.cancelled()
    port.release.set()
    await settle()
    assert port.texts() == ["👥 12,345 members"]


def test_limiter_frees_a_slot_when_the_oldest_leaves_the_window(clock: ManualClock) -> None:
    """A full window reopens exactly when its oldest event is `window` seconds old."""
    limiter = PresenceRateLimiter(2, 10.0, clock)
    assert limiter.try_acquire()
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
    assert limiter.wait_time() == 10.0
