"""Discord REST faults: a two-minute 5xx outage is waited out without hammering, a 403 pauses a counter.

Time is scaled 120x (conftest TIME_SCALE): the sandbox's 600 s rename window lasts 5 s and the bot's
intervals (FAST) are one second, i.e. two Discord minutes. The outage answers 503, which discord.py does
not retry by itself (it sleeps 1, 3, 5, 7 real seconds between retries of 500/502/504, unscaled, which
would swallow a one-second outage and hide what the bot does); so every failed call reaches the bot's
own policy.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from structlog.testing import capture_logs

from src.sandbox import Sandbox
from src.services.stats.counters import RETRY_BASE
from tests.integration.conftest import FAST, TIME_SCALE, WINDOW, wait_until
from tests.integration.reliability_support import wait_counters_shown

pytestmark = pytest.mark.integration

OUTAGE = 120.0 / TIME_SCALE  # two Discord minutes
BACKOFF = 300.0 / TIME_SCALE  # MAX_BACKOFF of five Discord minutes
PRESENCE_EVERY = 2.0  # at most 5 presence updates in these short runs: the limiter never holds one back
COUNTERS = 3
# What the bot may send in the outage. Each periodic loop that calls REST (count refresh every
# UPDATE_INTERVAL, status edit every HEARTBEAT_INTERVAL) once per interval plus one at the edge; each
# counter its first rename attempt and then one per backoff step (no sooner than min(RETRY_BASE,
# MAX_BACKOFF)); alert posts only for conditions that cannot arise in two minutes (breakers, stale counters
# after ALERT_COUNTER_STALE_S). A bot retrying in a loop would send hundreds in the same second.
REQUEST_BOUND = int(
    2 * (OUTAGE / FAST["update_interval"] + 1) + COUNTERS * (1 + OUTAGE // min(RETRY_BASE, BACKOFF))
)


def _counter_names(sb: Sandbox) -> dict[str, str]:
    ids = sb.channel_ids
    return {kind: sb.channel_name(ids[kind]) for kind in ("members", "online", "bans")}


def _expected_names(sb: Sandbox) -> dict[str, str]:
    return {
        "members": f"👥 Members: {sb.member_count:,}",
        "online": f"🟢 Online: {sb.online_count:,}",
        "bans": f"🔨 Bans: {sb.ban_count:,}",
    }


async def test_two_minute_rest_outage_is_not_hammered_and_heals_by_itself(sandbox, start_bot):
    """503 on every route for two minutes: a bounded number of requests, then every counter catches up."""
    run = await start_bot(max_backoff=BACKOFF, presence_update_interval=PRESENCE_EVERY).started()
    await wait_until(lambda: _counter_names(sandbox) == _expected_names(sandbox), what="all three counters")
    await asyncio.sleep(WINDOW / 2)  # renames are spaced window/limit apart: every counter may rename again

    began = time.monotonic()
    sandbox.inject_fault(".", status=503, duration=OUTAGE)
    for _ in range(3):
        await sandbox.add_member()
    await sandbox.ban(await sandbox.add_member())
    sandbox.set_online(123)
    await wait_until(lambda: time.monotonic() > began + OUTAGE, timeout=OUTAGE + 1, what="the outage")
    during = [r for r in sandbox.journal.requests if began <= r.t < began + OUTAGE]

    await wait_until(
        lambda: _counter_names(sandbox) == _expected_names(sandbox),
        timeout=BACKOFF + WINDOW,
        what="the counters to catch up after the outage",
    )
    heartbeat = sandbox.channel_ids["heartbeat"]
    await wait_until(
        lambda: any(
            r.t > began + OUTAGE and r.status == 200
            for r in sandbox.journal.requests_matching(rf"PATCH /channels/{heartbeat}/messages/\d+")
        ),
        timeout=3 * FAST["heartbeat_interval"],
        what="the status message to be edited again",
    )
    assert await run.stop() == 0

    renames_tried = [r for r in during if r.method == "PATCH" and r.path.count("/") == 2]
    assert renames_tried, "the outage must hit pending renames, or the bound says nothing about counters"
    assert {r.status for r in during} == {503}
    assert len(during) <= REQUEST_BOUND, [f"{r.method} {r.path}" for r in during]


async def test_403_on_a_counter_channel_pauses_it_after_one_attempt(sandbox, start_bot):
    """Manage Channels revoked: one rename attempt gets 403, the counter pauses, nothing retries it."""
    # A short MAX_BACKOFF: were a 403 retried like an outage, the retries would show within the test.
    run = await start_bot(max_backoff=0.5, presence_update_interval=PRESENCE_EVERY).started()
    await wait_counters_shown(sandbox)
    members = sandbox.channel_ids["members"]
    shown = sandbox.channel_name(members)
    sandbox.set_channel_permissions(members, manage_channels=False)
    await sandbox.flush()
    invalid_before = sandbox.invalid_requests
    since = time.monotonic()

    def renames() -> list[int]:
        return [
            r.status for r in sandbox.journal.requests_matching(rf"PATCH /channels/{members}$") if r.t > since
        ]

    with capture_logs() as logs:
        await sandbox.add_member()
        await wait_until(renames, timeout=2 * WINDOW, what="the rename attempt")
        watch_until = time.monotonic() + WINDOW / 2 + 0.5  # past the next rename slot and several backoffs
        while time.monotonic() < watch_until:
            await sandbox.add_member()  # keep giving the counter something new to show
            await asyncio.sleep(0.25)
    assert await run.stop() == 0

    assert renames() == [403]
    assert sandbox.invalid_requests - invalid_before == 1
    assert sandbox.channel_name(members) == shown
    (paused,) = [e for e in logs if e["event"] == "counter.paused"]
    assert paused["reason"] == "missing_permissions"
    assert str(members) in paused["fix"]
