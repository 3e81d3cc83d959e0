"""The ratings plot needs matplotlib: without it the user gets an InputError saying what to install."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from judge.core.errors import InputError
from judge.ratings import (
    Battles,
    BootstrapSpec,
    Leaderboard,
    fit_bradley_terry,
    leaderboard_from_fit,
    plot_leaderboard,
)


def board_of_three() -> Leaderboard:
    battles = Battles(("x", "y", "z"), np.array([0, 1, 2, 0]), np.array([1, 2, 0, 2]), np.array([1.0, 1.0, 0.5, 0.0]))
    return leaderboard_from_fit(fit_bradley_terry(battles, bootstrap=BootstrapSpec(20)))


def test_missing_matplotlib_is_an_input_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    with pytest.raises(InputError, match="install it with `pip install matplotlib`"):
        plot_leaderboard(board_of_three(), tmp_path / "ratings.png")
    assert not (tmp_path / "ratings.png").exists()


def test_plot_is_written_when_matplotlib_is_present(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = plot_leaderboard(board_of_three(), tmp_path / "ratings.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
