"""A month of simulated history for the demo, so its report charts have days to draw.

Written as the bot writes day files, before the bot starts: the bot then seeds its daily member series
from them on its first start, as it does for an upgraded install's existing days.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from src.services.stats.history import DailyHistory
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.store import AtomicJsonStore

PAST_DAYS = 30
FIRST_ID = 100_000_000_000_000  # simulated past members' ids: far below the sandbox's snowflakes
PAST_IDS = range(FIRST_ID, FIRST_ID + 10**9)


async def seed_past_days(
    data_dir: Path, zone: ZoneInfo, today: date, members_now: int, *, rng: random.Random | None = None
) -> int:
    """Write PAST_DAYS day files before `today` growing to `members_now`; return the events written."""
    rng = rng or random.Random(30)
    plan = []
    for back in range(PAST_DAYS, 0, -1):
        weekend = (today - timedelta(days=back)).weekday() >= 5
        joins = rng.randint(14, 30) + (12 if weekend else 0)
        plan.append((today - timedelta(days=back), joins, rng.randint(3, 12)))
    count = members_now - sum(joins - leaves for _, joins, leaves in plan)
    history = DailyHistory(AtomicJsonStore(data_dir))
    written, next_id = 0, FIRST_ID
    for day, joins, leaves in plan:
        events = []
        for n in range(joins + leaves):
            at = datetime.combine(day, time(), zone) + timedelta(seconds=rng.randint(0, 86_399))
            kind = EventKind.JOIN if n < joins else EventKind.LEAVE
            events.append(
                MemberEvent(
                    kind=kind,
                    member_id=str(next_id + n),
                    username=f"past.member{next_id + n - FIRST_ID}",
                    timestamp=at.astimezone(UTC),
                    joined_at=at.astimezone(UTC) if kind is EventKind.JOIN else None,
                )
            )
        next_id += joins + leaves
        end = count + joins - leaves
        await history.save_day(
            DailyStats(date=day, events=events, member_count_start=count, member_count_end=end)
        )
        count, written = end, written + len(events)
    return written
