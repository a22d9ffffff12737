"""Dispatches delivered again, as a RESUME after a reconnect during a burst can: the bot counts each once.

The sandbox re-sends the last ten member and ban dispatches twice, with fresh sequence numbers. What the bot
recorded, what it wrote to the day file and what the ban counter shows must be as if they came once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from src.sandbox import Sandbox
from src.types.models import CounterKind
from tests.integration.conftest import WINDOW, BotRun, wait_until
from tests.integration.reliability_support import day_file_events, wait_counters_shown

pytestmark = pytest.mark.integration

MEMBER_AND_BAN_EVENTS = ("GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE", "GUILD_BAN_ADD", "GUILD_BAN_REMOVE")
STRANGER = 424242  # banned by id, never a member
REPLAYED = 10  # the burst's dispatches: 5 joins, 1 leave, a ban and its member-remove, a ban by id, an unban

Recorded = list[tuple[str, str]]


def _recorded(run: BotRun) -> Recorded:
    """(kind, member id) of every event the bot recorded today, in order."""
    return [(e.kind.value, e.member_id) for e in run.app.recorder.today().events]


def _bans_settled(run: BotRun, sandbox: Sandbox) -> bool:
    """The ban counter has nothing left to rename and its channel shows what the bot last set."""
    (bans,) = [s for s in run.app.counters.counter_states() if s.key == CounterKind.BANS]
    return bans.pending_name is None and sandbox.channel_name(sandbox.channel_ids["bans"]) == bans.shown_name


async def _wait(predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    """wait_until, failing with TimeoutError (not AssertionError) when the setup is slow."""
    try:
        await wait_until(predicate, timeout=timeout, what=what)
    except AssertionError as exc:
        raise TimeoutError(str(exc)) from None


async def _stop(run: BotRun) -> None:
    """Stop the bot as SIGTERM would; an unclean exit is an error, not the failure a test expects."""
    status = await run.stop()
    if status != 0:
        raise RuntimeError(f"the bot exited with status {status}")


async def _burst_replayed_twice(sandbox: Sandbox, run: BotRun) -> Recorded:
    """Play the burst, wait until it is recorded, replay it twice; return what the day should hold.

    A join after the replays marks the end: once the bot has recorded it, every replayed dispatch before it
    has been handled, since the gateway delivers in order.
    """
    await wait_counters_shown(sandbox)
    joined = [await sandbox.add_member(username=f"burst{n}") for n in range(5)]
    await sandbox.remove_member(joined[1])
    await sandbox.ban(joined[2])
    await sandbox.ban(STRANGER)
    pardoned = next(uid for uid in sandbox.state.bans.ascending() if uid != STRANGER)  # a seeded ban
    await sandbox.unban(pardoned)
    expected = [
        *(("join", str(uid)) for uid in joined),
        ("leave", str(joined[1])),
        ("ban", str(joined[2])),
        ("ban", str(STRANGER)),
        ("unban", str(pardoned)),
    ]
    await _wait(lambda: _recorded(run) == expected, what="the burst recorded")
    # Only member and ban dispatches: the bot's own renames (CHANNEL_UPDATE) interleave with the burst.
    for _ in range(2):
        sent = await sandbox.replay_dispatches(REPLAYED, events=MEMBER_AND_BAN_EVENTS)
        if sent != REPLAYED:
            raise RuntimeError(f"replayed {sent} dispatches, not {REPLAYED}")
    latecomer = ("join", str(await sandbox.add_member(username="latecomer")))
    await _wait(lambda: latecomer in _recorded(run), what="the join after the replays")
    return [*expected, latecomer]


async def test_replayed_bans_and_unbans_are_recorded_once(sandbox: Sandbox, start_bot) -> None:
    """After two replays of the burst, the bot's day holds each ban and unban once."""
    run = await start_bot().started()
    expected = await _burst_replayed_twice(sandbox, run)
    recorded = _recorded(run)
    await _stop(run)
    bans_and_unbans = [e for e in recorded if e[0] in ("ban", "unban")]
    assert bans_and_unbans == [e for e in expected if e[0] in ("ban", "unban")]


async def test_replayed_dispatches_are_recorded_once(sandbox: Sandbox, start_bot) -> None:
    """After two replays of the burst, the bot's day holds each join, leave, ban and unban once."""
    run = await start_bot().started()
    expected = await _burst_replayed_twice(sandbox, run)
    recorded = _recorded(run)
    await _stop(run)
    assert recorded == expected


async def test_the_day_file_holds_each_replayed_event_once(
    sandbox: Sandbox, start_bot, tmp_path: Path
) -> None:
    """After the bot stops, the day file lists each event of the replayed burst once."""
    run = await start_bot().started()
    expected = await _burst_replayed_twice(sandbox, run)
    await _stop(run)
    stored = Counter((e["kind"], e["member_id"]) for e in day_file_events(tmp_path / "data"))
    assert stored == Counter(expected)


async def test_replayed_bans_do_not_move_the_ban_counter(sandbox: Sandbox, start_bot) -> None:
    """25 bans, then 2 bans and 1 unban replayed twice: the ban counter settles on 26."""
    run = await start_bot().started()
    await _burst_replayed_twice(sandbox, run)
    await _wait(lambda: _bans_settled(run, sandbox), timeout=3 * WINDOW, what="the ban counter to settle")
    shown = sandbox.channel_name(sandbox.channel_ids["bans"])
    await _stop(run)
    assert (shown, sandbox.ban_count) == ("🔨 Bans: 26", 26)
