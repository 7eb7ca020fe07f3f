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
        delay = min((ms - self.now_ms()) / 1000, threading.TIMEOUT_MAX)
        return wake.wait(delay) if delay > 0 else wake.is_set()
