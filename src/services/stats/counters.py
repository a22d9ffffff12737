"""Channel-name counters: members, online and bans as voice-channel names, within Discord's rename limit.

The service owns the counts and where they come from (gateway, `with_counts`, the ban list); each
channel's `CounterWorker` turns the newest value into a rename when the schedule allows.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from src.core.config import Settings
from src.core.exceptions import PermanentDiscordError, StoreError
from src.services.stats.budget import RenameBudget
from src.services.stats.counter_worker import CounterWorker
from src.types.models import ChannelStats, CounterKind
from src.types.ports import Clock, DiscordPort, JsonStore
from src.utils.backoff import Backoff
from src.utils.logging import get_logger
from src.utils.loop import Loop
from src.utils.text import describe_error

RETRY_BASE = 5.0  # first wait after a transient failure; doubles up to settings.max_backoff
BANS_FIX = "give the bot the Ban Members permission so it can count bans"


class _BanPaging:
    """A ban count in progress: how far the pages have got, and the events they will not include.

    The ban list is paged in ascending user id. A ban or unban of a user id already paged changed the list
    behind the count; one of a user id still ahead will be in (or out of) a later page anyway.
    """

    def __init__(self) -> None:
        self.covered = -1  # every ban of a user id up to this one has been counted
        self.missed = 0

    def advance(self, covered: int) -> None:
        """Note that the pages have counted every ban up to user id `covered`."""
        self.covered = max(self.covered, covered)

    def note(self, delta: int, user_id: int) -> None:
        """Remember a ban (+1) or unban (-1) the pages already read could not include."""
        if user_id <= self.covered:
            self.missed += delta


class CounterService:
    """Owns the member, online and ban counts and keeps the three counter channels' names current."""

    def __init__(self, settings: Settings, port: DiscordPort, clock: Clock, store: JsonStore) -> None:
        self._settings = settings
        self._port = port
        self._store = store
        self._budget = RenameBudget(
            clock, limit=settings.channel_rename_limit, window=settings.channel_rename_window
        )
        backoff = Backoff(RETRY_BASE, settings.max_backoff)
        self._workers: dict[CounterKind, CounterWorker] = {
            kind: CounterWorker(
                kind,
                channel_id,
                template,
                setting=setting,
                port=port,
                clock=clock,
                budget=self._budget,
                save_budget=self._save_budget,
                backoff=backoff,
            )
            for kind, channel_id, template, setting in (
                (
                    CounterKind.MEMBERS,
                    settings.member_count_channel_id,
                    settings.member_count_template,
                    "MEMBER_COUNT_CHANNEL_ID",
                ),
                (
                    CounterKind.ONLINE,
                    settings.online_count_channel_id,
                    settings.online_count_template,
                    "ONLINE_COUNT_CHANNEL_ID",
                ),
                (
                    CounterKind.BANS,
                    settings.ban_count_channel_id,
                    settings.ban_count_template,
                    "BAN_COUNT_CHANNEL_ID",
                ),
            )
        }
        self._refresh = Loop(
            "counter-refresh",
            self.refresh_counts,
            clock=clock,
            interval=settings.update_interval,
            on_error=self._refresh_failed,
        )
        # Runs at start, then waits until a fresh gateway session asks for another count.
        self._ban_baseline = Loop(
            "counter-ban-baseline",
            self._baseline_bans,
            clock=clock,
            interval=None,
            backoff=backoff,
            on_error=self._baseline_failed,
        )
        self._paging: _BanPaging | None = None  # the ban count in progress, if any
        self._started = False
        self._log = get_logger(__name__, service="stats")

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the budget, check the channels, then start the workers, ban baseline and refresh loop."""
        if self._started:
            return
        self._started = True
        await self._budget.restore(self._store)
        # Checks run side by side; one that fails transiently is retried by its worker before renaming.
        await asyncio.gather(*(worker.check() for worker in self._workers.values()))
        for worker in self._workers.values():
            worker.start()
        # Both start at once so the first renames wait only for their own value, never for the ban pages.
        self._refresh.start()
        self._ban_baseline.start()
        paused = [state.kind.value for state in self.counter_states() if state.paused_reason]
        self._log.info("counters.started", paused=paused)

    async def stop(self) -> None:
        """Stop every loop and save the budget; a service that never started saves nothing."""
        if not self._started:
            return
        await asyncio.gather(
            self._refresh.cancel(),
            self._ban_baseline.cancel(),
            *(worker.stop() for worker in self._workers.values()),
        )
        await self._save_budget()
        self._started = False
        self._log.info("counters.stopped")

    # --- sources ------------------------------------------------------------------------------------

    def set_member_count(self, count: int) -> None:
        """Set the member count (gateway or REST)."""
        self._workers[CounterKind.MEMBERS].set_value(max(0, count))

    def set_online(self, count: int) -> None:
        """Set the online (not offline) member count."""
        self._workers[CounterKind.ONLINE].set_value(max(0, count))

    def set_ban_count(self, count: int) -> None:
        """Set the ban count from a full count of the ban list."""
        self._workers[CounterKind.BANS].set_value(max(0, count))

    def adjust_bans(self, delta: int, user_id: int) -> None:
        """Follow a ban (+1) or unban (-1) of `user_id`, also while the ban list is being paged."""
        if self._paging is not None:
            self._paging.note(delta, user_id)
        worker = self._workers[CounterKind.BANS]
        if worker.value is not None:
            worker.set_value(max(0, worker.value + delta))

    async def refresh_counts(self) -> None:
        """Re-read online (and, without the members intent, members) from Discord's approximate counts."""
        gateway = self._port.gateway_member_count() if self._settings.members_intent else None
        if gateway is not None:
            # Set before the REST call so a failing fetch_counts does not hold back the exact count.
            self.set_member_count(gateway)
        counts = await self._port.fetch_counts()
        self.set_online(counts.online)
        if gateway is None:
            self.set_member_count(counts.members)

    async def rebaseline_bans(self) -> None:
        """Count the ban list from scratch and show that count, with the bans and unbans paging missed."""
        paging = self._paging = _BanPaging()
        try:
            count = await self._port.count_bans(paging.advance)
        finally:
            self._paging = None
        count += paging.missed
        self.set_ban_count(count)
        self._log.info("counter.bans_rebaselined", counter=CounterKind.BANS.value, count=count)

    def request_ban_rebaseline(self) -> None:
        """Count the ban list again soon (after a fresh gateway session), retrying with backoff."""
        self._ban_baseline.wake()

    async def refresh_now(self) -> dict[CounterKind, datetime | None]:
        """Re-read the counts now and return when each channel will next be renamed (None: nothing pending).

        Errors from Discord propagate so a command can tell the user the refresh failed.
        """
        await self.refresh_counts()
        return {kind: worker.next_rename_at() for kind, worker in self._workers.items()}

    async def resume_paused(self) -> dict[CounterKind, str | None]:
        """Re-check paused counters and resume those that are fixed; return each counter's pause reason."""
        return {kind: await worker.resume() for kind, worker in self._workers.items()}

    # --- StatsView parts ----------------------------------------------------------------------------

    def current_counts(self) -> dict[CounterKind, int | None]:
        """Return the newest value of each counter (None until known)."""
        return {kind: worker.value for kind, worker in self._workers.items()}

    def counter_states(self) -> list[ChannelStats]:
        """Return each counter channel's state for the heartbeat, alerts and /health."""
        return [worker.snapshot() for worker in self._workers.values()]

    # --- helpers ------------------------------------------------------------------------------------

    async def _baseline_bans(self) -> None:
        """Count bans; without the permission, say what to fix and wait for the next session."""
        try:
            await self.rebaseline_bans()
        except PermanentDiscordError as exc:
            self._log.error(
                "counter.bans_unavailable",
                counter=CounterKind.BANS.value,
                error=str(exc),
                fix=exc.fix or BANS_FIX,
            )

    def _baseline_failed(self, exc: Exception, retry_in: float | None) -> None:
        """Log a ban count that failed transiently; the loop tries again after `retry_in`."""
        self._log.warning(
            "counter.bans_baseline_failed",
            counter=CounterKind.BANS.value,
            error=describe_error(exc),
            retry_in=retry_in,
        )

    def _refresh_failed(self, exc: Exception, retry_in: float | None) -> None:
        """Log a failed count refresh; the next round tries again."""
        self._log.warning("counter.refresh_failed", error=describe_error(exc), retry_in=retry_in)

    async def _save_budget(self) -> None:
        """Persist the budget; a failed write is logged and retried with the next rename."""
        try:
            await self._budget.save(self._store)
        except StoreError as exc:
            self._log.warning("counter.budget_save_failed", error=str(exc))
