"""One counter channel's worker: keeps the newest value and does the I/O the rename schedule decides.

The decision itself (`rename_schedule.next_rename`) and the pause policy (`counter_pause`) are pure; this
class only fetches the channel, renames it, records the rename in the budget and reports a snapshot.
Each channel has its own loop, so a 429 or an outage on one channel never delays another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from src.core.exceptions import PermanentDiscordError, RateLimitedError, StatsBotError
from src.services.stats.budget import RenameBudget
from src.services.stats.counter_pause import (
    Pause,
    pause_for_channel,
    pause_for_missing,
    pause_for_rejection,
)
from src.services.stats.rename_schedule import Drift, Rename, Threshold, next_rename
from src.services.stats.templates import CounterTemplate
from src.types.models import ChannelStats, CounterSpec
from src.types.ports import Clock, DiscordPort
from src.utils.backoff import Backoff
from src.utils.logging import get_logger
from src.utils.loop import Loop
from src.utils.text import describe_error

# Anything closer than this to its slot counts as due: clock arithmetic rounds to microseconds.
_DUE_TOLERANCE = 0.001


class CounterWorker:
    """Shows one counter's template, filled in with the newest values, in its channel's name."""

    def __init__(
        self,
        spec: CounterSpec,
        template: CounterTemplate,
        *,
        values: Callable[[], Mapping[str, int]],
        threshold: Threshold,
        port: DiscordPort,
        clock: Clock,
        budget: RenameBudget,
        save_budget: Callable[[], Awaitable[None]],
        backoff: Backoff,
        blocked: Pause | None = None,
    ) -> None:
        self.spec = spec
        self.channel_id = spec.channel_id
        self.template = template
        self._values = values
        self._threshold = threshold
        self._port = port
        self._clock = clock
        self._budget = budget
        self._save_budget = save_budget
        self._desired: str | None = None
        self._changed_at = clock.now()  # when the desired name last changed
        self._shown: str | None = None
        self._shown_values: dict[str, int] | None = None  # what the shown name says, if we wrote it
        self._checked = False  # the channel's current name is known, or it is paused
        self._blocked = blocked  # a pause no channel check can lift (its data cannot be had)
        self._pause: Pause | None = None
        self._last_error: str | None = None
        self._last_renamed: datetime | None = None
        self._pending_since: datetime | None = None
        self._log = get_logger(__name__, service="stats", counter=spec.label, channel_id=spec.channel_id)
        if blocked is not None:
            self._set_pause(blocked)
        self._loop = Loop(
            f"counter-{spec.channel_id}",
            self._iteration,
            clock=clock,
            interval=self._delay,
            backoff=backoff,
            immediate=False,
            on_error=self._on_error,
            wake_reschedules=True,  # a value that became noticeably wrong may take a free slot sooner
        )

    # --- values -------------------------------------------------------------------------------------

    @property
    def value(self) -> int | None:
        """Return the newest main value (None until one is known)."""
        return self._values().get(self.template.main_key)

    def refresh(self, values: Mapping[str, int] | None = None) -> None:
        """Re-render the name from the newest values (given, or read) and wake the worker if it changed.

        Never renames by itself. Called on every join during a raid: a name that did not change costs no wake.
        """
        desired = self.template.render(self._values() if values is None else values)
        if desired == self._desired:
            return
        self._desired = desired
        self._changed_at = self._clock.now()
        self._update_pending()
        self._loop.wake()

    def decision(self) -> Rename | None:
        """Return the schedule's answer for the newest values: rename to X at T, or None."""
        if self._pause is not None or self._desired is None:
            return None
        shows = self._showing(self._values())
        drift = (
            None
            if shows is None
            else Drift(self._threshold.noticeable(self._shown_values, shows), self._changed_at)
        )
        return next_rename(
            self._budget.rules,
            self._budget.timeline(self.channel_id, self._last_renamed),
            shown=self._shown,
            desired=self._desired,
            now=self._clock.now(),
            drift=drift,
        )

    def next_rename_at(self) -> datetime | None:
        """Return when the pending name will be shown, or None when nothing is pending or it is paused."""
        decision = self.decision()
        return None if decision is None else max(self._clock.now(), decision.at)

    def snapshot(self) -> ChannelStats:
        """Return a read-only view of this counter for the heartbeat, alerts and /health."""
        decision = self.decision()
        return ChannelStats(
            channel_id=self.channel_id,
            label=self.spec.label,
            key=self.template.main_key,
            template=self.spec.template,
            source=self.spec.source,
            value=self.value,
            shown_name=self._shown,
            pending_name=self._pending_name(),
            last_renamed=self._last_renamed or self._budget.last_recorded(self.channel_id),
            next_rename_at=None if decision is None else max(self._clock.now(), decision.at),
            pending_since=self._pending_since,
            paused_reason=self._pause.reason if self._pause else None,
            paused_fix=self._pause.fix if self._pause else None,
            last_error=self._last_error,
        )

    # --- checking the channel -----------------------------------------------------------------------

    async def check(self) -> None:
        """Fetch the channel and pause it if it cannot show a counter; a transient failure is logged."""
        try:
            await self._check()
        except Exception as exc:
            # The worker retries with backoff before its first rename.
            self._last_error = describe_error(exc)
            self._log.warning("counter.preflight_failed", error=self._last_error)

    async def resume(self) -> str | None:
        """Re-check a paused channel, resuming it if fixed; return the pause reason that is left."""
        if self._pause is None or self._pause is self._blocked:
            return None if self._pause is None else self._pause.reason
        await self.check()
        return self._pause.reason if self._pause else None

    async def _check(self) -> None:
        """Fetch the channel; pause it on a permanent error; raise on a transient one.

        A blocked counter is still looked at, so its status shows the name the channel really has.
        """
        try:
            info = await self._port.fetch_channel(self.channel_id)
        except PermanentDiscordError as exc:
            if self._blocked is None:
                self._set_pause(pause_for_missing(self.channel_id, self.spec.setting, exc))
            return
        if info.name != self._shown:
            self._shown, self._shown_values = info.name, None  # renamed by someone else: wrong by how much?
        self._checked = True
        if self._blocked is not None:
            return
        pause = pause_for_channel(info)
        if pause is None and self._pause is not None:
            self._log.info("counter.resumed", previous_reason=self._pause.reason)
            self._pause = None
            self._loop.wake()
        elif pause is not None:
            self._set_pause(pause)
        self._update_pending()

    def block(self, pause: Pause) -> None:
        """Pause until `unblock`: the counter's data cannot be had (a channel check does not lift it)."""
        self._blocked = pause
        self._set_pause(pause)

    def unblock(self, reason: str) -> None:
        """Lift a `block` of `reason` (its data is back); the channel is checked again before renaming."""
        if self._blocked is None or self._blocked.reason != reason:
            return
        self._blocked = None
        if self._pause is not None and self._pause.reason == reason:
            self._log.info("counter.resumed", previous_reason=reason)
            self._pause, self._checked = None, False
        self._update_pending()
        self._loop.wake()

    def _set_pause(self, pause: Pause) -> None:
        """Stop renaming until resumed; logged once per reason so logs are not flooded."""
        self._checked = True
        if pause.error is not None:
            self._last_error = pause.error
        if self._pause is not None and self._pause.reason == pause.reason:
            return
        self._pause = pause
        self._log.error("counter.paused", reason=pause.reason, fix=pause.fix, error=pause.error)

    # --- the loop -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start renaming whenever the budget allows."""
        self._loop.start()

    async def stop(self) -> None:
        """Stop at once; a rename in flight is counted against the budget."""
        await self._loop.cancel()

    def _delay(self) -> float | None:
        """Seconds until the next iteration is due; None waits for a new value or a resume."""
        if self._pause is not None:
            return None
        if not self._checked:
            return 0.0
        decision = self.decision()
        if decision is None:
            return None
        return max(0.0, (decision.at - self._clock.now()).total_seconds())

    async def _iteration(self) -> None:
        """Check the channel if needed, else rename it if the schedule says now."""
        if self._pause is not None:
            return
        if not self._checked:
            await self._check()
            return
        decision = self.decision()
        if decision is not None and (decision.at - self._clock.now()).total_seconds() <= _DUE_TOLERANCE:
            await self._rename(decision.name, self._showing(self._values()))

    async def _rename(self, name: str, shows: dict[str, int] | None) -> None:
        """Send one rename and handle its outcome; a transient failure raises for the loop's backoff."""
        try:
            await self._port.rename_channel(self.channel_id, name)
        except asyncio.CancelledError:
            # The edit may already have reached Discord: count it so a restart does not overspend.
            self._budget.record(self.channel_id, self._clock.now())
            raise
        except RateLimitedError as exc:
            self._budget.penalise(self.channel_id, exc.retry_after)
            self._last_error = describe_error(exc)
            self._log.warning("counter.rate_limited", retry_after=exc.retry_after, pending_name=name)
            await self._save_budget()
            return
        except PermanentDiscordError as exc:
            # A 403/404: find out why and pause, never looping into the invalid-request ban.
            self._last_error = describe_error(exc)
            await self.check()
            if self._pause is None:
                self._set_pause(pause_for_rejection(self.channel_id, exc))
            return
        # Discord counts the edit where it receives it, so the response time is the safe side to record.
        now = self._clock.now()
        self._budget.record(self.channel_id, now)
        previous, self._shown = self._shown, name
        self._shown_values = shows
        self._last_renamed = now
        self._last_error = None
        self._update_pending()
        self._log.info("counter.renamed", name=name, previous_name=previous, value=self.value)
        await self._save_budget()

    def _on_error(self, exc: Exception, retry_in: float | None) -> None:
        """Log a failed check or rename; the loop retries after `retry_in` with the newest value."""
        self._last_error = describe_error(exc)
        self._log.warning(
            "counter.rename_failed" if self._checked else "counter.preflight_retry",
            error=self._last_error,
            attempt=self._loop.failures,
            retry_in=retry_in,
            exc_info=not isinstance(exc, StatsBotError | OSError | TimeoutError),
        )

    # --- helpers ------------------------------------------------------------------------------------

    def _showing(self, values: Mapping[str, int]) -> dict[str, int] | None:
        """Return the values the template would show, or None while one is unknown."""
        if not self.template.keys <= values.keys():
            return None
        return {key: values[key] for key in self.template.keys}

    def _pending_name(self) -> str | None:
        desired = self._desired
        return desired if desired is not None and desired != self._shown else None

    def _update_pending(self) -> None:
        """Track since when the shown name has lagged behind the newest value."""
        if self._pending_name() is None:
            self._pending_since = None
        elif self._pending_since is None:
            self._pending_since = self._clock.now()
