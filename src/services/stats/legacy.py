"""Import the original StatsBot's `data/member_stats.json` into the per-day event files.

The legacy file keys days in US/Eastern and may hold naive (Eastern) timestamps; events are re-bucketed
into days of the configured zone and merged with what is already stored, so importing twice adds nothing.
The legacy file is only read.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from src.core.exceptions import StatsBotError
from src.services.stats.events import as_utc, event_key, reconcile
from src.services.stats.history import DailyHistory
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.logging import get_logger

LEGACY_ZONE = ZoneInfo("America/New_York")  # the original bot wrote naive Eastern times
LEGACY_LISTS = {"joins": EventKind.JOIN, "leaves": EventKind.LEAVE, "bans": EventKind.BAN}
EXPECTED_SHAPE = (
    "expected the original bot's member_stats.json: "
    '{"YYYY-MM-DD": {"joins": [...], "leaves": [...], "bans": [...]}, ...} '
    'with entries like {"id": 123, "username": "ann", "timestamp": "2024-03-01T12:00:00"}'
)


class LegacyImportError(StatsBotError):
    """The legacy file cannot be read at all (missing, not JSON, no day of joins, leaves or bans)."""


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed: day files written, events added per kind, entries skipped."""

    days: int
    joins: int
    leaves: int
    bans: int
    skipped: int
    duplicates: int = 0  # already stored (a second import counts everything here)
    leaves_as_bans: int = 0  # leaves dropped because they were the member-remove half of a ban


def parse_entry(raw: Any, kind: EventKind) -> MemberEvent:
    """One legacy entry as a MemberEvent; raises ValueError saying what is wrong with it."""
    if not isinstance(raw, dict):
        raise ValueError("entry is not an object")
    member_id = raw.get("id")
    if isinstance(member_id, bool) or not isinstance(member_id, int | str):
        raise ValueError(f"id {member_id!r} is not a number")
    member_id = str(member_id).strip()
    if not member_id.isdigit():
        raise ValueError(f"id {member_id!r} is not a number")
    username = raw.get("username")
    if not isinstance(username, str) or not username:
        raise ValueError("username is missing")
    stamp = raw.get("timestamp")
    if not isinstance(stamp, str):
        raise ValueError("timestamp is missing")
    timestamp = datetime.fromisoformat(stamp)  # ValueError on a bad timestamp
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=LEGACY_ZONE)
    return MemberEvent(
        kind=kind,
        member_id=member_id,
        username=username,
        display_name=None,
        timestamp=timestamp.astimezone(UTC),
        bot=raw.get("bot") is True,
    )


def _is_day(lists: Any) -> bool:
    """Whether `lists` looks like one day of the legacy file: an object with a joins, leaves or bans list."""
    return isinstance(lists, dict) and any(isinstance(lists.get(name), list) for name in LEGACY_LISTS)


async def _read_legacy(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LegacyImportError(f"cannot read {path}: {exc}") from exc
    # Another file of the original bot (final_stats.json) or any other JSON would otherwise "import" as
    # nothing but skipped entries, and look like a success.
    if not isinstance(data, dict) or not any(_is_day(lists) for lists in data.values()):
        raise LegacyImportError(f"{path} holds no days of joins, leaves or bans: {EXPECTED_SHAPE}")
    return data


async def import_legacy(path: Path, history: DailyHistory, zone: tzinfo) -> ImportSummary:
    """Merge the legacy file's joins, leaves and bans into the day files of `zone`; idempotent."""
    log = get_logger(__name__, service="stats")
    data = await _read_legacy(path)
    parsed: list[MemberEvent] = []
    skipped = 0
    for day_key, lists in data.items():
        if not isinstance(lists, dict):
            skipped += 1
            log.warning("legacy.entry_skipped", day=day_key, reason="day is not an object")
            continue
        for list_name, kind in LEGACY_LISTS.items():
            entries = lists.get(list_name, [])
            if not isinstance(entries, list):
                skipped += 1
                log.warning("legacy.entry_skipped", day=day_key, list=list_name, reason="not a list")
                continue
            for index, raw in enumerate(entries):
                try:
                    parsed.append(parse_entry(raw, kind))
                except ValueError as exc:
                    skipped += 1
                    log.warning(
                        "legacy.entry_skipped", day=day_key, list=list_name, index=index, reason=str(exc)
                    )

    # Reconciled over the whole file, so a leave and its ban straddling midnight still pair up.
    events = reconcile(parsed)
    unique = len({event_key(e) for e in parsed})
    by_day: dict[date, list[MemberEvent]] = {}
    for event in events:
        by_day.setdefault(event.timestamp.astimezone(zone).date(), []).append(event)

    added = dict.fromkeys(EventKind, 0)
    days = 0
    for d in sorted(by_day):
        stored = await history.load_day(d) or DailyStats(date=d)
        known = {event_key(e) for e in stored.events}
        merged = reconcile([*stored.events, *by_day[d]])
        new = [e for e in merged if event_key(e) not in known]
        if not new and len(merged) == len(stored.events):
            continue
        merged.sort(key=lambda e: as_utc(e.timestamp))
        await history.save_day(stored.model_copy(update={"events": merged}))
        days += 1
        for event in new:
            added[event.kind] += 1

    summary = ImportSummary(
        days=days,
        joins=added[EventKind.JOIN],
        leaves=added[EventKind.LEAVE],
        bans=added[EventKind.BAN],
        skipped=skipped,
        duplicates=len(parsed) - unique + len(events) - sum(added.values()),
        leaves_as_bans=unique - len(events),
    )
    log.info("legacy.imported", path=str(path), **asdict(summary))
    return summary
