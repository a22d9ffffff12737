"""Command-line interface: run the bot, show settings, run the sandbox or demo, import and report."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import NoReturn

from src import __version__
from src.core.config import Settings, load_settings, prepare_folders
from src.core.exceptions import ConfigError
from src.sandbox import cli as sandbox_cli
from src.services.stats.chart_data import METRICS, RANGES
from src.services.stats.counter_admin import read_command_counters
from src.services.stats.counter_specs import configured_counters
from src.utils.logging import configure_logging, register_secret

EXIT_CONFIG = 2


def _exit_for(exc: ConfigError) -> NoReturn:
    """Print every configuration problem and exit 2 without a traceback."""
    count = len(exc.problems)
    print(f"StatsBot cannot start: {count} configuration problem{'s' * (count != 1)}:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  - {problem}", file=sys.stderr)
    print("Settings come from the environment, config/.env and .env (see README).", file=sys.stderr)
    raise SystemExit(EXIT_CONFIG) from None


def _settings_or_exit() -> Settings:
    """Load settings; on problems print every one of them and exit 2 without a traceback."""
    try:
        settings = load_settings()
        configured_counters(settings)  # a bad COUNTERS_FILE stops every command, as a bad variable does
    except ConfigError as exc:
        _exit_for(exc)
    register_secret(settings.bot_token.get_secret_value())
    return settings


def _start(*, writes_data: bool) -> Settings:
    """Load settings, create LOG_DIR (and DATA_DIR if the command writes data) and configure logging."""
    settings = _settings_or_exit()
    try:
        prepare_folders(settings, data_dir=writes_data)
    except ConfigError as exc:
        _exit_for(exc)
    configure_logging(
        settings.log_level,
        settings.log_format,
        log_dir=settings.log_dir,
        retention_days=settings.log_retention_days,
    )
    return settings


def cmd_run(_: argparse.Namespace) -> int:
    """Run the bot until SIGTERM/SIGINT."""
    settings = _start(writes_data=True)
    from src.core.app import run_bot

    return asyncio.run(run_bot(settings))


def cmd_config(_: argparse.Namespace) -> int:
    """Print the effective settings with secrets masked."""
    settings = _settings_or_exit()
    shown = settings.describe()
    width = max(map(len, shown))
    for name, value in shown.items():
        print(f"{name.ljust(width)}  {value}")
    print("\nCounters (channel, template, from):")
    counters = [*configured_counters(settings), *read_command_counters(settings.data_dir)]
    for spec in counters:
        print(f"  {spec.channel_id}  {spec.template}  from {spec.origin}")
    if not counters:
        print("  none yet: run /setup in Discord once the bot runs, or declare them in COUNTERS_FILE")
    return 0


def cmd_doctor(_: argparse.Namespace) -> int:
    """Check the token, channels, permissions and intents over REST and print what to fix."""
    settings = _start(writes_data=False)
    from src.core.doctor import run_doctor

    return asyncio.run(run_doctor(settings))


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Run the Discord emulator alone with the options parsed by `src.sandbox.cli.add_arguments`."""
    return sandbox_cli.run(args)


def cmd_demo(_: argparse.Namespace) -> int:
    """Run the bot against the sandbox with a simulated community and a live view."""
    from src.demo import main as demo_main

    return demo_main()


def cmd_import_legacy(args: argparse.Namespace) -> int:
    """Convert the original StatsBot's member_stats.json into daily files."""
    settings = _start(writes_data=True)
    from src.core.offline import import_legacy

    return asyncio.run(import_legacy(settings, Path(args.path)))


def cmd_report(args: argparse.Namespace) -> int:
    """Print (or post) a daily or weekly report from stored data."""
    settings = _start(writes_data=False)  # a report only reads the stored days
    from src.core.offline import report

    return asyncio.run(report(settings, args.kind, args.date, post=args.post))


def cmd_backup(_: argparse.Namespace) -> int:
    """Make a backup archive of DATA_DIR now (the bot may keep running)."""
    settings = _start(writes_data=False)
    from src.utils.archive import ArchiveError, make_archive
    from src.utils.clock import SystemClock

    try:
        archive = make_archive(settings.data_dir, settings.backups_folder, SystemClock().now())
    except ArchiveError as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 1
    print(f"Wrote {archive.path} ({archive.files} files, {archive.size:,} bytes).")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Unpack a backup archive into an empty DATA_DIR (stop the bot first)."""
    settings = _start(writes_data=False)
    from src.utils.archive import ArchiveError, restore_archive

    try:
        files = restore_archive(Path(args.archive), settings.data_dir, force=args.force)
    except ArchiveError as exc:
        print(f"restore: {exc}", file=sys.stderr)
        return 1
    print(f"Restored {files} files from {args.archive} into {settings.data_dir}.")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write the recorded events and daily counts of a date range as CSV or JSON."""
    settings = _start(writes_data=False)  # reads the stored days, writes nothing under DATA_DIR
    from src.core.offline import export
    from src.utils.clock import SystemClock

    today = SystemClock().now().astimezone(settings.zone).date()
    end = args.to or today
    start = args.from_ or end - timedelta(days=29)
    return asyncio.run(export(settings, start, end, args.format, args.out))


def cmd_chart(args: argparse.Namespace) -> int:
    """Draw a chart from DATA_DIR into a PNG file, as `/stats chart` would."""
    settings = _start(writes_data=False)
    from src.core.offline import chart

    return asyncio.run(chart(settings, args.metric, args.range, args.out))


def cmd_forget(args: argparse.Namespace) -> int:
    """Remove every record of one member (stop the bot first)."""
    settings = _start(writes_data=False)  # a DATA_DIR that does not exist is a mistake, not created
    from src.core.offline import forget

    return asyncio.run(forget(settings, args.member_id))


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-11-21") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="python -m src", description="StatsBot: Discord server statistics.")
    parser.add_argument("--version", action="version", version=f"StatsBot {__version__}")
    sub = parser.add_subparsers(dest="command")
    commands: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
        "run": (cmd_run, "run the bot (default)"),
        "config": (cmd_config, "print the effective settings, secrets masked"),
        "doctor": (cmd_doctor, "check the token, channels, permissions and intents (exit 1 on problems)"),
        "sandbox": (cmd_sandbox, "run the embedded Discord emulator alone"),
        "demo": (cmd_demo, "watch the bot work against the sandbox"),
        "import-legacy": (cmd_import_legacy, "import the original StatsBot's member_stats.json"),
        "report": (cmd_report, "print or post a report from stored data"),
        "backup": (cmd_backup, "make a backup archive of DATA_DIR now"),
        "restore": (cmd_restore, "restore a backup archive into an empty DATA_DIR (stop the bot first)"),
        "chart": (cmd_chart, "draw a chart of the stored history into a PNG file"),
        "export": (cmd_export, "write recorded events and daily counts as CSV or JSON"),
        "forget": (
            cmd_forget,
            "remove every record of one member, for a deletion request (stop the bot first)",
        ),
    }
    parsers = {}
    for name, (handler, text) in commands.items():
        parsers[name] = sub.add_parser(name, help=text, description=text)
        parsers[name].set_defaults(handler=handler)
    # The sandbox's own parser declares the same options through this function, so they cannot drift.
    sandbox_cli.add_arguments(parsers["sandbox"])
    parsers["sandbox"].description = sandbox_cli.DESCRIPTION
    parsers["demo"].epilog = "DEMO_SECONDS (default 90) sets how long it runs."
    parsers["import-legacy"].add_argument("path", help="path to the old data/member_stats.json")
    parsers["report"].add_argument("kind", choices=["daily", "weekly"], help="which report")
    parsers["report"].add_argument("--date", type=_parse_date, help="the day (or the week's last day)")
    parsers["report"].add_argument("--post", action="store_true", help="post to STATS_CHANNEL_ID")
    parsers["restore"].add_argument("archive", help="a statsbot-YYYYmmdd-HHMMSS.tar.gz from BACKUP_DIR")
    parsers["restore"].add_argument(
        "--force", action="store_true", help="unpack over a DATA_DIR that already holds data"
    )
    parsers["chart"].add_argument("metric", choices=METRICS, help="what to draw")
    parsers["chart"].add_argument(
        "--range", choices=list(RANGES), default="30d", help="how far back (default 30d)"
    )
    parsers["chart"].add_argument("--out", type=Path, default=Path("chart.png"), help="the PNG to write")
    parsers["export"].add_argument(
        "--from", dest="from_", type=_parse_date, help="the first day (default: 29 days before --to)"
    )
    parsers["export"].add_argument("--to", type=_parse_date, help="the last day (default: today)")
    parsers["export"].add_argument(
        "--format", choices=["csv", "json"], default="csv", help="csv (default) or json"
    )
    parsers["export"].add_argument("--out", type=Path, help="a file to write (default: standard output)")
    parsers["forget"].add_argument("member_id", help="the member's Discord user id, e.g. 123456789012345678")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen command (the bot when none is given)."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = getattr(args, "handler", cmd_run)
    return handler(args)
