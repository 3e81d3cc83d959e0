"""When and how long to retry a judge call.

Only :class:`~judge.core.errors.RetryableProviderError` (rate limit, 5xx, timeout, connection error, garbage
body) is retried. The wait before retry ``k`` (1-based) is
``min(cap, max(retry_after, U(0, base * 2**(k-1))))``: full jitter exponential backoff that never undercuts
the server's ``Retry-After``, capped so one call has a known worst-case duration
(:meth:`RetryPolicy.max_total_wait_s`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import Field
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from judge.core.errors import RetryableProviderError
from judge.core.types import Frozen
from judge.settings import Settings, get_settings

T = TypeVar("T")
_JITTER = random.Random()  # one generator per process: seeding one per call costs ~0.5 ms of entropy reads


class RetryPolicy(Frozen):
    """Exponential backoff with full jitter, honouring Retry-After; ``max_attempts`` counts the first try."""

    max_attempts: int = Field(default=6, ge=1)
    base_s: float = Field(default=1.0, gt=0)
    cap_s: float = Field(default=60.0, gt=0)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> RetryPolicy:
        """``settings.max_retries`` retries after the first attempt."""
        s = settings or get_settings()
        return cls(max_attempts=s.max_retries + 1)

    def wait_s(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        backoff = rng.uniform(0.0, self.base_s * 2.0 ** (retry - 1))
        return min(self.cap_s, max(retry_after or 0.0, backoff))

    def max_total_wait_s(self) -> float:
        """The longest total time spent waiting between attempts of one call."""
        return (self.max_attempts - 1) * self.cap_s

    def max_total_duration_s(self, timeout_s: float) -> float:
        """The longest one call can take: every attempt timing out plus every wait."""
        return self.max_attempts * timeout_s + self.max_total_wait_s()


async def call_with_retries(
    policy: RetryPolicy,
    attempt: Callable[[], Awaitable[T]],
    *,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``attempt`` until it succeeds, raises a non-retryable error, or the attempts run out.

    When they run out, raises a :class:`RetryableProviderError` whose message says how many attempts were made
    and what the last failure was.
    """
    generator = rng or _JITTER

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        retry_after = error.retry_after if isinstance(error, RetryableProviderError) else None
        return policy.wait_s(state.attempt_number, retry_after, generator)

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(RetryableProviderError),
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait,
        sleep=sleep,
        reraise=True,
    )
    try:
        return await retrying(attempt)
    except RetryableProviderError as exc:
        raise RetryableProviderError(
            f"gave up after {policy.max_attempts} attempts; last error: {exc}",
            status_code=exc.status_code,
            retry_after=exc.retry_after,
            reason=exc.reason,
        ) from exc
