"""Posts the daily and weekly reports on time, once each, catching up on reports missed while down.

What was posted is persisted in `state/reports.json` right after each post, so a restart never posts a day
twice. Report times are local times in the configured zone; `fire_time` turns them into instants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from src.core.config import Settings
from src.core.exceptions import DiscordPortError, StoreError
from src.services.stats.chart_maker import Chart, ChartMaker
from src.services.stats.history import DailyHistory
from src.services.stats.reports import build_daily_report, build_weekly_report
from src.types.models import DailyStats, Embed
from src.types.ports import Clock, DiscordPort, JsonStore
from src.utils.backoff import Backoff
from src.utils.logging import get_logger
from src.utils.loop import Loop

STATE_FILE = "state/reports.json"
STATE_SCHEMA_VERSION = 1
CATCH_UP_DAYS = 7
RECENT_MESSAGES = 100  # how far back the stats channel is searched for a report posted already
_MAX_SLEEP = 3600.0  # re-check the clock at least hourly, so a suspended host cannot oversleep a report
_WAKE_MARGIN = 0.5  # wake just after the due instant, never a hair before it


class Posting(BaseModel):
    """A report about to be posted: written down before the POST, cleared once the post is recorded."""

    report: str  # "daily" or "weekly"
    day: date
    nonce: str


class ReportState(BaseModel):
    """The newest daily report day and weekly report end day that were posted, and a post in flight."""

    schema_version: int = STATE_SCHEMA_VERSION
    last_daily: date | None = None
    last_weekly: date | None = None
    posting: Posting | None = None


def report_nonce(report: str, day: date) -> str:
    """Return the nonce of one report: the same for every attempt, so Discord posts it at most once."""
    return f"statsbot-{report}-{day:%Y%m%d}"  # at most 25 characters, as Discord requires


class _ReportsPending(Exception):
    """A due report could not be posted (already logged); the loop retries with backoff."""


def fire_time(d: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local time `at` on `d`; a time skipped by DST falls one hour later (fold=0)."""
    return datetime.combine(d, at.replace(tzinfo=None), tzinfo=zone).astimezone(UTC)


class ReportScheduler:
    """Posts each day's report at the report time, and the weekly report on the report weekday."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        store: JsonStore,
        history: DailyHistory,
        port: DiscordPort,
        *,
        flush: Callable[[], Awaitable[object]] | None = None,
        charts: ChartMaker | None = None,
        retry_delay: float = 300.0,
        catch_up_days: int = CATCH_UP_DAYS,
    ) -> None:
        self._settings = settings
        self._zone = settings.zone
        self._clock = clock
        self._store = store
        self._history = history
        self._port = port
        self._flush = flush
        self._charts = charts
        self._retry_delay = retry_delay
        self._catch_up_days = catch_up_days
        self._log = get_logger(__name__, service="stats")
        self._state: ReportState | None = None
        self._state_loaded = False
        self._state_unsaved = False
        self._loop = Loop(
            "report-scheduler",
            self._post_due,
            clock=clock,
            interval=self._until_next_due,
            backoff=Backoff(retry_delay, settings.max_backoff),
            on_error=self._post_failed,
        )

    async def start(self) -> None:
        """Start the loop; it first posts any report missed while the bot was down."""
        self._loop.start()

    async def stop(self) -> None:
        """Stop the loop at once (a report in flight is posted again, at most once, on the next start)."""
        await self._loop.cancel()

    async def build_daily(self, d: date) -> Embed:
        """The daily report of day `d`, after flushing the recorder so the file has every event."""
        await self._flush_recorder()
        return build_daily_report(await self._history.load_day(d) or DailyStats(date=d))

    async def build_weekly(self, end: date) -> Embed:
        """The weekly report of the 7 days ending with `end`, compared with the 7 days before."""
        await self._flush_recorder()
        days = await self._history.days(end - timedelta(days=6), end)
        previous = await self._history.days(end - timedelta(days=13), end - timedelta(days=7))
        return build_weekly_report(days, previous)

    async def post_daily(self, d: date) -> int:
        """Post day `d`'s report (with its chart) unless it is in the stats channel already; return its id."""
        embed = await self.build_daily(d)
        chart = await self._charts.daily(d) if self._charts is not None else None
        return await self._post_once("daily", d, embed, chart)

    async def post_weekly(self, end: date) -> int:
        """Post the weekly report ending with `end` (with its chart) unless it is posted already."""
        embed = await self.build_weekly(end)
        chart = await self._charts.weekly(end) if self._charts is not None else None
        return await self._post_once("weekly", end, embed, chart)

    async def _post_once(self, report: str, d: date, embed: Embed, chart: Chart | None = None) -> int:
        """Post `embed` at most once, whatever crashed or was restored since the last try.

        The intent is written down first; a report already in the channel (a crash after the POST, a state
        file restored from an older backup, `report --post` by hand) is not posted again; and the nonce
        makes Discord itself refuse a second post of it for a few minutes.
        """
        channel_id = self._settings.stats_channel_id
        nonce = report_nonce(report, d)
        state = await self._load_state()
        state.posting = Posting(report=report, day=d, nonce=nonce)
        await self._save_state()
        for message in await self._port.recent_messages(channel_id, RECENT_MESSAGES):
            if message.by_me and embed.title in message.titles:
                self._log.info(
                    "report.already_posted", report=report, day=d.isoformat(), message_id=message.message_id
                )
                return message.message_id
        files = () if chart is None else (chart.attachment,)
        shown = embed if chart is None else chart.attach_to(embed)
        message_id = await self._port.send_message(channel_id, shown, nonce=nonce, files=files)
        self._log.info("report.posted", report=report, day=d.isoformat(), message_id=message_id)
        return message_id

    def next_due(self, now: datetime) -> datetime:
        """The first report time strictly after `now`."""
        fired = self._latest_fire_date(now)
        return fire_time(fired + timedelta(days=1), self._settings.daily_report_time, self._zone)

    async def run_due(self) -> bool:
        """Post every report that is due and not yet posted, oldest first; False if a post failed."""
        state = await self._load_state()
        fired = self._latest_fire_date(self._clock.now())
        latest_day = fired - timedelta(days=1)
        offset = (fired.weekday() - self._settings.weekly_report_day) % 7
        latest_week_end = fired - timedelta(days=offset + 1)
        if state.last_daily is None or state.last_weekly is None:
            # First run: nothing was recorded before, so start with the next report instead of a backlog.
            state.last_daily = state.last_daily or latest_day
            state.last_weekly = state.last_weekly or latest_week_end
            self._state_unsaved = True
            self._log.info("report.state_initialized", last_daily=state.last_daily.isoformat())
        if self._state_unsaved:
            await self._save_state()

        first = max(
            state.last_daily + timedelta(days=1), latest_day - timedelta(days=self._catch_up_days - 1)
        )
        d = first
        while d <= latest_day:
            if not await self._post("daily", d, self.post_daily):
                return False
            state.last_daily, state.posting = d, None
            await self._save_state()
            d += timedelta(days=1)
        if latest_week_end > state.last_weekly:
            if not await self._post("weekly", latest_week_end, self.post_weekly):
                return False
            state.last_weekly, state.posting = latest_week_end, None
            await self._save_state()
        return True

    def _latest_fire_date(self, now: datetime) -> date:
        """The local date of the newest report time at or before `now`."""
        today = now.astimezone(self._zone).date()
        at = self._settings.daily_report_time
        return today if now >= fire_time(today, at, self._zone) else today - timedelta(days=1)

    async def _post(self, report: str, d: date, post: Callable[[date], Awaitable[int]]) -> bool:
        try:
            await post(d)
        except DiscordPortError as exc:
            self._log.warning("report.post_failed", report=report, day=d.isoformat(), error=str(exc))
            return False
        return True

    async def _flush_recorder(self) -> None:
        if self._flush is None:
            return
        try:
            await self._flush()
        except Exception:  # a report from what is on disk beats no report
            self._log.exception("report.flush_failed")

    async def _load_state(self) -> ReportState:
        """The persisted state, read once; a read error propagates so we never re-post on a guess."""
        if not self._state_loaded:
            self._state = await self._store.read(STATE_FILE, validate=ReportState.model_validate)
            self._state_loaded = True
            if self._state is not None and self._state.posting is not None:
                # The last run stopped between deciding to post and recording the post: the channel says
                # whether it got there, before anything is posted again.
                posting = self._state.posting
                self._log.info("report.post_interrupted", report=posting.report, day=posting.day.isoformat())
        if self._state is None:
            self._state = ReportState()
        return self._state

    async def _save_state(self) -> None:
        """Persist the state; on failure keep it in memory (no double post) and retry on the next run."""
        if self._state is None:
            return
        try:
            await self._store.write(STATE_FILE, self._state.model_dump(mode="json"))
        except StoreError as exc:
            self._state_unsaved = True
            self._log.error("report.state_save_failed", error=str(exc))
        else:
            self._state_unsaved = False

    async def _post_due(self) -> None:
        """Post what is due; raise when something could not be posted so the loop backs off."""
        if not await self.run_due():
            raise _ReportsPending

    def _until_next_due(self) -> float:
        """Seconds until just after the next report time, re-checked at least hourly."""
        now = self._clock.now()
        delay = (self.next_due(now) - now).total_seconds()
        return min(max(delay, 0.0), _MAX_SLEEP) + _WAKE_MARGIN

    def _post_failed(self, exc: Exception, retry_in: float | None) -> None:
        """Log a failed round: a refused post was logged where it happened; anything else is a bug."""
        if isinstance(exc, _ReportsPending):
            self._log.info("report.retry_scheduled", retry_in=retry_in)
        else:
            self._log.error("report.loop_error", error=repr(exc), retry_in=retry_in, exc_info=exc)
