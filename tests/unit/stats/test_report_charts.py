"""Reports and /stats answers with charts: the PNG attached, the embed showing it, never a lost report."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from src.core.command_answers import AnswerWithFiles, CommandAnswers
from src.core.exceptions import StatsBotError
from src.core.offline import chart
from src.services.stats.chart_maker import ChartMaker
from src.services.stats.count_history import CountHistory
from src.services.stats.history import DailyHistory
from src.services.stats.report_scheduler import ReportScheduler
from src.types.charts import ChartSpec
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.store import AtomicJsonStore
from tests.clock import ManualClock
from tests.fakes import FakeDiscord, FakeStats, make_settings

PNG = b"\x89PNG\r\n\x1a\nfake chart"
DAY = date(2026, 11, 20)
STATS_CHANNEL = 1005


class FakeRenderer:
    """Returns a fixed PNG and keeps the specs it was given; `fail` raises like a crashed worker."""

    def __init__(self, *, fail: bool = False) -> None:
        self.specs: list[ChartSpec] = []
        self.fail = fail

    async def render(self, spec: ChartSpec) -> bytes:
        self.specs.append(spec)
        if self.fail:
            raise StatsBotError("chart worker exited with status 1")
        return PNG


async def reports(tmp_path: Path, renderer: FakeRenderer) -> tuple[ReportScheduler, FakeDiscord]:
    """A report scheduler on a day file with joins and leaves, drawing charts with `renderer`."""
    settings = make_settings(data_dir=tmp_path, timezone="UTC")
    clock = ManualClock(datetime(2026, 11, 21, 1, tzinfo=UTC))
    store = AtomicJsonStore(tmp_path)
    days = DailyHistory(store)
    joined = datetime(2026, 11, 20, 12, tzinfo=UTC)
    events = [
        MemberEvent(kind=EventKind.JOIN, member_id=str(n), username=f"m{n}", timestamp=joined)
        for n in range(3)
    ]
    await days.save_day(DailyStats(date=DAY, events=events, member_count_start=100, member_count_end=103))
    charts = ChartMaker(CountHistory(settings, clock, store), days, renderer, settings.zone)
    port = FakeDiscord(clock)
    return ReportScheduler(settings, clock, store, days, port, charts=charts), port


async def test_the_daily_report_carries_its_chart_and_says_what_it_shows(tmp_path: Path) -> None:
    """The report has the PNG attached, the embed shows it, and the description ends with its numbers."""
    renderer = FakeRenderer()
    scheduler, port = await reports(tmp_path, renderer)
    await scheduler.post_daily(DAY)
    [call] = port.of("send")
    assert [(f.filename, f.data) for f in call.files] == [("daily-2026-11-20.png", PNG)]
    assert call.embed is not None
    assert call.embed.image == "attachment://daily-2026-11-20.png"
    assert call.embed.description.endswith(renderer.specs[0].alt_text)
    assert call.files[0].description == renderer.specs[0].alt_text
    assert renderer.specs[0].title == "Daily report: Friday, 20 November 2026"


async def test_the_weekly_report_carries_the_weekly_chart(tmp_path: Path) -> None:
    """The weekly report attaches the weekly chart (members, joins and leaves, online by hour)."""
    renderer = FakeRenderer()
    scheduler, port = await reports(tmp_path, renderer)
    await scheduler.post_weekly(DAY)
    [call] = port.of("send")
    assert [f.filename for f in call.files] == ["weekly-2026-11-20.png"]
    assert len(renderer.specs[0].panels) == 3


async def test_a_chart_that_cannot_be_drawn_never_holds_back_the_report(tmp_path: Path) -> None:
    """A failing chart worker is logged (chart.skipped) and the report is posted without a picture."""
    scheduler, port = await reports(tmp_path, FakeRenderer(fail=True))
    with capture_logs() as logs:
        await scheduler.post_daily(DAY)
    [call] = port.of("send")
    assert call.files == ()
    assert call.embed is not None
    assert call.embed.image is None
    assert [e["reason"] for e in logs if e["event"] == "chart.skipped"] == [
        "chart worker exited with status 1"
    ]


async def answers(tmp_path: Path, renderer: FakeRenderer) -> CommandAnswers:
    """The slash-command answers over the same day file, with charts and the count history."""
    settings = make_settings(data_dir=tmp_path, timezone="UTC")
    clock = ManualClock(datetime(2026, 11, 21, 1, tzinfo=UTC))
    store = AtomicJsonStore(tmp_path)
    days = DailyHistory(store)
    await reports(tmp_path, renderer)  # writes the day file
    counts = CountHistory(settings, clock, store)
    return CommandAnswers(
        settings,
        clock,
        stats=FakeStats(),
        history=days,
        counters=None,  # type: ignore[arg-type]  # neither chart nor export reads the counters
        heartbeat=None,  # type: ignore[arg-type]
        breakers=[],
        charts=ChartMaker(counts, days, renderer, settings.zone),
        counts=counts,
    )


async def test_stats_chart_answers_with_the_png(tmp_path: Path) -> None:
    """/stats chart joins 7d: an embed titled with what and when, showing the attached PNG."""
    reply = await (await answers(tmp_path, FakeRenderer())).stats_chart("joins", "7d")
    assert isinstance(reply, AnswerWithFiles)
    assert reply.files[0].data == PNG
    assert reply.embed.title.startswith("📈 Joins")
    assert reply.embed.image == f"attachment://{reply.files[0].filename}"


async def test_stats_chart_without_history_says_why(tmp_path: Path) -> None:
    """/stats chart members before any sample: the answer says the history starts with StatsBot."""
    reply = await (await answers(tmp_path, FakeRenderer())).stats_chart("members", "30d")
    assert reply == (
        "No member counts are stored for the last 30 days yet: the history starts when StatsBot first runs."
    )


async def test_stats_export_attaches_the_csv(tmp_path: Path) -> None:
    """/stats export: a CSV with the day's three joins and its member count, and a line saying so."""
    reply = await (await answers(tmp_path, FakeRenderer())).stats_export(DAY, DAY)
    assert isinstance(reply, AnswerWithFiles)
    [csv] = reply.files
    assert csv.filename == "statsbot-2026-11-20-to-2026-11-20.csv"
    lines = csv.data.decode().splitlines()
    assert lines[0] == "time,record,kind,member_id,username,display_name,bot,low,high,value"
    assert sum(1 for line in lines if ",event,join," in line) == 3
    assert reply.embed.description.startswith("3 events and 1 daily counts, times in UTC.")


async def test_chart_into_a_folder_that_does_not_exist_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m src chart ... --out missing/x.png`: exit 1 and one line saying so, no traceback."""
    await reports(tmp_path / "data", FakeRenderer())  # writes a day of joins
    settings = make_settings(data_dir=tmp_path / "data", timezone="UTC")
    code = await chart(settings, "joins", "1y", tmp_path / "missing" / "x.png")
    assert (code, "chart: cannot write") == (1, capsys.readouterr().err[:19])
