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
from collections.abc import Callable, Sequence
from typing import TypeVar

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


T = TypeVar("T", int, float)


def _number(
    convert: Callable[[str], T], accept: Callable[[T], bool], expected: str, kind: str = "a number"
) -> Callable[[str], T]:
    """Return an argparse type: `convert` the text, and refuse a value `accept` rejects as not `expected`."""

    def parse(value: str) -> T:
        try:
            number = convert(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not {kind}") from None
        if not accept(number):
            raise argparse.ArgumentTypeError(f"{value} is not {expected}")
        return number

    return parse


WHOLE = "a whole number"
_port = _number(int, lambda n: 0 <= n <= 65535, "between 0 and 65535 (0: any free port)", WHOLE)
_count = _number(int, lambda n: n >= 0, "0 or more", WHOLE)
_positive_int = _number(int, lambda n: n > 0, "above 0", WHOLE)
_share = _number(float, lambda x: 0.0 <= x <= 1.0, "between 0 and 1")
_scale = _number(float, lambda x: 0.0 < x < float("inf"), "a number above 0")


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
        help="seeded members (%(default)s; a 1%% share of them are bots)",
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
