"""The per-peer vote receive limit of BEP-619: 68 votes/s averaged over 30 s; the excess is dropped silently."""
from __future__ import annotations

import time
from collections import deque

RECEIVE_RATE_PER_S = 68         # BEP-619 receiveRateLimitPerSecond
RATE_WINDOW_S = 30.0


class VoteRate:
    """A peer's votes in the last 30 s; more than 68/s on average over that window are refused."""

    def __init__(self, per_s: int = RECEIVE_RATE_PER_S, window_s: float = RATE_WINDOW_S) -> None:
        self.limit = int(per_s * window_s)
        self.window_s = window_s
        self._times: deque[float] = deque()

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        times = self._times
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True
