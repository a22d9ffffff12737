"""The demo's live terminal view: one screen redrawn in place, built by a pure function."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CLEAR = "\x1b[H\x1b[2J"


@dataclass
class Screen:
    """Everything the demo shows at one moment."""

    now: datetime
    remaining_s: float
    counters: dict[str, str]
    presence: str
    heartbeat: list[str] = field(default_factory=list)
    report: list[str] = field(default_factory=list)
    renames: int = 0
    rate_limited: int = 0
    messages: int = 0
    events: int = 0


def embed_lines(message: dict[str, Any] | None, limit: int = 8) -> list[str]:
    """A posted message's first embed as a few short lines."""
    if not message or not message.get("embeds"):
        return []
    embed = message["embeds"][0]
    lines = [str(embed.get("title", ""))]
    for item in embed.get("fields", [])[: limit - 1]:
        value = str(item.get("value", "")).replace("\n", " · ")
        lines.append(f"  {item.get('name')}: {value[:70]}")
    return lines


def presence_text(presence: dict[str, Any] | None) -> str:
    """The bot's status and activity as a person would read it."""
    if not presence:
        return "(not set yet)"
    activities = presence.get("activities") or []
    text = activities[0].get("name", "") if activities else ""
    return f"{presence.get('status', '?')} · Watching {text}" if text else str(presence.get("status", "?"))


def render(screen: Screen) -> str:
    """The whole screen as text."""
    rows = [
        f"StatsBot demo · simulated time {screen.now:%Y-%m-%d %H:%M:%S %Z} · "
        f"{screen.remaining_s:.0f}s left (Ctrl-C to stop)",
        "",
        "Counter channels (renamed within Discord's 2-per-10-minute budget, scaled 20x):",
        *(f"  {kind:<8} {name}" for kind, name in screen.counters.items()),
        "",
        f"Presence: {screen.presence}",
        "",
        "Heartbeat message:",
        *(f"  {line}" for line in screen.heartbeat or ["(not posted yet)"]),
        "",
        "Latest report in the stats channel:",
        *(f"  {line}" for line in screen.report or ["(posts when the simulated midnight passes)"]),
        "",
        f"Renames {screen.renames} · rename 429s {screen.rate_limited} · "
        f"messages posted {screen.messages} · events recorded {screen.events}",
    ]
    return "\n".join(rows)
