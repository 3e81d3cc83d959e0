"""Chart geometry for the report's inline SVG: rating CI bars and the predicted win-rate heatmap.

Pure functions from numbers to coordinates and colours; the template draws them (and escapes every label).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from judge.core.types import Frozen
from judge.ratings import Leaderboard, WinRateMatrix

ROW_H = 22.0
LABEL_W = 150.0
PLOT_W = 230.0
TOP = 28.0
BOTTOM = 26.0
CELL = 34.0
HEAT_LABEL_W = 150.0
HEAT_TOP = 110.0


class Tick(Frozen):
    """An axis tick: position and text."""

    x: float
    label: str


class CiRow(Frozen):
    """One model's bar: the rating point and its interval (None without bootstrap), at height ``y``."""

    label: str
    y: float
    x: float
    x_low: float | None
    x_high: float | None
    title: str


class CiChart(Frozen):
    """A leaderboard as horizontal interval bars on a shared rating axis."""

    width: float
    height: float
    plot_left: float
    plot_right: float
    axis_y: float
    rows: tuple[CiRow, ...]
    ticks: tuple[Tick, ...]


class HeatCell(Frozen):
    """One square of the heatmap: ``text`` is the probability, ``fill`` its colour."""

    x: float
    y: float
    fill: str
    text: str
    text_fill: str
    title: str


class AxisLabel(Frozen):
    """A model name beside (rows) or above (columns) the heatmap."""

    x: float
    y: float
    label: str


class Heatmap(Frozen):
    """The predicted win-rate matrix: row model beats column model with probability ``cell.text``."""

    width: float
    height: float
    size: float
    cells: tuple[HeatCell, ...]
    rows: tuple[AxisLabel, ...]
    cols: tuple[AxisLabel, ...]


def nice_step(span: float, target: int = 5) -> float:
    """A 1/2/5 × 10^k step giving about ``target`` ticks over ``span``."""
    raw = max(span, 1e-9) / target
    power = 10 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def shared_domain(boards: Sequence[Leaderboard]) -> tuple[float, float]:
    """A rounded rating range covering every point and interval of ``boards``."""
    values = [
        v for b in boards for r in b.rows for v in (r.rating, r.ci_low, r.ci_high) if v is not None and math.isfinite(v)
    ]
    if not values:
        return (900.0, 1100.0)
    low, high = min(values), max(values)
    if high - low < 1e-6:
        low, high = low - 50, high + 50
    step = nice_step(high - low)
    return (math.floor(low / step) * step, math.ceil(high / step) * step)


def ci_chart(board: Leaderboard, domain: tuple[float, float]) -> CiChart:
    """Interval bars of ``board``'s rows (best first) on the rating axis ``domain``."""
    low, high = domain
    left, right = LABEL_W, LABEL_W + PLOT_W

    def x_of(value: float) -> float:
        return round(left + (value - low) / (high - low) * PLOT_W, 2)

    rows = tuple(
        CiRow(
            label=r.model,
            y=TOP + i * ROW_H + ROW_H / 2,
            x=x_of(r.rating),
            x_low=None if r.ci_low is None else x_of(r.ci_low),
            x_high=None if r.ci_high is None else x_of(r.ci_high),
            title=f"{r.model}: {r.rating:.0f}"
            + ("" if r.ci_low is None or r.ci_high is None else f" [{r.ci_low:.0f}, {r.ci_high:.0f}]")
            + f", rank {r.rank}, n={r.n_battles}",
        )
        for i, r in enumerate(board.rows)
    )
    step = nice_step(high - low)
    count = round((high - low) / step)
    ticks = tuple(Tick(x=x_of(low + k * step), label=f"{low + k * step:g}") for k in range(count + 1))
    axis_y = TOP + len(rows) * ROW_H + 4
    return CiChart(
        width=right + 20,
        height=axis_y + BOTTOM,
        plot_left=left,
        plot_right=right,
        axis_y=axis_y,
        rows=rows,
        ticks=ticks,
    )


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


WHITE = (247, 247, 247)
BLUE = (33, 102, 172)
RED = (178, 24, 43)


def win_colour(p: float) -> str:
    """Diverging colour: white at 0.5, blue towards 1 (row wins), red towards 0."""
    t = min(max(abs(p - 0.5) * 2, 0.0), 1.0)
    r, g, b = _mix(WHITE, BLUE if p >= 0.5 else RED, t)
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(matrix: WinRateMatrix) -> Heatmap:
    """Cells, row labels and (rotated) column labels of the win-rate matrix."""
    n = len(matrix.models)
    cells = tuple(
        HeatCell(
            x=HEAT_LABEL_W + j * CELL,
            y=HEAT_TOP + i * CELL,
            fill=win_colour(p),
            text=f"{p:.2f}",
            text_fill="#ffffff" if abs(p - 0.5) > 0.3 else "#111111",
            title=f"{matrix.models[i]} beats {matrix.models[j]}: {p:.3f}",
        )
        for i, row in enumerate(matrix.probability)
        for j, p in enumerate(row)
    )
    rows = tuple(
        AxisLabel(x=HEAT_LABEL_W - 6, y=HEAT_TOP + i * CELL + CELL / 2, label=m) for i, m in enumerate(matrix.models)
    )
    cols = tuple(
        AxisLabel(x=HEAT_LABEL_W + j * CELL + CELL / 2, y=HEAT_TOP - 6, label=m) for j, m in enumerate(matrix.models)
    )
    return Heatmap(
        width=HEAT_LABEL_W + n * CELL + 10,
        height=HEAT_TOP + n * CELL + 10,
        size=CELL,
        cells=cells,
        rows=rows,
        cols=cols,
    )


def shade(count: int, largest: int) -> str:
    """Background of a confusion-matrix cell: darker blue for larger counts."""
    r, g, b = _mix(WHITE, BLUE, count / largest if largest else 0.0)
    return f"#{r:02x}{g:02x}{b:02x}"
