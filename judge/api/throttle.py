"""Failed-authentication throttling per client address: after too many failures in a minute, 429 + Retry-After.

In memory, per server process (each process counts its own failures); behind a reverse proxy the address is
the proxy's unless uvicorn is told to trust its forwarded headers (``--forwarded-allow-ips``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

WINDOW_S = 60.0
MAX_ADDRESSES = 100_000
"""Addresses tracked at most; the least recently failing are forgotten first (bounded memory under a flood)."""


class AuthThrottle:
    """Counts failed authentications per client address over a sliding one-minute window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_addresses: int = MAX_ADDRESSES) -> None:
        self.clock = clock
        self.max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - WINDOW_S:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def retry_after(self, address: str, limit: int) -> int | None:
        """Seconds until ``address`` may try again when it has ``limit`` failures in the window, else None
        (``limit`` 0: never throttled)."""
        if limit <= 0:
            return None
        with self._lock:
            now = self.clock()
            times = self._recent(address, now)
            if times is None or len(times) < limit:
                return None
            return max(1, math.ceil(times[-limit] + WINDOW_S - now))

    def failed(self, address: str) -> None:
        """Record one failed authentication from ``address``."""
        with self._lock:
            now = self.clock()
            times = self._recent(address, now)
            if times is None:
                times = self._failures[address] = deque(maxlen=10_000)
            times.append(now)
            self._failures.move_to_end(address)
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)
