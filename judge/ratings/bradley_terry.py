"""Bradley-Terry ratings by maximum likelihood, with optional covariates and bootstrap intervals.

Ties count as half a win for each side. Battles are first aggregated: plain Bradley-Terry fits one row per
unordered model pair (win/tie/loss counts), so 200 models fit on at most 19,900 rows however many battles
there are. Covariates with few distinct values (e.g. correctness differences) are aggregated the same way;
continuous ones (style) are fitted per battle.

Bootstrap: each round resamples the battles with replacement. With aggregated data this is done exactly as
a multinomial draw of the (row, outcome) counts with probabilities count / n_battles, which has the same
distribution as counting a with-replacement resample of the battles; otherwise battle indices are drawn.
Intervals are percentile intervals of the refitted ratings.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import InputError
from judge.ratings.battles import Battles, require_rateable
from judge.ratings.fit import Anchor, BootstrapSpec, RatingFit, RatingScale
from judge.ratings.newton import Design, Refitter, fit_newton
from judge.ratings.sandwich import anchored_covariance, normal_draws, normal_interval, sandwich_covariance

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

DEFAULT_RIDGE = 1e-6
_DISTINCT_FOR_AGGREGATION = 64  # covariates with at most this many values are aggregated


@dataclass(frozen=True, eq=False)
class AggregatedBattles:
    """Battles as likelihood rows and (row, outcome) categories with counts.

    ``battle_category`` maps each battle to its category (None: category k is battle k).
    """

    design: Design
    category_row: IntArray
    category_score: FloatArray
    category_count: FloatArray
    battle_category: IntArray | None
    n_battles: int

    @cached_property
    def _category_cdf(self) -> FloatArray:
        return np.cumsum(self.category_count)

    def row_totals(self, counts: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Per-row battle count and wins (ties as halves) for per-category ``counts``."""
        rows = self.design.n_rows
        if self.battle_category is None and rows == len(counts):
            return counts, np.asarray(counts * self.category_score)
        total = np.bincount(self.category_row, counts, rows).astype(np.float64)
        return total, np.bincount(self.category_row, counts * self.category_score, rows).astype(np.float64)

    def resample(self, rng: np.random.Generator) -> FloatArray:
        """Category counts of one with-replacement resample of the battles."""
        cats = len(self.category_count)
        if cats * 4 < self.n_battles:
            return multinomial_counts(self.category_count, rng, self._category_cdf)
        draws = rng.integers(0, self.n_battles, self.n_battles)
        if self.battle_category is not None:
            draws = self.battle_category[draws]
        return np.bincount(draws, minlength=cats).astype(np.float64)


def multinomial_counts(counts: FloatArray, rng: np.random.Generator, cdf: FloatArray | None = None) -> FloatArray:
    """A Multinomial(sum(counts), counts / sum(counts)) draw, exactly, faster than ``rng.multinomial``.

    Independent Poisson(q * counts) draws are, given their total t, Multinomial(t, p); adding a
    Multinomial(N - t, p) draw (categorical draws by inverse CDF) gives Multinomial(N, p). q is chosen so
    that t > N is a four-sigma event, and such a draw is simply repeated. ``cdf`` is ``cumsum(counts)``.
    """
    total = float(counts.sum())
    mean = max(total - 4.0 * np.sqrt(total), 0.0)
    while True:
        draw = rng.poisson(counts * (mean / total)).astype(np.float64)
        missing = round(float(total - draw.sum()))
        if missing >= 0:
            break
    cdf = np.cumsum(counts) if cdf is None else cdf
    extra = np.searchsorted(cdf, np.sort(rng.random(missing)) * cdf[-1], side="right")
    return np.asarray(draw + np.bincount(extra, minlength=len(counts)), dtype=np.float64)


def _dense_ids(key: IntArray, size: int) -> tuple[IntArray, IntArray]:
    """Distinct values of ``key`` (sorted) and each element's position among them."""
    if size <= 50_000_000:
        present = np.flatnonzero(np.bincount(key, minlength=size))
        position = np.zeros(size, dtype=np.int64)
        position[present] = np.arange(len(present))
        return present.astype(np.int64), position[key]
    values, inverse = np.unique(key, return_inverse=True)
    return values.astype(np.int64), inverse.astype(np.int64)


def aggregate_battles(battles: Battles) -> AggregatedBattles:
    """Orient every battle so that i < j (negating covariates when swapped) and aggregate what can be."""
    n = len(battles.models)
    swap = battles.a > battles.b
    i = np.where(swap, battles.b, battles.a)
    j = np.where(swap, battles.a, battles.b)
    code = np.where(swap, 2.0 - 2.0 * battles.outcome, 2.0 * battles.outcome).astype(np.int64)
    pairs, cell = _dense_ids(i * n + j, n * n)
    cell_i, cell_j = pairs // n, pairs % n
    x = np.zeros((battles.n_battles, 0))
    if battles.features is not None:
        x = np.where(swap[:, None], -battles.features, battles.features)
    if x.shape[1] == 0:
        design = Design(n, np.arange(len(pairs)), cell_i, cell_j, np.zeros((len(pairs), 0)), rows_are_cells=True)
        row = cell
    elif all(len(np.unique(x[:10_000, c])) <= _DISTINCT_FOR_AGGREGATION for c in range(x.shape[1])):
        unique, inverse = np.unique(np.column_stack([cell.astype(np.float64), x]), axis=0, return_inverse=True)
        design = Design(n, unique[:, 0].astype(np.int64), cell_i, cell_j, np.ascontiguousarray(unique[:, 1:]))
        row = inverse.reshape(-1).astype(np.int64)
    else:
        # Continuous covariates: one row per battle, sorted by cell. Resampling rows uniformly is resampling
        # battles, so the categories are the rows themselves.
        order = np.argsort(cell, kind="stable")
        design = Design(n, cell[order], cell_i, cell_j, np.ascontiguousarray(x[order]))
        score = code[order] / 2.0
        return AggregatedBattles(design, np.arange(len(code)), score, np.ones(len(code)), None, len(code))
    categories, battle_category = _dense_ids(row * 3 + code, design.n_rows * 3)
    counts = np.bincount(battle_category, minlength=len(categories)).astype(np.float64)
    return AggregatedBattles(
        design, categories // 3, (categories % 3) / 2.0, counts, battle_category, battles.n_battles
    )


def separation_notes(data: AggregatedBattles, models: tuple[str, ...], ridge: float) -> tuple[str, ...]:
    """Say which models make the maximum-likelihood ratings infinite (held finite here by the ridge).

    The maximum exists (without covariates) exactly when the graph "i won or tied against j" is strongly
    connected; a model that never loses or never wins breaks this.
    """
    n = len(models)
    design = data.design
    cell = design.cell[data.category_row]
    first, second = design.cell_i[cell], design.cell_j[cell]
    scored = data.category_score > 0  # the first model won or tied: an edge first -> second
    lost = data.category_score < 1
    src = np.concatenate([first[scored], second[lost]])
    dst = np.concatenate([second[scored], first[lost]])
    from scipy.sparse import coo_matrix  # SciPy on first use: slow to import
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    if connected_components(graph, directed=True, connection="strong")[0] == 1:
        return ()
    outdeg = np.bincount(src, minlength=n)
    indeg = np.bincount(dst, minlength=n)
    never_lost = [m for m, k in zip(models, indeg, strict=True) if k == 0]
    never_won = [m for m, k in zip(models, outdeg, strict=True) if k == 0]
    notes = [
        f"the maximum-likelihood ratings are infinite; ratings are held finite by a ridge penalty ({ridge:g}) "
        "and the bounds they push apart are not meaningful"
    ]
    if never_lost:
        notes.append(f"never lost a battle: {', '.join(never_lost)}")
    if never_won:
        notes.append(f"never won or tied a battle: {', '.join(never_won)}")
    if not never_lost and not never_won:
        notes.append("some group of models never lost to the models outside it")
    return tuple(notes)


def _bootstrap(data: AggregatedBattles, refitter: Refitter, spec: BootstrapSpec, workers: int) -> FloatArray:
    seeds = np.random.SeedSequence(spec.seed).spawn(spec.rounds)

    def run(round_ids: range) -> FloatArray:
        out = np.empty((len(round_ids), data.design.n_params))
        for k, r in enumerate(round_ids):
            counts = data.resample(np.random.default_rng(seeds[r]))
            out[k] = refitter.refit(*data.row_totals(counts))
        return out

    chunks = [range(w * spec.rounds // workers, (w + 1) * spec.rounds // workers) for w in range(workers)]
    if workers == 1:
        return run(chunks[0])
    with ThreadPoolExecutor(workers) as pool:
        return np.vstack(list(pool.map(run, chunks)))


def fit_bradley_terry(
    battles: Battles,
    *,
    scale: RatingScale = RatingScale(),
    anchor: Anchor = Anchor(),
    bootstrap: BootstrapSpec = BootstrapSpec(),
    ridge: float = DEFAULT_RIDGE,
    method: str = "bradley_terry",
    workers: int | None = None,
    ci: str = "bootstrap",
) -> RatingFit:
    """Bradley-Terry maximum likelihood on the Elo scale, fitting ``battles.features`` as covariates.

    Raises StatisticsError for an empty or disconnected comparison graph. ``workers`` threads share the
    bootstrap rounds (default: up to 2); results do not depend on it. ``ci="sandwich"`` (plain Bradley-Terry
    only) gives closed-form intervals (:mod:`judge.ratings.sandwich`) instead of the bootstrap; its ``samples``
    are then ``bootstrap.rounds`` (at least 1,000) draws from the normal approximation, for significance tests.
    """
    require_rateable(battles)
    data = aggregate_battles(battles)
    count, wins = data.row_totals(data.category_count)
    params, info = fit_newton(data.design, count, wins, ridge)
    n = len(battles.models)
    if ci == "sandwich":
        return _sandwich_fit(battles, data, params, scale, anchor, bootstrap, ridge, method)
    if ci != "bootstrap":
        raise InputError(f"expected bootstrap or sandwich, got {ci!r}", field="ci")
    samples = coefficient_samples = None
    if bootstrap.rounds:
        refitter = Refitter.at(data.design, params, info, ridge)
        jobs = max(1, min(workers or min(2, os.cpu_count() or 1), bootstrap.rounds))
        draws = _bootstrap(data, refitter, bootstrap, jobs)
        samples = anchor.offsets(draws[:, :n], battles.models, scale)
        coefficient_samples = draws[:, n:] * scale.points_per_logit
    return RatingFit(
        method=method,
        models=battles.models,
        ratings=anchor.offsets(params[:n], battles.models, scale),
        samples=samples,
        n_battles=battles.battles_per_model(),
        total_battles=battles.n_battles,
        scale=scale,
        anchor=anchor,
        bootstrap=bootstrap,
        params={"scale": scale.scale, "base": scale.base, "ridge": ridge, "ties": "half a win each"},
        coefficient_names=battles.feature_names,
        coefficients=params[n:] * scale.points_per_logit,
        coefficient_samples=coefficient_samples,
        notes=separation_notes(data, battles.models, ridge),
    )


def _sandwich_fit(
    battles: Battles,
    data: AggregatedBattles,
    params: FloatArray,
    scale: RatingScale,
    anchor: Anchor,
    bootstrap: BootstrapSpec,
    ridge: float,
    method: str,
) -> RatingFit:
    """The fit with closed-form sandwich intervals (no covariates)."""
    if battles.features is not None:
        raise InputError("sandwich intervals are for plain Bradley-Terry (no covariates): use bootstrap", field="ci")
    n = len(battles.models)
    theta = params[:n]
    covariance = sandwich_covariance(data.design, theta, data.category_row, data.category_score, data.category_count)
    if anchor.model is not None and anchor.model not in battles.models:
        raise InputError(f"anchor model {anchor.model!r} has no battles", field="anchor")
    anchor_index = None if anchor.model is None else battles.models.index(anchor.model)
    rating_cov = anchored_covariance(covariance, anchor_index, scale.points_per_logit)
    ratings = anchor.offsets(theta, battles.models, scale)
    draws = normal_draws(ratings, rating_cov, max(bootstrap.rounds, 1000), bootstrap.seed)
    return RatingFit(
        method=method,
        models=battles.models,
        ratings=ratings,
        samples=draws,
        n_battles=battles.battles_per_model(),
        total_battles=battles.n_battles,
        scale=scale,
        anchor=anchor,
        bootstrap=BootstrapSpec(rounds=0, seed=bootstrap.seed, ci_level=bootstrap.ci_level),
        params={
            "scale": scale.scale,
            "base": scale.base,
            "ridge": ridge,
            "ties": "half a win each",
            "ci": "sandwich: rating ± z·SE, SE from H⁻¹BH⁻¹ (robust to ties)",
            "significance_draws": int(draws.shape[0]),
        },
        notes=separation_notes(data, battles.models, ridge),
        ci_method="sandwich",
        closed_form_interval=normal_interval(ratings, rating_cov, bootstrap.ci_level),
    )
