"""Tests for the demo's live view: the text a new user reads on the screen while `make demo` runs."""

from __future__ import annotations

import asyncio
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from src.demo.scenario import BURST_SIZE, Community, Step
from src.demo.view import NewMember, Screen, discord_times, render
from src.sandbox import SandboxConfig
from src.services.monitoring.heartbeat import HeartbeatService
from src.services.stats.reports import build_daily_report
from src.types.models import CounterKind, DailyStats, Embed, EventKind, MemberEvent
from tests.clock import ManualClock
from tests.fakes import FakeDiscord, FakeStats, MemoryStore, counter_state, make_settings
from tests.unit.monitoring.fakes import FakeSampler

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
COUNTERS = {"members": "👥 Members: 5,123", "online": "🟢 Online: 1,400", "bans": "🔨 Bans: 3"}


class FakeTime:
    """Monotonic time that moves only when the scenario sleeps, so a whole run takes no real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class FakeSandbox:
    """The few sandbox calls the scenario makes; joins can stop at a chosen count to look mid-run."""

    def __init__(self, pause_at_join: int | None = None) -> None:
        self.config = SandboxConfig(members=5000, bans=2, online_share=0.28)
        self.online_count = 1400
        self.members: set[int] = set()
        self.joins = 0
        self.pause_at_join = pause_at_join
        self.paused = asyncio.Event()

    async def add_member(
        self, user_id: int | None = None, username: str | None = None, bot: bool = False
    ) -> int:
        self.joins += 1
        if self.joins == self.pause_at_join:
            self.paused.set()
            await asyncio.Event().wait()  # stays here until the test cancels the run
        self.members.add(self.joins)
        return self.joins

    async def remove_member(self, user_id: int) -> None:
        self.members.remove(user_id)

    async def ban(self, user_id: int, remove: bool = True, reason: str | None = None) -> None:
        self.members.discard(user_id)

    async def unban(self, user_id: int) -> None:
        pass

    def set_online(self, count: int) -> None:
        self.online_count = count


def screen(**changes: Any) -> Screen:
    """A screen at NOW with the counters set and whatever the test changes."""
    return Screen(**{"now": NOW, "remaining_s": 30.0, "counters": COUNTERS, "presence": "online", **changes})


def message(embed: Embed | dict[str, Any]) -> dict[str, Any]:
    """A posted message holding `embed`, as the sandbox keeps it."""
    payload = embed.model_dump(mode="json") if isinstance(embed, Embed) else embed
    return {"id": "1", "embeds": [payload]}


async def status_message(**day: int) -> dict[str, Any]:
    """The status message the real heartbeat posts, with two counters and today's joins, leaves and bans."""
    clock = ManualClock(NOW)
    stats = FakeStats()
    stats.counters = [
        counter_state(
            CounterKind.MEMBERS,
            1001,
            shown_name="👥 Members: 5,123",
            pending_name="👥 Members: 5,400",
            last_renamed=NOW - timedelta(seconds=12),
        ),
        counter_state(CounterKind.ONLINE, 1002, shown_name="🟢 Online: 1,400", last_renamed=NOW),
        counter_state(CounterKind.BANS, 1003, shown_name="🔨 Bans: 3", last_renamed=NOW),
    ]
    for kind, count in ((EventKind.JOIN, day["joins"]), (EventKind.LEAVE, day["leaves"])):
        stats.day.events += [
            MemberEvent(kind=kind, member_id=str(n), username=f"user{n}", timestamp=NOW) for n in range(count)
        ]
    port = FakeDiscord(clock)
    await HeartbeatService(make_settings(), clock, port, MemoryStore(), stats, FakeSampler()).beat()
    return message(port.embeds()[0])


async def mid_burst_screen() -> str:
    """The screen while the scenario is part-way through its burst of joins."""
    sb = FakeSandbox(pause_at_join=200)  # a few dozen trickle joins come first, so this is inside the burst
    time = FakeTime()
    community = Community(sb, rng=random.Random(7), monotonic=time.monotonic, sleep=time.sleep)  # type: ignore[arg-type]
    run = asyncio.create_task(community.run(10.0))
    await sb.paused.wait()
    text = render(screen(simulating=community.steps()))
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    return text


async def finished_steps() -> tuple[Step, ...]:
    """What the Simulating list holds after the scenario has run to its end."""
    time = FakeTime()
    community = Community(FakeSandbox(), rng=random.Random(7), monotonic=time.monotonic, sleep=time.sleep)  # type: ignore[arg-type]
    await community.run(10.0)
    return community.steps()


async def test_a_burst_in_progress_is_described_with_how_far_it_has_got() -> None:
    """Mid-burst, the Simulating list shows the burst in progress and how many of its joins are done."""
    text = await mid_burst_screen()

    assert re.search(rf"▶ a burst of {BURST_SIZE} joins: \d+ joined so far", text), text


async def test_the_steady_trickle_is_shown_in_progress_with_its_counts() -> None:
    """While the scenario runs, the trickle of joins and leaves is in progress with running totals."""
    text = await mid_burst_screen()

    assert re.search(r"▶ a steady trickle every 0.4 s: \d+ joins, \d+ members left so far", text), text


async def test_finished_steps_name_the_banned_and_unbanned_members() -> None:
    """After the run, both bans and the unban are ticked off, each naming the member concerned."""
    text = render(screen(simulating=await finished_steps()))

    bans = re.findall(r"✓ (?:a|another) ban: @([a-z.]+\d*), a new member", text)
    assert len(bans) == 2, text
    assert f"✓ an unban: @{bans[1]} (the latest ban lifted)" in text
    assert re.search(rf"✓ a burst of {BURST_SIZE} joins in \d+\.\d s \(like a raid\)", text), text


async def test_the_next_step_is_announced_with_its_countdown() -> None:
    """Before the first ban, the screen says it comes next and in how many seconds."""
    time = FakeTime()
    sb = FakeSandbox(pause_at_join=3)  # the first tick, before any one-off event
    community = Community(sb, rng=random.Random(7), monotonic=time.monotonic, sleep=time.sleep)  # type: ignore[arg-type]
    run = asyncio.create_task(community.run(10.0))
    await sb.paused.wait()
    text = render(screen(simulating=community.steps()))
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)

    assert "· next, in 2s: a ban" in text


async def test_each_counter_field_of_the_status_message_is_shown() -> None:
    """Each counter's field from the real status embed shows its channel name, last change and next name."""
    text = render(screen(heartbeat=await status_message(joins=3, leaves=1)))

    assert "Members counter  👥 Members: 5,123 · changed 12s ago · next: 👥 Members: 5,400" in text
    assert "Bans counter     🔨 Bans: 3 · changed 0s ago" in text


async def test_todays_joins_leaves_and_bans_from_the_status_message_are_shown() -> None:
    """The status embed's "today" fields appear together on one line."""
    text = render(screen(heartbeat=await status_message(joins=3, leaves=1)))

    assert "Joins today 3 · Leaves today 1 · Bans today 0" in text


async def test_the_status_message_health_and_process_figures_are_shown() -> None:
    """The status embed's title, health line, CPU and memory stay on the screen."""
    text = render(screen(heartbeat=await status_message(joins=0, leaves=0)))

    assert "📊 StatsBot status · 🟢 All systems normal (updated 0s ago)" in text
    assert "CPU 2.5 % · Memory 80.0 MB (1.2 %)" in text


def test_a_status_message_missing_those_fields_still_renders() -> None:
    """An embed with only a title shows the title and none of the missing lines."""
    text = render(screen(heartbeat=message({"title": "📊 StatsBot status", "fields": [{"name": "CPU"}]})))

    assert "📊 StatsBot status" in text
    assert "Members counter" not in text
    assert "Joins today" not in text


def test_no_status_message_yet_says_so() -> None:
    """Before the first heartbeat, the section says the message is not posted yet."""
    text = render(screen(heartbeat={"id": "1", "embeds": []}))

    assert "Status message in the heartbeat channel:\n  (not posted yet)" in text


def test_newest_members_are_listed_by_display_name_newest_first() -> None:
    """The newest joins show display name, username and time, the latest on top, at most five."""
    members = [NewMember(f"Mina.Frost{n}", f"mina.frost{n}", NOW - timedelta(seconds=n)) for n in range(1, 8)]
    text = render(screen(newest_members=members))

    shown = re.findall(r"^  (Mina\.Frost\d) \(@mina\.frost\d\), joined 11:59:5\d$", text, re.MULTILINE)
    assert shown == ["Mina.Frost1", "Mina.Frost2", "Mina.Frost3", "Mina.Frost4", "Mina.Frost5"]


def test_the_daily_report_shows_its_figures_and_new_members_by_name() -> None:
    """The posted daily report shows its counts on one line and its mentions as the members' names."""
    day = DailyStats(
        date=NOW.date(),
        events=[MemberEvent(kind=EventKind.JOIN, member_id="77", username="ada.moss", timestamp=NOW)],
        member_count_start=5000,
        member_count_end=5001,
    )
    text = render(screen(report=message(build_daily_report(day)), names={"77": "Ada.Moss"}))

    assert "📊 Daily report — Thursday, 1 January 2026" in text
    assert "Joins 1 · Leaves 0 · Bans 0 · Unbans 0 · Net change +1 · Members 5,000 → 5,001" in text
    assert "New members: @Ada.Moss" in text


def test_before_midnight_the_header_counts_down_to_it() -> None:
    """Within the last hour of the day, the header says how long until midnight (and the report)."""
    text = render(screen(now=datetime(2026, 1, 1, 23, 59, 48, tzinfo=UTC)))

    assert "midnight in 12s" in text.splitlines()[0]


async def test_a_busy_screen_fits_40_lines_by_100_columns() -> None:
    """With every section at its fullest, the screen stays within 40 lines of at most 100 characters."""
    day = DailyStats(
        date=NOW.date(),
        events=[
            MemberEvent(kind=kind, member_id=str(n), username=f"someone.with.a.long.name{n}", timestamp=NOW)
            for n in range(100)
            for kind in (EventKind.JOIN, EventKind.LEAVE)
        ],
    )
    text = render(
        screen(
            simulating=await finished_steps(),
            heartbeat=await status_message(joins=500, leaves=40),
            report=message(build_daily_report(day)),
            newest_members=[NewMember("Mina.Frost", "mina.frost", NOW)] * 7,
            names={str(n): f"Someone With A Long Display Name {n}" for n in range(100)},
        )
    )

    lines = text.splitlines()
    assert len(lines) <= 40, text
    assert max(len(line) for line in lines) <= 100, text


def test_demo_data_dir_holding_a_demo_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """DEMO_DATA_DIR must be empty: one that holds an earlier demo's data is refused (exit 2), not mixed."""
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("DEMO_DATA_DIR", str(tmp_path))
    from src.demo import main

    assert main() == 2
    assert "already holds a demo's data" in capsys.readouterr().err


def test_discord_relative_times_read_as_seconds_on_the_terminal() -> None:
    """`<t:N:R>` from the status message shows as "in 12 s" (or "now", "5 s ago") on the demo's screen."""
    stamp = int(NOW.timestamp())
    assert discord_times(f"next <t:{stamp + 12}:R>", NOW) == "next in 12 s"
    assert discord_times(f"<t:{stamp}:R> and <t:{stamp - 5}:R>", NOW) == "now and 5 s ago"
