"""ReportScheduler: reports post at the report time, once each, across restarts, outages and DST."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from src.core.config import Settings
from src.core.exceptions import TransientDiscordError
from src.services.stats.events import EventRecorder
from src.services.stats.history import DailyHistory
from src.services.stats.report_scheduler import ReportScheduler
from src.types.models import Attachment, DailyStats, Embed, EventKind, MemberEvent
from src.types.ports import PostedMessage
from src.utils.store import AtomicJsonStore
from tests.clock import ManualClock

STATS_CHANNEL = 1005  # the test settings' STATS_CHANNEL_ID
FRIDAY_2300_NY = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)  # Friday 20 November, 23:00 in New York


class FakePort:
    """Records posted embeds; `fail_sends` fails the next sends like an outage, `explode_sends` like a bug."""

    def __init__(self) -> None:
        self.posts: list[tuple[int, Embed]] = []
        self.fail_sends = 0
        self.explode_sends = 0
        self.nonces: list[str | None] = []

    async def send_message(
        self,
        channel_id: int,
        embed: Embed,
        content: str | None = None,
        *,
        nonce: str | None = None,
        files: Sequence[Attachment] = (),
    ) -> int:
        if self.explode_sends:
            self.explode_sends -= 1
            raise RuntimeError("a bug in the adapter")
        if self.fail_sends:
            self.fail_sends -= 1
            raise TransientDiscordError("503 Service Unavailable")
        self.posts.append((channel_id, embed))
        self.nonces.append(nonce)
        return 9000 + len(self.posts)

    async def recent_messages(self, channel_id: int, limit: int = 100) -> list[PostedMessage]:
        posted = [
            PostedMessage(9001 + i, True, (e.title,))
            for i, (c, e) in enumerate(self.posts)
            if c == channel_id
        ]
        return list(reversed(posted))[:limit]

    @property
    def titles(self) -> list[str]:
        return [embed.title for _, embed in self.posts]


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until `condition()` holds; store I/O finishes in worker threads meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not condition():
        assert loop.time() < deadline, "the scheduler never settled"
        await asyncio.sleep(0)


async def parked(clock: ManualClock) -> None:
    """Wait until the scheduler has done everything due and sleeps on the clock again."""
    await until(lambda: clock.pending_sleepers == 1)


async def advance_to(clock: ManualClock, moment: datetime, *, step: float = 3600) -> None:
    """Move the clock to `moment` in steps, letting the scheduler finish its work after each one."""
    while clock.now() < moment:
        await clock.advance(min(step, (moment - clock.now()).total_seconds()))
        await parked(clock)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def port() -> FakePort:
    return FakePort()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        timezone="America/New_York", daily_report_time="00:00", weekly_report_day="wednesday"
    )


def scheduler_at(
    settings: Settings, root: Path, port: FakePort, start: datetime, **kwargs: Any
) -> tuple[ReportScheduler, ManualClock]:
    clock = ManualClock(start)
    store = AtomicJsonStore(root)
    return ReportScheduler(settings, clock, store, DailyHistory(store), port, **kwargs), clock  # type: ignore[arg-type]


def daily(d: date) -> str:
    return f"📊 Daily report — {d:%A}, {d.day} {d:%B %Y}"


def state(root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((root / "state" / "reports.json").read_text())
    return loaded


async def test_daily_report_posts_once_at_midnight(settings: Settings, root: Path, port: FakePort) -> None:
    """Passing midnight posts exactly one report, for the day that just ended, to the stats channel."""
    scheduler, clock = scheduler_at(settings, root, port, FRIDAY_2300_NY)
    await scheduler.start()
    await parked(clock)
    assert port.posts == []

    await advance_to(clock, FRIDAY_2300_NY + timedelta(hours=1, minutes=5))

    assert port.titles == [daily(date(2026, 11, 20))]
    assert port.posts[0][0] == STATS_CHANNEL
    assert state(root)["last_daily"] == "2026-11-20"
    await scheduler.stop()


async def test_the_report_counts_events_recorded_until_midnight(
    settings: Settings, root: Path, port: FakePort
) -> None:
    """A join a moment before midnight, still only in the recorder's memory, is in that day's report."""
    clock = ManualClock(FRIDAY_2300_NY)
    store = AtomicJsonStore(root)
    history = DailyHistory(store)
    recorder = EventRecorder(settings, clock, history)  # not started: only a flush can write the join
    scheduler = ReportScheduler(settings, clock, store, history, port, flush=recorder.flush)  # type: ignore[arg-type]
    recorder.record(
        MemberEvent(
            kind=EventKind.JOIN,
            member_id="42",
            username="latecomer",
            timestamp=datetime(2026, 11, 21, 4, 59, 59, tzinfo=UTC),
        )
    )
    await scheduler.start()
    await parked(clock)

    await advance_to(clock, FRIDAY_2300_NY + timedelta(hours=1, minutes=5))

    assert port.posts[0][1].field("Joins") == "1"
    assert port.posts[0][1].field("New members") == "<@42>"
    await scheduler.stop()


async def test_a_restart_after_midnight_does_not_post_again(
    settings: Settings, root: Path, port: FakePort
) -> None:
    """A new scheduler on the same data folder, started just after the post, posts nothing."""
    first, clock = scheduler_at(settings, root, port, FRIDAY_2300_NY)
    await first.start()
    await parked(clock)
    await advance_to(clock, FRIDAY_2300_NY + timedelta(hours=1, minutes=1))
    await first.stop()

    second, clock2 = scheduler_at(settings, root, port, clock.now() + timedelta(minutes=1))
    await second.start()
    await parked(clock2)

    assert port.titles == [daily(date(2026, 11, 20))]
    await second.stop()


async def test_reports_missed_while_down_post_once_each_oldest_first(
    settings: Settings, root: Path, port: FakePort
) -> None:
    """After three days down, the three missed daily reports post on start, oldest first, once."""
    first, clock = scheduler_at(settings, root, port, FRIDAY_2300_NY)
    await first.start()
    await parked(clock)
    await advance_to(clock, FRIDAY_2300_NY + timedelta(hours=2))
    await first.stop()
    port.posts.clear()

    back, clock2 = scheduler_at(settings, root, port, datetime(2026, 11, 24, 13, 0, tzinfo=UTC))  # Tue 08:00
    await back.start()
    await parked(clock2)
    await advance_to(clock2, datetime(2026, 11, 24, 20, 0, tzinfo=UTC))

    assert port.titles == [daily(date(2026, 11, 21)), daily(date(2026, 11, 22)), daily(date(2026, 11, 23))]
    await back.stop()


async def test_a_first_start_posts_no_backlog(settings: Settings, root: Path, port: FakePort) -> None:
    """With no state file (a new install) nothing is posted for the past; the state file is created."""
    scheduler, clock = scheduler_at(settings, root, port, datetime(2026, 11, 24, 13, 0, tzinfo=UTC))
    await scheduler.start()
    await parked(clock)

    assert port.posts == []
    assert state(root) == {
        "schema_version": 1,
        "last_daily": "2026-11-23",
        "last_weekly": "2026-11-17",
        "posting": None,
    }
    await scheduler.stop()


async def test_weekly_report_posts_on_the_configured_day(
    make_settings: Callable[..., Settings], root: Path, port: FakePort
) -> None:
    """On the weekly day (Sunday here) the week that just ended is reported once, after its daily."""
    settings = make_settings(timezone="America/New_York", weekly_report_day="sunday")
    history = DailyHistory(AtomicJsonStore(root))
    joins = [
        MemberEvent(
            kind=EventKind.JOIN, member_id="7", username="u", timestamp=datetime(2026, 11, 18, 15, tzinfo=UTC)
        )
    ]
    await history.save_day(DailyStats(date=date(2026, 11, 18), events=joins))
    saturday_2300 = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
    scheduler, clock = scheduler_at(settings, root, port, saturday_2300)
    await scheduler.start()
    await parked(clock)

    await advance_to(clock, saturday_2300 + timedelta(days=2))

    weekly = [embed for _, embed in port.posts if embed.title.startswith("📈")]
    assert [e.title for e in weekly] == ["📈 Weekly report — 15–21 November 2026"]
    assert weekly[0].field("Joins") == "1"
    assert port.titles.index(weekly[0].title) == 1  # after Saturday's daily report
    assert state(root)["last_weekly"] == "2026-11-21"
    await scheduler.stop()


async def test_a_failed_post_is_retried_and_posted_once(
    settings: Settings, root: Path, port: FakePort
) -> None:
    """When Discord fails at report time, the report posts on a later attempt, exactly once."""
    scheduler, clock = scheduler_at(settings, root, port, FRIDAY_2300_NY, retry_delay=300)
    await scheduler.start()
    await parked(clock)
    port.fail_sends = 1

    with capture_logs() as logs:
        await advance_to(clock, FRIDAY_2300_NY + timedelta(hours=1, seconds=1))
    assert port.posts == []
    assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == ["report.post_failed"]

    await advance_to(clock, FRIDAY_2300_NY + timedelta(hours=3), step=60)

    assert port.titles == [daily(date(2026, 11, 20))]
    await scheduler.stop()


async def test_an_unexpected_error_does_not_stop_the_loop(
    settings: Settings, root: Path, port: FakePort
) -> None:
    """An unexpected exception at report time is logged as report.loop_error and the report posts later."""
    scheduler, clock = scheduler_at(settings, root, port, FRIDAY_2300_NY, retry_delay=300)
    await scheduler.start()
    await parked(clock)
    port.explode_sends = 1

    with capture_logs() as logs:
        await advance_to(clock, FRIDAY_2300_NY + timedelta(hours=1, seconds=1))
    assert "report.loop_error" in [entry["event"] for entry in logs]

    await advance_to(clock, FRIDAY_2300_NY + timedelta(hours=3), step=60)

    assert port.titles == [daily(date(2026, 11, 20))]
    await scheduler.stop()


@pytest.mark.parametrize(
    ("report_time", "start", "expected"),
    [
        # 02:30 does not exist on 8 March 2026 (spring forward): that report falls at 03:30 EDT.
        ("02:30", datetime(2026, 3, 7, 17, 0, tzinfo=UTC), [date(2026, 3, 7), date(2026, 3, 8)]),
        # 01:30 happens twice on 1 November 2026 (fall back): the report still posts once.
        ("01:30", datetime(2026, 10, 31, 16, 0, tzinfo=UTC), [date(2026, 10, 31), date(2026, 11, 1)]),
    ],
    ids=["spring-forward", "fall-back"],
)
async def test_dst_changes_neither_skip_nor_double_a_report(
    make_settings: Callable[..., Settings],
    root: Path,
    port: FakePort,
    report_time: str,
    start: datetime,
    expected: list[date],
) -> None:
    """Over two days spanning a DST change, each day's report posts exactly once."""
    settings = make_settings(
        timezone="America/New_York", daily_report_time=report_time, weekly_report_day="wed"
    )
    scheduler, clock = scheduler_at(settings, root, port, start)
    await scheduler.start()
    await parked(clock)

    await advance_to(clock, start + timedelta(days=2), step=900)

    assert port.titles == [daily(d) for d in expected]
    await scheduler.stop()


async def test_post_daily_posts_a_chosen_day_and_returns_the_message_id(
    settings: Settings, root: Path, port: FakePort
) -> None:
    """post_daily (the CLI's `report daily --post`) posts the report of the given date."""
    scheduler, _ = scheduler_at(settings, root, port, FRIDAY_2300_NY)

    message_id = await scheduler.post_daily(date(2026, 11, 2))

    assert message_id == 9001
    assert port.titles == [daily(date(2026, 11, 2))]


# --- each report posted once, whatever crashed -------------------------------------------------------


def write_state(root: Path, **fields: Any) -> None:
    """Put a reports state file in place, as a previous run (or a restored backup) left it."""
    (root / "state").mkdir(parents=True, exist_ok=True)
    document = {"schema_version": 1, "last_weekly": "2026-11-17", "posting": None, **fields}
    (root / "state" / "reports.json").write_text(json.dumps(document))


async def test_a_report_is_sent_with_its_stable_nonce(settings: Settings, root: Path, port: FakePort) -> None:
    """The POST carries the report's nonce, so Discord itself refuses a second post of it."""
    scheduler, clock = scheduler_at(settings, root, port, FRIDAY_2300_NY)
    await scheduler.start()
    await parked(clock)
    await advance_to(clock, FRIDAY_2300_NY + timedelta(hours=1, seconds=1))
    await scheduler.stop()

    assert port.nonces == ["statsbot-daily-20261120"]


async def test_a_crash_after_the_post_does_not_post_it_again(
    settings: Settings, root: Path, port: FakePort
) -> None:
    """The state says a post was in flight; the channel has the report: it is recorded, not re-posted."""
    port.posts.append((STATS_CHANNEL, Embed(title=daily(date(2026, 11, 20)))))
    write_state(
        root,
        last_daily="2026-11-19",
        posting={"report": "daily", "day": "2026-11-20", "nonce": "statsbot-daily-20261120"},
    )
    scheduler, clock = scheduler_at(settings, root, port, FRIDAY_2300_NY + timedelta(hours=2))
    with capture_logs() as logs:
        await scheduler.start()
        await parked(clock)
    await scheduler.stop()

    assert port.titles == [daily(date(2026, 11, 20))]
    assert (state(root)["last_daily"], state(root)["posting"]) == ("2026-11-20", None)
    assert [e["event"] for e in logs if e["event"].startswith("report.")] == [
        "report.post_interrupted",
        "report.already_posted",
    ]


async def test_a_state_restored_from_an_older_backup_posts_nothing_twice(
    settings: Settings, root: Path, port: FakePort
) -> None:
    """A state file two days behind the channel: the day already in the channel is not posted again."""
    port.posts.append((STATS_CHANNEL, Embed(title=daily(date(2026, 11, 19)))))
    write_state(root, last_daily="2026-11-18")
    scheduler, clock = scheduler_at(settings, root, port, FRIDAY_2300_NY + timedelta(hours=2))
    await scheduler.start()
    await parked(clock)
    await scheduler.stop()

    assert port.titles == [daily(date(2026, 11, 19)), daily(date(2026, 11, 20))]
    assert state(root)["last_daily"] == "2026-11-20"


async def test_a_report_posted_by_hand_is_not_posted_again_at_report_time(
    settings: Settings, root: Path, port: FakePort
) -> None:
    """`report --post` put the day in the channel before midnight: the scheduler posts nothing more."""
    scheduler, clock = scheduler_at(settings, root, port, FRIDAY_2300_NY)
    await scheduler.start()
    await parked(clock)
    port.posts.append((STATS_CHANNEL, Embed(title=daily(date(2026, 11, 20)))))  # what report --post does
    await advance_to(clock, FRIDAY_2300_NY + timedelta(hours=1, seconds=1))
    await scheduler.stop()

    assert port.titles == [daily(date(2026, 11, 20))]
    assert state(root)["last_daily"] == "2026-11-20"
