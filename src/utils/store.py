"""Crash-safe JSON under one folder: atomic documents with rotating backups and quarantine, and journals.

A document is replaced whole and atomically. A journal (JSON lines) is only ever appended to, each batch
fsynced, so its cost does not grow with its length; a crash can cut its last line short, and reading drops it.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import secrets
import shutil
import weakref
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any, Literal

import structlog

from src.core.exceptions import StoreError
from src.types.models import StoreHealth
from src.types.ports import Clock
from src.utils.clock import SystemClock

log = structlog.get_logger(__name__)

_TMP_MARK = ".tmp-"
_BACKUP_RE = re.compile(r"\.bak[0-9]+\Z")
_CORRUPT_RE = re.compile(r"\.corrupt-[0-9]{8}T[0-9]{6}Z(?:-[0-9]+)?\Z")
# Where the filesystem cannot hard-link (vfat, some network shares, protected_hardlinks) we fall back
# to renaming the previous file, which is still O(1) but briefly leaves no main file.
_LINK_UNSUPPORTED = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK})
# Errors that are not corruption: moving the file aside would not help, so the caller is told instead.
_NOT_CORRUPTION = (PermissionError, IsADirectoryError, NotADirectoryError)

# Keyed by absolute path rather than per instance, so two stores opened on the same root in one process
# still never interleave writes to one file; weak values let idle locks disappear.
_LOCKS: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


@dataclass(frozen=True)
class _Loaded:
    """What a worker thread found at a path."""

    state: Literal["ok", "missing", "corrupt"]
    value: Any = None
    reason: str = ""
    has_backups: bool = False


@dataclass(frozen=True)
class DroppedLine:
    """A journal line left out: where it starts, why, and whether it was the last (a crash mid-append)."""

    offset: int
    reason: str
    last: bool


@dataclass(frozen=True)
class ParsedLines:
    """A journal's lines: the value of each complete JSON line, and the lines left out."""

    values: list[Any]
    dropped: list[DroppedLine]


@dataclass
class _Finished:
    """Outcome of a worker-thread job that was waited for to the end, even through cancellation."""

    result: Any = None
    error: BaseException | None = None
    cancelled: bool = False
    finished: bool = True  # False only if the loop itself cancelled the job (shutdown): outcome unknown


class AtomicJsonStore:
    """JSON documents under `root`; a crash or power cut never leaves a half-written or lost file."""

    def __init__(self, root: Path, *, backups: int = 3, clock: Clock | None = None) -> None:
        if backups < 0:
            raise ValueError(f"backups must be >= 0, got {backups}")
        # abspath (no syscall) so a later chdir cannot redirect writes and lock keys stay stable
        self.root = Path(os.path.abspath(root))
        self.backups = backups
        self.health = StoreHealth()
        self._clock: Clock = clock or SystemClock()
        self._swept: set[str] = set()
        # (name, offset) of journal lines already reported as dropped: a reader may read one journal often.
        self._dropped_reported: set[tuple[str, int]] = set()

    async def write(self, name: str, data: Any, *, default: Callable[[Any], Any] | None = None) -> None:
        """Atomically replace `name` with `data` as JSON, keeping the previous versions as backups."""
        path = self._path(name)
        # Serialised here, at call time, so the file holds a consistent snapshot even if the caller
        # keeps mutating `data` while the worker thread runs, and "last call wins" means last value.
        try:
            payload = json.dumps(
                data,
                ensure_ascii=False,
                separators=(",", ":"),
                sort_keys=False,
                default=default or _json_default,
            ).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as exc:
            log.error("store.serialize_failed", file=name, error=str(exc))
            raise StoreError(f"could not serialise data for {name}: {exc}") from exc
        await self._replace(name, path, payload)

    async def write_json_text(self, name: str, text: str) -> None:
        """Like `write`, for a caller that already holds the document as JSON text (it is not re-parsed)."""
        await self._replace(name, self._path(name), text.encode("utf-8"))

    async def _replace(self, name: str, path: Path, payload: bytes) -> None:
        sweep = name not in self._swept
        async with _lock_for(path):
            # The whole tmp-write/fsync/rotate/replace sequence is one thread hop: far cheaper than
            # aiofiles, which hops to a thread for every single open/write/flush/close.
            done = await _finish_in_thread(partial(_write_atomically, path, payload, self.backups, sweep))
        if done.error is None:
            self._swept.add(name)
        self._settle("write", name, done)

    async def read(self, name: str, *, validate: Callable[[Any], Any] | None = None) -> Any | None:
        """Return the parsed (and validated) document, recovering from backups; None if there is none."""
        path = self._path(name)
        # Lock-free fast path: os.replace guarantees we see a whole old or a whole new file.
        loaded = await self._load_or_raise(name, path)
        ok, value, _ = _accept(loaded, validate)
        if ok:
            return value
        if loaded.state == "missing" and not loaded.has_backups:
            return None
        async with _lock_for(path):
            return await self._recover(name, path, validate)

    async def append_lines(self, name: str, lines: Sequence[str]) -> None:
        """Append `lines` (each one JSON text without a newline) to the journal `name` and fsync them.

        One thread hop per batch; a new journal's folder is fsynced too. On failure the journal is cut back
        to its length before, `health` records it like a failed write, and StoreError is raised.
        """
        if not lines:
            return
        path = self._path(name)
        batch = list(lines)  # the caller may go on changing its list while the worker thread writes
        async with _lock_for(path):
            done = await _finish_in_thread(partial(_append_durably, path, batch))
        self._settle("append", name, done)

    async def read_lines(self, name: str) -> list[Any]:
        """The JSON value of each complete line of the journal `name`, in order; [] when there is none.

        A last line cut short by a crash (no newline, or not JSON) is dropped, as is any other line that is
        not JSON: each is logged once, and reading goes on.
        """
        path = self._path(name)
        # Under the name's lock: an append still in its thread would otherwise look like a torn last line.
        async with _lock_for(path):
            try:
                raw = await asyncio.to_thread(_read_if_present, path)
            except OSError as exc:
                log.error("store.read_failed", file=name, error=_describe(exc))
                raise StoreError(f"could not read {name}: {_describe(exc)}") from exc
        if raw is None:
            return []
        parsed = await asyncio.to_thread(parse_lines, raw)  # parsing a long journal stays off the loop
        for line in parsed.dropped:
            if (name, line.offset) in self._dropped_reported:
                continue
            self._dropped_reported.add((name, line.offset))
            # A torn last line is what a power cut mid-append leaves; a bad line before it is not.
            (log.warning if line.last else log.error)(
                "store.line_dropped", file=name, offset=line.offset, last_line=line.last, error=line.reason
            )
        return parsed.values

    async def delete(self, name: str) -> None:
        """Remove `name`, its backups and stray temp files; a missing file is fine."""
        path = self._path(name)
        async with _lock_for(path):
            done = await _finish_in_thread(partial(_delete_all, path))
        self._dropped_reported = {seen for seen in self._dropped_reported if seen[0] != name}
        self._settle("delete", name, done)

    async def purge_copies(self, name: str, naming: Callable[[bytes], bool]) -> list[str]:
        """Delete the backups and quarantined copies of `name` whose bytes `naming` matches; return them.

        For erasing one person's data: the main file is rewritten first, and its older versions still
        hold what was erased.
        """
        path = self._path(name)

        def purge() -> list[str]:
            removed = []
            for copy in [*_backups_of(path), *_quarantined_of(path)]:
                raw = _read_if_present(copy)
                if raw is not None and naming(raw):
                    with suppress(FileNotFoundError):
                        os.unlink(copy)
                    removed.append(self._relative(copy))
            if removed:
                _fsync_dir(path.parent)
            return removed

        return await asyncio.to_thread(purge)

    async def names(self, folder: str, suffix: str = ".json") -> list[str]:
        """Names (relative to root, sorted) of the current documents directly inside `folder`."""
        parts = _split_name(folder, allow_empty=True)
        prefix = "/".join(parts)
        try:
            found = await asyncio.to_thread(_list_documents, self.root.joinpath(*parts), suffix)
        except OSError as exc:
            raise StoreError(f"could not list {prefix or '.'}: {_describe(exc)}") from exc
        return [f"{prefix}/{n}" if prefix else n for n in found]

    def _path(self, name: str) -> Path:
        """Map a relative posix name to its absolute path, rejecting names that escape or collide."""
        return self.root.joinpath(*_split_name(name, allow_empty=False))

    def _relative(self, path: Path) -> str:
        """Return `path` as a posix name relative to root, for logs."""
        return path.relative_to(self.root).as_posix()

    async def _recover(self, name: str, path: Path, validate: Callable[[Any], Any] | None) -> Any | None:
        """Quarantine a bad main file and restore the newest valid backup; caller holds the name's lock."""
        # Re-check under the lock: a write may have replaced the file since the lock-free read.
        loaded = await self._load_or_raise(name, path)
        ok, value, reason = _accept(loaded, validate)
        if ok:
            return value

        quarantined: str | None = None
        if loaded.state != "missing":
            stamp = _stamp(self._clock.now())
            done = await _finish_in_thread(partial(_quarantine, path, stamp))
            if done.error is not None or not done.finished:
                # Never restore over bytes we could not move aside: that would silently drop history.
                self._settle("quarantine", name, done)
            quarantined = self._relative(done.result)
            log.error("store.quarantined", file=name, quarantined_as=quarantined, error=reason)
            if done.cancelled:
                raise asyncio.CancelledError

        backups = await asyncio.to_thread(_backups_of, path)
        for backup in backups:
            candidate = await self._load_or_raise(name, backup)
            ok, value, reason = _accept(candidate, validate)
            if not ok:
                log.warning("store.backup_invalid", file=name, backup=self._relative(backup), error=reason)
                continue
            done = await _finish_in_thread(partial(_restore, backup, path))
            if done.error is None:
                log.warning("store.restored_from_backup", file=name, backup=self._relative(backup))
                self._settle("restore", name, done)
            else:
                # The data is good, so hand it back; the next write recreates the main file.
                with suppress(StoreError):
                    self._settle("restore", name, done)
            return value

        if quarantined is not None or backups:
            log.error(
                "store.unrecoverable",
                file=name,
                quarantined_as=quarantined,
                backups_tried=len(backups),
            )
        return None

    async def _load_or_raise(self, name: str, path: Path) -> _Loaded:
        """Load `path` in a worker thread, turning non-corruption OS errors into StoreError."""
        try:
            return await asyncio.to_thread(_load, path)
        except OSError as exc:
            log.error("store.read_failed", file=name, error=_describe(exc))
            raise StoreError(f"could not read {name}: {_describe(exc)}") from exc

    def _settle(self, action: str, name: str, done: _Finished) -> None:
        """Record the outcome in `health`, then re-raise cancellation or the failure as StoreError."""
        error = done.error
        if error is None and done.finished:
            self.health.last_success = self._clock.now()
            self.health.consecutive_failures = 0
        elif isinstance(error, OSError):
            text = _describe(error)
            self.health.last_failure = self._clock.now()
            self.health.consecutive_failures += 1
            self.health.last_error = f"{action} {name}: {text}"
            log.error(f"store.{action}_failed", file=name, error=text)
        if done.cancelled:
            raise asyncio.CancelledError
        if isinstance(error, OSError):
            raise StoreError(f"could not {action} {name}: {_describe(error)}") from error
        if error is not None:
            raise error


def _lock_for(path: Path) -> asyncio.Lock:
    """Return the process-wide lock serialising mutations of `path`."""
    key = str(path)
    lock = _LOCKS.get(key)
    if lock is None:
        lock = asyncio.Lock()
        _LOCKS[key] = lock
    return lock


async def _finish_in_thread(fn: Callable[[], Any]) -> _Finished:
    """Run `fn` in a worker thread and wait for it to end even if cancelled meanwhile."""
    # A thread cannot be stopped; releasing the name's lock while it still runs would let the next
    # write race it and possibly be overtaken by this older one.
    task = asyncio.ensure_future(asyncio.to_thread(fn))
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            cancelled = True
    if task.cancelled():
        return _Finished(cancelled=True, finished=False)
    error = task.exception()
    return _Finished(result=None if error else task.result(), error=error, cancelled=cancelled)


def _split_name(name: str, *, allow_empty: bool) -> tuple[str, ...]:
    """Validate a relative posix name and return its parts."""
    if allow_empty and name in ("", "."):
        return ()
    parts = tuple(name.split("/"))
    bad = (
        not name
        or "\\" in name
        or "\x00" in name
        or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
        or _BACKUP_RE.search(parts[-1]) is not None
        or _CORRUPT_RE.search(parts[-1]) is not None
    )
    if bad:
        raise ValueError(
            f"invalid store name {name!r}: use a relative posix path without '..', empty or hidden parts, "
            "or backup/quarantine suffixes"
        )
    return parts


def _json_default(obj: Any) -> Any:
    """Encode datetimes, dates and times as ISO 8601 strings."""
    if isinstance(obj, datetime | date | time):
        return obj.isoformat()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _describe(exc: OSError) -> str:
    """Human text for an OS error, e.g. 'No space left on device (ENOSPC)'."""
    if exc.errno is None:
        return str(exc) or type(exc).__name__
    text = exc.strerror or os.strerror(exc.errno)
    code = errno.errorcode.get(exc.errno)
    return f"{text} ({code})" if code else text


def _stamp(now: datetime) -> str:
    """Format the quarantine timestamp in UTC."""
    if now.tzinfo is not None:
        now = now.astimezone(UTC)
    return now.strftime("%Y%m%dT%H%M%SZ")


def _backup_path(path: Path, n: int) -> Path:
    """Return the path of backup number `n` (1 is the newest)."""
    return path.with_name(f"{path.name}.bak{n}")


def _temp_path(path: Path) -> Path:
    """Return a fresh hidden temp path next to `path`."""
    return path.with_name(f".{path.name}{_TMP_MARK}{secrets.token_hex(6)}")


def _fsync_dir(folder: Path) -> None:
    """Make renames and links inside `folder` durable, where the platform allows fsync on a folder."""
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None:
        return
    try:
        fd = os.open(folder, os.O_RDONLY | flag)
    except OSError:
        return  # some platforms/filesystems refuse to open folders; durability then rests on the FS
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _make_folders(folder: Path) -> None:
    """Create `folder` and its parents, syncing each parent so the new entries survive a power cut."""
    missing: list[Path] = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        _fsync_dir(created.parent)


def _sweep_temps(path: Path) -> None:
    """Remove temp files a crash left behind for `path`."""
    prefix = f".{path.name}{_TMP_MARK}"
    try:
        names = os.listdir(path.parent)
    except (FileNotFoundError, NotADirectoryError):
        return
    for leftover in names:
        if leftover.startswith(prefix):
            with suppress(FileNotFoundError):
                os.unlink(path.parent / leftover)


def _rotate_backups(path: Path, keep: int) -> bool:
    """Make the current main file backup 1, shifting older ones; True if main had to be moved away."""
    try:
        main = os.stat(path)
    except FileNotFoundError:
        return False
    bak1 = _backup_path(path, 1)
    with suppress(FileNotFoundError):
        if os.path.samestat(main, os.stat(bak1)):
            # bak1 already is this very version (restored from it, or a write failed after rotating):
            # rotating again would only duplicate it and push a distinct older version out.
            return False
    for n in range(keep - 1, 0, -1):
        with suppress(FileNotFoundError):
            os.replace(_backup_path(path, n), _backup_path(path, n + 1))
    with suppress(FileNotFoundError):
        os.unlink(bak1)  # only still there when keep == 1 or an earlier rotation was cut short
    try:
        # A hard link is O(1) whatever the file size, and the main file never disappears.
        os.link(path, bak1)
    except OSError as exc:
        if exc.errno not in _LINK_UNSUPPORTED:
            raise
        os.replace(path, bak1)
        return True
    return False


def _create_new(tmp: Path) -> int:
    """Create `tmp` exclusively, making missing folders first; return its descriptor."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(tmp, flags, 0o666)
    except FileNotFoundError:
        # Only the first write into a new folder gets here, so the hot path costs no extra stat.
        _make_folders(tmp.parent)
        return os.open(tmp, flags, 0o666)


def _write_atomically(path: Path, payload: bytes, keep: int, sweep: bool) -> None:
    """Write `payload` to a synced temp file, rotate backups, then atomically replace `path`."""
    if sweep:
        _sweep_temps(path)
    tmp = _temp_path(path)
    moved_main = False
    try:
        with os.fdopen(_create_new(tmp), "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if keep > 0:
            moved_main = _rotate_backups(path, keep)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        if moved_main:
            with suppress(OSError):
                os.replace(_backup_path(path, 1), path)
        raise
    _fsync_dir(path.parent)


def _open_for_append(path: Path) -> tuple[int, bool]:
    """Open `path` to read and append, creating it (and missing folders); return it and whether it is new."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags | os.O_EXCL, 0o666), True
    except FileExistsError:
        return os.open(path, flags, 0o666), False
    except FileNotFoundError:
        # Only the first append into a new folder gets here, so the hot path costs no extra stat.
        _make_folders(path.parent)
        return os.open(path, flags | os.O_EXCL, 0o666), True


def _append_durably(path: Path, lines: list[str]) -> None:
    """Append `lines` to `path`, one per line, and fsync; on failure cut the file back to where it ended."""
    if any("\n" in line for line in lines):
        raise ValueError(f"a line to append to {path.name} holds a newline")
    payload = ("\n".join(lines) + "\n").encode("utf-8")
    fd, created = _open_for_append(path)
    try:
        end = os.fstat(fd).st_size
        if end:
            os.lseek(fd, end - 1, os.SEEK_SET)
            if os.read(fd, 1) != b"\n":
                # A crash cut the last line short: end it, so it cannot swallow the first line of this batch.
                payload = b"\n" + payload
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            # No half-written batch may stay in front of the retry (the reader would take it for a torn line).
            with suppress(OSError):
                os.ftruncate(fd, end)
            raise
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)


def _read_if_present(path: Path) -> bytes | None:
    """The bytes of `path`, or None when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def parse_lines(raw: bytes) -> ParsedLines:
    """The JSON value of each complete line of `raw`; a last line without its newline is left out as torn."""
    values: list[Any] = []
    bad: list[tuple[int, str]] = []
    last_offset = -1  # where the last non-blank line starts
    lines = raw.split(b"\n")
    tail = lines.pop()  # empty when `raw` ends with a newline, as every complete append leaves it
    offset = 0
    for line in lines:
        if line.strip():
            last_offset = offset
            try:
                values.append(json.loads(line))
            except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError too
                bad.append((offset, f"not valid JSON: {exc}"))
        offset += len(line) + 1
    if tail:
        last_offset = offset
        bad.append((offset, f"cut short: {len(tail)} bytes without a newline"))
    return ParsedLines(values, [DroppedLine(at, reason, at == last_offset) for at, reason in bad])


def _load(path: Path) -> _Loaded:
    """Read and parse `path`; corruption is reported in the result, other OS errors are raised."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return _Loaded("missing", has_backups=bool(_backups_of(path)))
    except _NOT_CORRUPTION:
        raise
    except OSError as exc:
        return _Loaded("corrupt", reason=f"unreadable: {_describe(exc)}")
    if not raw:
        return _Loaded("corrupt", reason="empty file")
    try:
        return _Loaded("ok", value=json.loads(raw.decode("utf-8")))
    except UnicodeDecodeError as exc:
        return _Loaded("corrupt", reason=f"not valid UTF-8: {exc}")
    except json.JSONDecodeError as exc:
        return _Loaded("corrupt", reason=f"not valid JSON: {exc}")
    except RecursionError:
        return _Loaded("corrupt", reason="JSON nested too deeply")


def _accept(loaded: _Loaded, validate: Callable[[Any], Any] | None) -> tuple[bool, Any, str]:
    """Apply `validate` to a loaded document; return (usable, value, reason if not)."""
    if loaded.state != "ok":
        return False, None, loaded.reason
    if validate is None:
        return True, loaded.value, ""
    try:
        return True, validate(loaded.value), ""
    except Exception as exc:  # any validator failure means the content is not what the caller needs
        return False, None, f"failed validation: {exc}"


def _backups_of(path: Path) -> list[Path]:
    """Existing backups of `path`, newest first."""
    prefix = f"{path.name}.bak"
    try:
        names = os.listdir(path.parent)
    except (FileNotFoundError, NotADirectoryError):
        return []
    numbered = [
        (int(n[len(prefix) :]), n)
        for n in names
        if n.startswith(prefix) and n[len(prefix) :].isascii() and n[len(prefix) :].isdigit()
    ]
    return [path.with_name(n) for _, n in sorted(numbered)]


def _quarantined_of(path: Path) -> list[Path]:
    """Quarantined copies of `path` (`<name>.corrupt-<stamp>[-<n>]`)."""
    prefix = f"{path.name}.corrupt-"
    try:
        names = os.listdir(path.parent)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [path.with_name(n) for n in sorted(names) if n.startswith(prefix)]


def _quarantine(path: Path, stamp: str) -> Path:
    """Move a corrupt file aside as `<name>.corrupt-<stamp>[-<n>]` and return where it went."""
    base = f"{path.name}.corrupt-{stamp}"
    target = path.with_name(base)
    n = 0
    while os.path.lexists(target):
        n += 1
        target = path.with_name(f"{base}-{n}")
    os.replace(path, target)
    _fsync_dir(path.parent)
    return target


def _restore(backup: Path, path: Path) -> None:
    """Atomically make `backup`'s exact bytes the main file again."""
    tmp = _temp_path(path)
    try:
        try:
            os.link(backup, tmp)
        except OSError as exc:
            if exc.errno not in _LINK_UNSUPPORTED:
                raise
            shutil.copyfile(backup, tmp)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _delete_all(path: Path) -> None:
    """Remove the main file, its backups and leftover temp files."""
    for victim in [path, *_backups_of(path)]:
        with suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(victim)
    _sweep_temps(path)
    if path.parent.is_dir():
        _fsync_dir(path.parent)


def _list_documents(folder: Path, suffix: str) -> list[str]:
    """Sorted names of regular files in `folder` ending in `suffix`, minus temp/backup/quarantine files."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    return sorted(
        e.name
        for e in entries
        if e.name.endswith(suffix)
        and not e.name.startswith(".")
        and _BACKUP_RE.search(e.name) is None
        and _CORRUPT_RE.search(e.name) is None
        and e.is_file()
    )
