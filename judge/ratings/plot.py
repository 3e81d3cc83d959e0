"""Ratings with their confidence intervals as a horizontal bar chart (needs matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from judge.core.errors import InputError
from judge.ratings.ranking import Leaderboard


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise InputError("--plot needs matplotlib: install it with `pip install matplotlib`", field="plot") from exc
    return plt


def plot_leaderboard(board: Leaderboard, path: Path) -> Path:
    """Draw each model's rating with its CI bar (best on top) into ``path`` (format from its suffix)."""
    plt = _pyplot()
    rows = list(reversed(board.rows))
    ratings = [r.rating for r in rows]
    low = [r.rating - r.ci_low if r.ci_low is not None else 0.0 for r in rows]
    high = [r.ci_high - r.rating if r.ci_high is not None else 0.0 for r in rows]
    figure, axes = plt.subplots(figsize=(7.0, 1.0 + 0.3 * len(rows)))
    axes.errorbar(ratings, range(len(rows)), xerr=[low, high], fmt="o", capsize=3)
    axes.set_yticks(range(len(rows)), [f"{r.model} (n={r.n_battles})" for r in rows])
    axes.set_xlabel(f"rating ({board.anchor}; bars: {board.ci_level:.0%} CI, {board.bootstrap_rounds} rounds)")
    axes.set_title(f"{board.method}: {board.n_battles} battles")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
