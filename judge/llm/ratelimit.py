"""Per-judge-model rate limits (requests/min and tokens/min), shared by every worker through Redis.

Each limit is a GCRA bucket: a "theoretical arrival time" (TAT) per model and kind, advanced by
``amount / rate`` for every grant; a request is granted when the TAT is at most ``burst_s`` ahead of now,
otherwise the caller waits the difference. Both buckets are checked and advanced atomically in one Lua script
with Redis's own clock, so N workers on N machines together stay under the provider's limits.

A 429 halves the model's shared rate factor (down to ``MIN_FACTOR``) for ``SLOWDOWN_S`` seconds; the factor
key expires and the full rate comes back when no 429 was seen for that long. Models without a configured
limit are never delayed and cost no Redis round trip. Without Redis the same buckets live in one process
(:class:`MemoryRateLimiter`) or in a memory-mapped file shared by the worker processes of one machine
(:class:`FileRateLimiter`, ``judge run --processes N``).
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import struct
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Protocol

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no FileRateLimiter (and no --processes)
    fcntl = None  # type: ignore[assignment]

from judge.core.errors import RetryableProviderError
from judge.llm.client import Completion, CompletionRequest, LiteLLMClient
from judge.llm.retry import RetryPolicy
from judge.settings import RateLimit

MIN_FACTOR = 0.0625
SLOWDOWN_S = 60
KEY_PREFIX = "judge:ratelimit"

_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local factor = tonumber(redis.call('GET', KEYS[3]) or '1')
local burst = tonumber(ARGV[5])
local wait = 0
local tats = {}
for i = 1, 2 do
  local rate = tonumber(ARGV[i])
  if rate > 0 then
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    if tat < now then tat = now end
    if tat - now - burst > wait then wait = tat - now - burst end
    tats[i] = tat + tonumber(ARGV[2 + i]) / (rate * factor)
  end
end
if wait > 0 then return tostring(wait) end
for i = 1, 2 do
  if tats[i] then redis.call('SET', KEYS[i], tostring(tats[i]), 'EX', 3600) end
end
return '0'
"""

_SLOW_DOWN = """
local factor = tonumber(redis.call('GET', KEYS[1]) or '1') / 2
if factor < tonumber(ARGV[1]) then factor = tonumber(ARGV[1]) end
redis.call('SET', KEYS[1], tostring(factor), 'EX', tonumber(ARGV[2]))
return tostring(factor)
"""


def estimate_tokens(req: CompletionRequest) -> int:
    """Tokens a request may use, before it is sent: ~4 characters per prompt token, plus the answer's cap."""
    prompt = sum(len(m.content) for m in req.messages) // 4 + 4 * len(req.messages)
    return prompt + (req.sampling.max_tokens or 256)


class RateLimiter(Protocol):
    """Grants judge calls under the configured limits."""

    async def acquire(self, model: str, tokens: int) -> float:
        """Wait until ``model`` may send a request of ``tokens``; returns the seconds waited."""
        ...

    async def slow_down(self, model: str) -> float:
        """A 429 from ``model``: lower its shared rate; returns the new rate factor."""
        ...


async def wait_for_grant(try_once: Callable[[], Awaitable[float]]) -> float:
    """Ask a bucket for a grant until it gives one (``try_once`` returns 0 when granted, else the seconds to wait
    before asking again); the seconds waited."""
    waited = 0.0
    while (wait := await try_once()) > 0:
        await asyncio.sleep(wait)
        waited += wait
    return waited


class RedisRateLimiter:
    """The shared limiter: buckets and slowdown factors live in Redis (``redis_url``)."""

    def __init__(self, redis_url: str, limits: dict[str, RateLimit], burst_s: float = 1.0) -> None:
        import redis.asyncio as aioredis

        self.limits, self.burst_s = limits, burst_s
        self._redis = aioredis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._slow_down = self._redis.register_script(_SLOW_DOWN)

    @staticmethod
    def keys(model: str) -> list[str]:
        """The Redis keys of a model: request TAT, token TAT, rate factor."""
        return [f"{KEY_PREFIX}:{model}:{kind}" for kind in ("requests", "tokens", "factor")]

    async def acquire(self, model: str, tokens: int) -> float:
        limit = self.limits.get(model)
        if limit is None:
            return 0.0
        per_s = [(limit.requests_per_min or 0) / 60, (limit.tokens_per_min or 0) / 60]
        args = [*per_s, 1, tokens, self.burst_s]

        async def try_once() -> float:
            return float(await self._acquire(keys=self.keys(model), args=args))

        return await wait_for_grant(try_once)

    async def slow_down(self, model: str) -> float:
        if model not in self.limits:
            return 1.0
        return float(await self._slow_down(keys=self.keys(model)[2:], args=[MIN_FACTOR, SLOWDOWN_S]))

    async def close(self) -> None:
        """Close the Redis connections."""
        await self._redis.aclose()


BucketState = tuple[float, float, float, float]
"""One model's limiter state: the request TAT, the token TAT, the 429 rate factor and until when it holds
(``time.monotonic()`` seconds; all zero: a fresh bucket at full rate)."""
FRESH: BucketState = (0.0, 0.0, 0.0, 0.0)


def _factor(state: BucketState, now: float) -> float:
    return state[2] if now < state[3] else 1.0


def grant(state: BucketState, limit: RateLimit, tokens: int, now: float, burst_s: float) -> tuple[float, BucketState]:
    """One GCRA step over both buckets: (0, the advanced state) when a request of ``tokens`` may go now, else
    (seconds to wait, ``state`` unchanged)."""
    factor = _factor(state, now)
    wanted = ((limit.requests_per_min, 1), (limit.tokens_per_min, tokens))
    tats = [max(state[i], now) for i in (0, 1)]
    wait = max([tats[i] - now - burst_s for i, (rate, _) in enumerate(wanted) if rate] + [0.0])
    if wait > 0:
        return wait, state
    for i, (rate, amount) in enumerate(wanted):
        if rate:
            tats[i] += amount / (rate / 60 * factor)
    return 0.0, (tats[0], tats[1], state[2], state[3])


def slowed(state: BucketState, now: float) -> BucketState:
    """The state after a 429: the rate factor halved (down to ``MIN_FACTOR``) for ``SLOWDOWN_S`` seconds."""
    return (state[0], state[1], max(MIN_FACTOR, _factor(state, now) / 2), now + SLOWDOWN_S)


class MemoryRateLimiter:
    """The same buckets in one process (the in-process backend without Redis)."""

    def __init__(self, limits: dict[str, RateLimit], burst_s: float = 1.0) -> None:
        self.limits, self.burst_s = limits, burst_s
        self._states: dict[str, BucketState] = {}

    async def acquire(self, model: str, tokens: int) -> float:
        limit = self.limits.get(model)
        if limit is None:
            return 0.0

        async def try_once() -> float:
            wait, state = grant(self._states.get(model, FRESH), limit, tokens, time.monotonic(), self.burst_s)
            if wait <= 0:
                self._states[model] = state
            return wait

        return await wait_for_grant(try_once)

    async def slow_down(self, model: str) -> float:
        if model not in self.limits:
            return 1.0
        state = self._states[model] = slowed(self._states.get(model, FRESH), time.monotonic())
        return state[2]


class FileRateLimiter:
    """The same buckets shared by the processes of one machine (``judge run --processes N``): each limited
    model's state is a slot of a small memory-mapped file (``path``), read and advanced under an exclusive
    ``flock`` on it. The kernel drops the lock of a process that dies, so a killed process never wedges the
    others; ``time.monotonic()`` is one clock for every process of a host. Every process opens the same path
    with the same ``limits``."""

    SLOT = struct.Struct("<4d")

    def __init__(self, path: str | Path, limits: dict[str, RateLimit], burst_s: float = 1.0) -> None:
        self.limits, self.burst_s = limits, burst_s
        self._slots = {model: n * self.SLOT.size for n, model in enumerate(sorted(limits))}
        size = self.SLOT.size * max(1, len(limits))
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        with self._locked():
            if os.fstat(self._fd).st_size < size:
                os.ftruncate(self._fd, size)  # zeros: fresh buckets
        self._map = mmap.mmap(self._fd, size)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # held for a few microseconds: no await inside
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _read(self, offset: int) -> BucketState:
        a, b, c, d = self.SLOT.unpack_from(self._map, offset)
        return (a, b, c, d)

    async def acquire(self, model: str, tokens: int) -> float:
        limit = self.limits.get(model)
        if limit is None:
            return 0.0
        offset = self._slots[model]

        async def try_once() -> float:
            with self._locked():
                wait, state = grant(self._read(offset), limit, tokens, time.monotonic(), self.burst_s)
                if wait <= 0:
                    self.SLOT.pack_into(self._map, offset, *state)
            return wait

        return await wait_for_grant(try_once)

    async def slow_down(self, model: str) -> float:
        if model not in self.limits:
            return 1.0
        offset = self._slots[model]
        with self._locked():
            state = slowed(self._read(offset), time.monotonic())
            self.SLOT.pack_into(self._map, offset, *state)
        return state[2]

    def close(self) -> None:
        """Unmap and close the file (its path stays for the other processes)."""
        self._map.close()
        os.close(self._fd)


class RateLimitedClient(LiteLLMClient):
    """A LiteLLMClient whose every HTTP attempt (retries included) first takes a grant from ``limiter``;
    a 429 slows the limiter down for every worker sharing it."""

    def __init__(self, limiter: RateLimiter, policy: RetryPolicy | None = None) -> None:
        super().__init__(policy)
        self.limiter = limiter

    async def _call(self, req: CompletionRequest, use_schema: bool, attempts: int) -> Completion:
        await self.limiter.acquire(req.model, estimate_tokens(req))
        try:
            return await super()._call(req, use_schema, attempts)
        except RetryableProviderError as exc:
            if exc.status_code == 429:
                await self.limiter.slow_down(req.model)
            raise
