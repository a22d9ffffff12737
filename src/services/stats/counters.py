"""Channel-name counters: members, online and bans as voice-channel names, within Discord's rename limit.

Each counter channel has its own task holding only the newest value, so any number of changes costs at most
one rename per slot, and a 429 or an outage on one channel never delays another channel, the heartbeat or
event recording.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from src.core.config import Settings
from src.core.exceptions import PermanentDiscordError, RateLimitedError, StatsBotError, StoreError
from src.services.stats.budget import JsonStore, RenameBudget
from src.types.models import ChannelStats, CounterKind
from src.types.ports import ChannelInfo, ChannelKind, Clock, DiscordPort
from src.utils.logging import get_logger

MAX_NAME_LENGTH = 100  # Discord refuses longer channel names
RETRY_BASE = 5.0  # first wait after a transient failure; doubles up to settings.max_backoff
# Discord keeps capitals, spaces, ':' and emoji in these; text-like channels are lower-cased and hyphenated.
RENAMEABLE_KINDS = frozenset({ChannelKind.VOICE, ChannelKind.STAGE, ChannelKind.CATEGORY})
# Anything closer than this to its slot counts as due: clock arithmetic rounds to microseconds.
_DUE_TOLERANCE = 0.001

_ENV_NAMES = {
    CounterKind.MEMBERS: "MEMBER_COUNT_CHANNEL_ID",
    CounterKind.ONLINE: "ONLINE_COUNT_CHANNEL_ID",
    CounterKind.BANS: "BAN_COUNT_CHANNEL_ID",
}


def permissions_fix(channel_id: int) -> str:
    """The fix text for a counter channel the bot may not rename."""
    return f"give the bot Manage Channels, View Channel and Connect on channel {channel_id}"


class CounterChannel:
    """One counter channel: the newest value, the name it shows, and the task that renames it."""

    def __init__(
        self,
        kind: CounterKind,
        channel_id: int,
        template: str,
        *,
        settings: Settings,
        port: DiscordPort,
        clock: Clock,
        store: JsonStore,
        budget: RenameBudget,
    ) -> None:
        self.kind = kind
        self.channel_id = channel_id
        self.template = template
        self.budget = budget
        self.value: int | None = None
        self.shown_name: str | None = None
        self.last_renamed: datetime | None = None
        self.last_shown_change: datetime | None = None
        self.pending_since: datetime | None = None
        self.paused_reason: str | None = None
        self.paused_fix: str | None = None
        self.last_error: str | None = None
        self.rename_attempts = 0
        self._settings = settings
        self._port = port
        self._clock = clock
        self._store = store
        self._checked = False  # preflight done (the channel's current name is known or it is paused)
        self._failures = 0  # consecutive transient failures, for the backoff
        self._retry_at: datetime | None = None
        self._renamed_this_run: datetime | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._log = get_logger(__name__, service="stats", counter=kind.value, channel_id=channel_id)

    # --- values -------------------------------------------------------------------------------------

    def render(self, value: int) -> str:
        """The channel name for `value`."""
        return self.template.format(count=value).strip()[:MAX_NAME_LENGTH]

    @property
    def desired_name(self) -> str | None:
        """The name the channel should show for the newest value, or None until a value is known."""
        return None if self.value is None else self.render(self.value)

    @property
    def pending_name(self) -> str | None:
        """The newest name not shown yet, or None when the channel is up to date."""
        desired = self.desired_name
        return desired if desired is not None and desired != self.shown_name else None

    def set_value(self, value: int) -> None:
        """Keep `value` as the newest and wake the worker; never renames by itself."""
        self.value = value
        self._update_pending()
        self._wake.set()

    def _update_pending(self) -> None:
        """Track since when the shown name has lagged behind the newest value."""
        if self.pending_name is None:
            self.pending_since = None
        elif self.pending_since is None:
            self.pending_since = self._clock.now()

    # --- schedule -----------------------------------------------------------------------------------

    def next_slot(self) -> datetime:
        """When the worker may next rename, ignoring whether there is anything to show."""
        slot = self.budget.next_slot(self.channel_id)
        if self._renamed_this_run is not None:
            # Spread the renames: a burst must not spend the whole window's budget at once.
            spacing = timedelta(seconds=self.budget.window / self.budget.limit)
            slot = max(slot, self._renamed_this_run + spacing)
        if self._retry_at is not None:
            slot = max(slot, self._retry_at)
        return slot

    def next_rename_at(self) -> datetime | None:
        """When the pending name will be shown, or None when nothing is pending or the counter is paused."""
        if self.paused_reason is not None or self.pending_name is None:
            return None
        return max(self._clock.now(), self.next_slot())

    def state(self) -> ChannelStats:
        """A snapshot for the heartbeat and /health."""
        return ChannelStats(
            kind=self.kind,
            channel_id=self.channel_id,
            value=self.value,
            shown_name=self.shown_name,
            pending_name=self.pending_name,
            last_renamed=self.last_renamed or self.budget.last_recorded(self.channel_id),
            next_rename_at=self.next_rename_at(),
            paused_reason=self.paused_reason,
            last_error=self.last_error,
        )

    # --- preflight and pausing ----------------------------------------------------------------------

    async def preflight(self) -> bool:
        """Check the channel can show a counter; pause it if not. False if Discord could not be asked."""
        try:
            info = await self._port.fetch_channel(self.channel_id)
        except PermanentDiscordError as exc:
            env = _ENV_NAMES[self.kind]
            self._pause(
                "channel_not_found",
                f"channel {self.channel_id} does not exist or the bot cannot see it: check {env} "
                "and give the bot View Channel on it",
                str(exc),
            )
            return True
        except Exception as exc:
            # Transient (or a bug in the port): the worker retries with backoff before renaming.
            self.last_error = _describe(exc)
            self._log.warning("counter.preflight_failed", error=self.last_error)
            return False
        self._accept_channel(info)
        return True

    def _accept_channel(self, info: ChannelInfo) -> None:
        """Record the channel's current name and pause or resume depending on what it is."""
        self.shown_name = info.name
        self._checked = True
        if info.kind is ChannelKind.TEXT:
            self._pause(
                "text_channel",
                f"use a voice channel for channel {self.channel_id}: Discord lower-cases and hyphenates "
                "text channel names",
            )
        elif info.kind not in RENAMEABLE_KINDS:
            self._pause(
                "unsupported_channel",
                f"use a voice channel (or a category) for channel {self.channel_id}: Discord rewrites "
                f"{info.kind.value} channel names",
            )
        elif not info.can_rename:
            self._pause("missing_permissions", permissions_fix(self.channel_id))
        elif self.paused_reason is not None:
            self._log.info("counter.resumed", previous_reason=self.paused_reason)
            self.paused_reason = None
            self.paused_fix = None
            self._wake.set()
        self._update_pending()

    def _pause(self, reason: str, fix: str, error: str | None = None) -> None:
        """Stop renaming this channel until `resume`; logs once per reason so logs are not flooded."""
        self._checked = True
        if error is not None:
            self.last_error = error
        if self.paused_reason == reason:
            return
        self.paused_reason = reason
        self.paused_fix = fix
        self._log.error("counter.paused", reason=reason, fix=fix, error=error)

    async def resume(self) -> str | None:
        """Re-check a paused channel and resume it if it can now be renamed; return the pause reason left."""
        if self.paused_reason is None:
            return None
        await self.preflight()
        return self.paused_reason

    # --- the worker ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start this channel's worker task."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"counter-{self.kind.value}")

    async def stop(self) -> None:
        """Cancel the worker and wait for it to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        """Rename the channel to the newest name whenever the budget allows, until cancelled."""
        while True:
            try:
                await self._step()
            except Exception as exc:
                # A bug must not silently end this counter for the rest of the process's life.
                self.last_error = _describe(exc)
                self._failures += 1
                wait = self._backoff_seconds()
                self._log.error("counter.worker_failed", error=self.last_error, retry_in=wait, exc_info=True)
                await self._clock.sleep(wait)

    async def _step(self) -> None:
        """One turn of the worker: wait for work, check the channel, wait for the slot, or rename."""
        if self.paused_reason is not None or self.pending_name is None:
            self._wake.clear()
            await self._wake.wait()
            return
        if not self._checked:
            if not await self.preflight():
                await self._back_off()
            return
        delay = (self.next_slot() - self._clock.now()).total_seconds()
        if delay > _DUE_TOLERANCE:
            # Value changes meanwhile only replace the pending name; the slot stays where it is.
            await self._clock.sleep(delay)
            return
        name = self.pending_name
        if name is not None:
            await self._rename(name)

    async def _rename(self, name: str) -> None:
        """Send one rename and handle its outcome."""
        self.rename_attempts += 1
        self._retry_at = None
        try:
            await self._port.rename_channel(self.channel_id, name)
        except asyncio.CancelledError:
            # The edit may already have reached Discord: count it so a restart does not overspend.
            self.budget.record(self.channel_id, self._clock.now())
            raise
        except RateLimitedError as exc:
            self.budget.penalise(self.channel_id, exc.retry_after)
            self.last_error = _describe(exc)
            self._log.warning("counter.rate_limited", retry_after=exc.retry_after, pending_name=name)
            await self._save_budget()
            return
        except PermanentDiscordError as exc:
            await self._on_rejected(exc)
            return
        except Exception as exc:
            # Transient errors (and bugs) back off in this task only; the loop retries with the newest name.
            self.last_error = _describe(exc)
            self._failures += 1
            wait = self._backoff_seconds()
            self._retry_at = self._clock.now() + timedelta(seconds=wait)
            self._log.warning(
                "counter.rename_failed",
                error=self.last_error,
                attempt=self._failures,
                retry_in=wait,
                exc_info=_is_unexpected(exc),
            )
            return
        # Discord counts the edit where it receives it, so the response time is the safe side to record.
        now = self._clock.now()
        self.budget.record(self.channel_id, now)
        previous, self.shown_name = self.shown_name, name
        self.last_renamed = self.last_shown_change = self._renamed_this_run = now
        self._failures = 0
        self.last_error = None
        self._update_pending()
        self._log.info("counter.renamed", name=name, previous_name=previous, value=self.value)
        await self._save_budget()

    async def _on_rejected(self, exc: PermanentDiscordError) -> None:
        """A 403/404 on rename: find out why and pause, never looping into the invalid-request ban."""
        self.last_error = _describe(exc)
        await self.preflight()
        if self.paused_reason is None:
            self._pause("rename_rejected", exc.fix or permissions_fix(self.channel_id), str(exc))

    async def _back_off(self) -> None:
        """Wait after a failed preflight, longer each time up to settings.max_backoff."""
        self._failures += 1
        wait = self._backoff_seconds()
        self._log.warning("counter.preflight_retry", attempt=self._failures, retry_in=wait)
        await self._clock.sleep(wait)

    def _backoff_seconds(self) -> float:
        """Exponential backoff for the current failure streak, capped by settings.max_backoff."""
        exponent = min(self._failures - 1, 30)  # keeps 2**n finite; the cap applies long before
        return float(min(self._settings.max_backoff, RETRY_BASE * 2**exponent))

    async def _save_budget(self) -> None:
        """Persist the budget; a failed write is logged and retried with the next rename."""
        try:
            await self.budget.save(self._store)
        except StoreError as exc:
            self._log.warning("counter.budget_save_failed", error=str(exc))


class CounterService:
    """Owns the member, online and ban counts and keeps the three counter channels' names current."""

    def __init__(self, settings: Settings, port: DiscordPort, clock: Clock, store: JsonStore) -> None:
        self._settings = settings
        self._port = port
        self._clock = clock
        self._store = store
        self.budget = RenameBudget(
            clock, limit=settings.channel_rename_limit, window=settings.channel_rename_window
        )
        self.channels: dict[CounterKind, CounterChannel] = {
            kind: CounterChannel(
                kind,
                channel_id,
                template,
                settings=settings,
                port=port,
                clock=clock,
                store=store,
                budget=self.budget,
            )
            for kind, channel_id, template in (
                (CounterKind.MEMBERS, settings.member_count_channel_id, settings.member_count_template),
                (CounterKind.ONLINE, settings.online_count_channel_id, settings.online_count_template),
                (CounterKind.BANS, settings.ban_count_channel_id, settings.ban_count_template),
            )
        }
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._log = get_logger(__name__, service="stats")

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the budget, check the channels, then start the workers, ban baseline and refresh loop."""
        if self._started:
            return
        self._started = True
        self.budget = await RenameBudget.load(
            self._store,
            self._clock,
            limit=self._settings.channel_rename_limit,
            window=self._settings.channel_rename_window,
        )
        for channel in self.channels.values():
            channel.budget = self.budget
            channel.last_renamed = self.budget.last_recorded(channel.channel_id)
        # Preflights run side by side; one that fails transiently is retried by its worker before renaming.
        await asyncio.gather(*(channel.preflight() for channel in self.channels.values()))
        for channel in self.channels.values():
            channel.start()
        # Both start at once so the first renames wait only for their own value, never for the ban pages.
        self._spawn(self._refresh_loop(), "counter-refresh")
        self._spawn(self._initial_ban_baseline(), "counter-ban-baseline")
        paused = [kind.value for kind, channel in self.channels.items() if channel.paused_reason]
        self._log.info("counters.started", paused=paused)

    async def stop(self) -> None:
        """Cancel every task and save the budget."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        await asyncio.gather(*(channel.stop() for channel in self.channels.values()))
        try:
            await self.budget.save(self._store)
        except StoreError as exc:
            self._log.warning("counter.budget_save_failed", error=str(exc))
        self._started = False
        self._log.info("counters.stopped")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run `coro` as a task this service cancels on stop."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- sources ------------------------------------------------------------------------------------

    def set_member_count(self, count: int) -> None:
        """Set the member count (gateway or REST)."""
        self.channels[CounterKind.MEMBERS].set_value(max(0, count))

    def set_online(self, count: int) -> None:
        """Set the online (not offline) member count."""
        self.channels[CounterKind.ONLINE].set_value(max(0, count))

    def set_ban_count(self, count: int) -> None:
        """Set the ban count from a full count of the ban list."""
        self.channels[CounterKind.BANS].set_value(max(0, count))

    def adjust_bans(self, delta: int) -> None:
        """Follow a ban (+1) or unban (-1) event; ignored until the first baseline is known."""
        channel = self.channels[CounterKind.BANS]
        if channel.value is None:
            # The baseline being paged right now will include this ban or unban.
            return
        channel.set_value(max(0, channel.value + delta))

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
        """Count the ban list from scratch (at start and after each fresh gateway session)."""
        count = await self._port.count_bans()
        self.set_ban_count(count)
        self._log.info("counter.bans_rebaselined", counter=CounterKind.BANS.value, count=count)

    async def refresh_now(self) -> dict[CounterKind, datetime | None]:
        """Re-read the counts now and return when each channel will next be renamed (None: nothing pending).

        Errors from Discord propagate so a command can tell the user the refresh failed.
        """
        await self.refresh_counts()
        return {kind: channel.next_rename_at() for kind, channel in self.channels.items()}

    async def resume_paused(self) -> dict[CounterKind, str | None]:
        """Re-check paused counters and resume those that are fixed; return each counter's pause reason."""
        return {kind: await channel.resume() for kind, channel in self.channels.items()}

    async def _refresh_loop(self) -> None:
        """Refresh the counts now and then every update_interval; a failure is logged and the loop goes on."""
        while True:
            try:
                await self.refresh_counts()
            except Exception as exc:
                self._log.warning("counter.refresh_failed", error=_describe(exc))
            await self._clock.sleep(self._settings.update_interval)

    async def _initial_ban_baseline(self) -> None:
        """Count bans once at start, retrying transient failures with backoff."""
        failures = 0
        while True:
            try:
                await self.rebaseline_bans()
            except PermanentDiscordError as exc:
                self._log.error(
                    "counter.bans_unavailable",
                    counter=CounterKind.BANS.value,
                    error=str(exc),
                    fix=exc.fix or "give the bot the Ban Members permission so it can count bans",
                )
                return
            except Exception as exc:
                failures += 1
                wait = min(self._settings.max_backoff, RETRY_BASE * 2 ** min(failures - 1, 30))
                self._log.warning(
                    "counter.bans_baseline_failed",
                    counter=CounterKind.BANS.value,
                    error=_describe(exc),
                    retry_in=wait,
                )
                await self._clock.sleep(wait)
            else:
                return

    # --- StatsView parts ----------------------------------------------------------------------------

    def current_counts(self) -> dict[CounterKind, int | None]:
        """The newest value of each counter (None until known)."""
        return {kind: channel.value for kind, channel in self.channels.items()}

    def counter_states(self) -> list[ChannelStats]:
        """Each counter channel's state for the heartbeat and /health."""
        return [channel.state() for channel in self.channels.values()]

    def last_shown_change(self, kind: CounterKind) -> datetime | None:
        """When this run last changed the channel's name, or None."""
        return self.channels[kind].last_shown_change

    def pending_since(self, kind: CounterKind) -> datetime | None:
        """Since when the newest value has not been shown, or None when the channel is up to date."""
        return self.channels[kind].pending_since


def _describe(exc: BaseException) -> str:
    """A one-line 'Class: message' summary for logs and health output."""
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")


def _is_unexpected(exc: BaseException) -> bool:
    """Whether `exc` looks like a bug rather than an outage, so its traceback is worth logging."""
    return not isinstance(exc, StatsBotError | OSError | TimeoutError)
