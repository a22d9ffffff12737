"""Tests for CounterService: what the counter channels end up called, when, and what gets logged."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from src.core.config import Settings
from src.core.exceptions import (
    PermanentDiscordError,
    RateLimitedError,
    TransientDiscordError,
)
from src.services.stats.budget import BUDGET_FILE
from src.services.stats.counter_specs import environment_counters
from src.services.stats.counters import CounterService
from src.types.models import ChannelStats, CounterKind
from src.types.ports import ChannelKind, GuildCounts
from src.utils.store import AtomicJsonStore
from tests.clock import ManualClock
from tests.fakes import FakeDiscord, MemoryStore

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GUILD = 42
MEMBERS, ONLINE, BANS = 1001, 1002, 1003  # the channel ids tests/conftest.py configures
Log = MutableMapping[str, Any]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def port(clock: ManualClock) -> FakeDiscord:
    return FakeDiscord(clock, (MEMBERS, ONLINE, BANS))


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def make_service(
    settings: Settings,
    port: FakeDiscord,
    clock: ManualClock,
    store: MemoryStore,
    services: list[CounterService],
) -> Callable[..., CounterService]:
    def build(**overrides: Any) -> CounterService:
        chosen = overrides.get("settings", settings)
        service = CounterService(
            chosen,
            overrides.get("port", port),
            clock,
            overrides.get("store", store),
            overrides.get("specs", environment_counters(chosen)),
        )
        services.append(service)
        return service

    return build


async def started(service: CounterService, clock: ManualClock) -> CounterService:
    await service.start()
    await clock.advance(0)
    return service


async def advance_to(clock: ManualClock, seconds: float) -> None:
    """Advance the manual clock to `seconds` after the test's start."""
    await clock.advance(seconds - clock.monotonic())


def most_in_any_window(times: list[float], window: float = 600.0) -> int:
    """The largest number of `times` inside any half-open window of `window` seconds."""
    return max((sum(1 for t in times if start <= t < start + window) for start in times), default=0)


async def members_change(service: CounterService, port: FakeDiscord, count: int) -> None:
    """A member joins or leaves: the gateway count moves and the bot passes it on, as on_member_join does.

    The clock is then settled at the current time, as real time would not jump before the worker runs.
    """
    port.gateway_members = count
    service.set_member_count(count)
    await port.clock.advance(0)


def members_state(service: CounterService) -> ChannelStats:
    """The members counter's snapshot."""
    [state] = [s for s in service.counter_states() if s.key == CounterKind.MEMBERS]
    return state


def events(logs: list[Log], name: str) -> list[Log]:
    return [entry for entry in logs if entry["event"] == name]


# --- names ---------------------------------------------------------------------------------------------


async def test_default_names_use_thousands_separators(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """The three channels are named with the default templates and grouped digits."""
    port.gateway_members = 1234
    port.counts = GuildCounts(members=1200, online=567)
    port.bans = 89
    await started(make_service(), clock)
    assert port.name(MEMBERS) == "👥 Members: 1,234"
    assert port.name(ONLINE) == "🟢 Online: 567"
    assert port.name(BANS) == "🔨 Bans: 89"


async def test_first_renames_happen_at_start_without_waiting(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """Each channel is renamed at t=0, as soon as its first value is known."""
    await started(make_service(), clock)
    assert sorted(port.renames) == [
        (0.0, MEMBERS, "👥 Members: 1,234"),
        (0.0, ONLINE, "🟢 Online: 567"),
        (0.0, BANS, "🔨 Bans: 89"),
    ]


async def test_no_rename_when_channel_already_shows_the_name(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A channel that already shows the right name at start is not renamed."""
    port.channels[MEMBERS] = replace(port.channels[MEMBERS], name="👥 Members: 1,234")
    await started(make_service(), clock)
    await clock.advance(3600)
    assert port.renames_of(MEMBERS) == []


async def test_no_rename_when_value_returns_to_the_shown_name(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A value that changes and changes back before the next slot costs no rename."""
    service = await started(make_service(), clock)
    await clock.advance(10)
    await members_change(service, port, 1235)
    await clock.advance(10)
    await members_change(service, port, 1234)
    await clock.advance(3600)
    assert port.renames_of(MEMBERS) == [(0.0, "👥 Members: 1,234")]


# --- coalescing and spacing ------------------------------------------------------------------------------


async def test_burst_of_changes_costs_at_most_two_renames_per_window_and_shows_newest(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """100 member changes within a minute give <= 2 renames in any 600 s and end on the newest value."""
    service = await started(make_service(), clock)
    for i in range(100):
        await members_change(service, port, 2000 + i)
        await clock.advance(0.6)
    await clock.advance(7200)
    times = [t for t, _ in port.renames_of(MEMBERS)]
    assert most_in_any_window(times) <= 2
    assert port.name(MEMBERS) == "👥 Members: 2,099"


async def test_renames_are_spread_half_a_window_apart(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """After a rename the next one to that channel waits window/limit (300 s), not just for the budget."""
    service = await started(make_service(), clock)
    await clock.advance(10)
    await members_change(service, port, 1240)
    await clock.advance(3600)
    assert port.renames_of(MEMBERS) == [(0.0, "👥 Members: 1,234"), (300.0, "👥 Members: 1,240")]


async def test_third_rename_waits_for_the_window_to_free_up(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """With renames at 0 s and 300 s the third waits until the first is 600 s (+1 s margin) old."""
    service = await started(make_service(), clock)
    await members_change(service, port, 1240)
    await advance_to(clock, 301)
    await members_change(service, port, 1243)
    await clock.advance(3600)
    assert [t for t, _ in port.renames_of(MEMBERS)] == [0.0, 300.0, 601.0]


async def test_online_change_shows_within_one_slot_plus_update_interval(
    make_service: Callable[..., CounterService],
    port: FakeDiscord,
    clock: ManualClock,
    settings: Settings,
) -> None:
    """An online count that changes in Discord is on the channel within 300 s + update_interval."""
    await started(make_service(), clock)
    await clock.advance(1)
    port.counts = GuildCounts(members=1234, online=600)
    changed_at = clock.monotonic()
    await clock.advance(300 + settings.update_interval)
    shown_at = [t for t, name in port.renames_of(ONLINE) if name == "🟢 Online: 600"]
    assert shown_at
    assert shown_at[0] - changed_at <= 300 + settings.update_interval


# --- rate limits -----------------------------------------------------------------------------------------


async def test_rate_limit_delays_only_that_channel_and_retry_carries_newest_value(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A 429 on members holds members back by retry_after while bans still renames on time."""
    service = await started(make_service(), clock)
    port.rename_errors[MEMBERS] = [RateLimitedError(120.0)]
    await clock.advance(1)
    service.adjust_bans(+1, 7)
    await members_change(service, port, 1240)
    await advance_to(clock, 350)
    await members_change(service, port, 1243)
    await advance_to(clock, 1000)
    assert port.renames_of(BANS) == [(0.0, "🔨 Bans: 89"), (300.0, "🔨 Bans: 90")]
    assert port.renames_of(MEMBERS) == [(0.0, "👥 Members: 1,234"), (420.0, "👥 Members: 1,243")]


async def test_rate_limit_is_logged_with_retry_after(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A 429 logs counter.rate_limited at warning level with the channel and retry_after."""
    service = await started(make_service(), clock)
    port.rename_errors[MEMBERS] = [RateLimitedError(120.0)]
    await members_change(service, port, 1240)
    with capture_logs() as logs:
        await clock.advance(300)
    [entry] = events(logs, "counter.rate_limited")
    assert entry["log_level"] == "warning"
    assert entry["retry_after"] == 120.0
    assert entry["channel_id"] == MEMBERS
    assert entry["counter"] == "Members"


async def test_values_are_accepted_while_a_channel_waits_out_a_429(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """While members waits out a 429, new values are accepted and reported at once."""
    service = await started(make_service(), clock)
    port.rename_errors[MEMBERS] = [RateLimitedError(500.0)]
    await members_change(service, port, 1240)
    await clock.advance(300)
    await members_change(service, port, 1238)
    assert service.current_counts()[CounterKind.MEMBERS] == 1238
    [members] = [s for s in service.counter_states() if s.key == CounterKind.MEMBERS]
    assert members.next_rename_at == START + timedelta(seconds=800)


# --- pausing ----------------------------------------------------------------------------------------------


async def test_text_channel_pauses_once_and_is_never_renamed(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A text channel logs one counter.paused with a fix and is never renamed, whatever the value does."""
    port.channels[MEMBERS] = replace(port.channels[MEMBERS], kind=ChannelKind.TEXT)
    with capture_logs() as logs:
        service = await started(make_service(), clock)
        for i in range(50):
            await members_change(service, port, 1300 + i)
            await clock.advance(120)
    [paused] = events(logs, "counter.paused")
    assert paused["log_level"] == "error"
    assert paused["reason"] == "text_channel"
    assert "voice channel" in paused["fix"]
    assert port.rename_attempts[MEMBERS] == 0


async def test_missing_channel_pauses_with_fix_naming_the_setting(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A channel that does not exist pauses with a fix naming MEMBER_COUNT_CHANNEL_ID and is not renamed."""
    del port.channels[MEMBERS]
    with capture_logs() as logs:
        service = await started(make_service(), clock)
        for i in range(20):
            await members_change(service, port, 1300 + i)
            await clock.advance(300)
    [paused] = events(logs, "counter.paused")
    assert paused["reason"] == "channel_not_found"
    assert "MEMBER_COUNT_CHANNEL_ID" in paused["fix"]
    assert port.rename_attempts[MEMBERS] == 0


async def test_missing_permission_pauses_with_permissions_fix(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A channel the bot may not rename pauses with a fix naming the permissions and is not renamed."""
    port.channels[ONLINE] = replace(port.channels[ONLINE], can_rename=False)
    with capture_logs() as logs:
        service = await started(make_service(), clock)
        for i in range(20):
            service.set_online(600 + i)
            await clock.advance(300)
    [paused] = events(logs, "counter.paused")
    assert paused["reason"] == "missing_permissions"
    assert paused["fix"] == f"give the bot Manage Channels, View Channel and Connect on channel {ONLINE}"
    assert port.rename_attempts[ONLINE] == 0


async def test_rename_rejected_with_403_pauses_after_one_attempt(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A 403 on rename pauses the counter after that single attempt instead of retrying into more 403s."""
    port.rename_errors[BANS] = [PermanentDiscordError("403 Missing Permissions", fix="grant Manage Channels")]
    with capture_logs() as logs:
        service = await started(make_service(), clock)
        for _ in range(20):
            service.adjust_bans(+1, 7)
            await clock.advance(300)
    [paused] = events(logs, "counter.paused")
    assert paused["reason"] == "rename_rejected"
    assert paused["fix"] == "grant Manage Channels"
    assert port.rename_attempts[BANS] == 1


async def test_paused_counter_leaves_other_channels_working(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """One paused counter does not stop the others from being renamed."""
    port.channels[MEMBERS] = replace(port.channels[MEMBERS], kind=ChannelKind.TEXT)
    await started(make_service(), clock)
    assert port.name(ONLINE) == "🟢 Online: 567"
    assert port.name(BANS) == "🔨 Bans: 89"


async def test_resume_paused_renames_once_the_channel_is_fixed(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """After the permission is granted, resume_paused re-checks and the counter shows the newest value."""
    port.channels[MEMBERS] = replace(port.channels[MEMBERS], can_rename=False)
    service = await started(make_service(), clock)
    await members_change(service, port, 1500)
    port.channels[MEMBERS] = replace(port.channels[MEMBERS], can_rename=True)
    with capture_logs() as logs:
        reasons = await service.resume_paused()
        await clock.advance(0)
    assert reasons[MEMBERS] is None
    assert events(logs, "counter.resumed")
    assert port.name(MEMBERS) == "👥 Members: 1,500"


async def test_resume_paused_reports_a_counter_still_broken(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """resume_paused leaves a still-broken counter paused, reports why, and does not log the pause again."""
    port.channels[MEMBERS] = replace(port.channels[MEMBERS], kind=ChannelKind.TEXT)
    service = await started(make_service(), clock)
    with capture_logs() as logs:
        reasons = await service.resume_paused()
    assert reasons[MEMBERS] == "text_channel"
    assert events(logs, "counter.paused") == []
    assert port.rename_attempts[MEMBERS] == 0


# --- transient failures -----------------------------------------------------------------------------------


async def test_transient_errors_back_off_capped_by_max_backoff(
    make_settings: Callable[..., Settings],
    make_service: Callable[..., CounterService],
    port: FakeDiscord,
    clock: ManualClock,
) -> None:
    """Failed renames retry after 5, 10, 20, 20 s (capped) and then show the value."""
    port.rename_errors[MEMBERS] = [TransientDiscordError("503")] * 4
    await started(make_service(settings=make_settings(max_backoff=20)), clock)
    await clock.advance(600)
    assert port.renames_of(MEMBERS) == [(55.0, "👥 Members: 1,234")]
    assert port.rename_attempts[MEMBERS] == 5


async def test_transient_errors_on_one_channel_do_not_delay_another(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """While members keeps failing, online is renamed at t=0."""
    port.rename_errors[MEMBERS] = [TransientDiscordError("timeout")] * 10
    await started(make_service(), clock)
    assert port.renames_of(ONLINE) == [(0.0, "🟢 Online: 567")]
    assert port.renames_of(MEMBERS) == []


async def test_transient_preflight_failure_is_retried_before_renaming(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A channel that could not be fetched at start is fetched again, then renamed."""
    port.fetch_channel_errors[MEMBERS] = [TransientDiscordError("502"), TransientDiscordError("502")]
    await started(make_service(), clock)
    await clock.advance(60)
    assert port.renames_of(MEMBERS) == [(5.0, "👥 Members: 1,234")]


# --- persistence -----------------------------------------------------------------------------------------


async def test_budget_state_file_is_written_after_each_rename(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock, store: MemoryStore
) -> None:
    """After the renames at start, the state file lists each channel's rename time."""
    await started(make_service(), clock)
    document = store.document(BUDGET_FILE)
    assert document["schema_version"] == 1
    assert document["channels"][str(MEMBERS)]["renames"] == [START.isoformat()]
    assert set(document["channels"]) == {str(MEMBERS), str(ONLINE), str(BANS)}


async def test_restart_with_persisted_budget_keeps_two_per_window(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """Renames at 0 s and 300 s, a restart at 310 s: the restarted bot waits until 601 s."""
    first = await started(make_service(), clock)
    await members_change(first, port, 1240)
    await advance_to(clock, 305)
    await first.stop()
    await advance_to(clock, 310)

    second = make_service()
    await members_change(second, port, 1243)
    await started(second, clock)
    await clock.advance(3600)
    times = [t for t, _ in port.renames_of(MEMBERS)]
    assert times == [0.0, 300.0, 601.0]
    assert most_in_any_window(times) <= 2
    assert port.name(MEMBERS) == "👥 Members: 1,243"


async def test_restart_with_real_store_remembers_the_window(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock, tmp_path: Path
) -> None:
    """With the real JSON store, a restart 10 s after one rename allows one more, then waits 601 s."""
    first = await started(make_service(store=AtomicJsonStore(tmp_path, clock=clock)), clock)
    await first.stop()
    await clock.advance(10)

    second = await started(make_service(store=AtomicJsonStore(tmp_path, clock=clock)), clock)
    await members_change(second, port, 1300)
    await clock.advance(0)
    await members_change(second, port, 1400)
    [members] = [s for s in second.counter_states() if s.key == CounterKind.MEMBERS]
    assert members.next_rename_at == START + timedelta(seconds=601)


async def test_failed_state_write_is_logged_and_renaming_goes_on(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A store that cannot write logs counter.budget_save_failed; the channels are still renamed."""
    store = MemoryStore()
    store.fail_writes = True
    with capture_logs() as logs:
        await started(make_service(store=store), clock)
    assert port.name(MEMBERS) == "👥 Members: 1,234"
    assert len(events(logs, "counter.budget_save_failed")) == 3


async def test_unexpected_rename_error_is_retried(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A bug-like error from the port is logged with its traceback and the rename is tried again."""
    port.rename_errors[MEMBERS] = [RuntimeError("boom")]
    with capture_logs() as logs:
        await started(make_service(), clock)
        await clock.advance(5)
    [failed] = events(logs, "counter.rename_failed")
    assert failed["exc_info"] is True
    assert port.renames_of(MEMBERS) == [(5.0, "👥 Members: 1,234")]


# --- sources ---------------------------------------------------------------------------------------------


async def test_refresh_loop_updates_online_from_fetch_counts(
    make_service: Callable[..., CounterService],
    port: FakeDiscord,
    clock: ManualClock,
    settings: Settings,
) -> None:
    """Every update_interval the online count is re-read from fetch_counts and shown."""
    service = await started(make_service(), clock)
    port.counts = GuildCounts(members=1234, online=700)
    await clock.advance(settings.update_interval)
    assert service.current_counts()[CounterKind.ONLINE] == 700
    assert port.name(ONLINE) == "🟢 Online: 700"


async def test_refresh_loop_survives_errors(
    make_service: Callable[..., CounterService],
    port: FakeDiscord,
    clock: ManualClock,
    settings: Settings,
) -> None:
    """A failing fetch_counts is logged and the next round still updates the count."""
    service = await started(make_service(), clock)
    port.counts_errors = [TransientDiscordError("502"), RuntimeError("bug")]
    port.counts = GuildCounts(members=1234, online=800)
    with capture_logs() as logs:
        await clock.advance(3 * settings.update_interval)
    assert len(events(logs, "counter.refresh_failed")) == 2
    assert service.current_counts()[CounterKind.ONLINE] == 800


async def test_members_come_from_gateway_when_members_intent_is_on(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """With the members intent the exact gateway count wins over the approximate one."""
    port.gateway_members = 1240
    port.counts = GuildCounts(members=1200, online=567)
    service = await started(make_service(), clock)
    assert service.current_counts()[CounterKind.MEMBERS] == 1240


async def test_members_come_from_fetch_counts_without_members_intent(
    make_settings: Callable[..., Settings],
    make_service: Callable[..., CounterService],
    port: FakeDiscord,
    clock: ManualClock,
) -> None:
    """Without the members intent the approximate REST count is shown."""
    port.gateway_members = 1240
    port.counts = GuildCounts(members=1200, online=567)
    await started(make_service(settings=make_settings(members_intent=False)), clock)
    assert port.name(MEMBERS) == "👥 Members: 1,200"


async def test_ban_baseline_from_count_bans_then_events(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """Bans start at count_bans() and follow +1/-1 events."""
    port.bans = 89
    service = await started(make_service(), clock)
    service.adjust_bans(+1, 7)
    service.adjust_bans(+1, 7)
    service.adjust_bans(-1, 7)
    assert service.current_counts()[CounterKind.BANS] == 90
    await clock.advance(300)
    assert port.name(BANS) == "🔨 Bans: 90"


async def test_rebaseline_bans_replaces_the_followed_count(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """After a fresh gateway session the ban count is counted again from scratch."""
    service = await started(make_service(), clock)
    service.adjust_bans(+5, 7)
    port.bans = 91
    await service.rebaseline_bans()
    assert service.current_counts()[CounterKind.BANS] == 91


@pytest.mark.parametrize(
    ("kind", "user_id", "expected"),
    [
        ("ban", 1_000, 90),  # already paged: the count missed it
        ("ban", 9_000, 89),  # still ahead: its page will count it (port.bans already says 89)
        ("unban", 1_000, 88),
        ("unban", 9_000, 89),
    ],
    ids=["ban-behind", "ban-ahead", "unban-behind", "unban-ahead"],
)
async def test_a_ban_while_the_list_is_paged_is_merged_into_the_new_count(
    make_service: Callable[..., CounterService],
    port: FakeDiscord,
    clock: ManualClock,
    kind: str,
    user_id: int,
    expected: int,
) -> None:
    """A ban or unban arriving between two ban pages is counted exactly once in the re-baselined count."""
    service = await started(make_service(), clock)
    port.paged_up_to = 5_000
    port.during_count = lambda: service.adjust_bans(+1 if kind == "ban" else -1, user_id)
    await service.rebaseline_bans()
    assert service.current_counts()[CounterKind.BANS] == expected


async def test_ban_events_before_the_baseline_are_left_to_it(
    make_service: Callable[..., CounterService],
) -> None:
    """A ban before the first count is known does not invent a count of 1."""
    service = make_service()
    service.adjust_bans(+1, 7)
    assert service.current_counts()[CounterKind.BANS] is None


# --- StatsView -------------------------------------------------------------------------------------------


async def test_counter_states_show_shown_and_pending_names(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """A pending change shows the shown name, the pending name and when it will be renamed."""
    service = await started(make_service(), clock)
    await clock.advance(10)
    await members_change(service, port, 1240)
    [members] = [s for s in service.counter_states() if s.key == CounterKind.MEMBERS]
    assert members.shown_name == "👥 Members: 1,234"
    assert members.pending_name == "👥 Members: 1,240"
    assert members.value == 1240
    assert members.last_renamed == START
    assert members.next_rename_at == START + timedelta(seconds=300)
    assert members.paused_reason is None


async def test_pending_since_marks_first_unshown_change(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """pending_since is when the shown name first fell behind and clears once the name is shown."""
    service = await started(make_service(), clock)
    await clock.advance(10)
    await members_change(service, port, 1240)
    await clock.advance(10)
    await members_change(service, port, 1243)
    assert members_state(service).pending_since == START + timedelta(seconds=10)
    await clock.advance(300)
    assert members_state(service).pending_since is None
    assert members_state(service).last_renamed == START + timedelta(seconds=300)


async def test_refresh_now_returns_next_rename_times(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """refresh_now re-reads counts and says when each changed channel will be renamed, by channel."""
    service = await started(make_service(), clock)
    await clock.advance(60)
    port.counts = GuildCounts(members=1234, online=570)
    schedule = await service.refresh_now()
    assert schedule == {MEMBERS: None, ONLINE: START + timedelta(seconds=300), BANS: None}


async def test_stop_ends_renaming(
    make_service: Callable[..., CounterService], port: FakeDiscord, clock: ManualClock
) -> None:
    """After stop no more renames are sent."""
    service = await started(make_service(), clock)
    await service.stop()
    await members_change(service, port, 5000)
    await clock.advance(3600)
    assert port.renames_of(MEMBERS) == [(0.0, "👥 Members: 1,234")]


async def test_a_service_that_never_started_leaves_the_saved_budget_alone(
    make_service: Callable[..., CounterService], store: MemoryStore
) -> None:
    """Stopping a service that was never started (a failed login, report --post) writes nothing."""
    await store.write(BUDGET_FILE, {"schema_version": 1, "channels": {str(MEMBERS): {"renames": []}}})
    before = dict(store.files)
    await make_service(store=store).stop()
    assert store.files == before
