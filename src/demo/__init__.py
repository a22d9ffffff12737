"""`make demo`: the real bot against the sandbox with a simulated community, shown live in the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from src.demo.harness import BotRun, sandbox_settings
from src.demo.history import PAST_IDS, seed_past_days
from src.demo.scenario import Community
from src.demo.view import CLEAR, NEWEST_SHOWN, NewMember, Screen, presence_text, render
from src.sandbox import Sandbox, SandboxConfig
from src.services.stats.history import read_recorded_events
from src.types.models import EventKind, MemberEvent
from src.utils.clock import ShiftedClock
from src.utils.logging import configure_logging

ZONE = ZoneInfo("America/New_York")
CHARTS_FOLDER = "demo-charts"  # where the demo leaves the charts the bot posted, to look at afterwards
TIME_SCALE = 20.0  # Discord's 10-minute rename window becomes 30 s
# Two more counters and a goal, added the way a server admin would: with /counter add and /goal set.
ADDED_COUNTERS = {"bots": "🤖 {bots} bots · 🧑 {humans:,}", "goal": "🎯 {members:,} / {goal:,}"}
GOAL_TARGET, GOAL_STEP = 5_250, 250  # the burst crosses it: one announcement in the stats channel
VOICE = 2


def main() -> int:
    """Run the demo for DEMO_SECONDS (default 90) and print a summary; exit status 0.

    Its data goes to a temporary folder, or to DEMO_DATA_DIR/data when that is set (and empty).
    """
    seconds = float(os.environ.get("DEMO_SECONDS", "90"))
    kept = os.environ.get("DEMO_DATA_DIR")  # keep the demo's DATA_DIR, e.g. to draw charts from it afterwards
    if kept:
        folder = Path(kept)
        if (folder / "data").exists():
            print(f"DEMO_DATA_DIR={kept} already holds a demo's data: use an empty folder.", file=sys.stderr)
            return 2
        return asyncio.run(_demo(seconds, folder))
    with tempfile.TemporaryDirectory(prefix="statsbot-demo-") as temporary:
        return asyncio.run(_demo(seconds, Path(temporary)))


def _clock_before_midnight(seconds: float) -> ShiftedClock:
    """A clock that reaches local midnight a little under halfway through the demo."""
    now = datetime.now(ZONE)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), ZONE)
    return ShiftedClock(midnight - timedelta(seconds=min(40.0, seconds * 0.45)))


async def _demo(seconds: float, folder: Path) -> int:
    configure_logging("INFO", "json", log_dir=folder / "logs", stream=io.StringIO())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    clock = _clock_before_midnight(seconds)
    print("Starting the sandbox (5,000 members) and the bot...", flush=True)
    config = SandboxConfig(members=5000, bans=2, online_share=0.28, time_scale=TIME_SCALE)
    async with Sandbox(config) as sb:
        settings = sandbox_settings(
            sb,
            folder / "data",
            timezone=ZONE.key,
            update_interval=5,
            heartbeat_interval=10,
            presence_update_interval=4,
            alert_memory_mb=4096,
        )
        await seed_past_days(folder / "data", ZONE, clock.now().astimezone(ZONE).date(), config.members + 1)
        run = await BotRun(settings, clock).started()
        await asyncio.wait_for(run.app.commands.synced.wait(), 10.0)  # registered just after the start
        counters = {kind: sb.channel_ids[kind] for kind in ("members", "online", "bans")}
        counters |= await add_demo_counters(sb)
        community = Community(sb)
        scenario = asyncio.create_task(community.run(seconds * 0.9))
        deadline = time.monotonic() + seconds
        interactive = sys.stdout.isatty()
        last_print = 0.0
        while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            screen = current_screen(
                sb, community, clock.now(), remaining, folder / "data", run.app.heartbeat.message_id, counters
            )
            if interactive:
                print(CLEAR + render(screen), flush=True)
            elif time.monotonic() - last_print >= 10:
                last_print = time.monotonic()
                print(f"[{seconds - remaining:4.0f}s] " + " | ".join(screen.counters.values()), flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        scenario.cancel()
        await asyncio.gather(scenario, return_exceptions=True)
        code = await run.stop()
        final = current_screen(
            sb, community, clock.now(), 0, folder / "data", run.app.heartbeat.message_id, counters
        )
        charts = save_report_charts(sb, Path.cwd() / CHARTS_FOLDER)
    loop.remove_signal_handler(signal.SIGINT)
    print(("" if not interactive else CLEAR) + render(final))
    print()
    print(
        f"Demo finished (bot exit status {code}): {final.renames} renames, {final.rate_limited} rename 429s, "
        f"{final.messages} messages posted, {final.events} member events recorded."
    )
    for path in charts:
        print(f"The report's chart, as posted in the stats channel: {path.relative_to(Path.cwd())}")
    return 0


def save_report_charts(sb: Sandbox, folder: Path) -> list[Path]:
    """Write every chart the bot attached to a report in the stats channel to `folder`; return the files."""
    saved = []
    channel = sb.channel_ids["stats"]
    for message in sb.messages(channel):
        for attachment in message.get("attachments") or []:
            if str(attachment.get("filename", "")).endswith(".png"):
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / attachment["filename"]
                path.write_bytes(sb.attachment_bytes(channel, int(message["id"]), attachment["filename"]))
                saved.append(path)
    return saved


async def add_demo_counters(sb: Sandbox) -> dict[str, int]:
    """Set a goal and add the demo's extra counters through slash commands; return their channels."""
    await sb.invoke_command(
        "goal set", {"target": GOAL_TARGET, "step": GOAL_STEP, "channel": sb.channel_ids["stats"]}
    )
    added = {}
    for kind, template in ADDED_COUNTERS.items():
        before = set(sb.state.channels)
        await sb.invoke_command("counter add", {"template": template})
        made = [cid for cid in set(sb.state.channels) - before if sb.state.channel(cid).type == VOICE]
        if made:
            added[kind] = made[0]
    return added


def current_screen(
    sb: Sandbox,
    community: Community,
    now: datetime,
    remaining: float,
    data_dir: Path,
    heartbeat_id: int | None,
    counters: dict[str, int],
) -> Screen:
    """What the screen shows now: the sandbox's channels and messages, the scenario, the bot's event files."""
    ids = sb.channel_ids
    heartbeat = [m for m in sb.messages(ids["heartbeat"]) if int(m["id"]) == heartbeat_id]
    reports = [
        m for m in sb.messages(ids["stats"]) if "report" in str((m.get("embeds") or [{}])[0].get("title", ""))
    ]
    goals = [
        str(e.get("title"))
        for m in sb.messages(ids["stats"])
        for e in m.get("embeds") or []
        if "Goal" in str(e)
    ]
    posted = [r for r in sb.journal.requests_matching(r"POST /channels/\d+/messages") if r.status < 300]
    events = [e for e in _events_on_disk(data_dir) if int(e.member_id) not in PAST_IDS]  # this run's only
    joins = [e for e in events if e.kind is EventKind.JOIN]
    return Screen(
        now=now.astimezone(ZONE),
        remaining_s=remaining,
        counters={kind: sb.channel_name(channel) for kind, channel in counters.items()},
        presence=presence_text(sb.presence),
        simulating=community.steps(),
        heartbeat=heartbeat[-1] if heartbeat else None,
        report=reports[-1] if reports else None,
        goals=goals,
        newest_members=[
            NewMember(e.display_name or e.username, e.username, e.timestamp.astimezone(ZONE))
            for e in reversed(joins[-NEWEST_SHOWN:])
        ],
        names={e.member_id: e.display_name or e.username for e in events},
        renames=sum(len(sb.journal.renames(channel)) for channel in counters.values()),
        rate_limited=sum(len(sb.journal.rename_429s(channel)) for channel in counters.values()),
        messages=len(posted),
        events=len(events),
    )


def _events_on_disk(data_dir: Path) -> list[MemberEvent]:
    """Every member event the bot has written to disk (day files and journals), oldest first."""
    return read_recorded_events(data_dir)
