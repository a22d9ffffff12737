"""What each slash command answers, built from the few parts it reads; no discord.py objects here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from src.core.config import Settings
from src.services.monitoring.health_report import build_health_embed
from src.services.monitoring.heartbeat import HeartbeatService
from src.services.stats.chart_data import ChartDataError
from src.services.stats.chart_maker import ChartMaker
from src.services.stats.count_history import CountHistory
from src.services.stats.counters import CounterService
from src.services.stats.export import export_rows, to_csv
from src.services.stats.history import DailyHistory
from src.services.stats.queries import (
    WEEK,
    build_day_embed,
    build_now_embed,
    build_refresh_embed,
    build_week_embed,
    no_data_text,
)
from src.types.models import Attachment, ChannelStats, Embed
from src.types.ports import BreakerSource, Clock, StatsView


@dataclass(frozen=True)
class AnswerWithFiles:
    """An answer that carries files: e.g. a chart PNG the embed shows (`image="attachment://chart.png"`)."""

    embed: Embed
    files: Sequence[Attachment] = ()


Reply = Embed | str | AnswerWithFiles  # what a command's builder returns
CHART_COLOR = 0x5865F2


class CommandAnswers:
    """Builds the answer to `/stats now|day|week`, `/health` and `/counters refresh`."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        *,
        stats: StatsView,
        history: DailyHistory,
        counters: CounterService,
        heartbeat: HeartbeatService,
        breakers: Iterable[BreakerSource],
        charts: ChartMaker | None = None,
        counts: CountHistory | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._stats = stats
        self._history = history
        self._counters = counters
        self._heartbeat = heartbeat
        self._breakers = breakers  # re-iterated per answer: a registry gains breakers over time
        self._charts = charts
        self._counts = counts

    def today(self) -> date:
        """Return today in the configured time zone."""
        return self._clock.now().astimezone(self._settings.zone).date()

    async def stats_now(self) -> Reply:
        """Answer `/stats now`: the counts now, today so far and the last 7 days."""
        today = self.today()
        last_days = await self._history.days(today - timedelta(days=WEEK - 1), today - timedelta(days=1))
        return build_now_embed(
            self._stats.current_counts(), self._stats.today(), last_days, self._clock.now()
        )

    async def stats_day(self, day: date) -> Reply:
        """Answer `/stats day`: one stored day, or why there is none."""
        today = self.today()
        if day == today:
            return build_day_embed(self._stats.today(), today)
        stored = await self._history.load_day(day)
        if stored is None:
            return no_data_text(day, today, self._settings.retention_days)
        return build_day_embed(stored, today)

    async def stats_week(self) -> Reply:
        """Answer `/stats week`: the last 7 days, today included, against the 7 before."""
        today = self.today()
        days = [*await self._history.days(today - timedelta(days=WEEK - 1), today - timedelta(days=1))]
        days.append(self._stats.today())
        previous = await self._history.days(
            today - timedelta(days=2 * WEEK - 1), today - timedelta(days=WEEK)
        )
        embed = build_week_embed(days, previous)
        chart = await self._charts.weekly(today) if self._charts is not None else None
        return embed if chart is None else AnswerWithFiles(chart.attach_to(embed), [chart.attachment])

    async def stats_chart(self, metric: str, range_name: str) -> Reply:
        """Answer `/stats chart`: one chart of `metric` over `range_name`, or why there is none."""
        if self._charts is None:
            return "Charts are not available in this StatsBot."
        try:
            chart = await self._charts.metric(metric, range_name, self.today())
        except ChartDataError as exc:
            return str(exc)
        embed = Embed(title=f"📈 {chart.title}", color=CHART_COLOR)
        return AnswerWithFiles(chart.attach_to(embed), [chart.attachment])

    async def stats_export(self, start: date, end: date) -> Reply:
        """Answer `/stats export`: the range's events and daily counts as a CSV file."""
        rows = await export_rows(self._history, self._counts, start, end, self._settings.zone)
        events = sum(1 for row in rows if row.record == "event")
        name = f"statsbot-{start.isoformat()}-to-{end.isoformat()}.csv"
        csv = Attachment(name, to_csv(rows).encode("utf-8"), f"StatsBot export, {start} to {end}")
        embed = Embed(
            title=f"📤 Export, {start:%d %b %Y} to {end:%d %b %Y}",
            description=(
                f"{events:,} events and {len(rows) - events:,} daily counts, times in "
                f"{self._settings.timezone}. Columns: time, record (event or count), kind, member_id, "
                "username, display_name, bot, low, high, value."
            ),
            color=CHART_COLOR,
        )
        return AnswerWithFiles(embed, [csv])

    async def health(self) -> Reply:
        """Answer `/health`: fresh heartbeat figures and every circuit breaker."""
        snapshot = await self._heartbeat.snapshot()
        breakers = [breaker.snapshot() for breaker in self._breakers]
        return build_health_embed(snapshot, breakers, _fixes(snapshot.counters))

    async def counters_refresh(self) -> Reply:
        """Answer `/counters refresh`: resume fixed counters, re-read the counts, say when each renames."""
        await self._counters.resume_paused()  # a permission fixed since start-up takes effect now
        next_at = await self._counters.refresh_now()
        states = self._counters.counter_states()
        return build_refresh_embed(
            states,
            next_at,
            _fixes(states),
            now=self._clock.now(),
            limit=self._settings.channel_rename_limit,
            window_s=self._settings.channel_rename_window,
        )


def _fixes(states: Iterable[ChannelStats]) -> dict[int, str | None]:
    """Return what to do about each paused counter, by channel."""
    return {state.channel_id: state.paused_fix for state in states}
