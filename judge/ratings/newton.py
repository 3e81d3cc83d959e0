"""Weighted Bradley-Terry likelihood with covariates, maximised by Newton's method.

The model: P(i beats j) = sigmoid(theta_i - theta_j + x . beta) with x an antisymmetric covariate row
(no covariates for plain Bradley-Terry). Data are *rows* (a pair i < j and a covariate row) and *categories*
(a row with an outcome score for i, 1/0.5/0, and a count). A tie scores 0.5 for each side, i.e. it counts
as half a win for each model. A tiny ridge ``ridge * |params|^2 / 2`` keeps the maximiser finite when a
model never loses or never wins; the log-likelihood's gradient sums to zero over models, so the ridge
also centres theta at mean 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import StatisticsError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MAX_STEP = 2.0  # largest change of any parameter (log-odds) in one Newton step


@dataclass(frozen=True, eq=False)
class Design:
    """Rows of the likelihood: pair cell of each row, the cells' models (i < j) and covariates ``x``.

    Rows are sorted by cell and every cell has a row, so per-cell sums are contiguous reductions.
    """

    n_models: int
    cell: IntArray  # (R,) cell of each row
    cell_i: IntArray  # (C,) first model of each cell
    cell_j: IntArray  # (C,) second model of each cell, cell_i < cell_j
    x: FloatArray  # (R, k) covariates, k may be 0
    rows_are_cells: bool = False  # row r is cell r (no covariates): skips the per-cell sums

    def __post_init__(self) -> None:
        if not self.rows_are_cells and np.any(np.diff(self.cell) < 0):
            raise ValueError("design rows must be sorted by cell")

    @cached_property
    def cell_starts(self) -> IntArray:
        """Index of each cell's first row."""
        return np.asarray(np.searchsorted(self.cell, np.arange(len(self.cell_i))), dtype=np.int64)

    @cached_property
    def cell_sizes(self) -> IntArray:
        """Number of rows of each cell."""
        return np.asarray(np.diff(np.append(self.cell_starts, self.n_rows)), dtype=np.int64)

    def per_cell_sum(self, values: FloatArray) -> FloatArray:
        """Sum of per-row ``values`` over each cell's rows, in double precision."""
        if self.rows_are_cells:
            return np.asarray(values, dtype=np.float64)
        return np.add.reduceat(values, self.cell_starts).astype(np.float64)

    @property
    def n_params(self) -> int:
        return int(self.n_models + self.x.shape[1])

    @property
    def n_rows(self) -> int:
        return len(self.cell)

    def single_precision(self) -> Design:
        """The same design with float32 covariates: row-wise passes run about twice as fast."""
        return Design(
            self.n_models, self.cell, self.cell_i, self.cell_j, self.x.astype(np.float32), self.rows_are_cells
        )

    def eta(self, params: FloatArray) -> FloatArray:
        """Log-odds that the row's first model wins (in the precision of ``x``)."""
        theta = params[: self.n_models]
        per_cell = (theta[self.cell_i] - theta[self.cell_j]).astype(self.x.dtype)
        eta = per_cell if self.rows_are_cells else np.repeat(per_cell, self.cell_sizes)
        if self.x.shape[1]:
            eta = eta + self.x @ params[self.n_models :].astype(self.x.dtype)
        return np.asarray(eta)

    def score_vector(self, residual: FloatArray) -> FloatArray:
        """Gradient of the log-likelihood given per-row residuals (observed minus expected wins)."""
        n = self.n_models
        per_cell = self.per_cell_sum(residual)
        theta = np.bincount(self.cell_i, per_cell, n) - np.bincount(self.cell_j, per_cell, n)
        if not self.x.shape[1]:
            return np.asarray(theta, dtype=np.float64)
        return np.concatenate([theta, (self.x.T @ residual).astype(np.float64)])

    def information(self, weight: FloatArray, ridge: float) -> FloatArray:
        """Negative Hessian for per-row weights n p (1 - p), plus the ridge and a fix of the shift direction.

        theta is identified only up to a common shift; adding ``11'/n`` on the theta block removes that null
        direction without changing Newton steps orthogonal to it (the gradient always sums to zero there).
        """
        n, k = self.n_models, self.x.shape[1]
        per_cell = self.per_cell_sum(weight)
        info = np.zeros((n + k, n + k))
        flat = np.bincount(self.cell_i * n + self.cell_j, per_cell, n * n).reshape(n, n)
        info[:n, :n] = -(flat + flat.T)
        diag = np.bincount(self.cell_i, per_cell, n) + np.bincount(self.cell_j, per_cell, n)
        info[np.arange(n), np.arange(n)] += diag
        info[:n, :n] += 1.0 / n
        if k:
            xw = self.x * weight[:, None]
            for c in range(k):
                col = self.per_cell_sum(xw[:, c])
                cross = np.bincount(self.cell_i, col, n) - np.bincount(self.cell_j, col, n)
                info[:n, n + c] = cross
                info[n + c, :n] = cross
            info[n:, n:] = self.x.T @ xw
        info[np.arange(n + k), np.arange(n + k)] += ridge
        return info


def _sigmoid(eta: FloatArray) -> FloatArray:
    """1 / (1 + exp(-eta)) in the precision of ``eta`` (in place on a fresh array; exp may overflow to inf)."""
    out = np.negative(eta)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    return np.asarray(np.reciprocal(out, out=out))


def log_likelihood(design: Design, params: FloatArray, count: FloatArray, wins: FloatArray, ridge: float) -> float:
    """Penalised log-likelihood: wins * log p + (count - wins) * log(1 - p) - ridge |params|^2 / 2."""
    eta = design.eta(params)
    value = -(wins @ np.logaddexp(0.0, -eta)) - ((count - wins) @ np.logaddexp(0.0, eta))
    return float(value - 0.5 * ridge * (params @ params))


def _center(design: Design, params: FloatArray) -> FloatArray:
    params[: design.n_models] -= params[: design.n_models].mean()
    return params


def fit_newton(
    design: Design,
    count: FloatArray,
    wins: FloatArray,
    ridge: float,
    start: FloatArray | None = None,
    tol: float = 1e-9,
    max_iter: int = 500,
) -> tuple[FloatArray, FloatArray]:
    """Maximise the penalised likelihood from ``start``; returns (params, information at the maximum).

    Steps are capped at MAX_STEP and halved until the objective does not decrease, so the iteration also
    converges when the maximum lies far out (a model that never loses). Raises StatisticsError otherwise.
    """
    params = _center(design, np.zeros(design.n_params) if start is None else start.copy())
    value = log_likelihood(design, params, count, wins, ridge)
    for _ in range(max_iter):
        p = _sigmoid(design.eta(params))
        gradient = design.score_vector(wins - count * p) - ridge * params
        info = design.information(count * p * (1.0 - p), ridge)
        step = np.linalg.solve(info, gradient)
        largest = float(np.max(np.abs(step))) if step.size else 0.0
        if largest > MAX_STEP:
            step *= MAX_STEP / largest
        for _ in range(60):
            candidate = _center(design, params + step)
            new_value = log_likelihood(design, candidate, count, wins, ridge)
            if new_value >= value - 1e-12 * abs(value):
                break
            step *= 0.5
        params, value = candidate, new_value
        if float(np.max(np.abs(step))) < tol:
            p = _sigmoid(design.eta(params))
            return params, design.information(count * p * (1.0 - p), ridge)
    raise StatisticsError(f"the Bradley-Terry fit did not converge in {max_iter} Newton steps")


@dataclass(frozen=True, eq=False)
class Refitter:
    """Refits bootstrap resamples from the full-data maximum with the chord method.

    Row-wise passes run in single precision (sums are accumulated in double), each step solves with the
    full-data information matrix (inverted once) instead of the resample's own:
    a resample's maximum lies close, so a few cheap steps reach ``tol``; a resample that does not settle
    within ``max_chord`` steps (e.g. a model never loses in it) is refitted with full Newton.
    The chord method converges linearly: with contraction rate r (estimated as the ratio of the last two step
    sizes) the error left after a step of size s is about s r / (1 - r). Iteration stops when that estimate,
    or the step itself, is below ``tol`` (log-odds; 1e-5 is 0.0017 rating points).
    """

    design: Design
    fast: Design
    params: FloatArray
    inverse: FloatArray
    p_hat: FloatArray
    ridge: float
    tol: float = 1e-5
    max_chord: int = 30

    @classmethod
    def at(cls, design: Design, params: FloatArray, info: FloatArray, ridge: float) -> Refitter:
        fast = design.single_precision()
        inverse = np.asarray(np.linalg.inv(info), dtype=np.float64)
        return cls(design, fast, params, inverse, _sigmoid(fast.eta(params)), ridge)

    def refit(self, count: FloatArray, wins: FloatArray) -> FloatArray:
        """Maximiser for the resampled per-row ``count`` and ``wins``."""
        count32, wins32 = count.astype(np.float32), wins.astype(np.float32)
        residual = wins32 - count32 * self.p_hat
        params = self.params.copy()
        previous = np.inf
        for _ in range(self.max_chord):
            gradient = self.fast.score_vector(residual) - self.ridge * params
            step = self.inverse @ gradient
            params = _center(self.design, params + step)
            if not np.all(np.isfinite(params)):
                break
            size = float(np.max(np.abs(step)))
            rate = size / previous  # 0 on the first step: no estimate yet
            if size < self.tol or (0.0 < rate < 0.5 and rate / (1.0 - rate) * size < self.tol):
                return params
            previous = size
            residual = wins32 - count32 * _sigmoid(self.fast.eta(params))
        return fit_newton(self.design, count, wins, self.ridge, start=self.params, tol=1e-9)[0]
