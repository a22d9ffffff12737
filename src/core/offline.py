"""Commands that work on stored data: print or post a report, import the original bot's history."""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import discord

from src.core.bot import WatchedGuild
from src.core.config import Settings, anchor_channel_id
from src.core.discord_adapter import DiscordAdapter
from src.core.member_scan import MemberChunks
from src.core.session import TOKEN_FIX, discord_endpoints
from src.services.stats.backups import KEEP as ARCHIVES_KEPT
from src.services.stats.chart_data import ChartDataError
from src.services.stats.chart_maker import ChartMaker
from src.services.stats.count_history import CountHistory, seed_from_days
from src.services.stats.export import export_rows, to_csv, to_json
from src.services.stats.forget import ForgetReport, forget_member
from src.services.stats.history import DailyHistory
from src.services.stats.legacy import LegacyImportError
from src.services.stats.legacy import import_legacy as merge_legacy
from src.services.stats.queries import no_data_text
from src.services.stats.reports import build_daily_report, build_weekly_report
from src.types.models import DailyStats, Embed
from src.utils.charts import ProcessChartRenderer
from src.utils.clock import SystemClock
from src.utils.logging import get_logger
from src.utils.run_lock import DataDirBusy, RunLock
from src.utils.store import AtomicJsonStore

log = get_logger(__name__, service="cli")


async def import_legacy(settings: Settings, path: Path) -> int:
    """Merge the original bot's member_stats.json into the daily files; safe to run twice."""
    store = AtomicJsonStore(settings.data_dir)
    history = DailyHistory(store)
    try:
        summary = await merge_legacy(path, history, settings.zone)
    except LegacyImportError as exc:
        print(f"import-legacy: {exc}", file=sys.stderr)
        return 1
    # The imported days' member counts start the daily count series (charts of the months before StatsBot).
    await seed_from_days(CountHistory(settings, SystemClock(), store), history, await history.stored_dates())
    # Duplicates are said only when there are some: on a second import they explain the zeros.
    duplicates = f"{summary.duplicates:,} duplicates, " if summary.duplicates else ""
    print(
        f"Imported {summary.joins:,} joins, {summary.leaves:,} leaves and {summary.bans:,} bans "
        f"into {summary.days:,} day files under {settings.data_dir / 'events'} "
        f"({duplicates}{summary.skipped:,} skipped)."
    )
    return 0


async def export(settings: Settings, start: date, end: date, fmt: str, out: Path | None) -> int:
    """Write the recorded events and daily counts from `start` to `end` as CSV or JSON (stdout or `out`)."""
    if start > end:
        print(f"export: --from {start} is after --to {end}.", file=sys.stderr)
        return 2
    store = AtomicJsonStore(settings.data_dir)
    counts = CountHistory(settings, SystemClock(), store)  # only read: never started, so it writes nothing
    rows = await export_rows(DailyHistory(store), counts, start, end, settings.zone)
    text = to_csv(rows) if fmt == "csv" else to_json(rows, start, end, settings.zone)
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            await asyncio.to_thread(out.write_text, text, encoding="utf-8")
        except OSError as exc:
            print(f"export: cannot write {out}: {exc.strerror or exc}.", file=sys.stderr)
            return 1
        events = sum(1 for row in rows if row.record == "event")
        print(
            f"Wrote {out}: {events:,} events and {len(rows) - events:,} daily counts from {start} to {end}."
        )
    return 0


async def chart(settings: Settings, metric: str, range_name: str, out: Path) -> int:
    """Draw the `/stats chart` chart of `metric` over `range_name` from DATA_DIR into the PNG file `out`."""
    store = AtomicJsonStore(settings.data_dir)
    renderer = ProcessChartRenderer(matplotlib_dir=Path(tempfile.gettempdir()) / "statsbot-matplotlib")
    counts = CountHistory(settings, SystemClock(), store)  # only read: never started, so it writes nothing
    maker = ChartMaker(counts, DailyHistory(store), renderer, settings.zone)
    today = SystemClock().now().astimezone(settings.zone).date()
    try:
        drawn = await maker.metric(metric, range_name, today)
    except ChartDataError as exc:
        print(f"chart: {exc}", file=sys.stderr)
        return 1
    try:
        await asyncio.to_thread(out.write_bytes, drawn.attachment.data)
    except OSError as exc:
        print(f"chart: cannot write {out}: {exc.strerror or exc}.", file=sys.stderr)
        return 1
    print(f"Wrote {out} ({len(drawn.attachment.data):,} bytes). {drawn.alt_text}")
    return 0


async def forget(settings: Settings, member_id: str) -> int:
    """Erase one member's records from DATA_DIR and say what still holds them; refused while the bot runs."""
    if not settings.data_dir.is_dir():
        print(
            f"forget: DATA_DIR {settings.data_dir} does not exist: nothing to forget there.", file=sys.stderr
        )
        return 2
    lock = RunLock(settings.data_dir)
    try:
        lock.acquire()
    except DataDirBusy as exc:
        # The running bot keeps today's events in memory and would write the member back at its next flush.
        print(f"forget: {exc}: stop it, run forget, then start it again.", file=sys.stderr)
        return 1
    try:
        store = AtomicJsonStore(settings.data_dir)
        found = await forget_member(
            store,
            DailyHistory(store),
            member_id,
            backup_dir=settings.backups_folder,
            keep_archives=ARCHIVES_KEPT,
            log_dir=settings.log_dir,
        )
    except ValueError as exc:
        print(f"forget: {exc}", file=sys.stderr)
        return 2
    finally:
        lock.release()
    print(forget_summary(found))
    return 0


def _count(n: int, one: str, many: str | None = None) -> str:
    """A count with its noun: 1 event, 2 events."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def forget_summary(found: ForgetReport) -> str:
    """What `forget` did and what still holds the member, as the terminal shows it."""
    who = f"member {found.member_id}"
    lines = []
    if found.events_removed or found.copies_deleted:
        days = ", ".join(found.days_changed) or "no day file"
        lines.append(
            f"Removed {_count(found.events_removed, 'event')} of {who} from "
            f"{_count(len(found.days_changed), 'day file')} ({days}) and deleted "
            f"{_count(len(found.copies_deleted), 'older copy', 'older copies')} of them."
        )
    else:
        lines.append(f"StatsBot's records hold nothing of {who}.")
    if found.still_named_in:
        lines.append(
            "Still naming them, in files StatsBot does not rewrite (delete or edit them yourself): "
            + ", ".join(found.still_named_in)
        )
    if found.logs_naming:
        lines.append(
            "Log files that name them (kept LOG_RETENTION_DAYS; delete them to erase it now): "
            + ", ".join(found.logs_naming)
        )
    for archive, dropped in found.archives:
        lines.append(
            f"Backup archive {archive} still holds them: archives are never edited; rotation deletes it by "
            f"{dropped:%Y-%m-%d} (or delete it now)."
        )
    return "\n".join(lines)


_MARKUP = re.compile(r"\\([\\*_~`|>\[\]])|<@!?(\d+)>|`([^`\n]*)`")


def plain_text(text: str, names: Mapping[str, str]) -> str:
    """`text` as a terminal shows it: markdown escapes undone, mentions replaced by `names`, no code ticks."""

    def plain(match: re.Match[str]) -> str:
        escaped, member_id, code = match.groups()
        if escaped is not None:
            return escaped
        if member_id is not None:
            return names.get(member_id, f"member {member_id}")
        return str(code)

    # One left-to-right pass, so an escaped backtick in a name is never taken for the start of code.
    return _MARKUP.sub(plain, text)


def member_names(day: DailyStats) -> dict[str, str]:
    """Each member in `day`'s events by id, as "display name (username)" or just the username."""
    names: dict[str, str] = {}
    for event in day.events:
        shown = event.username
        if event.display_name and event.display_name != event.username:
            shown = f"{event.display_name} ({event.username})"
        names[event.member_id] = shown
    return names


@dataclass(frozen=True)
class StoredReport:
    """A report built from stored days, with the names its member mentions stand for."""

    embed: Embed
    names: dict[str, str]


async def build_report(settings: Settings, kind: str, day: date, today: date) -> StoredReport | str:
    """The daily report of `day` or the weekly one of the 7 days ending with it; for a day never stored, why.

    `today` (in the configured zone) only shapes the explanation of a missing day.
    """
    history = DailyHistory(AtomicJsonStore(settings.data_dir))
    if kind == "daily":
        stored = await history.load_day(day)
        if stored is None:
            # What `/stats day` answers (in its operator's words) instead of an all-zero report.
            return no_data_text(day, today, settings.retention_days, for_operator=True)
        return StoredReport(build_daily_report(stored), member_names(stored))
    stored_dates = await history.stored_dates()
    if not any(day - timedelta(days=6) <= d <= day for d in stored_dates):
        first = day - timedelta(days=6)
        return (
            f"No statistics are stored for the week {first:%A} {first.day} {first:%B} to {day:%A} {day.day} "
            f"{day:%B %Y}: nothing to report."
        )
    days = await history.days(day - timedelta(days=6), day)
    previous = await history.days(day - timedelta(days=13), day - timedelta(days=7))
    return StoredReport(build_weekly_report(days, previous), {})


async def report(settings: Settings, kind: str, day: date | None, *, post: bool) -> int:
    """Print a stored report (yesterday's by default) or post it with `--post`; 1 for a day never stored."""
    today = SystemClock().now().astimezone(settings.zone).date()
    target = day or today - timedelta(days=1)
    built = await build_report(settings, kind, target, today)
    if isinstance(built, str):
        print(plain_text(built, {}), file=sys.stderr)
        return 1
    embed = built.embed
    if not post:
        print(plain_text(embed.as_text(), built.names))
        return 0
    # One REST login and one message: no gateway session, no services, no state written. Intents only
    # matter to a gateway session; `guilds` keeps discord.py from warning about one that never happens.
    client = discord.Client(intents=discord.Intents(guilds=True))
    with discord_endpoints(settings):
        async with client:
            try:
                await client.login(settings.bot_token.get_secret_value())
            except discord.LoginFailure:
                log.error("bot.login_failed", reason="invalid token", fix=TOKEN_FIX)
                return 1
            guild = WatchedGuild(settings.guild_id, anchor_channel_id(settings))
            port = DiscordAdapter(client, guild, MemberChunks())
            message_id = await port.send_message(settings.stats_channel_id, embed)
    print(f"Posted the {kind} report for {target} as message {message_id}.")
    return 0
