"""Erase one member from everything StatsBot keeps, for a deletion request (`python -m src forget ID`).

The recorded events are the only place StatsBot keeps a member: each day's journal is folded first, then
every day file that names the member is rewritten without them (atomically), and the older versions the
store kept of that file are deleted where they still name the member. Files StatsBot does not own that
still name the member (the original bot's member_stats.json, say) and the backup archives that hold them are
listed, with when rotation drops each archive: an archive is never edited.
"""

from __future__ import annotations

import asyncio
import os
import re
import tarfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from src.services.stats.history import DailyHistory, day_name
from src.utils.archive import archive_time, list_archives
from src.utils.store import AtomicJsonStore

_STORE_COPY = re.compile(r"\.(bak[0-9]+|corrupt-.*)\Z")


@dataclass
class ForgetReport:
    """What `forget_member` removed and what still names the member."""

    member_id: str
    events_removed: int = 0
    days_changed: list[str] = field(default_factory=list)
    copies_deleted: list[str] = field(default_factory=list)
    still_named_in: list[str] = field(default_factory=list)  # files under DATA_DIR StatsBot does not rewrite
    archives: list[tuple[str, datetime]] = field(default_factory=list)  # (archive, when rotation drops it)
    logs_naming: list[str] = field(default_factory=list)  # log files (LOG_DIR) that name the member


def mentions(member_id: str) -> re.Pattern[bytes]:
    """Return a pattern finding `member_id` as a whole number (never inside a longer id)."""
    return re.compile(rb"(?<![0-9])" + re.escape(member_id.encode("ascii")) + rb"(?![0-9])")


async def forget_member(
    store: AtomicJsonStore,
    history: DailyHistory,
    member_id: str,
    *,
    backup_dir: Path,
    keep_archives: int,
    log_dir: Path | None = None,
) -> ForgetReport:
    """Remove every event of `member_id` and the store's older copies naming them; report what is left."""
    if not member_id.isdigit():
        raise ValueError(f"{member_id!r} is not a Discord user id (a number such as 123456789012345678)")
    report = ForgetReport(member_id)
    naming = mentions(member_id)
    for d in await history.journal_dates():
        await history.fold_journal(d)  # so the day file is the only place the day's events are
    for d in await history.stored_dates():
        day = await history.load_day(d)
        if day is None:
            continue
        kept = [event for event in day.events if event.member_id != member_id]
        if len(kept) != len(day.events):
            await history.save_day(day.model_copy(update={"events": kept}))
            report.events_removed += len(day.events) - len(kept)
            report.days_changed.append(day_name(d))
        report.copies_deleted += await store.purge_copies(day_name(d), lambda raw: bool(naming.search(raw)))
    report.still_named_in = await asyncio.to_thread(_files_naming, store.root, backup_dir, naming)
    if log_dir is not None:  # a missing folder names nobody: _files_naming walks nothing
        report.logs_naming = [
            str(log_dir / name)
            for name in await asyncio.to_thread(_files_naming, log_dir, backup_dir, naming)
        ]
    report.archives = [
        (path.name, archive_time(path) + timedelta(days=keep_archives))
        for path in await asyncio.to_thread(_archives_naming, backup_dir, naming)
    ]
    return report


def _files_naming(root: Path, backup_dir: Path, naming: re.Pattern[bytes]) -> list[str]:
    """Return the files under `root` (not the archives, not the store's own copies) that name the member."""
    skip = backup_dir.resolve()
    found = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if (here / d).resolve() != skip)
        for name in sorted(names):
            path = here / name
            if _STORE_COPY.search(name) or not path.is_file():
                continue
            try:
                if naming.search(path.read_bytes()):
                    found.append(str(path.relative_to(root)))
            except OSError:
                continue
    return found


def _archives_naming(backup_dir: Path, naming: re.Pattern[bytes]) -> list[Path]:
    """Return the backup archives holding a file that names the member, oldest first."""
    found = []
    for archive in list_archives(backup_dir):
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar.getmembers():
                    handle = tar.extractfile(member) if member.isfile() else None
                    if handle is not None and naming.search(handle.read()):
                        found.append(archive)
                        break
        except (tarfile.TarError, OSError, EOFError):
            continue  # not an archive we can read: it cannot be checked, and is not StatsBot's to judge
    return found
