"""Gateway drops: a resumed session replays what was missed exactly once.

An invalidated one identifies afresh and re-counts the bans that changed while nobody was listening.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest

from src.sandbox import Sandbox
from tests.integration.conftest import WINDOW, wait_until
from tests.integration.reliability_support import day_file_events, wait_counters_shown

pytestmark = pytest.mark.integration

PRESENCE_EVERY = 2.0  # at most 5 presence updates in these short runs: the limiter never holds one back
REIDENTIFY_WAIT = 5.0  # discord.py sleeps 5 s before every IDENTIFY after the first (before_identify_hook)


def _stored(data_dir: Path) -> Counter[tuple[str, str]]:
    return Counter((e["kind"], e["member_id"]) for e in day_file_events(data_dir))


def _resumed_after(sb: Sandbox, index: int) -> bool:
    return any(g.event == "RESUMED" for g in sb.journal.gateway_events("send")[index:])


async def test_resumed_session_records_missed_events_exactly_once(sandbox, start_bot, tmp_path):
    """Joins, a leave, bans and an unban during a resumable drop are each recorded once; counters follow."""
    data_dir = tmp_path / "data"
    run = await start_bot(presence_update_interval=PRESENCE_EVERY).started()
    await wait_counters_shown(sandbox)
    early = await sandbox.add_member(username="before_the_drop")
    leaver = await sandbox.add_member(username="leaves_while_away")
    await wait_until(lambda: len(run.app.recorder.today().events) == 2, what="two joins before the drop")
    sent_before = len(sandbox.journal.gateway_events("send"))

    await sandbox.drop_gateway(resumable=True)
    away = await sandbox.add_member(username="joins_while_away")
    await sandbox.remove_member(leaver)
    victim = await sandbox.add_member(username="banned_while_away")
    await sandbox.ban(victim)
    await sandbox.ban(early)
    pardoned = next(sandbox.state.bans.ascending())
    await sandbox.unban(pardoned)
    await wait_until(lambda: _resumed_after(sandbox, sent_before), what="the session to resume")
    expected = Counter(
        [
            ("join", str(early)),
            ("join", str(leaver)),
            ("join", str(away)),
            ("leave", str(leaver)),
            ("join", str(victim)),
            ("ban", str(victim)),
            ("ban", str(early)),
            ("unban", str(pardoned)),
        ]
    )
    await wait_until(lambda: _stored(data_dir) == expected, timeout=5, what="the replayed events on disk")
    await wait_counters_shown(sandbox, timeout=3 * WINDOW)
    assert await run.stop() == 0

    assert _stored(data_dir) == expected
    assert sandbox.journal.identify_count() == 1


async def test_invalidated_session_identifies_again_and_recounts_bans(sandbox, start_bot, tmp_path):
    """After INVALID_SESSION the bot identifies afresh; bans changed meanwhile show, nothing is doubled."""
    data_dir = tmp_path / "data"
    run = await start_bot(presence_update_interval=PRESENCE_EVERY).started()
    await wait_counters_shown(sandbox)
    early = await sandbox.add_member(username="before_the_drop")
    await wait_until(lambda: run.app.recorder.today().events, what="the join before the drop")

    await sandbox.drop_gateway(resumable=False)
    # No session exists until discord.py identifies again, so none of this reaches the bot as events.
    for uid in list(itertools.islice(sandbox.state.bans.ascending(), 2)):
        await sandbox.unban(uid)
    for _ in range(3):
        await sandbox.ban(await sandbox.add_member())
    for _ in range(2):
        await sandbox.add_member()
    assert sandbox.ban_count == 26

    await wait_until(
        lambda: sandbox.journal.identify_count() == 2, timeout=REIDENTIFY_WAIT + 5, what="a fresh IDENTIFY"
    )
    await wait_counters_shown(sandbox, timeout=3 * WINDOW)
    late = await sandbox.add_member(username="after_the_new_session")
    await wait_until(
        lambda: _stored(data_dir)[("join", str(late))] == 1, timeout=5, what="the join after re-identifying"
    )
    assert await run.stop() == 0

    stored = _stored(data_dir)
    assert stored[("join", str(early))] == 1
    assert max(stored.values()) == 1
