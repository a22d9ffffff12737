"""`python -m src sandbox`: run the emulator alone and print its URLs as one JSON line (or shell exports).

The options are declared once, in `add_arguments`, and shared by this module's own parser and by the
`sandbox` subcommand of `src.cli`, so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shlex
import signal
import sys
from collections.abc import Sequence

import structlog

from src.sandbox.config import SandboxConfig
from src.sandbox.server import RENAME_WINDOW, Sandbox

DESCRIPTION = (
    "Run the local Discord emulator (REST API v10 + gateway on 127.0.0.1). The first line on stdout is one "
    "JSON object with its URLs, guild, channel ids and token (with --print-env: `export NAME=value` lines "
    "for the bot instead); SIGINT or SIGTERM stops it (exit status 0)."
)
EXIT_CANNOT_LISTEN, EXIT_INVALID = 1, 2
# The bot's channel settings and the sandbox channel each one names.
CHANNEL_SETTINGS = {
    "MEMBER_COUNT_CHANNEL_ID": "members",
    "ONLINE_COUNT_CHANNEL_ID": "online",
    "BAN_COUNT_CHANNEL_ID": "bans",
    "HEARTBEAT_CHANNEL_ID": "heartbeat",
    "STATS_CHANNEL_ID": "stats",
}


def _port(value: str) -> int:
    """An argparse type: a TCP port number, 0 meaning ephemeral."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 0 and 65535")
    return port


def _count(value: str) -> int:
    """An argparse type: a whole number of zero or more (members, bans)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{number} is below 0")
    return number


def _share(value: str) -> float:
    """An argparse type: a fraction from 0 to 1."""
    try:
        share = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"{share} is not between 0 and 1")
    return share


def _scale(value: str) -> float:
    """An argparse type: a speed-up factor above zero."""
    try:
        scale = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not scale > 0 or scale == float("inf"):
        raise argparse.ArgumentTypeError(f"{value} is not a number above 0")
    return scale


def _positive_int(value: str) -> int:
    """An argparse type: a whole number above zero."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{number} is not above 0")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Declare every sandbox option on `parser` and return it."""
    defaults = SandboxConfig()
    parser.add_argument(
        "--port",
        type=_port,
        default=defaults.rest_port,
        metavar="N",
        help="REST + gateway port (0 = ephemeral)",
    )
    parser.add_argument(
        "--control-port",
        type=_port,
        default=defaults.control_port,
        metavar="N",
        help="control API port (0 = ephemeral)",
    )
    parser.add_argument(
        "--members",
        type=_count,
        default=defaults.members,
        metavar="N",
        help="seeded human members (%(default)s)",
    )
    parser.add_argument(
        "--bans", type=_count, default=defaults.bans, metavar="N", help="seeded bans (%(default)s)"
    )
    parser.add_argument(
        "--online-share",
        type=_share,
        default=defaults.online_share,
        metavar="F",
        help="share of members reported online, 0 to 1 (%(default)s)",
    )
    parser.add_argument(
        "--time-scale",
        type=_scale,
        default=defaults.time_scale,
        metavar="F",
        help="divide every rate-limit window by this (%(default)s)",
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=_positive_int,
        default=defaults.heartbeat_interval_ms,
        metavar="MS",
        help="heartbeat interval sent in HELLO, in milliseconds; not scaled (%(default)s, Discord's)",
    )
    parser.add_argument("--token", default=defaults.token, help="bot token the sandbox accepts (%(default)s)")
    parser.add_argument(
        "--print-env",
        action="store_true",
        help="print `export NAME=value` lines for the bot (URLs, token, channel ids, rename window, "
        "control URL) instead of the JSON line, ready to source",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The standalone parser (`python -m src.sandbox.cli`); `python -m src sandbox` has the same options."""
    return add_arguments(argparse.ArgumentParser(prog="sandbox", description=DESCRIPTION))


def config_from(args: argparse.Namespace) -> SandboxConfig:
    """Map parsed options to a validated config; raise ValueError for values that cannot work."""
    config = SandboxConfig(
        members=args.members,
        bans=args.bans,
        online_share=args.online_share,
        time_scale=args.time_scale,
        token=args.token,
        rest_port=args.port,
        control_port=args.control_port,
        heartbeat_interval_ms=args.heartbeat_interval,
    )
    config.validate()
    return config


def shell_exports(sandbox: Sandbox) -> str:
    """`export NAME=value` lines (values shell-quoted) that point `python -m src run` at `sandbox`."""
    info = sandbox.info()
    values = {
        "DISCORD_API_BASE_URL": info["rest_url"],
        "DISCORD_GATEWAY_URL": info["gateway_url"],
        "BOT_TOKEN": info["token"],
        **{name: str(info["channel_ids"][key]) for name, key in CHANNEL_SETTINGS.items()},
        # The bot's rename budget must count the same (scaled) window as the sandbox's hidden limit.
        "CHANNEL_RENAME_WINDOW": str(RENAME_WINDOW / sandbox.config.time_scale),
        "SANDBOX_CONTROL_URL": info["control_url"],
    }
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())


async def _serve(config: SandboxConfig, *, print_env: bool = False) -> int:
    """Start, print the info (JSON or exports), run until SIGINT/SIGTERM, stop; exit 1 if a port is taken."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not available on Windows loops
            loop.add_signal_handler(sig, stop.set)
    sandbox = Sandbox(config)
    try:
        await sandbox.start()
    except OSError as exc:  # typically a --port or --control-port already in use
        print(f"sandbox: cannot listen on 127.0.0.1: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    try:
        # Flushed at once: whoever waits for these lines in a file or a pipe must not wait on a buffer.
        sys.stdout.write(shell_exports(sandbox) if print_env else json.dumps(sandbox.info()) + "\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await sandbox.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    """Serve with the parsed options until SIGINT/SIGTERM (exit 0); invalid values print one line, exit 2."""
    try:
        config = config_from(args)
    except ValueError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if not structlog.is_configured():
        # The first stdout line must be the JSON info, so logs go to stderr.
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        )
    return asyncio.run(_serve(config, print_env=args.print_env))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
