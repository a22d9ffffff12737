"""The charts reports and commands attach: data from the histories, the picture from the chart renderer.

A report never waits for, or fails because of, its chart: a chart that cannot be drawn is logged and the
report is posted without it. A command asking for a chart gets the reason when there is nothing to draw.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from src.core.exceptions import StatsBotError
from src.services.stats.chart_data import ChartDataError, daily_chart, metric_chart, weekly_chart
from src.services.stats.count_history import CountHistory
from src.services.stats.history import DailyHistory
from src.types.charts import ChartSpec
from src.types.models import Attachment, Embed
from src.types.ports import ChartRenderer
from src.utils.logging import get_logger
from src.utils.text import clip

Builder = Callable[[CountHistory, DailyHistory, date, ZoneInfo], Awaitable[ChartSpec]]
DESCRIPTION_MAX = 4096  # Discord's limit on an embed's description
ALT_TEXT_MAX = 1024  # Discord's limit on an attachment's description


@dataclass(frozen=True, slots=True)
class Chart:
    """A drawn chart: the PNG to attach and the words saying what it shows."""

    attachment: Attachment
    alt_text: str
    title: str  # what and when, as the chart's own title says it

    def attach_to(self, embed: Embed) -> Embed:
        """Return `embed` showing this chart, its description ending with what the chart shows."""
        description = f"{embed.description}\n\n{self.alt_text}" if embed.description else self.alt_text
        return embed.model_copy(
            update={
                "image": f"attachment://{self.attachment.filename}",
                "description": clip(description, DESCRIPTION_MAX),
            }
        )


class ChartMaker:
    """Draws the daily, weekly and `/stats chart` charts from the count history and the day files."""

    def __init__(
        self, counts: CountHistory, days: DailyHistory, renderer: ChartRenderer, zone: ZoneInfo
    ) -> None:
        self._counts = counts
        self._days = days
        self._renderer = renderer
        self._zone = zone
        self._log = get_logger(__name__, service="stats")

    async def daily(self, day: date) -> Chart | None:
        """The daily report's chart, or None (logged) when it cannot be drawn."""
        return await self._for_report("daily", f"daily-{day.isoformat()}.png", daily_chart, day)

    async def weekly(self, last_day: date) -> Chart | None:
        """The weekly report's chart, or None (logged) when it cannot be drawn."""
        return await self._for_report("weekly", f"weekly-{last_day.isoformat()}.png", weekly_chart, last_day)

    async def metric(self, metric: str, range_name: str, today: date) -> Chart:
        """The `/stats chart` chart; ChartDataError says why there is none, a drawing failure raises."""
        spec = await metric_chart(self._counts, self._days, metric, range_name, today, self._zone)
        return await self._draw(spec, f"{metric}-{range_name}-{today.isoformat()}.png")

    async def _for_report(self, report: str, filename: str, build: Builder, day: date) -> Chart | None:
        try:
            spec = await build(self._counts, self._days, day, self._zone)
            return await self._draw(spec, filename)
        except (ChartDataError, StatsBotError) as exc:
            self._log.warning("chart.skipped", report=report, day=day.isoformat(), reason=str(exc))
            return None

    async def _draw(self, spec: ChartSpec, filename: str) -> Chart:
        png = await self._renderer.render(spec)
        alt = clip(spec.alt_text, ALT_TEXT_MAX)
        return Chart(Attachment(filename, png, alt), spec.alt_text, spec.title)
