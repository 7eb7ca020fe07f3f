"""Time enters the node through one Clock, so tests and Devnet can run blocks in simulated time."""
from __future__ import annotations

import threading
import time


class Clock:
    """Wall-clock time in milliseconds, plus an offset that dev mode moves (evm_increaseTime)."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms

    def wait_until(self, ms: int, wake: threading.Event) -> bool:
        """Sleep until `ms` or until `wake` is set; True when woken early."""
        while (delay := (ms - self.now_ms()) / 1000) > 0:
            # a timed wait may return a little early: a block stamped before its time is a future block to peers
            if wake.wait(min(delay, threading.TIMEOUT_MAX)):
                return True
        return wake.is_set()


class SimClock(Clock):
    """Simulated time: it moves only when told (`advance`, `set`), so thousands of block slots run in seconds and
    every run is the same. Threads waiting in `wait_until` wake when the time they wait for is reached."""

    def __init__(self, start_ms: int) -> None:
        super().__init__()
        self._ms = start_ms
        self._moved = threading.Condition()

    def now_ms(self) -> int:
        return self._ms + self.offset_ms

    def set(self, ms: int) -> None:
        with self._moved:
            self._ms = max(self._ms, ms - self.offset_ms)   # time never goes back
            self._moved.notify_all()

    def advance(self, ms: int) -> None:
        self.set(self.now_ms() + ms)

    def wait_until(self, ms: int, wake: threading.Event) -> bool:
        with self._moved:
            while self.now_ms() < ms and not wake.is_set():
                self._moved.wait(0.05)   # also polls `wake`, which is set without this condition
        return wake.is_set()
