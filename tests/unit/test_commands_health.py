"""The /health answer: heartbeat figures, counter states, breakers and the last errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from src.services.monitoring.health import HealthLevel, HeartbeatSnapshot
from src.services.monitoring.health_report import build_health_embed
from src.types.models import (
    Alert,
    AlertKind,
    BreakerSnapshot,
    BreakerState,
    CounterKind,
    StoreHealth,
    SystemMetrics,
)
from tests.fakes import counter_state

NOW = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
METRICS = SystemMetrics(
    uptime_s=3_725,
    cpu_percent=2.5,
    rss_mb=80.0,
    rss_percent=1.2,
    system_memory_percent=40.0,
    disk_percent=50.0,
    threads=7,
    latency_ms=42.0,
)
COUNTERS = (
    counter_state(
        CounterKind.MEMBERS,
        1,
        value=1234,
        shown_name="👥 Members: 1,230",
        pending_name="👥 Members: 1,234",
        last_renamed=NOW - timedelta(minutes=3),
        next_rename_at=NOW + timedelta(minutes=2),
    ),
    counter_state(CounterKind.BANS, 3, value=7, paused_reason="missing_permissions"),
)


def _snapshot(**changes) -> HeartbeatSnapshot:
    snap = HeartbeatSnapshot(
        taken_at=NOW,
        metrics=METRICS,
        connected=True,
        counters=COUNTERS,
        joins=4,
        leaves=1,
        bans=0,
        store=StoreHealth(last_success=NOW - timedelta(seconds=5)),
        breakers=(),
        alerts=(),
        health=HealthLevel.HEALTHY,
        problems=(),
    )
    return replace(snap, **changes)


def _breaker(name: str, state: BreakerState, failures: int = 0, error: str | None = None) -> BreakerSnapshot:
    retry = 30.0 if state is BreakerState.OPEN else 0.0
    return BreakerSnapshot(name, state, failures, None, error, retry)


def test_health_shows_the_heartbeat_figures() -> None:
    """Uptime, CPU, memory, disk, latency, the gateway and today's figures are fields."""
    embed = build_health_embed(_snapshot(), [], {})
    assert embed.field("Uptime") == "1h 2m"
    assert embed.field("Latency") == "42 ms"
    assert embed.field("Gateway") == "connected"
    assert embed.field("Today") == "4 joins, 1 leaves, 0 bans"


def test_health_shows_when_a_pending_counter_renames() -> None:
    """A counter with a pending name shows it with a relative Discord timestamp."""
    members = build_health_embed(_snapshot(), [], {}).field("Members counter") or ""
    ts = int((NOW + timedelta(minutes=2)).timestamp())
    assert "value 1,234" in members
    assert f"next `👥 Members: 1,234` <t:{ts}:R>" in members


def test_health_gives_the_fix_of_a_paused_counter() -> None:
    """A paused counter shows its reason and fix."""
    fixes = {3: "give the bot Manage Channels on channel 3"}
    bans = build_health_embed(_snapshot(), [], fixes).field("Bans counter") or ""
    assert "⏸️ paused (missing_permissions): give the bot Manage Channels on channel 3" in bans


def test_health_lists_every_breaker_closed_ones_included() -> None:
    """Closed breakers are listed too, and an open one says when it retries."""
    breakers = [
        _breaker("discord", BreakerState.CLOSED),
        _breaker("store", BreakerState.OPEN, failures=5, error="OSError: disk full"),
    ]
    text = build_health_embed(_snapshot(), breakers, {}).field("Circuit breakers")
    assert text == "discord: closed\nstore: open, 5 failures in a row, retry in 30s"


def test_health_collects_the_last_errors() -> None:
    """Counter, store and breaker errors are listed under Last errors."""
    counters = (COUNTERS[0].model_copy(update={"last_error": "TransientDiscordError: HTTP 503"}),)
    store = StoreHealth(last_failure=NOW - timedelta(minutes=1), consecutive_failures=1, last_error="ENOSPC")
    breakers = [_breaker("store", BreakerState.HALF_OPEN, error="OSError: disk full")]
    text = build_health_embed(_snapshot(counters=counters, store=store), breakers, {}).field("Last errors")
    assert text == (
        "Members counter: TransientDiscordError: HTTP 503\n"
        "data store (1m ago): ENOSPC\n"
        "breaker store: OSError: disk full"
    )


def test_health_without_errors_says_none() -> None:
    """No errors and no alerts read as none."""
    embed = build_health_embed(_snapshot(), [], {})
    assert (embed.field("Last errors"), embed.field("Alerts")) == ("none", "none")


def test_health_colour_and_summary_follow_the_heartbeat() -> None:
    """An unhealthy snapshot is red and its problems are in the description."""
    alert = Alert(AlertKind.DISCONNECT, None, "Gateway disconnected", "6m", "5m", NOW)
    snap = _snapshot(health=HealthLevel.UNHEALTHY, problems=("gateway disconnected",), alerts=(alert,))
    embed = build_health_embed(snap, [], {})
    assert embed.description == "🔴 Needs attention: gateway disconnected"
    assert embed.color == 0xE74C3C
    assert (embed.field("Alerts") or "").startswith("⚠️ Gateway disconnected: 6m")
