"""Composition root: builds the store, services and client, and owns start-up and shut-down order."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import discord

from src.core.bot import StatsBot, WatchedGuild
from src.core.command_answers import CommandAnswers
from src.core.commands import StatsCommands
from src.core.config import Settings, anchor_channel_id
from src.core.counter_answers import CounterAnswers
from src.core.discord_adapter import DiscordAdapter
from src.core.gateway_events import GatewayEvents
from src.core.resilient_port import ResilientDiscord
from src.core.session import CONNECT_FIX, INTENT_FIX, TOKEN_FIX, discord_endpoints
from src.services.monitoring.alerts import AlertMonitor
from src.services.monitoring.heartbeat import HeartbeatService
from src.services.monitoring.lifecycle import LifecycleNotifier
from src.services.monitoring.metrics import MetricsSampler
from src.services.presence.service import PresenceService
from src.services.stats.backups import BackupService
from src.services.stats.chart_maker import ChartMaker
from src.services.stats.count_history import CountHistory, seed_from_days
from src.services.stats.counter_admin import CounterAdmin
from src.services.stats.counter_specs import configured_counters
from src.services.stats.counters import CounterService
from src.services.stats.events import EventRecorder
from src.services.stats.goal_keeper import GoalKeeper
from src.services.stats.history import DailyHistory
from src.services.stats.report_scheduler import ReportScheduler
from src.services.stats.view import StatsSnapshotView
from src.types.ports import Clock
from src.utils.breaker import BreakerRegistry
from src.utils.charts import ProcessChartRenderer
from src.utils.clock import SystemClock
from src.utils.logging import get_logger
from src.utils.run_lock import DataDirBusy, RunLock
from src.utils.store import AtomicJsonStore
from src.utils.text import describe_error

log = get_logger(__name__, service="app")

SEED_RECENT_DAYS = 8  # after the first start, the count history is seeded from the last week's day files
SHUTDOWN_BUDGET = 8.0  # seconds for services to stop; SIGTERM must exit within 10 s
STEP_TIMEOUT = 3.0
DISK_RETRY_CAP = 60.0  # no single stop step may eat the whole budget
EXIT_OK, EXIT_LOGIN = 0, 1


class StatsBotApp:
    """Builds the store, the client and every service, hands each only what it uses, and owns the order."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.store = AtomicJsonStore(settings.data_dir, clock=self.clock)
        self.breakers = BreakerRegistry(clock=self.clock)
        guild = WatchedGuild(settings.guild_id, anchor_channel_id(settings))
        self.client = StatsBot(settings, self.clock, guild)
        self.discord = DiscordAdapter(self.client, guild, self.client.member_chunks)
        # Services see Discord only through the breaker, so an outage is not multiplied by their loops.
        self.port = ResilientDiscord(self.discord, self.breakers, self.clock)
        self.history = DailyHistory(self.store)
        # Disk retries stay short whatever MAX_BACKOFF says: writes must resume soon after a disk recovers.
        self.recorder = EventRecorder(
            settings, self.clock, self.history, max_backoff=min(DISK_RETRY_CAP, settings.max_backoff)
        )
        self.goals = GoalKeeper(self.port, self.clock, self.store, max_backoff=settings.max_backoff)
        self.count_history = CountHistory(settings, self.clock, self.store)
        self.counters = CounterService(
            settings,
            self.port,
            self.clock,
            self.store,
            configured_counters(settings),
            self.goals,
            samples=self.count_history.record,
        )
        self.stats = StatsSnapshotView(self.counters, self.recorder)
        # matplotlib's font cache outside DATA_DIR: it is no data, and backups must not carry it.
        renderer = ProcessChartRenderer(matplotlib_dir=Path(tempfile.gettempdir()) / "statsbot-matplotlib")
        self.charts = ChartMaker(self.count_history, self.history, renderer, settings.zone)
        self.reports = ReportScheduler(
            settings,
            self.clock,
            self.store,
            self.history,
            self.port,
            flush=self.recorder.flush,
            charts=self.charts,
        )
        self.alerts = AlertMonitor(
            settings,
            self.clock,
            self.port,
            self.store,
            self.stats,
            MetricsSampler(settings.data_dir, self.clock),
            breakers=self.breakers,
            check_interval=min(30.0, settings.heartbeat_interval),
        )
        self.heartbeat = HeartbeatService(
            settings,
            self.clock,
            self.port,
            self.store,
            self.stats,
            MetricsSampler(settings.data_dir, self.clock),
            breakers=self.breakers,
            alerts=self.alerts,
        )
        self.lifecycle = LifecycleNotifier(settings, self.clock, self.port)
        self.backups = BackupService(settings.data_dir, settings.backups_folder, self.clock)
        self.presence = PresenceService(
            settings, self.clock, self.port, self.stats, lambda: self.store.health.ok
        )
        answers = CommandAnswers(
            settings,
            self.clock,
            stats=self.stats,
            history=self.history,
            counters=self.counters,
            heartbeat=self.heartbeat,
            breakers=self.breakers,
            charts=self.charts,
            counts=self.count_history,
        )
        self.counter_admin = CounterAdmin(self.port, self.store, self.counters)
        counter_answers = CounterAnswers(self.clock, self.counter_admin, self.counters, self.goals)
        self.commands = StatsCommands(self.client, answers, self.store, counter_answers)
        self.client.attach(
            GatewayEvents(
                recorder=self.recorder,
                counters=self.counters,
                connection=self.discord.set_connected,
                start=self._start_services,
                shutdown=self.shutdown,
            )
        )
        self.started = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Task[None] | None = None

    async def _start_services(self, guild_id: int) -> None:
        """Start every service once the watched guild has arrived in the first gateway session."""
        log.info("app.starting", guild_id=guild_id)
        await self.recorder.start()
        await self.count_history.start()
        self._spawn(self._seed_count_history(), "count_history_seed")
        await self.goals.start(guild_id)  # before the counters, so `{goal}` shows with the first renames
        await self.counter_admin.load(guild_id)  # the counters /setup and /counter made
        # Starts the ban baseline and the count refresh loop beside the first rename, which waits for neither.
        await self.counters.start()
        for service in (self.reports, self.alerts, self.heartbeat, self.presence, self.backups):
            await service.start()
        if self.settings.notify_lifecycle:
            self._spawn(self.lifecycle.start(), "startup_notice")
        self._spawn(self.commands.sync(guild_id), "commands_sync")
        self.started.set()
        log.info("app.started", guild_id=guild_id)

    async def _seed_count_history(self) -> None:
        """Give the daily member series the counts of the day files it lacks (all of them the first time)."""
        dates = await self.history.stored_dates()
        if await self.store.names("history/daily"):
            dates = dates[-SEED_RECENT_DAYS:]  # seeded before: only days the bot may have missed since
        seeded = await seed_from_days(self.count_history, self.history, dates)
        log.info("count_history.seeded", days=seeded)

    async def shutdown(self) -> None:
        """Stop in order, each step bounded, and flush recorded events last; a second call waits for it."""
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._stop_in_order(), name="app-shutdown")
        # Every caller waits for the one stop: the client's close and run_client's `finally` may both ask,
        # and returning early would let the process end before the events are flushed.
        await asyncio.shield(self._stopping)

    async def _stop_in_order(self) -> None:
        """The stop itself: presence, notices and services in order, background tasks, then the flush."""
        log.info("app.stopping")
        steps: list[tuple[str, Callable[[], Awaitable[object]]]] = []
        if self.started.is_set():
            steps.append(("presence_idle", self.presence.shutting_down))
            if self.settings.notify_lifecycle:
                steps.append(("shutdown_notice", self.lifecycle.stop))
        steps += [
            ("presence", self.presence.stop),
            ("heartbeat", self.heartbeat.stop),
            ("alerts", self.alerts.stop),
            ("reports", self.reports.stop),
            ("counters", self.counters.stop),
            ("goals", self.goals.stop),
            ("count_history", self.count_history.stop),
            ("backups", self.backups.stop),
        ]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_BUDGET
        for name, step in steps:
            remaining = min(STEP_TIMEOUT, deadline - loop.time() - 1.0)
            await self._bounded(name, step, remaining)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._bounded("events_flush", self.recorder.stop, max(1.0, deadline - loop.time()))
        log.info("app.stopped", pending_events=self.recorder.pending_events)

    # --- helpers ---------------------------------------------------------------------------------------
    async def _bounded(self, name: str, step: Callable[[], Awaitable[object]], timeout: float) -> None:
        try:
            await asyncio.wait_for(step(), timeout=max(0.1, timeout))
        except TimeoutError:
            log.error("app.stop_step_timeout", step=name, timeout_s=round(timeout, 2))
        except Exception as exc:
            log.error("app.stop_step_failed", step=name, error=repr(exc))

    def _spawn(self, work: Awaitable[object], name: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception as exc:  # a background step failing must not take the bot down
                log.error("app.background_failed", task=name, error=repr(exc))

        task = asyncio.create_task(guarded(), name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def run_bot(settings: Settings, *, clock: Clock | None = None) -> int:
    """Run until SIGTERM/SIGINT (exit 0); a rejected token or missing intent exits 1 with one clear line."""
    lock = RunLock(settings.data_dir)
    try:
        lock.acquire()
    except DataDirBusy as exc:
        fix = "stop that StatsBot, or give this one its own DATA_DIR"
        log.error("bot.data_dir_busy", error=str(exc), fix=fix)
        return EXIT_LOGIN
    try:
        return await _run_locked(settings, clock)
    finally:
        lock.release()


async def _run_locked(settings: Settings, clock: Clock | None) -> int:
    """The run itself, while this process holds DATA_DIR's lock."""
    with discord_endpoints(settings):
        app = StatsBotApp(settings, clock=clock)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, app.client.request_close)
        try:
            return await run_client(app)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


async def run_client(app: StatsBotApp) -> int:
    """Log in and run the client until it is closed; translate login problems into exit status 1."""
    token = app.settings.bot_token.get_secret_value()
    try:
        async with app.client:
            await app.client.serve(token)
    except discord.LoginFailure:
        log.error("bot.login_failed", reason="invalid token", fix=TOKEN_FIX)
        return EXIT_LOGIN
    except discord.PrivilegedIntentsRequired:
        log.error("bot.login_failed", reason="privileged intent not enabled", fix=INTENT_FIX)
        return EXIT_LOGIN
    except discord.ConnectionClosed as exc:
        if exc.code == 4004:  # the gateway's "authentication failed"
            log.error("bot.login_failed", reason="invalid token", fix=TOKEN_FIX)
            return EXIT_LOGIN
        raise
    except (aiohttp.ClientConnectionError, OSError) as exc:
        # Once logged in discord.py reconnects by itself; this is Discord unreachable at login.
        log.error("bot.connect_failed", error=describe_error(exc), fix=CONNECT_FIX)
        return EXIT_LOGIN
    finally:
        await app.shutdown()
    return EXIT_OK
