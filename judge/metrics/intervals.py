"""Proportions with Wilson score intervals: the block every rate in judge is reported as.

The Wilson score interval (Wilson 1927) is used for every proportion: unlike the normal ("Wald") interval it
stays inside [0, 1] and keeps close to its nominal coverage for small n and rates near 0 or 1. It treats the
n observations as independent; where they cluster (several comparisons per unit) the true interval is wider.
"""

from __future__ import annotations

import math
from typing import Any

from judge.core.errors import StatisticsError
from judge.core.types import Frozen

WILSON = "wilson"
NO_DATA = "no data: n = 0"


def z_for(confidence: float) -> float:
    """Two-sided standard-normal quantile for ``confidence`` (1.959963... for 0.95)."""
    if not 0.0 < confidence < 1.0:
        raise StatisticsError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    from scipy.special import ndtri  # SciPy on first use (slow to import); ndtri is scipy.stats.norm.ppf

    return float(ndtri(0.5 + confidence / 2.0))


def wilson_interval(count: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``count`` successes in ``n`` trials; needs n > 0."""
    if n <= 0:
        raise StatisticsError("the Wilson interval needs n > 0")
    if not 0 <= count <= n:
        raise StatisticsError(f"count {count} is outside 0..{n}")
    z = z_for(confidence)
    p = count / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    low = 0.0 if count == 0 else max(0.0, centre - half)
    high = 1.0 if count == n else min(1.0, centre + half)
    return low, high


class Proportion(Frozen):
    """``count`` of ``n`` with its rate and Wilson CI; rate and CI are None (with a note) when n is 0."""

    count: int
    n: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float = 0.95
    ci_method: str = WILSON
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{count, n, rate, ci_low, ci_high}`` plus ``note`` when there is one."""
        out: dict[str, Any] = {
            "count": self.count,
            "n": self.n,
            "rate": self.rate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }
        if self.note:
            out["note"] = self.note
        return out


def proportion(count: int, n: int, confidence: float = 0.95) -> Proportion:
    """Build a Proportion; n = 0 gives rate None and the note ``no data: n = 0``, never NaN."""
    if n < 0 or count < 0 or count > n:
        raise StatisticsError(f"invalid proportion {count}/{n}")
    if n == 0:
        return Proportion(count=0, n=0, rate=None, ci_low=None, ci_high=None, confidence=confidence, note=NO_DATA)
    low, high = wilson_interval(count, n, confidence)
    return Proportion(count=count, n=n, rate=count / n, ci_low=low, ci_high=high, confidence=confidence)
