"""Channel-name counters: any number of channels, each showing a template filled in with the guild's values.

The service owns the values and where they come from (the gateway, `with_counts`, the ban list, the guild
object, a pass over the member list, Discord's role member counts) in a `CountBoard`; each channel's
`CounterWorker` turns the newest values into a rename when the schedule allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime

from src.core.config import Settings
from src.core.exceptions import PermanentDiscordError, StoreError
from src.services.stats.budget import RenameBudget
from src.services.stats.counter_board import CountBoard, MemberTally, role_of
from src.services.stats.counter_pause import Pause, pause_for_members_intent, pause_for_template
from src.services.stats.counter_worker import CounterWorker
from src.services.stats.goal_keeper import GoalKeeper
from src.services.stats.rename_schedule import Threshold
from src.services.stats.templates import CounterTemplate, TemplateError
from src.types.models import ChannelStats, CounterKind, CounterSpec
from src.types.ports import Clock, DiscordPort, JsonStore, MemberInfo
from src.utils.backoff import Backoff
from src.utils.logging import get_logger
from src.utils.loop import Loop
from src.utils.text import describe_error

RETRY_BASE = 5.0  # first wait after a transient failure; doubles up to settings.max_backoff
BANS_FIX = "give the bot Ban Members permission so it can count bans"
# Values only a pass over the member list can give (roles have Discord's own count as well).
NEEDS_MEMBER_LIST = frozenset({CounterKind.HUMANS, CounterKind.BOTS})
CLASSIC_KINDS = frozenset({CounterKind.MEMBERS, CounterKind.ONLINE, CounterKind.BANS})  # always reported


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
    """Owns the guild's values and keeps every counter channel's name current."""

    def __init__(
        self,
        settings: Settings,
        port: DiscordPort,
        clock: Clock,
        store: JsonStore,
        specs: Sequence[CounterSpec],
        goals: GoalKeeper | None = None,
    ) -> None:
        self._settings = settings
        self._goals = goals
        self._port = port
        self._clock = clock
        self._store = store
        self._budget = RenameBudget(
            clock, limit=settings.channel_rename_limit, window=settings.channel_rename_window
        )
        self._threshold = Threshold(settings.rename_early_percent, settings.rename_early_min)
        self._backoff = backoff = Backoff(RETRY_BASE, settings.max_backoff)
        self._workers: dict[int, CounterWorker] = {}
        self._board = CountBoard(MemberTally())
        self._role_counts_work: bool | None = None  # whether Discord's role member-counts endpoint works
        for spec in specs:
            self._add_worker(self._worker(spec))
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
        # Runs at start when a template needs the member list, then after every fresh gateway session.
        self._member_pass = Loop(
            "counter-member-pass",
            self._pass_members,
            clock=clock,
            interval=None,
            backoff=backoff,
            on_error=self._pass_failed,
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
        self.refresh_guild_facts()
        self._show_goal()
        self._refresh.start()
        self._ban_baseline.start()
        self._member_pass.start()
        paused = [state.label for state in self.counter_states() if state.paused_reason]
        self._log.info("counters.started", paused=paused)

    async def stop(self) -> None:
        """Stop every loop and save the budget; a service that never started saves nothing."""
        if not self._started:
            return
        await asyncio.gather(
            self._refresh.cancel(),
            self._ban_baseline.cancel(),
            self._member_pass.cancel(),
            *(worker.stop() for worker in self._workers.values()),
        )
        await self._save_budget()
        self._started = False
        self._log.info("counters.stopped")

    # --- sources ------------------------------------------------------------------------------------

    def set_member_count(self, count: int) -> None:
        """Set the member count (gateway or REST), moving the goal when a target is reached."""
        if self._goals is not None and self._goals.observe(count):
            self._show_goal()
        self._set(CounterKind.MEMBERS, count)

    def goal_changed(self) -> None:
        """Show the goal's new target (after `/goal set` or `/goal clear`)."""
        self._show_goal()
        self._refresh_workers()

    def set_online(self, count: int) -> None:
        """Set the online (not offline) member count."""
        self._set(CounterKind.ONLINE, count)

    def set_ban_count(self, count: int) -> None:
        """Set the ban count from a full count of the ban list."""
        self._set(CounterKind.BANS, count)

    def adjust_bans(self, delta: int, user_id: int) -> None:
        """Follow a ban (+1) or unban (-1) of `user_id`, also while the ban list is being paged."""
        if self._paging is not None:
            self._paging.note(delta, user_id)
        bans = self._board.get(CounterKind.BANS)
        if bans is not None:
            self._set(CounterKind.BANS, bans + delta)

    def member_joined(self, member: MemberInfo) -> None:
        """Follow a join for the bot and role counts (the member count travels separately)."""
        self._board.tally.joined(member)
        self._refresh_workers()

    def member_left(self, user_id: int, *, bot: bool) -> None:
        """Follow a leave (or a ban's member-remove) for the bot and role counts."""
        self._board.tally.left(user_id, bot=bot)
        self._refresh_workers()

    def member_updated(self, member: MemberInfo) -> None:
        """Follow a member update: the roles the member holds now."""
        self._board.tally.updated(member)
        self._refresh_workers()

    def refresh_guild_facts(self) -> None:
        """Re-read boosts, channels and roles from the gateway's guild (after its update events)."""
        facts = self._port.guild_facts()
        if facts is None:
            return
        changed = [
            self._board.set(CounterKind.BOOSTS, facts.boosts),
            self._board.set(CounterKind.BOOST_TIER, facts.boost_tier),
            self._board.set(CounterKind.CHANNELS, facts.channels),
            self._board.set(CounterKind.ROLES, facts.roles),
        ]
        if any(changed):
            self._refresh_workers()

    def request_member_pass(self) -> None:
        """Count the member list again soon (after a fresh gateway session)."""
        self._member_pass.wake()

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
        if self._role_counts_work is not False and self._board.tally.tracked_roles:
            await self._refresh_role_counts()

    async def rebaseline_bans(self) -> None:
        """Count the ban list from scratch and show that count, with the bans and unbans paging missed."""
        paging = self._paging = _BanPaging()
        try:
            count = await self._port.count_bans(paging.advance)
        finally:
            self._paging = None
        count += paging.missed
        self.set_ban_count(count)
        self._log.info("counter.bans_rebaselined", count=count)

    def request_ban_rebaseline(self) -> None:
        """Count the ban list again soon (after a fresh gateway session), retrying with backoff."""
        self._ban_baseline.wake()

    async def refresh_now(self) -> dict[int, datetime | None]:
        """Re-read the counts now and return when each channel will next be renamed (None: nothing pending).

        Errors from Discord propagate so a command can tell the user the refresh failed.
        """
        await self.refresh_counts()
        self.refresh_guild_facts()
        return {channel_id: worker.next_rename_at() for channel_id, worker in self._workers.items()}

    async def resume_paused(self) -> dict[int, str | None]:
        """Re-check paused counters and resume those that are fixed; return each counter's pause reason."""
        return {channel_id: await worker.resume() for channel_id, worker in self._workers.items()}

    # --- StatsView parts ----------------------------------------------------------------------------

    def current_counts(self) -> dict[CounterKind, int | None]:
        """Return members, online, bans and every other value a counter shows (None: unknown)."""
        values = self._board.values()
        shown = {key for worker in self._workers.values() for key in worker.template.keys}
        kinds = [kind for kind in CounterKind if kind in CLASSIC_KINDS or kind in shown]
        return {kind: values.get(kind) for kind in kinds}

    def counter_states(self) -> list[ChannelStats]:
        """Return each counter channel's state for the heartbeat, alerts and /health."""
        return [worker.snapshot() for worker in self._workers.values()]

    # --- counters added and removed while running (/setup, /counter) ------------------------------------

    def specs(self) -> list[CounterSpec]:
        """Return every counter's declaration, in the order they were added."""
        return [worker.spec for worker in self._workers.values()]

    def preview(self, template: CounterTemplate) -> str | None:
        """Return the name `template` would show now (None while a value it needs is unknown)."""
        return template.render(self._values())

    async def add_counter(self, spec: CounterSpec, *, strict: bool = True) -> ChannelStats:
        """Start showing a new counter; ValueError for a taken channel and, if `strict`, a bad template.

        Not strict, a bad template (a hand-edited state file) pauses the counter with the fix instead.
        """
        if spec.channel_id in self._workers:
            raise ValueError(f"channel {spec.channel_id} already shows a counter")
        if strict:
            CounterTemplate.parse(spec.template, count_key=spec.count_key)  # TemplateError for the user
        worker = self._worker(spec)
        new_roles = self._add_worker(worker)
        if self._started:
            await worker.check()
            worker.start()
            worker.refresh()
            if self._role_counts_work is not False and new_roles:
                await self._refresh_role_counts_safely()
            if self._needs_member_list() and (self._board.tally.bots is None or new_roles):
                self._member_pass.wake()  # a finished pass already covers humans, bots and known roles
        return worker.snapshot()

    async def remove_counter(self, channel_id: int) -> CounterSpec:
        """Stop showing the counter of `channel_id` (its channel keeps its last name); KeyError if none."""
        worker = self._workers.pop(channel_id)
        await worker.stop()
        return worker.spec

    # --- helpers ------------------------------------------------------------------------------------

    def _worker(self, spec: CounterSpec) -> CounterWorker:
        """Build the worker of one counter; an unusable template or unavailable data pauses it."""
        blocked: Pause | None = None
        try:
            template = CounterTemplate.parse(spec.template, count_key=spec.count_key)
        except TemplateError as exc:
            # A placeholder-free stand-in: the worker reports the pause and never renames.
            template = CounterTemplate.parse("{members}")
            blocked = pause_for_template(str(exc))
        else:
            unavailable = sorted(template.keys & NEEDS_MEMBER_LIST)
            if unavailable and not self._settings.members_intent:
                blocked = pause_for_members_intent(" and ".join(f"{{{key}}}" for key in unavailable))
        return CounterWorker(
            spec,
            template,
            values=self._values,
            threshold=self._threshold,
            port=self._port,
            clock=self._clock,
            budget=self._budget,
            save_budget=self._save_budget,
            backoff=self._backoff,
            blocked=blocked,
        )

    def _add_worker(self, worker: CounterWorker) -> bool:
        """Keep `worker` and track the roles its template counts; return whether any role is new."""
        self._workers[worker.channel_id] = worker
        roles = {role for key in worker.template.keys if (role := role_of(key)) is not None}
        new = bool(roles - self._board.tally.tracked_roles)
        self._board.tally.track(roles)
        return new

    async def _refresh_role_counts_safely(self) -> None:
        """Read the role counts now for a new role counter; a failure waits for the next refresh."""
        try:
            await self._refresh_role_counts()
        except Exception as exc:
            self._log.warning("counter.role_counts_failed", error=describe_error(exc))

    def _show_goal(self) -> None:
        """Put the goal's target on the board (`{goal}` waits while no goal is set)."""
        target = None if self._goals is None else self._goals.target
        self._board.set_optional(CounterKind.GOAL, target)

    def _values(self) -> dict[str, int]:
        """Return every known value for the workers' templates."""
        return self._board.values()

    def _set(self, key: str, value: int) -> None:
        """Set one value and let the workers re-render when it changed."""
        if self._board.set(key, value):
            self._refresh_workers()

    def _refresh_workers(self, workers: Iterable[CounterWorker] | None = None) -> None:
        for worker in self._workers.values() if workers is None else workers:
            worker.refresh()

    def _needs_member_list(self) -> bool:
        """Whether a template shows a value only the member list gives."""
        if not self._settings.members_intent:
            return False
        keys = {key for worker in self._workers.values() for key in worker.template.keys}
        return bool(keys & NEEDS_MEMBER_LIST) or (
            bool(self._board.tally.tracked_roles) and self._role_counts_work is False
        )

    async def _refresh_role_counts(self) -> None:
        """Read Discord's role member counts; without the endpoint, fall back to the member list."""
        try:
            counts = await self._port.fetch_role_member_counts()
        except PermanentDiscordError as exc:
            self._role_counts_work = False
            self._board.set_role_counts(None)
            if not self._settings.members_intent:
                self._log.warning("counter.role_counts_unavailable", error=str(exc), fallback=None)
                for worker in self._workers.values():
                    roles = sorted(key for key in worker.template.keys if role_of(key) is not None)
                    if roles:
                        worker.block(pause_for_members_intent(" and ".join(f"{{{key}}}" for key in roles)))
                return
            self._log.info("counter.role_counts_unavailable", error=str(exc), fallback="member list")
            self._member_pass.wake()
            return
        self._role_counts_work = True
        self._board.set_role_counts(counts)
        self._refresh_workers()

    async def _pass_members(self) -> None:
        """Count bots and role holders with one pass over the member list, when a template needs them."""
        if not self._needs_member_list():
            return
        tally = self._board.tally
        tally.begin_pass()
        began = self._clock.monotonic()
        try:
            seen = await self._port.scan_members(tally.add_chunk)
        except BaseException:
            tally.abandon_pass()
            raise
        tally.finish_pass()
        self._refresh_workers()
        self._log.info(
            "counter.member_pass_done",
            members=seen,
            bots=tally.bots,
            seconds=round(self._clock.monotonic() - began, 3),
        )

    def _pass_failed(self, exc: Exception, retry_in: float | None) -> None:
        """Log a member-list pass that failed; the loop tries again after `retry_in`."""
        self._log.warning("counter.member_pass_failed", error=describe_error(exc), retry_in=retry_in)

    async def _baseline_bans(self) -> None:
        """Count bans; without the permission, say what to fix and wait for the next session."""
        try:
            await self.rebaseline_bans()
        except PermanentDiscordError as exc:
            self._log.error(
                "counter.bans_unavailable",
                error=str(exc),
                fix=exc.fix or BANS_FIX,
            )

    def _baseline_failed(self, exc: Exception, retry_in: float | None) -> None:
        """Log a ban count that failed transiently; the loop tries again after `retry_in`."""
        self._log.warning(
            "counter.bans_baseline_failed",
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
