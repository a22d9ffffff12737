"""The heartbeat: one status embed kept current in the heartbeat channel, plus a metrics log line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from pydantic import BaseModel

from src import __version__
from src.core.config import Settings
from src.core.exceptions import StoreError
from src.services.monitoring.health import (
    DETAILED_COUNTERS,
    HEALTH_COLOR,
    HEALTH_LINE,
    HealthLevel,
    HeartbeatSnapshot,
    counters_summary,
    embed_field,
)
from src.types.models import (
    SCHEMA_VERSION,
    Alert,
    BreakerSnapshot,
    BreakerState,
    ChannelStats,
    Embed,
    EmbedField,
    EventKind,
    StoreHealth,
    SystemMetrics,
)
from src.types.ports import (
    AlertSource,
    BreakerSource,
    Clock,
    DiscordPort,
    JsonStore,
    MetricsSource,
    StatsView,
)
from src.utils.logging import get_logger
from src.utils.loop import Loop
from src.utils.text import ago, clip, describe_error, human_duration

STATE_FILE = "state/heartbeat.json"
# Amber once a figure is this close to its alert threshold, so trouble shows before the alert fires.
NEAR_THRESHOLD = 0.9
SLOW_LATENCY_MS = 1000.0
# Caps on lists and the description keep the whole embed below Discord's 6000-character total even
# when many breakers are open and every counter carries a long error.
MAX_LISTED = 10
MAX_DESCRIPTION = 500
# While the published status predates the counters' first names (an hour of "changed never" otherwise),
# compare again this often; a look costs no request, and the status is published once when they show.
SETTLING_CHECK = 5.0
_DUE_TOLERANCE = 0.001  # clock arithmetic rounds; a beat this close to its time is due


class HeartbeatState(BaseModel):
    """What `state/heartbeat.json` holds: the status message to edit after a restart."""

    schema_version: int = SCHEMA_VERSION
    channel_id: int
    message_id: int


class HeartbeatService:
    """Every HEARTBEAT_INTERVAL seconds, refreshes the status embed (edit or post mode) and logs metrics."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        port: DiscordPort,
        store: JsonStore,
        stats: StatsView,
        sampler: MetricsSource,
        *,
        breakers: Iterable[BreakerSource] = (),
        alerts: AlertSource | None = None,
        version: str = __version__,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._port = port
        self._store = store
        self._stats = stats
        self._sampler = sampler
        self._breakers = breakers  # re-iterated every beat, e.g. a BreakerRegistry
        self._alerts = alerts
        self._version = version
        self._latest: HeartbeatSnapshot | None = None
        self._state_loaded = False
        self._message_id: int | None = None
        self._persisted_id: int | None = None
        self._next_beat_at: float | None = None  # monotonic; None until the first beat
        self._loop = Loop("heartbeat", self._tick, clock=clock, interval=self._until_next_tick)
        self._log = get_logger(__name__, service="monitoring")

    @property
    def channel_id(self) -> int:
        """The heartbeat channel."""
        return self._settings.heartbeat_channel_id

    @property
    def message_id(self) -> int | None:
        """The id of the bot's current status message, if one is known."""
        return self._message_id

    async def start(self) -> None:
        """Start beating: the first status goes out at once, then every interval."""
        self._loop.start()

    async def stop(self) -> None:
        """Let a beat in progress finish, then stop the loop."""
        # Not cancel(): ending a beat between post mode's "post new" and "delete previous" would leave two
        # status messages in the channel.
        await self._loop.stop()

    async def _tick(self) -> None:
        """Beat when the interval is up, or once as soon as the counters first show their values."""
        now = self._clock.monotonic()
        due = self._next_beat_at is None or now >= self._next_beat_at - _DUE_TOLERANCE
        if due or (self._awaiting_counters() and _settled(self._stats.counter_states())):
            self._next_beat_at = now + self._settings.heartbeat_interval
            await self.beat()

    def _until_next_tick(self) -> float:
        """Seconds to the next beat; while the status shows counters not yet renamed, look again sooner."""
        remaining = max(0.0, (self._next_beat_at or 0.0) - self._clock.monotonic())
        return min(remaining, SETTLING_CHECK) if self._awaiting_counters() else remaining

    def _awaiting_counters(self) -> bool:
        """Whether the published status was taken before every counter showed its value."""
        return self._latest is not None and not _settled(self._latest.counters)

    def latest(self) -> HeartbeatSnapshot | None:
        """The figures of the last heartbeat, or None before the first one."""
        return self._latest

    async def beat(self) -> HeartbeatSnapshot:
        """Take a snapshot, log it, and publish it to the heartbeat channel."""
        snapshot = await self.snapshot()
        self._latest = snapshot
        self._log_metrics(snapshot)
        embed = self.render(snapshot)
        try:
            await self._publish(embed)
        except Exception as exc:
            # Discord may be down; the next interval tries again with fresh figures.
            self._log.warning("heartbeat.publish_failed", error=describe_error(exc))
        return snapshot

    async def snapshot(self) -> HeartbeatSnapshot:
        """Gather the current figures without publishing them."""
        metrics = await self._sampler.sample(self._port.latency())
        today = self._stats.today()
        breakers = tuple(
            snap for snap in (b.snapshot() for b in self._breakers) if snap.state is not BreakerState.CLOSED
        )
        alerts = tuple(self._alerts.active_alerts()) if self._alerts is not None else ()
        connected = self._port.is_connected()
        counters = tuple(self._stats.counter_states())
        store = replace(self._store.health)  # a copy: the store keeps updating its own
        health, problems = self._assess(metrics, connected, counters, store, breakers, alerts)
        return HeartbeatSnapshot(
            taken_at=self._clock.now(),
            metrics=metrics,
            connected=connected,
            counters=counters,
            joins=today.count(EventKind.JOIN),
            leaves=today.count(EventKind.LEAVE),
            bans=today.count(EventKind.BAN),
            store=store,
            breakers=breakers,
            alerts=alerts,
            health=health,
            problems=problems,
        )

    def render(self, snap: HeartbeatSnapshot) -> Embed:
        """Build the status embed for `snap`."""
        m = snap.metrics
        now = snap.taken_at
        fields = [
            embed_field("Uptime", human_duration(m.uptime_s)),
            embed_field("CPU", f"{m.cpu_percent:.1f} %"),
            embed_field("Memory", f"{m.rss_mb:,.1f} MB ({m.rss_percent:.1f} %)"),
            embed_field("System memory", f"{m.system_memory_percent:.1f} %"),
            embed_field("Disk (DATA_DIR)", f"{m.disk_percent:.1f} %"),
            embed_field("Threads", str(m.threads)),
            embed_field("Latency", "unknown" if m.latency_ms is None else f"{m.latency_ms:,.0f} ms"),
            embed_field("Gateway", "connected" if snap.connected else "disconnected"),
        ]
        if len(snap.counters) > DETAILED_COUNTERS:
            fields.append(counters_summary(snap.counters, now))
        else:
            fields.extend(_counter_field(counter, now) for counter in snap.counters)
        fields.extend(
            [
                embed_field("Joins today", f"{snap.joins:,}"),
                embed_field("Leaves today", f"{snap.leaves:,}"),
                embed_field("Bans today", f"{snap.bans:,}"),
                embed_field("Data store", _store_text(snap.store, now), inline=False),
                embed_field("Circuit breakers", _breakers_text(snap.breakers), inline=False),
                embed_field("Alerts", _alerts_text(snap.alerts), inline=False),
            ]
        )
        description = HEALTH_LINE[snap.health]
        if snap.problems:
            description += ": " + "; ".join(snap.problems[:MAX_LISTED])
        return Embed(
            title="📊 StatsBot status",
            description=clip(description, MAX_DESCRIPTION),
            color=HEALTH_COLOR[snap.health],
            fields=fields,
            footer=f"StatsBot v{self._version}",
            timestamp=now,
        )

    def _assess(
        self,
        metrics: SystemMetrics,
        connected: bool,
        counters: tuple[ChannelStats, ...],
        store: StoreHealth,
        breakers: tuple[BreakerSnapshot, ...],
        alerts: tuple[Alert, ...],
    ) -> tuple[HealthLevel, tuple[str, ...]]:
        """Rate overall health: red for an outage or active alert, amber for warning signs."""
        s = self._settings
        red: list[str] = []
        amber: list[str] = []
        if not connected:
            red.append("gateway disconnected")
        red.extend(f"alert: {alert.title}" for alert in alerts)
        red.extend(f"breaker {b.name} open" for b in breakers if b.state is BreakerState.OPEN)
        amber.extend(
            f"breaker {b.name} {b.state.value}" for b in breakers if b.state is not BreakerState.OPEN
        )
        if not store.ok:
            amber.append(f"{store.consecutive_failures} store write failure(s)")
        amber.extend(
            f"{c.label} counter {'paused' if c.paused_reason else 'failing'}"
            for c in counters
            if c.paused_reason or c.last_error
        )
        if metrics.rss_mb > s.alert_memory_mb * NEAR_THRESHOLD:
            amber.append("memory near limit")
        if metrics.disk_percent > s.alert_disk_percent * NEAR_THRESHOLD:
            amber.append("disk near limit")
        if metrics.latency_ms is not None and metrics.latency_ms > SLOW_LATENCY_MS:
            amber.append("slow gateway")
        if red:
            return HealthLevel.UNHEALTHY, tuple(red + amber)
        if amber:
            return HealthLevel.DEGRADED, tuple(amber)
        return HealthLevel.HEALTHY, ()

    def _log_metrics(self, snap: HeartbeatSnapshot) -> None:
        self._log.info(
            "heartbeat.metrics",
            **snap.metrics.model_dump(),
            connected=snap.connected,
            joins=snap.joins,
            leaves=snap.leaves,
            bans=snap.bans,
            store_failures=snap.store.consecutive_failures,
            breakers_not_closed=[b.name for b in snap.breakers],
            alerts=[a.key for a in snap.alerts],
            health=snap.health.value,
        )

    async def _publish(self, embed: Embed) -> None:
        """Edit the status message (edit mode) or replace it with a new one (post mode)."""
        await self._load_state()
        if self._settings.heartbeat_mode == "edit" and self._message_id is not None:
            if await self._port.edit_message(self.channel_id, self._message_id, embed):
                await self._save_state()  # catches up if an earlier save failed
                return
            self._log.info("heartbeat.message_missing", message_id=self._message_id)
            self._message_id = None
        previous = self._message_id
        self._message_id = await self._port.send_message(self.channel_id, embed)
        self._log.info("heartbeat.posted", message_id=self._message_id, mode=self._settings.heartbeat_mode)
        await self._save_state()
        if previous is not None:  # post mode: only the newest status stays in the channel
            try:
                await self._port.delete_message(self.channel_id, previous)
            except Exception as exc:
                self._log.warning("heartbeat.delete_failed", message_id=previous, error=describe_error(exc))

    async def _load_state(self) -> None:
        """Read the persisted message id once, so a restart keeps using the same message."""
        if self._state_loaded:
            return
        try:
            state = await self._store.read(STATE_FILE, validate=HeartbeatState.model_validate)
        except StoreError as exc:
            self._log.warning("heartbeat.state_unreadable", error=str(exc))
            state = None
        self._state_loaded = True
        if isinstance(state, HeartbeatState) and state.channel_id == self.channel_id:
            # A message in a channel we no longer use is left alone; a new one is posted here.
            self._message_id = self._persisted_id = state.message_id

    async def _save_state(self) -> None:
        """Persist the current message id if it changed; a failure is retried on the next beat."""
        if self._message_id is None or self._message_id == self._persisted_id:
            return
        state = HeartbeatState(channel_id=self.channel_id, message_id=self._message_id)
        try:
            await self._store.write(STATE_FILE, state.model_dump())
        except Exception as exc:
            self._log.warning("heartbeat.state_save_failed", error=describe_error(exc))
            return
        self._persisted_id = self._message_id


def _settled(counters: Iterable[ChannelStats]) -> bool:
    """Whether each counter shows its newest value (or is paused, which the status explains)."""
    return all(
        c.paused_reason is not None or (c.value is not None and c.pending_name is None) for c in counters
    )


def _counter_field(counter: ChannelStats, now: datetime) -> EmbedField:
    """One counter: the name shown in Discord, when it last changed, and what is wrong with it."""
    lines = [counter.shown_name or "(not shown yet)", f"changed {ago(counter.last_renamed, now)}"]
    if counter.pending_name and counter.pending_name != counter.shown_name:
        lines.append(f"next: {counter.pending_name}")
    if counter.paused_reason:
        lines.append(f"⏸️ paused: {clip(counter.paused_reason, 200)}")
    if counter.last_error:
        lines.append(f"⚠️ {clip(counter.last_error, 200)}")
    return embed_field(f"{counter.label} counter", "\n".join(lines))


def _store_text(health: StoreHealth, now: datetime) -> str:
    text = f"last write {ago(health.last_success, now)}, {health.consecutive_failures} failures in a row"
    if health.consecutive_failures and health.last_error:
        text += f"\nlast error: {clip(health.last_error, 300)}"
    return text


def _breakers_text(breakers: tuple[BreakerSnapshot, ...]) -> str:
    if not breakers:
        return "all closed"
    lines = [
        f"{b.name}: {b.state.value}, retry in {human_duration(b.retry_in)}"
        + (f" ({clip(b.last_error, 80)})" if b.last_error else "")
        for b in breakers[:MAX_LISTED]
    ]
    if len(breakers) > MAX_LISTED:
        lines.append(f"… and {len(breakers) - MAX_LISTED} more")
    return "\n".join(lines)


def _alerts_text(alerts: tuple[Alert, ...]) -> str:
    if not alerts:
        return "none"
    lines = [f"⚠️ {alert.title}: {clip(alert.value, 80)}" for alert in alerts[:MAX_LISTED]]
    if len(alerts) > MAX_LISTED:
        lines.append(f"… and {len(alerts) - MAX_LISTED} more")
    return "\n".join(lines)
