"""Tests for HeartbeatService: the status embed, edit/post modes, the persisted message id, resilience."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from src.services.monitoring.heartbeat import HeartbeatService
from src.types.models import (
    Alert,
    AlertKind,
    BreakerSnapshot,
    BreakerState,
    CounterKind,
    DailyStats,
    Embed,
    EventKind,
    MemberEvent,
)
from src.utils.store import AtomicJsonStore
from tests.clock import ManualClock
from tests.fakes import counter_state

from .fakes import HEARTBEAT_CHANNEL, FakeDiscord, FakeSampler, FakeStats, MemoryStore, make_settings, settle

INTERVAL = 600.0
GREEN, AMBER, RED = 0x2ECC71, 0xF1C40F, 0xE74C3C


class FakeBreaker:
    """A breaker that reports a fixed state."""

    def __init__(self, name: str, state: BreakerState, last_error: str | None = None) -> None:
        self.state = state
        self.name = name
        self.last_error = last_error

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(self.name, self.state, 5, None, self.last_error, 42.0)


class FlakyStats(FakeStats):
    """A stats view whose first today() call fails like a bug would."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    def today(self) -> DailyStats:
        if self.failures_left:
            self.failures_left -= 1
            raise KeyError("boom")
        return super().today()


class FixedAlerts:
    """An alert source reporting the alerts the test gives it."""

    def __init__(self, *alerts: Alert) -> None:
        self.alerts = list(alerts)

    def active_alerts(self) -> list[Alert]:
        return self.alerts


class GatedSendDiscord(FakeDiscord):
    """A port whose sends wait for `release` while `gated` is set, to stop a beat in mid-publish."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.gated = False
        self.release = asyncio.Event()

    async def send_message(self, channel_id: int, embed: Embed, content: str | None = None) -> int:
        message_id = await super().send_message(channel_id, embed, content)
        if self.gated:
            await self.release.wait()  # the new message exists; the old one is not deleted yet
        return message_id


def make_heartbeat(
    clock: ManualClock,
    port: FakeDiscord,
    store: Any,
    stats: FakeStats,
    sampler: FakeSampler,
    *,
    breakers: tuple[FakeBreaker, ...] = (),
    alerts: FixedAlerts | None = None,
    **overrides: Any,
) -> HeartbeatService:
    """A heartbeat service with a 10-minute interval and any setting overrides."""
    settings = make_settings(heartbeat_interval=INTERVAL, **overrides)
    return HeartbeatService(settings, clock, port, store, stats, sampler, breakers=breakers, alerts=alerts)


def record(stats: FakeStats, kind: EventKind, count: int) -> None:
    """Record `count` events of `kind` today."""
    for n in range(count):
        stats.day.events.append(
            MemberEvent(
                kind=kind,
                member_id=str(n),
                username=f"user{n}",
                timestamp=datetime(2026, 1, 1, 12, tzinfo=UTC),
            )
        )


def read_state(root: Path) -> dict[str, Any]:
    """The persisted heartbeat state as it is on disk."""
    data: dict[str, Any] = json.loads((root / "state" / "heartbeat.json").read_text("utf-8"))
    return data


async def test_first_status_is_posted_at_start_with_the_figures(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """Starting posts one status embed at once with uptime, memory, latency, today's events and version."""
    record(stats, EventKind.JOIN, 3)
    record(stats, EventKind.LEAVE, 1)
    service = make_heartbeat(clock, port, store, stats, sampler)

    await service.start()
    await settle()
    await service.stop()

    [sent] = port.of("send")
    assert sent.channel_id == HEARTBEAT_CHANNEL
    assert sent.at == clock.now()
    embed = sent.embed
    assert embed is not None
    assert embed.field("Uptime") == "2h 3m"
    assert embed.field("Memory") == "80.0 MB (1.2 %)"
    assert embed.field("Disk (DATA_DIR)") == "50.0 %"
    assert embed.field("Latency") == "85 ms"
    assert embed.field("Joins today") == "3"
    assert embed.field("Leaves today") == "1"
    assert embed.field("Bans today") == "0"
    assert embed.footer == "StatsBot v0.1.0"


async def test_counter_fields_show_name_last_change_and_error(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """Each counter's field shows its channel name, when it changed and its last error or pause."""
    stats.counters = [
        counter_state(
            CounterKind.MEMBERS,
            101,
            shown_name="👥 Members: 1,234",
            last_renamed=clock.now() - timedelta(minutes=5),
        ),
        counter_state(
            CounterKind.BANS,
            103,
            shown_name="🔨 Bans: 7",
            last_error="403 Missing Permissions",
            paused_reason="the bot cannot rename this channel",
        ),
    ]
    service = make_heartbeat(clock, port, store, stats, sampler)

    await service.beat()

    embed = port.embeds()[0]
    assert embed.field("Members counter") == "👥 Members: 1,234\nchanged 5m ago"
    bans = embed.field("Bans counter") or ""
    assert "🔨 Bans: 7" in bans
    assert "changed never" in bans
    assert "paused: the bot cannot rename this channel" in bans
    assert "403 Missing Permissions" in bans


async def test_next_interval_edits_the_same_message(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """In edit mode the second heartbeat edits the first message instead of posting another."""
    service = make_heartbeat(clock, port, store, stats, sampler)
    await service.start()
    await settle()
    [first] = port.of("send")

    record(stats, EventKind.JOIN, 2)
    await clock.advance(INTERVAL)
    await service.stop()

    assert len(port.of("send")) == 1
    [edit] = port.of("edit")
    assert edit.message_id is not None
    assert edit.message_id == service.message_id
    assert edit.embed is not None
    assert edit.embed.field("Joins today") == "2"
    assert port.messages[edit.message_id][1] is edit.embed
    assert first.at + timedelta(seconds=INTERVAL) == edit.at


async def test_status_is_refreshed_once_when_the_counters_first_show(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """A status posted before the first renames is edited as soon as they show, not an interval later."""
    waiting = counter_state(
        CounterKind.MEMBERS, 101, value=1234, shown_name="Members", pending_name="👥 1,234"
    )
    stats.counters = [waiting]
    service = make_heartbeat(clock, port, store, stats, sampler)
    await service.start()
    await settle()
    [first] = port.of("send")
    assert first.embed is not None
    assert "Members" in (first.embed.field("Members counter") or "")

    await clock.advance(12)
    shown_at = clock.now()
    stats.counters = [waiting.model_copy(update={"shown_name": "👥 1,234", "pending_name": None})]
    await clock.advance(10)
    [edit] = port.of("edit")
    await clock.advance(INTERVAL - 30)
    await service.stop()

    assert edit.at - shown_at <= timedelta(seconds=10)
    assert edit.embed is not None
    assert "👥 1,234" in (edit.embed.field("Members counter") or "")
    assert len(port.of("edit")) == 1  # once: no further early beats once the counters show


async def test_restart_edits_the_message_it_persisted(
    tmp_path: Path, clock: ManualClock, port: FakeDiscord, stats: FakeStats, sampler: FakeSampler
) -> None:
    """A new service on the same data folder edits the status message the previous run posted."""
    await make_heartbeat(clock, port, AtomicJsonStore(tmp_path, clock=clock), stats, sampler).beat()
    [sent] = port.of("send")
    posted_id = next(iter(port.messages))

    restarted = make_heartbeat(clock, port, AtomicJsonStore(tmp_path, clock=clock), stats, sampler)
    await restarted.beat()

    assert port.of("send") == [sent]
    assert [call.message_id for call in port.of("edit")] == [posted_id]
    assert read_state(tmp_path) == {
        "schema_version": 1,
        "channel_id": HEARTBEAT_CHANNEL,
        "message_id": posted_id,
    }


async def test_deleted_message_is_replaced_once_and_new_id_persisted(
    tmp_path: Path, clock: ManualClock, port: FakeDiscord, stats: FakeStats, sampler: FakeSampler
) -> None:
    """When the status message was deleted, exactly one new one is posted and its id saved."""
    service = make_heartbeat(clock, port, AtomicJsonStore(tmp_path, clock=clock), stats, sampler)
    await service.beat()
    port.messages.clear()  # someone deleted the status message

    await service.beat()
    await service.beat()

    assert len(port.of("send")) == 2
    new_id = next(iter(port.messages))
    assert read_state(tmp_path)["message_id"] == new_id
    assert port.of("edit")[-1].message_id == new_id


async def test_persisted_message_in_another_channel_is_not_reused(
    tmp_path: Path, clock: ManualClock, port: FakeDiscord, stats: FakeStats, sampler: FakeSampler
) -> None:
    """After HEARTBEAT_CHANNEL_ID changes, a new status message is posted in the new channel."""
    store = AtomicJsonStore(tmp_path, clock=clock)
    await make_heartbeat(clock, port, store, stats, sampler, heartbeat_channel_id=999).beat()

    await make_heartbeat(clock, port, store, stats, sampler).beat()

    assert [call.channel_id for call in port.of("send")] == [999, HEARTBEAT_CHANNEL]
    assert port.of("edit") == []
    assert read_state(tmp_path)["channel_id"] == HEARTBEAT_CHANNEL


async def test_post_mode_posts_new_and_deletes_previous(
    tmp_path: Path, clock: ManualClock, port: FakeDiscord, stats: FakeStats, sampler: FakeSampler
) -> None:
    """In post mode each heartbeat is a new message and the previous one is deleted."""
    service = make_heartbeat(
        clock, port, AtomicJsonStore(tmp_path, clock=clock), stats, sampler, heartbeat_mode="post"
    )
    await service.beat()
    first_id = next(iter(port.messages))

    await service.beat()

    assert len(port.of("send")) == 2
    assert port.of("edit") == []
    assert [call.message_id for call in port.of("delete")] == [first_id]
    [second_id] = port.messages
    assert read_state(tmp_path)["message_id"] == second_id


async def test_failed_send_is_logged_and_retried_next_interval(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """A Discord failure is logged and the loop posts on the next interval."""
    port.fail_sends = 1
    service = make_heartbeat(clock, port, store, stats, sampler)

    with capture_logs() as logs:
        await service.start()
        await settle()
        await clock.advance(INTERVAL)
        await service.stop()

    failed = [e for e in logs if e["event"] == "heartbeat.publish_failed"]
    assert len(failed) == 1
    assert "503" in failed[0]["error"]
    assert len(port.of("send")) == 2
    assert len(port.messages) == 1


async def test_unexpected_error_does_not_stop_the_loop(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, sampler: FakeSampler
) -> None:
    """A bug while gathering figures is logged and the next interval still posts."""
    stats = FlakyStats()
    service = make_heartbeat(clock, port, store, stats, sampler)

    with capture_logs() as logs:
        await service.start()
        await settle()
        await clock.advance(INTERVAL)
        await service.stop()

    assert [(e["event"], e["loop"]) for e in logs if e["log_level"] == "error"] == [
        ("loop.iteration_failed", "heartbeat")
    ]
    assert len(port.of("send")) == 1


async def test_stop_ends_the_loop(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """After stop() no further heartbeats are sent."""
    service = make_heartbeat(clock, port, store, stats, sampler)
    await service.start()
    await settle()

    await service.stop()
    await clock.advance(INTERVAL * 3)

    assert len(port.calls) == 1


async def test_stop_during_a_post_mode_publish_leaves_one_status_message(
    clock: ManualClock, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """stop() while post mode has posted the new status lets it delete the old one before returning."""
    port = GatedSendDiscord(clock)
    service = make_heartbeat(clock, port, store, stats, sampler, heartbeat_mode="post")
    await service.start()
    await settle()
    [first_id] = port.messages

    port.gated = True
    await clock.advance(INTERVAL)  # the second beat has posted and now waits inside send_message
    stopping = asyncio.create_task(service.stop())
    await settle()
    assert not stopping.done()
    assert len(port.messages) == 2

    port.release.set()
    await stopping
    await clock.advance(INTERVAL * 3)

    assert [call.message_id for call in port.of("delete")] == [first_id]
    assert list(port.messages) == [service.message_id]
    assert len(port.of("send")) == 2


async def test_each_beat_logs_the_metrics(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """One heartbeat.metrics line per beat carries the same figures as the embed."""
    record(stats, EventKind.BAN, 2)
    service = make_heartbeat(clock, port, store, stats, sampler)

    with capture_logs() as logs:
        await service.beat()

    [line] = [e for e in logs if e["event"] == "heartbeat.metrics"]
    assert line["service"] == "monitoring"
    assert line["rss_mb"] == 80.0
    assert line["disk_percent"] == 50.0
    assert line["threads"] == 7
    assert line["latency_ms"] == 85.0
    assert line["bans"] == 2
    assert line["health"] == "healthy"


async def test_latest_exposes_the_last_figures(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """latest() is None before the first beat and then returns the last snapshot."""
    service = make_heartbeat(clock, port, store, stats, sampler)
    assert service.latest() is None
    record(stats, EventKind.JOIN, 4)

    await service.beat()

    latest = service.latest()
    assert latest is not None
    assert latest.joins == 4
    assert latest.metrics.rss_mb == 80.0
    assert latest.taken_at == clock.now()


async def test_healthy_status_is_green(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """With nothing wrong the embed is green and says so."""
    await make_heartbeat(clock, port, store, stats, sampler).beat()

    embed = port.embeds()[0]
    assert embed.color == GREEN
    assert embed.description == "🟢 All systems normal"
    assert embed.field("Circuit breakers") == "all closed"
    assert embed.field("Alerts") == "none"


async def test_store_failures_turn_the_status_amber(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """A failing data store shows amber with its failure count and last error."""
    store.health.consecutive_failures = 2
    store.health.last_error = "write stats/2026-01-01.json: No space left on device (ENOSPC)"

    await make_heartbeat(clock, port, store, stats, sampler).beat()

    embed = port.embeds()[0]
    assert embed.color == AMBER
    assert "2 failures in a row" in (embed.field("Data store") or "")
    assert "ENOSPC" in (embed.field("Data store") or "")


async def test_open_breaker_and_disconnect_turn_the_status_red(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """An open circuit breaker or a lost gateway shows red and lists what is wrong."""
    port.connected = False
    breakers = (
        FakeBreaker("discord.rename", BreakerState.OPEN, "TransientDiscordError: 503"),
        FakeBreaker("discord.fetch", BreakerState.CLOSED),
    )

    await make_heartbeat(clock, port, store, stats, sampler, breakers=breakers).beat()

    embed = port.embeds()[0]
    assert embed.color == RED
    assert embed.field("Gateway") == "disconnected"
    assert (
        embed.field("Circuit breakers") == "discord.rename: open, retry in 42s (TransientDiscordError: 503)"
    )
    assert "gateway disconnected" in embed.description


async def test_active_alert_turns_the_status_red_and_is_listed(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """An alert from the alert source makes the status red and shows under Alerts."""
    alert = Alert(AlertKind.DISK, None, "Disk of DATA_DIR is filling up", "95.5 %", "90 %", clock.now())

    await make_heartbeat(clock, port, store, stats, sampler, alerts=FixedAlerts(alert)).beat()

    embed = port.embeds()[0]
    assert embed.color == RED
    assert embed.field("Alerts") == "⚠️ Disk of DATA_DIR is filling up: 95.5 %"
    assert "alert: Disk of DATA_DIR is filling up" in embed.description


async def test_embed_stays_within_discord_limits_with_long_errors(
    clock: ManualClock, port: FakeDiscord, store: MemoryStore, stats: FakeStats, sampler: FakeSampler
) -> None:
    """Many open breakers and long errors still fit Discord's per-field and 6000-character limits."""
    long = "x" * 5_000
    stats.counters = [
        counter_state(kind, 1, shown_name="n" * 100, last_error=long, paused_reason=long)
        for kind in CounterKind
    ]
    store.health.consecutive_failures = 9
    store.health.last_error = long
    breakers = tuple(FakeBreaker(f"breaker-{n}-{'b' * 200}", BreakerState.OPEN, long) for n in range(40))

    await make_heartbeat(clock, port, store, stats, sampler, breakers=breakers).beat()

    embed = port.embeds()[0]
    total = len(embed.title) + len(embed.description) + len(embed.footer or "")
    total += sum(len(f.name) + len(f.value) for f in embed.fields)
    assert total <= 6000
    assert len(embed.fields) <= 25
    assert all(len(f.value) <= 1024 for f in embed.fields)
