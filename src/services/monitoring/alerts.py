"""Alerts: post once when a health condition starts and once when it clears, without spamming."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from src.core.config import Settings
from src.types.models import Alert, AlertKind, BreakerState, Embed, EmbedField, SystemMetrics
from src.types.ports import BreakerSource, Clock, DiscordPort, JsonStore, MetricsSource, StatsView
from src.utils.logging import get_logger
from src.utils.loop import Loop
from src.utils.text import clip, describe_error, human_duration

# Memory and disk must fall this far below their threshold before an alert clears, so a value
# hovering at the threshold raises once instead of flapping.
CLEAR_RATIO = 0.9
RAISED_COLOR = 0xE67E22
RECOVERED_COLOR = 0x2ECC71


@dataclass(frozen=True, slots=True)
class _Reading:
    """One condition as evaluated now; `cleared` is stricter than `not triggered` where hysteresis applies."""

    kind: AlertKind
    subject: str | None
    title: str
    triggered: bool
    cleared: bool
    value: str
    threshold: str

    @property
    def key(self) -> str:
        """Identity of the condition, the same as the key of the Alert it raises."""
        return f"{self.kind.value}:{self.subject}" if self.subject else self.kind.value


class AlertMonitor:
    """Checks memory, disk, stuck counters, store writes, the gateway and circuit breakers on a timer."""

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
        check_interval: float = 30.0,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._port = port
        self._store = store
        self._stats = stats
        self._sampler = sampler
        self._breakers = breakers  # re-iterated every check, e.g. a BreakerRegistry
        self._active: dict[str, Alert] = {}
        self._last_raise_post: dict[str, float] = {}
        self._disconnected_since: float | None = None
        self._loop = Loop("alerts", self.check, clock=clock, interval=check_interval)
        self._log = get_logger(__name__, service="monitoring")

    @property
    def channel_id(self) -> int:
        """Where alerts post: ALERT_CHANNEL_ID, or the heartbeat channel when it is not set."""
        return self._settings.alert_channel_id or self._settings.heartbeat_channel_id

    async def start(self) -> None:
        """Start checking every `check_interval` seconds, the first check at once."""
        self._loop.start()

    async def stop(self) -> None:
        """Let a check in progress finish (so its notices go out), then stop the loop."""
        await self._loop.stop()

    def active_alerts(self) -> list[Alert]:
        """The alerts currently raised, oldest first."""
        return sorted(self._active.values(), key=lambda alert: alert.since)

    async def check(self) -> list[Alert]:
        """Sample the metrics and evaluate every condition once; return the active alerts."""
        metrics = await self._sampler.sample(self._port.latency())
        return await self.evaluate(metrics)

    async def evaluate(self, metrics: SystemMetrics) -> list[Alert]:
        """Evaluate every condition against `metrics`, posting raised and recovered notices."""
        readings = {reading.key: reading for reading in self._readings(metrics)}
        for key in [k for k in self._active if k not in readings]:
            # The subject went away (a breaker no longer registered): nothing is wrong with it any more.
            await self._recover(self._active.pop(key), "no longer reported")
        for key, reading in readings.items():
            alert = self._active.get(key)
            if alert is None:
                if not reading.triggered:
                    continue
                alert = self._raise(reading)
            elif reading.cleared:
                del self._active[key]
                await self._recover(alert, reading.value)
                continue
            else:
                alert = replace(alert, value=reading.value)
            self._active[key] = await self._announce(alert)
        return self.active_alerts()

    def _readings(self, metrics: SystemMetrics) -> list[_Reading]:
        """Evaluate each condition now."""
        s = self._settings
        readings = [
            _Reading(
                AlertKind.MEMORY,
                None,
                "Memory use is high",
                triggered=metrics.rss_mb > s.alert_memory_mb,
                cleared=metrics.rss_mb < s.alert_memory_mb * CLEAR_RATIO,
                value=f"{metrics.rss_mb:,.1f} MB",
                threshold=f"{s.alert_memory_mb:,.0f} MB",
            ),
            _Reading(
                AlertKind.DISK,
                None,
                "Disk of DATA_DIR is filling up",
                triggered=metrics.disk_percent > s.alert_disk_percent,
                cleared=metrics.disk_percent < s.alert_disk_percent * CLEAR_RATIO,
                value=f"{metrics.disk_percent:.1f} %",
                threshold=f"{s.alert_disk_percent:g} %",
            ),
            self._store_reading(),
            self._gateway_reading(),
        ]
        readings.extend(self._counter_readings())
        readings.extend(self._breaker_readings())
        return readings

    def _store_reading(self) -> _Reading:
        health = self._store.health
        failures = health.consecutive_failures
        value = f"{failures} consecutive write failures"
        if failures and health.last_error:
            value += f" (last: {clip(health.last_error, 300)})"
        return _Reading(
            AlertKind.STORE,
            None,
            "Data store cannot write",
            triggered=failures >= self._settings.alert_store_failures,
            cleared=failures == 0,  # only a successful write proves the store works again
            value=value,
            threshold=f"{self._settings.alert_store_failures} failures",
        )

    def _gateway_reading(self) -> _Reading:
        connected = self._port.is_connected()
        mono = self._clock.monotonic()
        if connected:
            self._disconnected_since = None
        elif self._disconnected_since is None:
            self._disconnected_since = mono
        down = 0.0 if self._disconnected_since is None else mono - self._disconnected_since
        return _Reading(
            AlertKind.DISCONNECT,
            None,
            "Gateway disconnected",
            triggered=down > self._settings.alert_disconnect_s,
            cleared=connected,
            value="connected" if connected else f"disconnected for {human_duration(down)}",
            threshold=human_duration(self._settings.alert_disconnect_s),
        )

    def _counter_readings(self) -> list[_Reading]:
        now = self._clock.now()
        limit = self._settings.alert_counter_stale_s
        readings = []
        for counter in self._stats.counter_states():
            since = counter.pending_since
            waited = 0.0 if since is None else (now - since).total_seconds()
            readings.append(
                _Reading(
                    AlertKind.COUNTER_STALE,
                    counter.label.lower(),
                    f"{counter.label} counter is not updating",
                    triggered=waited > limit,
                    cleared=waited <= limit,
                    value="up to date" if since is None else f"new value waiting {human_duration(waited)}",
                    threshold=human_duration(limit),
                )
            )
        return readings

    def _breaker_readings(self) -> list[_Reading]:
        readings = []
        for breaker in self._breakers:
            snap = breaker.snapshot()
            value = f"{snap.state.value}, {snap.consecutive_failures} failures"
            if snap.state is BreakerState.OPEN:
                value += f", next try in {human_duration(snap.retry_in)}"
            if snap.last_error:
                value += f"; last error: {clip(snap.last_error, 300)}"
            readings.append(
                _Reading(
                    AlertKind.BREAKER,
                    snap.name,
                    f"Circuit breaker '{snap.name}' is open",
                    triggered=snap.state is BreakerState.OPEN,
                    cleared=snap.state is BreakerState.CLOSED,  # half-open has not proved recovery yet
                    value=value,
                    threshold=BreakerState.CLOSED.value,
                )
            )
        return readings

    def _raise(self, reading: _Reading) -> Alert:
        """Record a condition that just started."""
        alert = Alert(
            kind=reading.kind,
            subject=reading.subject,
            title=reading.title,
            value=reading.value,
            threshold=reading.threshold,
            since=self._clock.now(),
        )
        self._log.warning("alert.raised", alert=alert.key, value=alert.value, threshold=alert.threshold)
        return alert

    async def _announce(self, alert: Alert) -> Alert:
        """Post the raised notice unless it was posted already or the kind is cooling down."""
        if alert.posted:
            return alert
        last = self._last_raise_post.get(alert.key)
        mono = self._clock.monotonic()
        if last is not None and mono - last < self._settings.alert_cooldown_s:
            return alert  # still shown by active_alerts(); posted once the cool-down ends if it lasts
        embed = Embed(
            title=clip(f"⚠️ {alert.title}", 256),
            description="StatsBot noticed a problem that needs attention.",
            color=RAISED_COLOR,
            fields=[
                EmbedField(name="Value", value=clip(alert.value, 1024), inline=True),
                EmbedField(name="Threshold", value=clip(alert.threshold, 1024), inline=True),
            ],
            timestamp=self._clock.now(),
        )
        if not await self._post(embed, alert.key):
            return alert  # retried on the next check
        self._last_raise_post[alert.key] = mono
        return replace(alert, posted=True)

    async def _recover(self, alert: Alert, value: str) -> None:
        """Log a cleared condition and post the recovery if its alert had been posted."""
        lasted = (self._clock.now() - alert.since).total_seconds()
        self._log.info("alert.recovered", alert=alert.key, value=value, duration_s=round(lasted, 1))
        if not alert.posted:
            return  # nobody was told it started, so there is nothing to call off
        embed = Embed(
            title=clip(f"✅ Recovered: {alert.title}", 256),
            color=RECOVERED_COLOR,
            fields=[
                EmbedField(name="Now", value=clip(value, 1024), inline=True),
                EmbedField(name="Lasted", value=human_duration(lasted), inline=True),
            ],
            timestamp=self._clock.now(),
        )
        await self._post(embed, alert.key)

    async def _post(self, embed: Embed, key: str) -> bool:
        """Send `embed` to the alert channel; False (and logged) when Discord refused."""
        try:
            await self._port.send_message(self.channel_id, embed)
        except Exception as exc:
            self._log.warning("alert.post_failed", alert=key, error=describe_error(exc))
            return False
        return True
