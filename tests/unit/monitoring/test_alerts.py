"""Tests for AlertMonitor: one notice per problem, hysteresis, cool-down, recovery, each condition."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from structlog.testing import capture_logs

from src.services.monitoring.alerts import AlertMonitor
from src.types.models import AlertKind, BreakerSnapshot, BreakerState, ChannelStats, CounterKind
from tests.clock import ManualClock
from tests.fakes import counter_state

from .fakes import (
    ALERT_CHANNEL,
    HEARTBEAT_CHANNEL,
    FakeDiscord,
    FakeSampler,
    FakeStats,
    MemoryStore,
    make_settings,
    settle,
)

CHECK = 30.0


class SwitchableBreaker:
    """A breaker whose state the test sets."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = BreakerState.CLOSED

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(self.name, self.state, 5, None, "TransientDiscordError: 503", 60.0)


def make_monitor(
    clock: ManualClock,
    port: FakeDiscord,
    store: MemoryStore,
    sampler: FakeSampler,
    *,
    stats: FakeStats | None = None,
    breakers: tuple[SwitchableBreaker, ...] = (),
    **overrides: Any,
) -> AlertMonitor:
    """An alert monitor checking every 30 s, with any setting overrides."""
    settings = make_settings(**overrides)
    stats = stats if stats is not None else FakeStats()
    return AlertMonitor(settings, clock, port, store, stats, sampler, breakers=breakers, check_interval=CHECK)


async def check_with_rss(monitor: AlertMonitor, sampler: FakeSampler, clock: ManualClock, rss: float) -> None:
    """Advance one check interval and evaluate with the process using `rss` MB."""
    sampler.metrics = sampler.metrics.model_copy(update={"rss_mb": rss})
    await clock.advance(CHECK)
    await monitor.check()


def titles(port: FakeDiscord) -> list[str]:
    """Titles of the alert embeds posted, in order."""
    return [embed.title for embed in port.embeds()]


async def test_memory_over_threshold_posts_one_alert_over_many_checks(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """A process above ALERT_MEMORY_MB is reported once with value and threshold, not once per check."""
    monitor = make_monitor(clock, port, store, sampler, alert_memory_mb=1)

    with capture_logs() as logs:
        for _ in range(20):
            await check_with_rss(monitor, sampler, clock, 80.0)

    [sent] = port.of("send")
    assert sent.channel_id == HEARTBEAT_CHANNEL
    assert sent.embed is not None
    assert sent.embed.title == "⚠️ Memory use is high"
    assert sent.embed.field("Value") == "80.0 MB"
    assert sent.embed.field("Threshold") == "1 MB"
    assert [e["alert"] for e in logs if e["event"] == "alert.raised"] == ["memory"]


async def test_alerts_go_to_the_alert_channel_when_set(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """With ALERT_CHANNEL_ID set, alerts post there instead of the heartbeat channel."""
    monitor = make_monitor(clock, port, store, sampler, alert_memory_mb=1, alert_channel_id=ALERT_CHANNEL)

    await monitor.check()

    assert [call.channel_id for call in port.of("send")] == [ALERT_CHANNEL]


async def test_value_hovering_at_threshold_does_not_realert(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """Dipping just under the threshold does not clear the alert, so crossing again posts nothing."""
    monitor = make_monitor(clock, port, store, sampler, alert_memory_mb=100)

    for rss in (101, 99, 101, 95, 100.5, 92, 101):
        await check_with_rss(monitor, sampler, clock, rss)

    assert titles(port) == ["⚠️ Memory use is high"]
    assert [alert.kind for alert in monitor.active_alerts()] == [AlertKind.MEMORY]


async def test_recovery_is_posted_once_when_cleared(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """Falling below 90 % of the threshold posts one recovery notice and logs alert.recovered."""
    monitor = make_monitor(clock, port, store, sampler, alert_memory_mb=100)

    with capture_logs() as logs:
        for rss in (150, 150, 80, 80, 80):
            await check_with_rss(monitor, sampler, clock, rss)

    assert titles(port) == ["⚠️ Memory use is high", "✅ Recovered: Memory use is high"]
    recovered = port.embeds()[1]
    assert recovered.field("Now") == "80.0 MB"
    assert recovered.field("Lasted") == "1m"
    assert [e["alert"] for e in logs if e["event"] == "alert.recovered"] == ["memory"]
    assert monitor.active_alerts() == []


async def test_realert_within_cooldown_is_held_until_it_ends(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """A problem that returns soon after recovering is posted only once ALERT_COOLDOWN_S has passed."""
    monitor = make_monitor(clock, port, store, sampler, alert_memory_mb=100, alert_cooldown_s=600)
    for rss in (150, 50, 150):  # raised at 30 s, recovered at 60 s, back at 90 s
        await check_with_rss(monitor, sampler, clock, rss)
    assert len(port.embeds()) == 2
    assert [alert.posted for alert in monitor.active_alerts()] == [False]

    while clock.monotonic() < 30 + 600:
        await check_with_rss(monitor, sampler, clock, 150)

    assert titles(port) == [
        "⚠️ Memory use is high",
        "✅ Recovered: Memory use is high",
        "⚠️ Memory use is high",
    ]
    assert port.of("send")[-1].at - port.of("send")[0].at == timedelta(seconds=600)


async def test_short_problem_inside_cooldown_posts_nothing(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """A problem that comes and goes within the cool-down is neither raised nor recovered in Discord."""
    monitor = make_monitor(clock, port, store, sampler, alert_memory_mb=100, alert_cooldown_s=600)
    for rss in (150, 50, 150, 50, 150, 50):
        await check_with_rss(monitor, sampler, clock, rss)

    assert titles(port) == ["⚠️ Memory use is high", "✅ Recovered: Memory use is high"]


async def test_disk_alert_uses_percent_threshold(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """Disk use of DATA_DIR above ALERT_DISK_PERCENT is reported with both percentages."""
    sampler.metrics = sampler.metrics.model_copy(update={"disk_percent": 95.5})
    monitor = make_monitor(clock, port, store, sampler, alert_disk_percent=90)

    await monitor.check()

    [embed] = port.embeds()
    assert embed.title == "⚠️ Disk of DATA_DIR is filling up"
    assert embed.field("Value") == "95.5 %"
    assert embed.field("Threshold") == "90 %"


async def test_run_of_store_failures_raises_store_alert(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """The store alert fires when consecutive write failures reach ALERT_STORE_FAILURES, not before."""
    monitor = make_monitor(clock, port, store, sampler, alert_store_failures=3)
    store.health.last_error = "write daily/2026-01-01.json: No space left on device (ENOSPC)"

    for failures in (1, 2):
        store.health.consecutive_failures = failures
        await monitor.check()
    assert port.embeds() == []

    store.health.consecutive_failures = 3
    await monitor.check()

    [embed] = port.embeds()
    assert embed.title == "⚠️ Data store cannot write"
    assert "3 consecutive write failures" in (embed.field("Value") or "")
    assert "ENOSPC" in (embed.field("Value") or "")
    assert embed.field("Threshold") == "3 failures"


async def test_store_alert_recovers_after_a_successful_write(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """The store alert clears only when a write succeeds again (failures back to 0)."""
    monitor = make_monitor(clock, port, store, sampler, alert_store_failures=3)
    store.health.consecutive_failures = 3
    await monitor.check()
    store.health.consecutive_failures = 0

    await monitor.check()

    assert titles(port) == ["⚠️ Data store cannot write", "✅ Recovered: Data store cannot write"]


def members_counter(clock: ManualClock, *, pending: bool) -> ChannelStats:
    """The members counter's snapshot, its new value waiting since now when `pending`."""
    return counter_state(CounterKind.MEMBERS, 101, pending_since=clock.now() if pending else None)


async def test_stale_counter_alert_after_threshold(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler, stats: FakeStats
) -> None:
    """A counter whose new value waits longer than ALERT_COUNTER_STALE_S is reported, then recovers."""
    monitor = make_monitor(clock, port, store, sampler, stats=stats, alert_counter_stale_s=1800)
    stats.counters = [members_counter(clock, pending=True)]

    await clock.advance(1799)
    await monitor.check()
    assert port.embeds() == []

    await clock.advance(2)
    await monitor.check()
    [embed] = port.embeds()
    assert embed.title == "⚠️ Members counter is not updating"
    assert embed.field("Value") == "new value waiting 30m"
    assert embed.field("Threshold") == "30m"

    stats.counters = [members_counter(clock, pending=False)]
    await monitor.check()
    assert titles(port)[-1] == "✅ Recovered: Members counter is not updating"


async def test_stale_counter_alert_names_only_the_waiting_counter(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler, stats: FakeStats
) -> None:
    """Each counter is judged by its own pending_since: an up-to-date counter raises nothing."""
    monitor = make_monitor(clock, port, store, sampler, stats=stats, alert_counter_stale_s=60)
    stats.counters = [
        members_counter(clock, pending=False),
        counter_state(CounterKind.BANS, 103, pending_since=clock.now()),
    ]

    await clock.advance(61)
    await monitor.check()

    assert titles(port) == ["⚠️ Bans counter is not updating"]
    assert [alert.key for alert in monitor.active_alerts()] == ["counter_stale:bans"]


async def test_disconnect_alert_only_after_threshold(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """A gateway down for longer than ALERT_DISCONNECT_S is reported by the check loop, not earlier."""
    monitor = make_monitor(clock, port, store, sampler, alert_disconnect_s=300)
    port.connected = False
    started = clock.now()
    await monitor.start()
    await settle()

    await clock.advance(300)  # checks every 30 s have seen it down for up to exactly 300 s
    assert port.embeds() == []

    await clock.advance(CHECK)
    await monitor.stop()

    [sent] = port.of("send")
    assert sent.embed is not None
    assert sent.embed.title == "⚠️ Gateway disconnected"
    assert sent.embed.field("Value") == "disconnected for 5m"
    assert sent.at == started + timedelta(seconds=330)


async def test_short_disconnects_do_not_add_up(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """Two disconnects shorter than the threshold, with a reconnect between, raise nothing."""
    monitor = make_monitor(clock, port, store, sampler, alert_disconnect_s=300)
    await monitor.start()
    await settle()
    for connected, seconds in ((False, 240), (True, 60), (False, 240)):
        port.connected = connected
        await clock.advance(seconds)
    await monitor.stop()

    assert port.embeds() == []


async def test_reconnect_posts_recovery(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """When the gateway comes back after a disconnect alert, a recovery notice is posted."""
    monitor = make_monitor(clock, port, store, sampler, alert_disconnect_s=60)
    port.connected = False
    await monitor.start()
    await settle()
    await clock.advance(120)
    port.connected = True
    await clock.advance(CHECK)
    await monitor.stop()

    assert titles(port) == ["⚠️ Gateway disconnected", "✅ Recovered: Gateway disconnected"]


async def test_open_breaker_alerts_until_closed(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """An open circuit breaker raises an alert that a half-open state keeps and closing clears."""
    breaker = SwitchableBreaker("discord.rename")
    monitor = make_monitor(clock, port, store, sampler, breakers=(breaker,))

    for state in (BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.OPEN, BreakerState.CLOSED):
        breaker.state = state
        await monitor.check()

    assert titles(port) == [
        "⚠️ Circuit breaker 'discord.rename' is open",
        "✅ Recovered: Circuit breaker 'discord.rename' is open",
    ]
    assert "TransientDiscordError: 503" in (port.embeds()[0].field("Value") or "")


async def test_failed_alert_post_is_retried_on_next_check(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """When Discord refuses the alert, it is logged and posted on the following check."""
    monitor = make_monitor(clock, port, store, sampler, alert_memory_mb=1)
    port.fail_sends = 1

    with capture_logs() as logs:
        await monitor.check()
        await monitor.check()

    assert [e["event"] for e in logs if e["event"] == "alert.post_failed"] == ["alert.post_failed"]
    assert len(port.messages) == 1
    assert [alert.posted for alert in monitor.active_alerts()] == [True]


async def test_active_alerts_lists_current_problems(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """active_alerts() names each raised condition with its latest value."""
    sampler.metrics = sampler.metrics.model_copy(update={"rss_mb": 700.0, "disk_percent": 99.0})
    monitor = make_monitor(clock, port, store, sampler, alert_memory_mb=512)

    await monitor.check()

    assert {(a.key, a.value) for a in monitor.active_alerts()} == {("memory", "700.0 MB"), ("disk", "99.0 %")}
