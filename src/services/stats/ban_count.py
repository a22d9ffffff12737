"""The ban count: the whole ban list paged at start and after every fresh gateway session.

Discord has no ban-count endpoint. The count pages the list (1,000 a page, ascending user id) and the events
that arrive meanwhile are merged by user-id cursor, so a ban or unban during the paging is counted once.
"""

from __future__ import annotations

from collections.abc import Callable

from src.core.exceptions import PermanentDiscordError
from src.types.ports import Clock, DiscordPort
from src.utils.backoff import Backoff
from src.utils.logging import get_logger
from src.utils.loop import Loop
from src.utils.text import describe_error

BANS_FIX = "give the bot Ban Members permission so it can count bans"


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


class BanCount:
    """Counts the ban list from scratch when asked (and at start), handing each full count to `show`."""

    def __init__(
        self, port: DiscordPort, clock: Clock, backoff: Backoff, *, show: Callable[[int], None]
    ) -> None:
        self._port = port
        self._show = show
        self._paging: _BanPaging | None = None  # the count in progress, if any
        # Runs at start, then waits until a fresh gateway session asks for another count.
        self._loop = Loop(
            "counter-ban-baseline",
            self._baseline,
            clock=clock,
            interval=None,
            backoff=backoff,
            on_error=self._failed,
        )
        self._log = get_logger(__name__, service="stats")

    def start(self) -> None:
        """Count now, and again whenever `request` asks."""
        self._loop.start()

    async def cancel(self) -> None:
        """Stop counting at once."""
        await self._loop.cancel()

    def request(self) -> None:
        """Count the ban list again soon (after a fresh gateway session), retrying with backoff."""
        self._loop.wake()

    def note(self, delta: int, user_id: int) -> None:
        """Remember a ban (+1) or unban (-1) of `user_id` the count in progress may have missed."""
        if self._paging is not None:
            self._paging.note(delta, user_id)

    async def rebaseline(self) -> None:
        """Count the ban list from scratch and show that count, with the bans and unbans paging missed."""
        paging = self._paging = _BanPaging()
        try:
            count = await self._port.count_bans(paging.advance)
        finally:
            self._paging = None
        count += paging.missed
        self._show(count)
        self._log.info("counter.bans_rebaselined", count=count)

    async def _baseline(self) -> None:
        """Count bans; without the permission, say what to fix and wait for the next session."""
        try:
            await self.rebaseline()
        except PermanentDiscordError as exc:
            self._log.error("counter.bans_unavailable", error=str(exc), fix=exc.fix or BANS_FIX)

    def _failed(self, exc: Exception, retry_in: float | None) -> None:
        """Log a ban count that failed transiently; the loop tries again after `retry_in`."""
        self._log.warning("counter.bans_baseline_failed", error=describe_error(exc), retry_in=retry_in)
