"""What the heartbeat and `/health` share: the health levels, their colours and lines, and the snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from src.types.models import Alert, BreakerSnapshot, ChannelStats, EmbedField, StoreHealth, SystemMetrics
from src.utils.text import clip

FIELD_MAX = 1024  # Discord rejects an embed field value longer than this


class HealthLevel(StrEnum):
    """Overall health, shown as the embed colour."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


HEALTH_COLOR = {
    HealthLevel.HEALTHY: 0x2ECC71,
    HealthLevel.DEGRADED: 0xF1C40F,
    HealthLevel.UNHEALTHY: 0xE74C3C,
}
HEALTH_LINE = {
    HealthLevel.HEALTHY: "🟢 All systems normal",
    HealthLevel.DEGRADED: "🟡 Degraded",
    HealthLevel.UNHEALTHY: "🔴 Needs attention",
}


@dataclass(frozen=True, slots=True)
class HeartbeatSnapshot:
    """The figures of the last heartbeat, for the status message and `/health`."""

    taken_at: datetime
    metrics: SystemMetrics
    connected: bool
    counters: tuple[ChannelStats, ...]
    joins: int
    leaves: int
    bans: int
    store: StoreHealth
    breakers: tuple[BreakerSnapshot, ...]  # only those not closed
    alerts: tuple[Alert, ...]
    health: HealthLevel
    problems: tuple[str, ...]


def embed_field(name: str, value: str, *, inline: bool = True) -> EmbedField:
    """Return an embed field whose value fits Discord's limit; an empty value shows as "-"."""
    # Discord rejects an empty field value, and one over-long error must not cost the whole embed.
    return EmbedField(name=name, value=clip(value or "-", FIELD_MAX), inline=inline)


DETAILED_COUNTERS = 4  # more counters than this are listed one line each in a single field


def counters_summary(counters: Sequence[ChannelStats], now: datetime) -> EmbedField:
    """One field listing every counter on one line each: what it shows, and whether it is paused or failing.

    With many counters a field per counter would pass Discord's 25 fields and 6,000 characters.
    """
    lines = []
    for counter in counters:
        state = "⏸️ paused" if counter.paused_reason else "⚠️ failing" if counter.last_error else "✅"
        pending = ""
        if counter.pending_name and not counter.paused_reason and counter.next_rename_at is not None:
            pending = (
                f" (next <t:{int(counter.next_rename_at.timestamp())}:R>)"  # Discord shows "in 3 minutes"
            )
        lines.append(f"{state} `{clip(counter.shown_name or '(not shown yet)', 60)}`{pending}")
    text = "\n".join(lines) if lines else "none"
    return embed_field(f"Counters ({len(counters)})", text, inline=False)
