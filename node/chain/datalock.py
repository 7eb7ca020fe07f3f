"""One writing process per data dir: an OS file lock held while a store is open for writing, as geth locks its data
dir. The kernel releases it when the process exits, however it exits (a crash or kill -9 included), so a stale lock
file never blocks the next start. Readers (the JSON-RPC front) take no lock."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "LOCK"


class DataDirInUse(OSError):
    """Another process has this data dir open for writing (geth: `datadir already used by another process`)."""


class DataDirLock:
    """An exclusive, non-blocking lock on `directory/LOCK`; `release()` (or the process's exit) frees it. `shown`:
    the data dir the refusal names (default: `directory`)."""

    def __init__(self, directory: str | os.PathLike, shown: str | os.PathLike | None = None):
        self.path = Path(directory) / LOCK_FILE
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise DataDirInUse(f"datadir already used by another process: {shown or directory}") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())   # for a person looking: which process holds it

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)   # closing the only descriptor drops the flock
            self._fd = None
