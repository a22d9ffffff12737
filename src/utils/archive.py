"""Backup archives of a data folder: a `.tar.gz` written atomically, rotated, and restored safely.

Every function here blocks (file I/O and compression); callers on the event loop run them in a thread.
"""

from __future__ import annotations

import os
import re
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PREFIX = "statsbot-"
SUFFIX = ".tar.gz"
_SKIPPED_MARKS = (".tmp-", ".corrupt-")  # half-written temp files and quarantined copies are not history
_SKIPPED_NAMES = frozenset({".statsbot.lock"})  # the running bot's lock (src.utils.run_lock) is no data
_STORE_BACKUP = re.compile(r"\.bak[0-9]+\Z")  # the store's own previous versions: the archive is the backup


class ArchiveError(Exception):
    """A backup could not be made or restored; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Archive:
    """One archive on disk and what went into it."""

    path: Path
    files: int
    size: int


_STAMP = "%Y%m%d-%H%M%S"


def archive_name(now: datetime) -> str:
    """Return the file name of an archive made at `now`; names sort in time order."""
    return f"{PREFIX}{now.astimezone(UTC):{_STAMP}}{SUFFIX}"


def archive_time(path: Path) -> datetime:
    """Return when the archive at `path` was made, read from its name (see `archive_name`)."""
    stamp = path.name.removeprefix(PREFIX).removesuffix(SUFFIX)
    return datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)


def make_archive(data_dir: Path, backup_dir: Path, now: datetime, *, keep: int = 7) -> Archive:
    """Archive every file of `data_dir` (but `backup_dir`) into `backup_dir`, keeping the newest `keep`."""
    if not data_dir.is_dir():
        raise ArchiveError(f"{data_dir} is not a folder: nothing to back up")
    try:
        backup_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(
            f"cannot create the backup folder {backup_dir} ({exc.strerror or exc}): set BACKUP_DIR to a "
            "writable folder"
        ) from exc
    target = backup_dir / archive_name(now)
    partial = target.with_name(target.name + ".partial")
    files = 0
    try:
        with tarfile.open(partial, "w:gz") as tar:
            for path in sorted(_files_of(data_dir, skip=backup_dir)):
                tar.add(path, arcname=str(path.relative_to(data_dir)), recursive=False)
                files += 1
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"could not write {target}: {exc.strerror or exc}") from exc
    _prune(backup_dir, keep)
    return Archive(target, files, target.stat().st_size)


def list_archives(backup_dir: Path) -> list[Path]:
    """Return the archives in `backup_dir`, oldest first."""
    if not backup_dir.is_dir():
        return []
    return sorted(p for p in backup_dir.iterdir() if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX))


def restore_archive(archive: Path, data_dir: Path, *, force: bool = False) -> int:
    """Unpack `archive` into `data_dir` and return how many files it held.

    `data_dir` must be empty (or missing) unless `force`: restoring over live data would mix two histories.
    Only regular files and folders inside `data_dir` are extracted (tarfile's "data" filter).
    """
    if not archive.is_file():
        raise ArchiveError(f"{archive} does not exist")
    if data_dir.exists() and any(data_dir.iterdir()) and not force:
        raise ArchiveError(
            f"{data_dir} is not empty: restore into an empty DATA_DIR, or pass --force to unpack over it"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
            tar.extractall(data_dir, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{archive} is not a readable StatsBot backup: {exc}") from exc
    return sum(1 for m in members if m.isfile())


def _files_of(root: Path, *, skip: Path) -> list[Path]:
    """Every regular file under `root`, except those under `skip` and temp or quarantined files."""
    skip = skip.resolve()
    found: list[Path] = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if (here / d).resolve() != skip]
        found.extend(
            here / name
            for name in names
            if not any(mark in name for mark in _SKIPPED_MARKS)
            and name not in _SKIPPED_NAMES
            and not _STORE_BACKUP.search(name)
            and (here / name).is_file()
        )
    return found


def _prune(backup_dir: Path, keep: int) -> None:
    """Delete all but the newest `keep` archives."""
    for old in list_archives(backup_dir)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
