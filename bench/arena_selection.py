"""Arena pair selection: how many votes active selection saves over uniform pairs, with simulated voters.

Run ``.venv/bin/python bench/arena_selection.py`` (``--quick`` for a smoke-sized run). Both strategies run in the
same invocation on the same simulated arenas (same true ratings, same seeds): ``--models`` models with true
ratings 1000, 1000 + ``--gap``, ... (Elo scale), ``--prompts`` prompts, ``--voters`` voters, each vote from a random
voter who is never shown the same (prompt, pair) twice; outcomes follow Bradley-Terry with ``--tie-rate`` ties.
After every ``--check`` votes the selector's own Bradley-Terry state (MAP with a N(0, 1) prior per log-strength,
Laplace covariance; refitted every ``--check`` votes, as a server with many voters sees it) is checked against two
goals:

- **ranking**: the fitted order is the true order and every adjacent pair is separated at 95% (|diff| / sd > 1.96);
- **CI width**: every model's 95% interval (relative to the mean rating) is at most ``--width`` points wide.

Figures: mean votes to reach each goal (runs that hit ``--budget`` count as the budget), and the ratio
active / uniform. Written to the "## Arena pair selection" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import itertools
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import replace_section  # noqa: E402
from judge.arena.selection import RatingState, Strategy, choose_pair, fit_counts  # noqa: E402

POINTS_PER_LOGIT = 400.0 / math.log(10.0)
TITLE = "Arena pair selection"


def ranking_reached(state: RatingState, true_order: list[int]) -> bool:
    if list(np.argsort(-state.theta, kind="stable")) != true_order:
        return False
    for hi, lo in itertools.pairwise(true_order):
        mean, var = state.difference(state.models[hi], state.models[lo])
        if mean / math.sqrt(var) <= 1.96:
            return False
    return True


def max_ci_width(state: RatingState) -> float:
    k = len(state.models)
    centred = np.eye(k) - 1.0 / k
    variances = np.einsum("ij,jk,ik->i", centred, state.cov, centred)
    return float(2 * 1.96 * np.sqrt(variances.max()) * POINTS_PER_LOGIT)


def simulate(strategy: Strategy, seed: int, args: argparse.Namespace) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    k = args.models
    names = tuple(f"m{i:02d}" for i in range(k))
    true = np.array([args.gap * i for i in range(k)]) / POINTS_PER_LOGIT
    true_order = list(np.argsort(-true))
    pairs = [(names[i], names[j]) for i in range(k) for j in range(i + 1, k)]
    index = {name: i for i, name in enumerate(names)}
    seen: list[dict[tuple[str, str], set[int]]] = [{p: set() for p in pairs} for _ in range(args.voters)]
    count, wins = np.zeros((k, k)), np.zeros((k, k))
    state = fit_counts(names, count, wins)
    reached: dict[str, int] = {}
    for n in range(1, args.budget + 1):
        voter = int(rng.integers(args.voters))
        available = [p for p in pairs if len(seen[voter][p]) < args.prompts]
        pair = choose_pair(available, state, strategy, rng)
        assert pair is not None
        unseen = [q for q in range(args.prompts) if q not in seen[voter][pair]] if seen[voter][pair] else None
        prompt = int(rng.integers(args.prompts)) if unseen is None else unseen[int(rng.integers(len(unseen)))]
        seen[voter][pair].add(prompt)
        i, j = index[pair[0]], index[pair[1]]
        p = 1.0 / (1.0 + math.exp(-(true[i] - true[j])))
        s = 0.5 if rng.random() < args.tie_rate else float(rng.random() < p)
        count[i, j] += 1
        count[j, i] += 1
        wins[i, j] += s
        wins[j, i] += 1 - s
        if n % args.check == 0:
            state = fit_counts(names, count, wins)
            if "ranking" not in reached and ranking_reached(state, true_order):
                reached["ranking"] = n
            if "width" not in reached and max_ci_width(state) <= args.width:
                reached["width"] = n
            if len(reached) == 2:
                break
    return {goal: reached.get(goal, args.budget) for goal in ("ranking", "width")} | {"capped": int(len(reached) < 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke size: 2 seeds, 6 models")
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--gap", type=float, default=50.0, help="rating points between neighbours")
    parser.add_argument("--prompts", type=int, default=300)
    parser.add_argument("--voters", type=int, default=50)
    parser.add_argument("--tie-rate", type=float, default=0.1)
    parser.add_argument("--width", type=float, default=100.0, help="target 95%% CI width in rating points")
    parser.add_argument("--check", type=int, default=10)
    parser.add_argument("--budget", type=int, default=30_000)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.models = 2, 6
    started = time.perf_counter()
    results: dict[str, list[dict[str, int]]] = {"uniform": [], "active": []}
    for seed in range(args.seeds):
        for strategy in ("uniform", "active"):
            results[strategy].append(simulate(strategy, 1000 + seed, args))
            print(strategy, seed, results[strategy][-1], flush=True)
    elapsed = time.perf_counter() - started
    mean: dict[str, dict[str, float]] = {
        s: {g: float(np.mean([r[g] for r in runs])) for g in ("ranking", "width")} for s, runs in results.items()
    }
    capped = {s: sum(r["capped"] for r in runs) for s, runs in results.items()}
    rows: list[Any] = []
    for goal, label in (
        ("ranking", "true ranking, adjacent pairs separated at 95%"),
        ("width", f"every 95% CI ≤ {args.width:g} points"),
    ):
        u, a = mean["uniform"][goal], mean["active"][goal]
        per_seed = [ra[goal] / ru[goal] for ru, ra in zip(results["uniform"], results["active"], strict=True)]
        saving = f"{1 - a / u:.0%} fewer" if a < u else f"{a / u:.1f}× as many"
        rows.append(f"| {label} | {u:,.0f} | {a:,.0f} | {saving} | {min(per_seed):.2f}-{max(per_seed):.2f} |")
    section = "\n".join(
        [
            f"## {TITLE}",
            "",
            f"`.venv/bin/python bench/arena_selection.py` ({args.seeds} seeds; {args.models} models with true ratings "
            f"{args.gap:g} points apart, {args.prompts} prompts, {args.voters} voters never shown a unit twice, "
            f"{args.tie_rate:.0%} ties, state refitted every {args.check} votes, budget {args.budget:,} votes). "
            f"Both strategies in the same run, same arenas and seeds; {elapsed:.0f} s on "
            f"{platform.python_version()} / numpy {np.__version__}.",
            "",
            "| votes needed to reach | uniform (mean) | active (mean) | saving | active/uniform per seed |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"Runs that hit the budget: uniform {capped['uniform']}, active {capped['active']} "
            "(counted at the budget). "
            "Active selection draws a pair with probability ∝ (P(order wrong) × expected variance shrinkage of the "
            "pair's rating difference)²; goal ≥ 30% fewer votes to the ranking. It spends votes where the order is "
            "in doubt, so it certifies the ranking sooner but narrows the intervals of well-separated models later "
            "than uniform pairs do (the CI-width row).",
            "",
        ]
    )
    print(section)
    if not args.no_write:
        replace_section(TITLE, section)


if __name__ == "__main__":
    main()
