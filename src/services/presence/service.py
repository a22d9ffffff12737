"""The bot's presence: a Watching text rotating through the counts, and a status that shows trouble."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from src.core.config import Settings
from src.types.models import CounterKind
from src.types.ports import Clock, DiscordPort, StatsView
from src.utils.logging import get_logger
from src.utils.loop import Loop
from src.utils.text import describe_error

# Discord closes the gateway when a connection sends more than 5 presence updates in 20 seconds.
PRESENCE_LIMIT = 5
PRESENCE_WINDOW = 20.0
STOPPING_TEXT = "💤 Shutting down"  # a graceful stop; the bot cannot know whether it will be restarted
ROTATION = (CounterKind.MEMBERS, CounterKind.ONLINE, CounterKind.BANS)

Presence = tuple[str, str | None]


class PresenceRateLimiter:
    """Allows at most `limit` presence updates in any `window` seconds of clock time (a sliding window)."""

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"need limit >= 1 and window > 0, got limit={limit} window={window}")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._times: deque[float] = deque()

    def wait_time(self) -> float:
        """Seconds until one more update is allowed (0 when allowed now)."""
        now = self._clock.monotonic()
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) < self.limit:
            return 0.0
        return self._times[0] + self.window - now

    def try_acquire(self) -> bool:
        """Record an update and return True if the window has room, else return False."""
        if self.wait_time() > 0:
            return False
        self._times.append(self._clock.monotonic())
        return True


class PresenceService:
    """Every PRESENCE_UPDATE_INTERVAL seconds, shows the next count as a Watching text."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        port: DiscordPort,
        stats: StatsView,
        store_health: Callable[[], bool],
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._port = port
        self._stats = stats
        self._store_health = store_health
        self._templates = {
            CounterKind.MEMBERS: settings.presence_members_template,
            CounterKind.ONLINE: settings.presence_online_template,
            CounterKind.BANS: settings.presence_bans_template,
        }
        self._limiter = PresenceRateLimiter(PRESENCE_LIMIT, PRESENCE_WINDOW, clock)
        self._send_lock = asyncio.Lock()
        self._next = 0
        self._current: Presence = ("online", None)  # what Discord shows before we set anything
        self._shutting_down = False
        self._loop = Loop("presence", self.update, clock=clock, interval=settings.presence_update_interval)
        self._log = get_logger(__name__, service="presence")

    def current(self) -> Presence:
        """The (status, text) last sent to Discord."""
        return self._current

    async def start(self) -> None:
        """Start rotating; the first update goes out at once."""
        if not self._loop.running:
            self._shutting_down = False
            self._loop.start()

    async def stop(self) -> None:
        """Let an update in progress finish, then stop rotating and wait for the loop to end."""
        # Not cancel(): an update cut off after Discord took it would leave current() out of step with
        # what Discord shows.
        await self._loop.stop()

    async def update(self) -> bool:
        """Show the next count in the rotation; True if a presence update was sent."""
        if self._shutting_down:
            return False
        status = "online" if self._store_health() else "dnd"
        return await self._set(status, self._next_text(), wait=False)

    async def shutting_down(self) -> None:
        """Stop rotating and show idle "💤 Shutting down" (waiting for the rate limit if needed)."""
        self._shutting_down = True
        await self.stop()
        await self._set("idle", STOPPING_TEXT, wait=True)

    def _next_text(self) -> str | None:
        """Advance the rotation to the next counter with a known value and render its template."""
        counts = self._stats.current_counts()
        for offset in range(len(ROTATION)):
            index = (self._next + offset) % len(ROTATION)
            value = counts.get(ROTATION[index])
            if value is not None:
                self._next = (index + 1) % len(ROTATION)
                return self._templates[ROTATION[index]].format(count=value)
        return None  # nothing known yet: keep just the status

    async def _set(self, status: str, text: str | None, *, wait: bool) -> bool:
        """Send (status, text) unless unchanged or over the 5-per-20 s limit (then wait or skip)."""
        async with self._send_lock:
            wanted = (status, text)
            if wanted == self._current:
                self._log.debug("presence.unchanged", status=status, text=text)
                return False
            while not self._limiter.try_acquire():
                if not wait:
                    self._log.info("presence.rate_limited", status=status, text=text)
                    return False
                await self._clock.sleep(self._limiter.wait_time())
            try:
                await self._port.set_presence(status, text)
            except Exception as exc:
                # The attempt still counts against the limit: it may have reached the gateway.
                self._log.warning("presence.update_failed", error=describe_error(exc))
                return False
            self._current = wanted
            self._log.info("presence.updated", status=status, text=text)
            return True
