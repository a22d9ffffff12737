"""Start-up and shut-down notices in the heartbeat channel."""

from __future__ import annotations

from datetime import datetime

from src import __version__
from src.core.config import Settings
from src.types.models import Embed, EmbedField
from src.types.ports import Clock, DiscordPort
from src.utils.logging import get_logger
from src.utils.text import clip, describe_error, human_duration

# The settings worth seeing when the bot starts; everything else is in `python -m src config`.
# An allow-list, so a secret added to Settings later can never end up in a channel.
SUMMARY_KEYS = (
    "GUILD_ID",
    "MEMBER_COUNT_CHANNEL_ID",
    "ONLINE_COUNT_CHANNEL_ID",
    "BAN_COUNT_CHANNEL_ID",
    "STATS_CHANNEL_ID",
    "HEARTBEAT_CHANNEL_ID",
    "ALERT_CHANNEL_ID",
    "UPDATE_INTERVAL",
    "HEARTBEAT_INTERVAL",
    "HEARTBEAT_MODE",
    "PRESENCE_UPDATE_INTERVAL",
    "TIMEZONE",
    "DAILY_REPORT_TIME",
    "WEEKLY_REPORT_DAY",
    "MEMBERS_INTENT",
)
START_COLOR = 0x2ECC71
STOP_COLOR = 0x95A5A6


class LifecycleNotifier:
    """Posts a notice when the bot starts and when it stops gracefully (if NOTIFY_LIFECYCLE is on)."""

    def __init__(
        self, settings: Settings, clock: Clock, port: DiscordPort, *, version: str = __version__
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._port = port
        self._version = version
        self._started_at: datetime | None = None
        self._log = get_logger(__name__, service="monitoring")

    async def start(self) -> None:
        """Post the start-up notice."""
        self._started_at = self._clock.now()
        await self._notify(self.startup_embed(), "startup")

    async def stop(self, reason: str = "graceful shutdown") -> None:
        """Post the shut-down notice."""
        await self._notify(self.shutdown_embed(reason), "shutdown")

    def startup_embed(self) -> Embed:
        """The start-up notice: version and a summary of the configuration."""
        shown = self._settings.describe()
        summary = "\n".join(f"{key}: {shown[key]}" for key in SUMMARY_KEYS if key in shown)
        return Embed(
            title=f"🚀 StatsBot v{self._version} started",
            description="The bot is up; the status message follows.",
            color=START_COLOR,
            fields=[EmbedField(name="Configuration", value=clip(self._scrub(summary), 1024))],
            footer=f"StatsBot v{self._version}",
            timestamp=self._clock.now(),
        )

    def shutdown_embed(self, reason: str) -> Embed:
        """The shut-down notice: why, and how long the bot ran."""
        fields = [EmbedField(name="Reason", value=clip(self._scrub(reason) or "-", 1024), inline=True)]
        if self._started_at is not None:
            ran = (self._clock.now() - self._started_at).total_seconds()
            fields.append(EmbedField(name="Ran for", value=human_duration(ran), inline=True))
        return Embed(
            title=f"🛑 StatsBot v{self._version} stopping",
            color=STOP_COLOR,
            fields=fields,
            footer=f"StatsBot v{self._version}",
            timestamp=self._clock.now(),
        )

    def _scrub(self, text: str) -> str:
        """Remove the token should it ever reach a notice (e.g. inside a shutdown reason)."""
        token = self._settings.bot_token.get_secret_value()
        return text.replace(token, "[redacted]") if token else text

    async def _notify(self, embed: Embed, which: str) -> None:
        """Send a notice; a failure is logged, never raised, so it cannot block start or stop."""
        if not self._settings.notify_lifecycle:
            return
        try:
            await self._port.send_message(self._settings.heartbeat_channel_id, embed)
        except Exception as exc:
            self._log.warning("lifecycle.notice_failed", notice=which, error=self._scrub(describe_error(exc)))
            return
        self._log.info("lifecycle.notice_posted", notice=which)
