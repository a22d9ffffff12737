"""The `/health` answer: heartbeat figures, counter states, circuit breakers and the last errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from src.services.monitoring.health import (
    DETAILED_COUNTERS,
    HEALTH_COLOR,
    HEALTH_LINE,
    HeartbeatSnapshot,
    counters_summary,
    embed_field,
)
from src.types.models import BreakerSnapshot, ChannelStats, Embed
from src.utils.text import ago, clip, human_duration

MAX_LISTED = 8  # breakers and errors listed before "... and N more"; keeps the embed under 6000 characters
LINE_MAX = 160


def _listed(lines: Sequence[str], empty: str) -> str:
    """Lines one per row, capped at MAX_LISTED."""
    if not lines:
        return empty
    shown = [clip(line, LINE_MAX) for line in lines[:MAX_LISTED]]
    if len(lines) > MAX_LISTED:
        shown.append(f"… and {len(lines) - MAX_LISTED} more")
    return "\n".join(shown)


def counter_text(state: ChannelStats, fix: str | None, now: datetime) -> str:
    """A counter's value, the name it shows, what is pending and, when paused, the fix."""
    value = "unknown yet" if state.value is None else f"{state.value:,}"
    lines = [f"value {value}", f"shows `{clip(state.shown_name or '(nothing yet)', 100)}`"]
    lines.append(f"renamed {ago(state.last_renamed, now)}")
    if state.paused_reason:
        lines.append(f"⏸️ paused ({state.paused_reason}): {clip(fix or 'see the log', 300)}")
    elif state.pending_name and state.next_rename_at is not None:
        lines.append(f"next `{clip(state.pending_name, 100)}` <t:{int(state.next_rename_at.timestamp())}:R>")
    return "\n".join(lines)


def breakers_text(breakers: Sequence[BreakerSnapshot]) -> str:
    """Every breaker's state; open ones say when they retry."""
    lines = []
    for b in breakers:
        line = f"{b.name}: {b.state.value}"
        if b.consecutive_failures:
            line += f", {b.consecutive_failures} failure{'s' * (b.consecutive_failures != 1)} in a row"
        if b.retry_in > 0:
            line += f", retry in {human_duration(b.retry_in)}"
        lines.append(line)
    return _listed(lines, "none in use yet")


def last_errors(snap: HeartbeatSnapshot, breakers: Sequence[BreakerSnapshot]) -> list[str]:
    """The most recent error of each part that keeps one: counters, the data store, breakers."""
    errors = [f"{c.label} counter: {c.last_error}" for c in snap.counters if c.last_error]
    if snap.store.last_error and snap.store.last_failure is not None:
        errors.append(f"data store ({ago(snap.store.last_failure, snap.taken_at)}): {snap.store.last_error}")
    errors += [f"breaker {b.name}: {b.last_error}" for b in breakers if b.last_error]
    return errors


def build_health_embed(
    snap: HeartbeatSnapshot,
    breakers: Sequence[BreakerSnapshot],
    fixes: Mapping[int, str | None],
) -> Embed:
    """The `/health` embed for a fresh heartbeat snapshot and every breaker (closed ones included)."""
    m, now = snap.metrics, snap.taken_at
    description = HEALTH_LINE[snap.health]
    if snap.problems:
        description += ": " + "; ".join(snap.problems[:MAX_LISTED])
    store = (
        f"last write {ago(snap.store.last_success, now)}, {snap.store.consecutive_failures} failures in a row"
    )
    alerts = [f"⚠️ {a.title}: {a.value} (since {ago(a.since, now)})" for a in snap.alerts]
    fields = [
        embed_field("Uptime", human_duration(m.uptime_s)),
        embed_field("CPU", f"{m.cpu_percent:.1f} %"),
        embed_field("Memory", f"{m.rss_mb:,.1f} MB ({m.rss_percent:.1f} %)"),
        embed_field("Disk (DATA_DIR)", f"{m.disk_percent:.1f} %"),
        embed_field("Latency", "unknown" if m.latency_ms is None else f"{m.latency_ms:,.0f} ms"),
        embed_field("Gateway", "connected" if snap.connected else "disconnected"),
        embed_field(
            "Today", f"{snap.joins:,} joins, {snap.leaves:,} leaves, {snap.bans:,} bans", inline=False
        ),
        *(
            [counters_summary(snap.counters, now)]
            if len(snap.counters) > DETAILED_COUNTERS
            else (
                embed_field(f"{c.label} counter", counter_text(c, fixes.get(c.channel_id), now))
                for c in snap.counters
            )
        ),
        embed_field("Circuit breakers", breakers_text(breakers), inline=False),
        embed_field("Data store", store, inline=False),
        embed_field("Alerts", _listed(alerts, "none"), inline=False),
        embed_field("Last errors", _listed(last_errors(snap, breakers), "none"), inline=False),
    ]
    return Embed(
        title="🩺 StatsBot health",
        description=clip(description, 500),
        color=HEALTH_COLOR[snap.health],
        fields=fields,
        timestamp=now,
    )
