"""Counters of every kind end to end: what each channel is called, on the fake Discord and a manual clock."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from src.core.config import Settings
from src.core.exceptions import PermanentDiscordError, TransientDiscordError
from src.services.stats.counters import CounterService
from src.types.models import ChannelStats, CounterSource, CounterSpec
from src.types.ports import GuildFacts, MemberInfo
from tests.clock import ManualClock
from tests.fakes import FakeDiscord, MemoryStore
from tests.unit.stats.test_counters import advance_to, events, members_change, most_in_any_window, started

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ROLE = 123456789012345678
BOTS, HUMANS, BOOSTS, CHANNELS, ROLES, ROLE_HOLDERS, MEMBERS, EXACT_MEMBERS = range(2001, 2009)
TEMPLATES = {
    BOTS: "🤖 {bots}",
    HUMANS: "🧑 {humans:,}",
    BOOSTS: "🚀 {boosts} · Tier {boost_tier}",
    CHANNELS: "#️⃣ {channels}",
    ROLES: "🎭 {roles}",
    ROLE_HOLDERS: f"⭐ {{role:{ROLE}}}",
    MEMBERS: "👥 {members:compact}",
    EXACT_MEMBERS: "👥 {members:,}",
}
KINDS = (BOTS, HUMANS, BOOSTS, CHANNELS, ROLES, ROLE_HOLDERS, MEMBERS)

# What the member-list pass sees: 3 bots, 7 humans of whom 2 hold ROLE (1234 members in all).
MEMBER_LIST = [
    *(MemberInfo(user_id, True) for user_id in (1, 2, 3)),
    *(MemberInfo(user_id, False, frozenset({ROLE})) for user_id in (10, 11)),
    *(MemberInfo(user_id, False) for user_id in range(12, 17)),
]


def specs(*channels: int) -> list[CounterSpec]:
    """File counters showing TEMPLATES on `channels`."""
    return [CounterSpec(channel, TEMPLATES[channel], CounterSource.FILE) for channel in channels]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def port(clock: ManualClock) -> FakeDiscord:
    port = FakeDiscord(clock, tuple(TEMPLATES))
    port.gateway_members = 1234
    port.facts = GuildFacts(boosts=14, boost_tier=2, channels=42, roles=17)
    port.role_counts = {ROLE: 57, 999: 4}
    port.member_list = list(MEMBER_LIST)
    return port


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def make_service(
    settings: Settings, port: FakeDiscord, clock: ManualClock, services: list[CounterService]
) -> Callable[..., CounterService]:
    def build(channels: Sequence[int] = KINDS, **overrides: Any) -> CounterService:
        service = CounterService(
            overrides.get("settings", settings), port, clock, MemoryStore(), specs(*channels)
        )
        services.append(service)
        return service

    return build


def names(port: FakeDiscord, channels: Sequence[int] = KINDS) -> dict[int, str]:
    return {channel: port.name(channel) for channel in channels}


def state(service: CounterService, channel: int) -> ChannelStats:
    [found] = [s for s in service.counter_states() if s.channel_id == channel]
    return found


def scans(port: FakeDiscord) -> int:
    return len(port.of("scan_members"))


# --- every kind at start ---------------------------------------------------------------------------------


async def test_every_kind_shows_its_value_after_start(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """Bots and humans from one member pass, boosts/channels/roles from the guild, the role from Discord."""
    with capture_logs() as logs:
        await started(make_service(), clock)
    assert names(port) == {
        BOTS: "🤖 3",
        HUMANS: "🧑 1,231",
        BOOSTS: "🚀 14 · Tier 2",
        CHANNELS: "#️⃣ 42",
        ROLES: "🎭 17",
        ROLE_HOLDERS: "⭐ 57",  # Discord's count wins over the 2 holders the pass saw
        MEMBERS: "👥 1.2K",
    }
    assert {t for t, _, _ in port.renames} == {0.0}
    assert scans(port) == 1
    [done] = events(logs, "counter.member_pass_done")
    assert (done["members"], done["bots"]) == (len(MEMBER_LIST), 3)


async def test_no_member_pass_when_no_template_needs_it(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """Guild facts and a role Discord counts need no pass over the member list."""
    await started(make_service((BOOSTS, CHANNELS, ROLES, ROLE_HOLDERS, MEMBERS)), clock)
    await clock.advance(3600)
    assert names(port, (ROLE_HOLDERS, MEMBERS)) == {ROLE_HOLDERS: "⭐ 57", MEMBERS: "👥 1.2K"}
    assert scans(port) == 0


# --- bots and humans follow the members ------------------------------------------------------------------


async def test_a_bot_joining_and_leaving_moves_bots_not_humans(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A bot's join shows 🤖 4 and its leave 🤖 3 again, while 🧑 keeps its first name."""
    service = await started(make_service(), clock)
    await advance_to(clock, 10)
    service.member_joined(MemberInfo(4, True))
    await members_change(service, port, 1235)
    await advance_to(clock, 300)
    assert port.name(BOTS) == "🤖 4"
    await advance_to(clock, 310)
    service.member_left(4, bot=True)
    await members_change(service, port, 1234)
    await advance_to(clock, 1200)
    assert port.renames_of(BOTS) == [(0.0, "🤖 3"), (300.0, "🤖 4"), (601.0, "🤖 3")]
    assert port.renames_of(HUMANS) == [(0.0, "🧑 1,231")]


async def test_a_human_joining_moves_humans_not_bots(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A human's join moves 🧑 to 1,232 and leaves 🤖 alone."""
    service = await started(make_service(), clock)
    await advance_to(clock, 10)
    service.member_joined(MemberInfo(20, False))
    await members_change(service, port, 1235)
    await advance_to(clock, 1200)
    assert port.renames_of(HUMANS) == [(0.0, "🧑 1,231"), (300.0, "🧑 1,232")]
    assert port.renames_of(BOTS) == [(0.0, "🤖 3")]


async def test_a_bot_leaving_during_the_member_pass_is_not_counted(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A bot the pass already counted that leaves before the pass ends is not shown in {bots}."""
    port.chunk_size = 2  # the first chunk holds bots 1 and 2
    services: list[CounterService] = []
    port.during_scan = lambda: services[0].member_left(1, bot=True)
    services.append(make_service((BOTS,)))
    await started(services[0], clock)
    assert port.name(BOTS) == "🤖 2"


async def test_a_fresh_member_pass_corrects_the_tally(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """Bots that joined while the gateway was away show after request_member_pass() counts again."""
    service = await started(make_service((BOTS,)), clock)
    port.member_list += [MemberInfo(4, True), MemberInfo(5, True)]
    await advance_to(clock, 10)
    service.request_member_pass()
    await advance_to(clock, 400)
    assert port.renames_of(BOTS) == [(0.0, "🤖 3"), (300.0, "🤖 5")]
    assert scans(port) == 2


# --- roles -----------------------------------------------------------------------------------------------


async def test_role_holders_follow_member_updates_without_the_endpoint(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """Without Discord's role counts the pass counts holders, and an update adding the role moves ⭐."""
    port.role_counts = PermanentDiscordError("403 Missing Access")
    with capture_logs() as logs:
        service = await started(make_service((ROLE_HOLDERS,)), clock)
    assert port.name(ROLE_HOLDERS) == "⭐ 2"
    [unavailable] = events(logs, "counter.role_counts_unavailable")
    assert unavailable["fallback"] == "member list"
    await advance_to(clock, 10)
    service.member_updated(MemberInfo(12, False, frozenset({ROLE})))
    await advance_to(clock, 20)
    service.member_updated(MemberInfo(13, False, frozenset({ROLE, 999})))
    await advance_to(clock, 400)
    assert port.renames_of(ROLE_HOLDERS) == [(0.0, "⭐ 2"), (300.0, "⭐ 4")]
    assert scans(port) == 1


async def test_role_holders_follow_leaves_and_lost_roles_without_the_endpoint(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A holder leaving and a holder losing the role both take one off ⭐; untracked roles change nothing."""
    port.role_counts = PermanentDiscordError("403 Missing Access")
    service = await started(make_service((ROLE_HOLDERS,)), clock)
    await advance_to(clock, 10)
    service.member_left(10, bot=False)
    service.member_updated(MemberInfo(11, False, frozenset({999})))
    service.member_updated(MemberInfo(14, False, frozenset({999})))
    await advance_to(clock, 400)
    assert port.renames_of(ROLE_HOLDERS) == [(0.0, "⭐ 2"), (300.0, "⭐ 0")]


async def test_a_role_counter_added_while_running_shows_the_passes_count_not_zero(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A role counter added at run time without Discord's counts shows the new pass's 2 holders, never 0."""
    port.role_counts = PermanentDiscordError("403 Missing Access")
    service = await started(make_service((BOTS,)), clock)
    await advance_to(clock, 10)
    await service.add_counter(specs(ROLE_HOLDERS)[0])
    await clock.advance(0)
    assert port.renames_of(ROLE_HOLDERS) == [(10.0, "⭐ 2")]
    assert scans(port) == 2


# --- guild facts -----------------------------------------------------------------------------------------


async def test_guild_facts_changing_renames_after_refresh_guild_facts(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """New boosts, tier, channels and roles show once the guild's update events re-read them."""
    service = await started(make_service((BOOSTS, CHANNELS, ROLES)), clock)
    await advance_to(clock, 10)
    port.facts = GuildFacts(boosts=20, boost_tier=3, channels=43, roles=16)
    service.refresh_guild_facts()
    await advance_to(clock, 300)
    assert names(port, (BOOSTS, CHANNELS, ROLES)) == {
        BOOSTS: "🚀 20 · Tier 3",
        CHANNELS: "#️⃣ 43",
        ROLES: "🎭 16",
    }
    assert [t for t, _ in port.renames_of(BOOSTS)] == [0.0, 300.0]


async def test_guild_facts_unknown_until_the_guild_is_there(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """Without the guild object the facts counters wait, then show at once when it arrives."""
    port.facts = None
    service = await started(make_service((BOOSTS, MEMBERS)), clock)
    assert port.renames_of(BOOSTS) == []
    assert port.renames_of(MEMBERS) == [(0.0, "👥 1.2K")]
    await advance_to(clock, 50)
    port.facts = GuildFacts(boosts=1, boost_tier=0, channels=5, roles=2)
    service.refresh_guild_facts()
    await clock.advance(0)
    assert port.renames_of(BOOSTS) == [(50.0, "🚀 1 · Tier 0")]


# --- unavailable data ------------------------------------------------------------------------------------


async def test_bots_without_members_intent_pause_with_the_fix(
    make_settings: Callable[..., Settings],
    make_service: Callable[..., CounterService],
    port: FakeDiscord,
    clock: ManualClock,
) -> None:
    """With MEMBERS_INTENT=false {bots}/{humans} counters pause naming the fix; others still rename."""
    with capture_logs() as logs:
        service = await started(make_service(KINDS, settings=make_settings(members_intent=False)), clock)
        await clock.advance(3600)
    bots = state(service, BOTS)
    assert bots.paused_reason == "needs_members_intent"
    assert bots.paused_fix is not None
    assert bots.paused_fix.startswith("{bots} need the Server Members intent: set MEMBERS_INTENT=true")
    assert state(service, HUMANS).paused_reason == "needs_members_intent"
    paused = {entry["channel_id"]: entry for entry in events(logs, "counter.paused")}
    assert set(paused) == {BOTS, HUMANS}
    assert paused[BOTS]["log_level"] == "error"
    assert "MEMBERS_INTENT" in paused[BOTS]["fix"]
    assert port.renames_of(BOTS) == port.renames_of(HUMANS) == []
    assert port.name(BOOSTS) == "🚀 14 · Tier 2"
    assert port.name(ROLE_HOLDERS) == "⭐ 57"
    assert scans(port) == 0


async def test_the_fix_names_every_value_needing_the_intent(
    make_settings: Callable[..., Settings],
    port: FakeDiscord,
    clock: ManualClock,
    services: list[CounterService],
) -> None:
    """A template with {humans} and {bots} names both in its pause fix."""
    settings = make_settings(members_intent=False)
    spec = CounterSpec(BOTS, "🧑 {humans} 🤖 {bots}", CounterSource.FILE)
    service = CounterService(settings, port, clock, MemoryStore(), [spec])
    services.append(service)
    await started(service, clock)
    assert (state(service, BOTS).paused_fix or "").startswith(
        "{bots} and {humans} need the Server Members intent"
    )


async def test_a_bad_template_pauses_only_its_counter(
    settings: Settings, port: FakeDiscord, clock: ManualClock, services: list[CounterService]
) -> None:
    """An unusable template pauses with bad_template and its parser message; the others rename."""
    spec = CounterSpec(HUMANS, "🧑 {robots}", CounterSource.FILE)
    service = CounterService(settings, port, clock, MemoryStore(), [spec, *specs(BOTS)])
    services.append(service)
    await started(service, clock)
    humans = state(service, HUMANS)
    assert humans.paused_reason == "bad_template"
    assert (humans.paused_fix or "").startswith("fix the counter's template: Unknown placeholder {robots}")
    assert port.renames_of(HUMANS) == []
    assert port.name(BOTS) == "🤖 3"


async def test_a_role_counter_without_endpoint_or_intent_pauses_with_the_fix(
    make_settings: Callable[..., Settings],
    make_service: Callable[..., CounterService],
    port: FakeDiscord,
    clock: ManualClock,
) -> None:
    """With no role-counts endpoint and MEMBERS_INTENT=false, ⭐ pauses naming MEMBERS_INTENT, not waits."""
    port.role_counts = PermanentDiscordError("403 Missing Access")
    service = await started(
        make_service((ROLE_HOLDERS,), settings=make_settings(members_intent=False)), clock
    )
    await clock.advance(3600)
    holders = state(service, ROLE_HOLDERS)
    assert holders.paused_reason == "needs_members_intent"
    assert "MEMBERS_INTENT=true" in (holders.paused_fix or "")


async def test_a_counter_whose_data_is_unknown_does_not_block_the_others(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """While the member pass fails 🤖 waits and the other counters rename at t=0; 🤖 follows on retry."""
    port.scan_errors = [TransientDiscordError("member list stopped after 0 of ? chunks")]
    with capture_logs() as logs:
        service = await started(make_service(), clock)
    assert port.renames_of(BOTS) == []
    assert port.renames_of(HUMANS) == []
    assert state(service, BOTS).value is None
    assert {channel for _, channel, _ in port.renames} == set(KINDS) - {BOTS, HUMANS}
    [failed] = events(logs, "counter.member_pass_failed")
    assert failed["retry_in"] == 5.0
    await clock.advance(5)
    assert port.renames_of(BOTS) == [(5.0, "🤖 3")]
    assert port.renames_of(HUMANS) == [(5.0, "🧑 1,231")]


# --- the burst-aware schedule ----------------------------------------------------------------------------


async def burst(
    service: CounterService, port: FakeDiscord, clock: ManualClock, start: int, joins: int
) -> float:
    """`joins` members join one every 0.5 s from `start`; return when the last one joined."""
    for i in range(1, joins + 1):
        await members_change(service, port, start + i)
        if i < joins:
            await clock.advance(0.5)
    return clock.monotonic()


async def test_a_burst_shows_its_settled_count_within_30_s(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """+50 members joining one by one in 25 s show their settled count within window/20 (30 s) of the last."""
    service = await started(make_service((EXACT_MEMBERS,)), clock)
    await advance_to(clock, 60)
    last = await burst(service, port, clock, 1234, 50)
    await advance_to(clock, last + 30)
    assert port.name(EXACT_MEMBERS) == "👥 1,284"


async def test_a_burst_that_starts_with_a_jump_shows_within_30_s(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """+20 at once then 30 more joins: one rename, to the settled count, within 30 s of the last join."""
    service = await started(make_service((EXACT_MEMBERS,)), clock)
    await advance_to(clock, 60)
    await members_change(service, port, 1254)
    await clock.advance(0.5)
    last = await burst(service, port, clock, 1254, 30)
    await advance_to(clock, last + 30)
    [first, shown] = port.renames_of(EXACT_MEMBERS)
    assert first == (0.0, "👥 1,234")
    assert shown[1] == "👥 1,284"
    assert last < shown[0] <= last + 30


async def test_a_small_change_waits_for_the_spacing(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """+3 members is not worth a free slot: it shows 300 s (window/limit) after the first rename."""
    service = await started(make_service((EXACT_MEMBERS,)), clock)
    await advance_to(clock, 60)
    await members_change(service, port, 1237)
    await advance_to(clock, 299)
    assert port.name(EXACT_MEMBERS) == "👥 1,234"
    await advance_to(clock, 1000)
    assert port.renames_of(EXACT_MEMBERS) == [(0.0, "👥 1,234"), (300.0, "👥 1,237")]


async def test_a_burst_after_a_small_change_still_shows_within_30_s(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A +3 change waiting for its slot does not hold back a +50 jump that follows it."""
    service = await started(make_service((EXACT_MEMBERS,)), clock)
    await advance_to(clock, 20)
    await members_change(service, port, 1237)
    await advance_to(clock, 60)
    await members_change(service, port, 1287)
    await advance_to(clock, 90)
    assert port.name(EXACT_MEMBERS) == "👥 1,287"


async def test_never_more_than_two_renames_in_any_window(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """Two hours of trickles and bursts: at most 2 renames in any 600 s, and the newest count ends shown."""
    service = await started(make_service((EXACT_MEMBERS, HUMANS)), clock)
    rng = random.Random(20260301)
    count = 1234
    while clock.monotonic() < 7200:
        if rng.random() < 0.1:
            count += rng.choice([-1, 1]) * rng.randint(20, 80)  # a raid or a purge
        else:
            count += rng.randint(-3, 3)
        await members_change(service, port, count)
        await clock.advance(rng.choice([0.5, 2, 10, 45, 120]))
    await clock.advance(1300)
    for channel in (EXACT_MEMBERS, HUMANS):
        times = [t for t, _ in port.renames_of(channel)]
        assert len(times) > 10
        assert most_in_any_window(times, 600.0) <= 2
    assert port.name(EXACT_MEMBERS) == f"👥 {count:,}"
    assert port.name(HUMANS) == f"🧑 {count - 3:,}"
