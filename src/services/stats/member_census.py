"""Who is a bot and who holds a tracked role, for `{humans}`, `{bots}` and `{role:ID}`.

Role holders come from Discord's role member-counts endpoint, read with every count refresh, when it works.
Bots (and role holders, without the endpoint) come from one pass over the member list at start and after
every fresh gateway session, then from joins, leaves and member updates (`MemberTally`). The pass needs the
Server Members intent; without it those counters pause with the fix instead of waiting forever.
"""

from __future__ import annotations

from collections.abc import Callable

from src.core.exceptions import PermanentDiscordError
from src.services.stats.counter_board import CountBoard
from src.types.ports import Clock, DiscordPort
from src.utils.backoff import Backoff
from src.utils.logging import get_logger
from src.utils.loop import Loop
from src.utils.text import describe_error


class MemberCensus:
    """Keeps the board's member tally and role counts current, passing over the member list when needed."""

    def __init__(
        self,
        port: DiscordPort,
        clock: Clock,
        backoff: Backoff,
        board: CountBoard,
        *,
        members_intent: bool,
        list_shown: Callable[[], bool],
        changed: Callable[[], None],
        roles_unavailable: Callable[[], None],
    ) -> None:
        self._port = port
        self._clock = clock
        self._board = board
        self._members_intent = members_intent
        self._list_shown = list_shown  # whether a template shows {humans} or {bots}
        self._changed = changed  # the values changed: counters re-render
        self._roles_unavailable = (
            roles_unavailable  # neither the endpoint nor the member list can count roles
        )
        self._role_counts_work: bool | None = None  # whether Discord's role member-counts endpoint works
        # Runs at start when a template needs the member list, then after every fresh gateway session.
        self._loop = Loop(
            "counter-member-pass",
            self._pass,
            clock=clock,
            interval=None,
            backoff=backoff,
            on_error=self._failed,
        )
        self._log = get_logger(__name__, service="stats")

    def start(self) -> None:
        """Pass over the member list now if a template needs it, and again whenever asked."""
        self._loop.start()

    async def cancel(self) -> None:
        """Stop at once; an unfinished pass is dropped."""
        await self._loop.cancel()

    def request_pass(self) -> None:
        """Pass over the member list again soon (after a fresh gateway session)."""
        self._loop.wake()

    def track(self, roles: set[int]) -> bool:
        """Follow the holders of `roles` too; return whether any of them is new."""
        new = bool(roles - self._board.tally.tracked_roles)
        self._board.tally.track(roles)
        return new

    async def counters_added(self, *, new_roles: bool) -> None:
        """Count what a counter added while running needs: its new roles now, the list if not yet passed."""
        if new_roles and self._role_counts_work is not False:
            try:
                await self.refresh_role_counts()
            except Exception as exc:  # the next refresh tries again
                self._log.warning("counter.role_counts_failed", error=describe_error(exc))
        if self._needs_list() and (self._board.tally.bots is None or new_roles):
            self._loop.wake()  # a finished pass already covers humans, bots and the roles it tracked

    async def refresh_role_counts(self) -> None:
        """Read Discord's role member counts; without the endpoint, fall back to the member list."""
        if self._role_counts_work is False or not self._board.tally.tracked_roles:
            return
        try:
            counts = await self._port.fetch_role_member_counts()
        except PermanentDiscordError as exc:
            self._role_counts_work = False
            self._board.set_role_counts(None)
            if not self._members_intent:
                self._log.warning("counter.role_counts_unavailable", error=str(exc), fallback=None)
                self._roles_unavailable()
                return
            self._log.info("counter.role_counts_unavailable", error=str(exc), fallback="member list")
            self._loop.wake()
            return
        self._role_counts_work = True
        self._board.set_role_counts(counts)
        self._changed()

    def _needs_list(self) -> bool:
        """Whether a template shows a value only the member list gives."""
        if not self._members_intent:
            return False
        roles_from_list = bool(self._board.tally.tracked_roles) and self._role_counts_work is False
        return self._list_shown() or roles_from_list

    async def _pass(self) -> None:
        """Count bots and role holders with one pass over the member list, when a template needs them."""
        if not self._needs_list():
            return
        tally = self._board.tally
        tally.begin_pass(roles=self._role_counts_work is not True)
        began = self._clock.monotonic()
        try:
            seen = await self._port.scan_members(tally.add_chunk)
        except BaseException:
            tally.abandon_pass()
            raise
        tally.finish_pass()
        self._changed()
        self._log.info(
            "counter.member_pass_done",
            members=seen,
            bots=tally.bots,
            seconds=round(self._clock.monotonic() - began, 3),
        )

    def _failed(self, exc: Exception, retry_in: float | None) -> None:
        """Log a member-list pass that failed; the loop tries again after `retry_in`."""
        self._log.warning("counter.member_pass_failed", error=describe_error(exc), retry_in=retry_in)
