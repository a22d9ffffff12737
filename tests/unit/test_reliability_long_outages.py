"""Long outages at unit level: the loops that retry with backoff must outlive any number of failures.

Both loops double a delay per consecutive failure; 2**1024 no longer fits a float, so a loop that does not
bound the exponent dies of OverflowError after its 1,024th failure in a row, which at MAX_BACKOFF=60 is a
17-hour outage (a disk full over a weekend, a stats channel the bot may not post in).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from src.core.config import Settings
from src.core.exceptions import TransientDiscordError
from src.services.stats.events import EventRecorder
from src.services.stats.history import DailyHistory
from src.services.stats.report_scheduler import ReportScheduler
from src.types.models import Attachment, Embed, EventKind, MemberEvent
from src.types.ports import PostedMessage
from src.utils.store import AtomicJsonStore
from tests.clock import ManualClock
from tests.fakes import MemoryStore

FAILURES = 1100  # past the 1,024 doublings a float can hold
BACKOFF_CAP = 60.0
MIDNIGHT = datetime(2026, 11, 21, tzinfo=UTC)


class FullDisk(MemoryStore):
    """The shared in-memory store, full from the start, counting the writes it refuses."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_writes = True
        self.failed = 0

    async def write(self, name: str, data: Any) -> None:
        if self.fail_writes:
            self.failed += 1
        await super().write(name, data)

    async def delete(self, name: str) -> None:
        self.files.pop(name, None)

    async def names(self, folder: str, suffix: str = ".json") -> list[str]:
        return sorted(n for n in self.files if n.startswith(f"{folder}/") and n.endswith(suffix))


class UnpostableChannel:
    """A port whose every post fails, until `failing` is cleared."""

    def __init__(self) -> None:
        self.failing = True
        self.failed = 0
        self.posted: list[str] = []

    async def send_message(
        self,
        channel_id: int,
        embed: Embed,
        content: str | None = None,
        *,
        nonce: str | None = None,
        files: Sequence[Attachment] = (),
    ) -> int:
        if self.failing:
            self.failed += 1
            raise TransientDiscordError("503 Service Unavailable")
        self.posted.append(embed.title)
        return len(self.posted)

    async def recent_messages(self, channel_id: int, limit: int = 100) -> list[PostedMessage]:
        if self.failing:
            self.failed += 1
            raise TransientDiscordError("503 Service Unavailable")
        return []


async def _settle(condition: Callable[[], bool]) -> None:
    """Yield until `condition()` holds (worker threads of the real store finish meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2
    while not condition():
        assert loop.time() < deadline, "the loop is not waiting for its next try: it has died"
        await asyncio.sleep(0)


async def test_event_flusher_outlives_a_day_long_disk_outage(make_settings: Callable[..., Settings]) -> None:
    """After 1,100 failed flushes in a row the flusher still runs and writes the join once the disk works."""
    clock = ManualClock(MIDNIGHT)
    disk = FullDisk()
    recorder = EventRecorder(
        make_settings(timezone="UTC"), clock, DailyHistory(disk), max_backoff=BACKOFF_CAP
    )
    await recorder.start()
    recorder.record(
        MemberEvent(kind=EventKind.JOIN, member_id="42", username="patient", timestamp=clock.now())
    )
    with capture_logs():
        for _ in range(FAILURES):
            await clock.advance(BACKOFF_CAP)
        failed_during_outage = disk.failed
        disk.fail_writes = False
        await clock.advance(BACKOFF_CAP)
    stored = disk.files.get("events/2026-11-21.json")
    await recorder.stop()

    assert failed_during_outage >= FAILURES
    assert stored is not None
    assert [e["member_id"] for e in json.loads(stored)["events"]] == ["42"]


async def test_report_loop_outlives_a_day_long_posting_outage(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """After 1,100 failed report posts in a row the scheduler still runs and posts once Discord is back."""
    settings = make_settings(timezone="UTC", max_backoff=BACKOFF_CAP, weekly_report_day="wednesday")
    clock = ManualClock(MIDNIGHT)
    store = AtomicJsonStore(tmp_path / "data")
    port = UnpostableChannel()
    scheduler = ReportScheduler(settings, clock, store, DailyHistory(store), port)  # type: ignore[arg-type]
    await scheduler.start()
    await _settle(lambda: clock.pending_sleepers == 1)
    with capture_logs():
        await clock.advance(24 * 3600)  # the next midnight: a daily report is due
        for _ in range(FAILURES):
            await _settle(lambda: clock.pending_sleepers == 1)
            await clock.advance(BACKOFF_CAP + 1)
        await _settle(lambda: port.failed >= FAILURES)  # the last try writes its intent to disk first
        assert port.failed >= FAILURES

        port.failing = False
        await _settle(lambda: clock.pending_sleepers == 1)
        await clock.advance(BACKOFF_CAP + 1)
        await _settle(lambda: bool(port.posted))
    await scheduler.stop()

    assert len(port.posted) == 1
    assert date(2026, 11, 21).strftime("%A") in port.posted[0]
