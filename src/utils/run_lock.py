"""One StatsBot per DATA_DIR: an advisory lock the running bot holds, so offline edits can refuse to race it.

`forget` rewrites day files the running bot also writes; two bots on one DATA_DIR would overwrite each
other's files. The lock is `fcntl.flock` on `DATA_DIR/.statsbot.lock`: the kernel drops it when the process
ends, however it ends, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

LOCK_NAME = ".statsbot.lock"


class DataDirBusy(Exception):
    """Another process holds DATA_DIR's lock; the message names it and what to do."""


class RunLock:
    """The lock on one DATA_DIR; `acquire` raises DataDirBusy when another process holds it."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock without waiting; raise DataDirBusy (naming the holder's pid) if it is taken."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise DataDirBusy(f"StatsBot (pid {holder}) is running on {self.path.parent}") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock (closing the file releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
