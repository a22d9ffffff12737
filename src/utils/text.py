"""Short human texts for durations, ages and Discord's length limits."""

from __future__ import annotations

import re
from datetime import date, datetime


def human_duration(seconds: float) -> str:
    """Render a duration as the two or three largest units, e.g. "2d 3h 4m" or "45s"."""
    total = max(0, int(seconds))
    if total < 60:
        return f"{total}s"
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    parts.append(f"{minutes}m")
    return " ".join(parts)


def ago(then: datetime | None, now: datetime, *, never: str = "never") -> str:
    """Render how long ago `then` was, e.g. "5m ago", or `never` when it is None."""
    if then is None:
        return never
    return f"{human_duration((now - then).total_seconds())} ago"


def clip(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_error(exc: BaseException, limit: int | None = None) -> str:
    """Render an exception as one line, "Class: message", cut to `limit` characters when given."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if limit is None else clip(text, limit)


_MARKDOWN = re.compile(r"([\\*_~`|>\[\]])")


def escape_markdown(text: str) -> str:
    """Return `text` with Discord's markdown characters escaped, so a user's name cannot format a message."""
    return _MARKDOWN.sub(r"\\\1", text)


def date_span(first: date, last: date) -> str:
    """A span of days in words, the shared month and year written once: "24-30 November 2026", en dash."""
    if first.year != last.year:
        return f"{first.day} {first:%B %Y} – {last.day} {last:%B %Y}"
    if first.month != last.month:
        return f"{first.day} {first:%B} – {last.day} {last:%B %Y}"
    return f"{first.day}–{last.day} {last:%B %Y}"
