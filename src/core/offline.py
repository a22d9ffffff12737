"""Commands that work on stored data: print or post a report, import the original bot's history."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import discord

from src.core.bot import WatchedGuild
from src.core.config import Settings
from src.core.discord_adapter import DiscordAdapter
from src.core.session import TOKEN_FIX, discord_endpoints
from src.services.stats.history import DailyHistory
from src.services.stats.legacy import LegacyImportError
from src.services.stats.legacy import import_legacy as merge_legacy
from src.services.stats.reports import build_daily_report, build_weekly_report
from src.types.models import DailyStats, Embed
from src.utils.clock import SystemClock
from src.utils.logging import get_logger
from src.utils.store import AtomicJsonStore

log = get_logger(__name__, service="cli")


async def import_legacy(settings: Settings, path: Path) -> int:
    """Merge the original bot's member_stats.json into the daily files; safe to run twice."""
    history = DailyHistory(AtomicJsonStore(settings.data_dir))
    try:
        summary = await merge_legacy(path, history, settings.zone)
    except LegacyImportError as exc:
        print(f"import-legacy: {exc}")
        return 1
    print(
        f"Imported {summary.joins} joins, {summary.leaves} leaves and {summary.bans} bans "
        f"into {summary.days} day files under {settings.data_dir / 'events'} ({summary.skipped} skipped)."
    )
    return 0


async def build_report(settings: Settings, kind: str, day: date) -> Embed:
    """Build a daily report for `day`, or the weekly report of the 7 days ending with `day`."""
    history = DailyHistory(AtomicJsonStore(settings.data_dir))
    if kind == "daily":
        return build_daily_report(await history.load_day(day) or DailyStats(date=day))
    days = await history.days(day - timedelta(days=6), day)
    previous = await history.days(day - timedelta(days=13), day - timedelta(days=7))
    return build_weekly_report(days, previous)


async def report(settings: Settings, kind: str, day: date | None, *, post: bool) -> int:
    """Print a stored report (yesterday's by default), or post it with `--post`."""
    target = day or SystemClock().now().astimezone(settings.zone).date() - timedelta(days=1)
    embed = await build_report(settings, kind, target)
    if not post:
        print(embed.as_text())
        return 0
    # One REST login and one message: no gateway session, no services, no state written.
    client = discord.Client(intents=discord.Intents.none())
    with discord_endpoints(settings):
        async with client:
            try:
                await client.login(settings.bot_token.get_secret_value())
            except discord.LoginFailure:
                log.error("bot.login_failed", reason="invalid token", fix=TOKEN_FIX)
                return 1
            port = DiscordAdapter(client, WatchedGuild(settings.guild_id, settings.member_count_channel_id))
            message_id = await port.send_message(settings.stats_channel_id, embed)
    print(f"Posted the {kind} report for {target} as message {message_id}.")
    return 0
