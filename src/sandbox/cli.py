"""`python -m src sandbox`: run the emulator alone and print its URLs as one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys

import structlog

from src.sandbox.config import SandboxConfig
from src.sandbox.server import Sandbox


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(prog="sandbox", description="Run the local Discord emulator.")
    parser.add_argument("--port", type=int, default=0, help="REST + gateway port (0 = ephemeral)")
    parser.add_argument("--control-port", type=int, default=0, help="control API port (0 = ephemeral)")
    parser.add_argument("--members", type=int, default=1000, help="seeded human members")
    parser.add_argument("--bans", type=int, default=0, help="seeded bans")
    parser.add_argument("--online-share", type=float, default=0.3, help="share of members reported online")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="divide every rate-limit window by this"
    )
    parser.add_argument("--token", default="sandbox-token", help="bot token the sandbox accepts")
    return parser


def _config(args: argparse.Namespace) -> SandboxConfig:
    """Map parsed options to a config."""
    return SandboxConfig(
        members=args.members,
        bans=args.bans,
        online_share=args.online_share,
        time_scale=args.time_scale,
        token=args.token,
        rest_port=args.port,
        control_port=args.control_port,
    )


async def _serve(config: SandboxConfig) -> None:
    """Start, print the info line, run until SIGINT/SIGTERM, stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not available on Windows loops
            loop.add_signal_handler(sig, stop.set)
    async with Sandbox(config) as sandbox:
        sys.stdout.write(json.dumps(sandbox.info()) + "\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        config = _config(args)
        config.validate()
    except ValueError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    if not structlog.is_configured():
        # The first stdout line must be the JSON info, so logs go to stderr.
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        )
    asyncio.run(_serve(config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
