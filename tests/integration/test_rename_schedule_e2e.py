"""The burst-aware rename schedule end to end: Discord's rename window scaled to 60 s, the real bot, no 429.

Targets (issue: fresher numbers within the same budget): the settled count after a burst shows within
window / 20 (3 s here) of the burst's last change when the window has a free rename; at a steady trickle no
change waits longer than window / limit (30 s) plus the update interval; never more than 2 renames of a
channel in any 60 s, and no 429.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from src.sandbox import Sandbox, SandboxConfig
from tests.integration.conftest import FAST, BotRun, sandbox_settings, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TIME_SCALE = 10.0
WINDOW = 600.0 / TIME_SCALE  # 60 s
SPACING = WINDOW / 2
BURST_BOUND = WINDOW / 20  # 3 s
SLACK = 1.5  # event-loop and gateway delays on a shared two-core machine
TRICKLE_JOINS, TRICKLE_EVERY = 6, 5.0


class NameWatcher:
    """Records every name one channel shows, with the time it first showed."""

    def __init__(self, sb: Sandbox, channel_id: int) -> None:
        self.shown: list[tuple[float, int]] = []
        self._sb, self._channel = sb, channel_id
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        last = None
        while True:
            name = self._sb.channel_name(self._channel)
            if name != last:
                last = name
                digits = re.sub(r"\D", "", name)
                if digits:
                    self.shown.append((time.monotonic(), int(digits)))
            await asyncio.sleep(0.02)

    def first_showing(self, count: int, since: float) -> float | None:
        """When the channel first showed `count` or more at or after `since`."""
        return next((t for t, shown in self.shown if t >= since and shown >= count), None)

    def stop(self) -> None:
        self._task.cancel()


async def test_a_burst_shows_within_window_over_20_and_a_trickle_within_window_over_limit(
    tmp_path: Path,
) -> None:
    """30 joins at once show within 3 s of the last; later single joins wait at most 30 s + 1 s each."""
    async with Sandbox(SandboxConfig(members=1000, time_scale=TIME_SCALE)) as sb:
        members = sb.channel_ids["members"]
        run = BotRun(sandbox_settings(sb, tmp_path / "data", **FAST))
        await run.started()
        await wait_until(
            lambda: sb.channel_name(members) == f"👥 Members: {sb.member_count:,}", what="the first rename"
        )
        first_rename = time.monotonic()
        watcher = NameWatcher(sb, members)
        try:
            # A burst: 30 joins (3 % of the shown count) as fast as the gateway takes them.
            for _ in range(30):
                await sb.add_member()
            burst_end, burst_count = time.monotonic(), sb.member_count
            await wait_until(
                lambda: watcher.first_showing(burst_count, burst_end), timeout=10, what="the burst"
            )
            burst_delay = (watcher.first_showing(burst_count, burst_end) or 0.0) - burst_end

            # Once both renames have left the window, a steady trickle of single joins.
            await asyncio.sleep(max(0.0, first_rename + WINDOW + 2.0 - time.monotonic()))
            joins: list[tuple[float, int]] = []
            for _ in range(TRICKLE_JOINS):
                await sb.add_member()
                joins.append((time.monotonic(), sb.member_count))
                await asyncio.sleep(TRICKLE_EVERY)
            final = sb.member_count
            await wait_until(
                lambda: watcher.first_showing(final, joins[-1][0]), timeout=SPACING + 5, what="the trickle"
            )
            waits = [(watcher.first_showing(count, at) or 0.0) - at for at, count in joins]
        finally:
            watcher.stop()
            assert await run.stop() == 0

        assert burst_delay <= BURST_BOUND + SLACK, burst_delay
        assert max(waits) <= SPACING + FAST["update_interval"] + SLACK, waits
        renames = [
            r.t for r in sb.journal.requests_matching(rf"PATCH /channels/{members}$") if r.status == 200
        ]
        assert max(sum(1 for t in renames if start <= t < start + WINDOW) for start in renames) <= 2
        assert [r for r in sb.journal.requests if r.status == 429] == []
