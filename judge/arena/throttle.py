"""Per-voter request limits: a token bucket per key, in process memory (one bucket per server process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Throttle:
    """``rate_per_minute`` requests per key on average, up to ``burst`` at once."""

    def __init__(self, rate_per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[object, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: object) -> float:
        """0 when ``key`` may make a request now (and takes a token), else seconds until it may."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate if self.rate > 0 else float("inf")
