"""Channel-name counters: any number of channels, each showing a template filled in with the guild's values.

The service owns the values and where they come from (the gateway, `with_counts`, the ban list, the guild
object, a pass over the member list, Discord's role member counts) in a `CountBoard`; each channel's
`CounterWorker` turns the newest values into a rename when the schedule allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from src.core.config import Settings
from src.core.exceptions import StoreError
from src.services.stats.ban_count import BanCount
from src.services.stats.budget import RenameBudget
from src.services.stats.counter_board import CountBoard, MemberTally, role_of
from src.services.stats.counter_pause import (
    NO_GOAL,
    Pause,
    pause_for_members_intent,
    pause_for_no_goal,
    pause_for_template,
)
from src.services.stats.counter_worker import CounterWorker
from src.services.stats.goal_keeper import GoalKeeper
from src.services.stats.member_census import MemberCensus
from src.services.stats.rename_schedule import Threshold
from src.services.stats.templates import CounterTemplate, TemplateError
from src.types.models import ChannelStats, CounterKind, CounterSpec
from src.types.ports import Clock, DiscordPort, JsonStore, MemberInfo
from src.utils.backoff import Backoff
from src.utils.logging import get_logger
from src.utils.loop import Loop
from src.utils.text import describe_error

RETRY_BASE = 5.0  # first wait after a transient failure; doubles up to settings.max_backoff
# Values only a pass over the member list can give (roles have Discord's own count as well).
NEEDS_MEMBER_LIST = frozenset({CounterKind.HUMANS, CounterKind.BOTS})
CLASSIC_KINDS = frozenset({CounterKind.MEMBERS, CounterKind.ONLINE, CounterKind.BANS})  # always reported


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
        samples: Callable[[Mapping[str, int]], None] | None = None,
    ) -> None:
        self._settings = settings
        self._goals = goals
        self._samples = samples  # where every value goes after each refresh: the count history
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
        self._bans = BanCount(port, clock, backoff, show=self.set_ban_count)
        self._census = MemberCensus(
            port,
            clock,
            backoff,
            self._board,
            members_intent=settings.members_intent,
            list_shown=lambda: bool(self._shown_keys() & NEEDS_MEMBER_LIST),
            changed=self._refresh_workers,
            roles_unavailable=self._pause_role_counters,
        )
        for spec in specs:
            self._add_worker(self._worker(spec))
        self._refresh = Loop(
            "counter-refresh",
            self.refresh_counts,
            clock=clock,
            interval=settings.update_interval,
            on_error=self._refresh_failed,
        )
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
        self._bans.start()
        self._census.start()
        paused = [state.label for state in self.counter_states() if state.paused_reason]
        self._log.info("counters.started", paused=paused)

    async def stop(self) -> None:
        """Stop every loop and save the budget; a service that never started saves nothing."""
        if not self._started:
            return
        await asyncio.gather(
            self._refresh.cancel(),
            self._bans.cancel(),
            self._census.cancel(),
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
        self._bans.note(delta, user_id)
        bans = self._board.get(CounterKind.BANS)
        if bans is not None:
            self._set(CounterKind.BANS, bans + delta)

    def member_joined(self, member: MemberInfo) -> None:
        """Follow a join for the bot and role counts (the member count travels separately)."""
        self._board.tally.joined(member)
        if self._board.tally.counting:  # no template shows bots or tracked roles: nothing moved
            self._refresh_workers()

    def member_left(self, user_id: int, *, bot: bool) -> None:
        """Follow a leave (or a ban's member-remove) for the bot and role counts."""
        self._board.tally.left(user_id, bot=bot)
        if self._board.tally.counting:  # no template shows bots or tracked roles: nothing moved
            self._refresh_workers()

    def member_updated(self, member: MemberInfo) -> None:
        """Follow a member update: the roles the member holds now."""
        self._board.tally.updated(member)
        if self._board.tally.counting:  # no template shows bots or tracked roles: nothing moved
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
        self._census.request_pass()

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
        await self._census.refresh_role_counts()
        if self._samples is not None:
            self._samples(self._board.values())

    async def rebaseline_bans(self) -> None:
        """Count the ban list from scratch and show that count, with the bans and unbans paging missed."""
        await self._bans.rebaseline()

    def request_ban_rebaseline(self) -> None:
        """Count the ban list again soon (after a fresh gateway session), retrying with backoff."""
        self._bans.request()

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
        values, shown = self._board.values(), self._shown_keys()
        kinds = [kind for kind in CounterKind if kind in CLASSIC_KINDS or kind in shown]
        return {kind: values.get(kind) for kind in kinds}

    def counter_states(self) -> list[ChannelStats]:
        """Return each counter channel's state for the heartbeat, alerts and /health."""
        return [worker.snapshot() for worker in self._workers.values()]

    # --- counters added and removed while running (/setup, /counter) ------------------------------------

    def specs(self) -> list[CounterSpec]:
        """Return every counter's declaration, in the order they were added."""
        return [worker.spec for worker in self._workers.values()]

    def known_roles(self) -> frozenset[int] | None:
        """Return the ids of the guild's roles (None before the guild is known)."""
        facts = self._port.guild_facts()
        return None if facts is None else facts.role_ids

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
            await self._census.counters_added(new_roles=new_roles)
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
        return self._census.track(
            {role for key in worker.template.keys if (role := role_of(key)) is not None}
        )

    def _shown_keys(self) -> set[str]:
        """Return every value some counter's template shows."""
        return {key for worker in self._workers.values() for key in worker.template.keys}

    def _pause_role_counters(self) -> None:
        """Pause the role counters for good: neither Discord's role counts nor the member list can count."""
        for worker in self._workers.values():
            roles = sorted(key for key in worker.template.keys if role_of(key) is not None)
            if roles:
                worker.block(pause_for_members_intent(" and ".join(f"{{{key}}}" for key in roles)))

    def _show_goal(self) -> None:
        """Put the goal's target on the board; without a goal, `{goal}` counters pause with the fix."""
        target = None if self._goals is None else self._goals.target
        self._board.set_optional(CounterKind.GOAL, target)
        for worker in self._workers.values():
            if CounterKind.GOAL in worker.template.keys:
                if target is None:
                    worker.block(pause_for_no_goal())
                else:
                    worker.unblock(NO_GOAL)

    def _values(self) -> dict[str, int]:
        """Return every known value for the workers' templates."""
        return self._board.values()

    def _set(self, key: str, value: int) -> None:
        """Set one value and let the workers re-render when it changed."""
        if self._board.set(key, value):
            self._refresh_workers()

    def _refresh_workers(self) -> None:
        """Let every counter re-render from the board (its values derived once for all of them)."""
        values = self._board.values()
        for worker in self._workers.values():
            worker.refresh(values)

    def _refresh_failed(self, exc: Exception, retry_in: float | None) -> None:
        """Log a failed count refresh; the next round tries again."""
        self._log.warning("counter.refresh_failed", error=describe_error(exc), retry_in=retry_in)

    async def _save_budget(self) -> None:
        """Persist the budget; a failed write is logged and retried with the next rename."""
        try:
            await self._budget.save(self._store)
        except StoreError as exc:
            self._log.warning("counter.budget_save_failed", error=str(exc))
