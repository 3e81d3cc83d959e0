"""Ratings benchmark: Bradley-Terry with bootstrap vs per-battle logistic regression, style control, Elo.

Run ``.venv/bin/python bench/ratings.py`` (``--quick`` for a smoke-sized run). Each measured phase runs in
its own subprocess so its peak RSS is its own; the figures are printed and written to the "## Ratings"
section of BENCHMARKS.md (other sections are left as they are). Synthetic battles: 200 models with ratings
drawn from N(1000, 150), uniform random pairs, 20% tie rate scale, outcomes from the Bradley-Terry model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from judge.ratings import (  # noqa: E402
    BootstrapSpec,
    fit_bradley_terry,
    fit_logistic_per_battle,
    fit_style_controlled,
    run_elo,
    simulate_battles,
    style_covariates,
)
from judge.ratings.battles import Battles  # noqa: E402

SEED = 20240601
STYLE_COEFFICIENTS = np.array([40.0, 10.0, 15.0, 5.0])  # rating points per unit of standardised covariate


def make_battles(n_battles: int, n_models: int, style: bool) -> tuple[Battles, np.ndarray]:
    rng = np.random.default_rng(SEED)
    true = rng.normal(1000.0, 150.0, n_models)
    if not style:
        return simulate_battles(true, n_battles, rng, tie_rate=0.2), true
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    verbosity = rng.lognormal(0.0, 0.4, n_models)

    def counts(side: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [
                rng.poisson(300.0 * verbosity[side] * rng.lognormal(0.0, 0.5, len(side))),
                rng.poisson(0.5 * verbosity[side]),
                rng.poisson(3.0 * verbosity[side]),
                rng.poisson(1.5, len(side)),
            ]
        )

    x = style_covariates(counts(a), counts(b))
    gap = true[a] - true[b] + x @ STYLE_COEFFICIENTS
    p = 1.0 / (1.0 + 10.0 ** (-gap / 400.0))
    outcome = (rng.random(n_battles) < p).astype(np.float64)
    models = tuple(f"model-{k:03d}" for k in range(n_models))
    plain = Battles(models, a.astype(np.int64), b.astype(np.int64), outcome)
    return plain.with_features(x, ("length", "headers", "list_items", "bold")), true


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def phase(name: str, n_battles: int, n_models: int, rounds: int, baseline_rounds: int) -> dict[str, Any]:
    """One measured phase, run inside its own process."""
    battles, _ = make_battles(n_battles, n_models, style=name == "style")
    out: dict[str, Any] = {"phase": name}
    if name == "bt":
        start = time.perf_counter()
        fit = fit_bradley_terry(battles, bootstrap=BootstrapSpec(rounds, seed=1))
        out["seconds"] = time.perf_counter() - start
        out["ratings"] = fit.ratings.tolist()
        out["ci_width_median"] = float(np.median(np.diff(np.array(fit.rating_interval()), axis=0)))
    elif name == "baseline":
        start = time.perf_counter()
        ratings, _ = fit_logistic_per_battle(battles)
        out["full_fit_seconds"] = time.perf_counter() - start
        out["ratings"] = ratings.tolist()
        rng = np.random.default_rng(1)
        start = time.perf_counter()
        for _ in range(baseline_rounds):
            weights = np.bincount(rng.integers(0, n_battles, n_battles), minlength=n_battles).astype(np.float64)
            fit_logistic_per_battle(battles, weights=weights)
        out["seconds_per_round"] = (time.perf_counter() - start) / baseline_rounds
    elif name == "style":
        start = time.perf_counter()
        fit = fit_style_controlled(battles, bootstrap=BootstrapSpec(rounds, seed=1))
        out["seconds"] = time.perf_counter() - start
        interval = fit.coefficient_interval()
        assert interval is not None
        out["coefficients"] = [
            [float(v), float(lo), float(hi)] for v, lo, hi in zip(fit.coefficients, *interval, strict=True)
        ]
    elif name == "elo":
        start = time.perf_counter()
        run_elo(battles)
        out["seconds"] = time.perf_counter() - start
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def run_phase(name: str, args: argparse.Namespace, rounds: int) -> dict[str, Any]:
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # 200x200 solves: BLAS threads only contend with ours
    command = [
        sys.executable,
        __file__,
        "--phase",
        name,
        "--battles",
        str(args.battles),
        "--models",
        str(args.models),
        "--rounds",
        str(rounds),
        "--baseline-rounds",
        str(args.baseline_rounds),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def cpu_name() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    match = re.search(r"model name\s*:\s*(.+)", text)
    return match.group(1).strip() if match else "unknown CPU"


def write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Ratings\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    found = pattern.search(text)
    path.write_text(pattern.sub(lambda _: section, text) if found else text.rstrip("\n") + "\n\n" + section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke size: 20,000 battles, 50 models, 100 rounds")
    parser.add_argument("--battles", type=int, default=2_000_000)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--style-rounds", type=int, default=1000)
    parser.add_argument("--baseline-rounds", type=int, default=2)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.battles, args.models, args.rounds, args.baseline_rounds)))
        return
    if args.quick:
        args.battles, args.models, args.rounds, args.style_rounds = 20_000, 50, 100, 100
    load = os.getloadavg()[0]
    bt = run_phase("bt", args, args.rounds)
    print(f"BT + {args.rounds} bootstrap rounds: {bt['seconds']:.2f} s, peak RSS {bt['peak_rss_mb']:.0f} MB")
    base = run_phase("baseline", args, args.rounds)
    scaled = base["seconds_per_round"] * args.rounds
    ratio = scaled / bt["seconds"]
    gap = float(np.max(np.abs(np.array(bt["ratings"]) - np.array(base["ratings"]))))
    print(
        f"per-battle logistic regression: {base['seconds_per_round']:.2f} s/round -> {scaled:.0f} s for "
        f"{args.rounds} rounds; speed-up {ratio:.0f}x; max rating difference {gap:.4f} points"
    )
    style = run_phase("style", args, args.style_rounds)
    print(
        f"style-controlled BT + {args.style_rounds} rounds: {style['seconds']:.2f} s, "
        f"peak RSS {style['peak_rss_mb']:.0f} MB"
    )
    elo = run_phase("elo", args, 0)
    print(f"online Elo: {elo['seconds']:.2f} s")

    cores = os.cpu_count()
    names = ("length", "headers", "list items", "bold")
    coefficient_rows = "\n".join(
        f"| {n} | {t:.0f} | {v:.1f} [{lo:.1f}, {hi:.1f}] |"
        for n, t, (v, lo, hi) in zip(names, STYLE_COEFFICIENTS, style["coefficients"], strict=True)
    )
    mark = "✓" if not args.quick else "(quick run: targets apply to the full size)"

    def verdict(ok: bool) -> str:
        return mark if ok or args.quick else "✗"

    table = [
        (
            f"Bradley-Terry + {args.rounds} bootstrap rounds (95% CI)",
            f"{bt['seconds']:.2f} s",
            "≤ 10 s",
            verdict(bt["seconds"] <= 10),
        ),
        (
            f"per-battle logistic regression (scipy L-BFGS, one row per battle), {args.baseline_rounds} rounds "
            "measured",
            f"{base['seconds_per_round']:.2f} s/round → {scaled:,.0f} s for {args.rounds}",
            "",
            "",
        ),
        (
            "speed-up of aggregated BT + bootstrap over the per-battle baseline",
            f"{ratio:,.0f}×",
            "≥ 50×",
            verdict(ratio >= 50),
        ),
        ("max rating difference, aggregated vs per-battle fit", f"{gap:.4f} points", "< 0.5", verdict(gap < 0.5)),
        (
            f"style-controlled BT (4 covariates) + {args.style_rounds} bootstrap rounds",
            f"{style['seconds']:.2f} s",
            "≤ 60 s",
            verdict(style["seconds"] <= 60),
        ),
        ("online Elo, one pass", f"{elo['seconds']:.2f} s", "≤ 2 s", verdict(elo["seconds"] <= 2)),
        ("peak RSS, BT + bootstrap", f"{bt['peak_rss_mb']:.0f} MB", "≤ 1,536 MB", verdict(bt["peak_rss_mb"] <= 1536)),
        ("peak RSS, style-controlled BT + bootstrap", f"{style['peak_rss_mb']:.0f} MB", "", ""),
        ("median 95% CI width, BT", f"{bt['ci_width_median']:.1f} points", "", ""),
    ]
    table_rows = "\n".join("| " + " | ".join(cells) + " |" for cells in table)
    kind = "--quick" if args.quick else "full size"
    section = f"""## Ratings

`bench/ratings.py` ({kind}): {args.battles:,} synthetic battles among
{args.models} models (true ratings N(1000, 150), 20% tie-rate scale, Bradley-Terry outcomes), seed {SEED}.
Machine: {cores} cores ({cpu_name()}), load average {load:.1f} at start (shared machine), Python
{platform.python_version()}, numpy {np.__version__}; OPENBLAS_NUM_THREADS=1, bootstrap on 2 threads. Each
phase runs in its own process; peak RSS is that process's maximum resident set (data generation included).

| measurement | figure | target | |
|---|---|---|---|
{table_rows}

Style coefficients recovered (rating points per unit of standardised covariate, 95% CI):

| covariate | true | fitted [CI] |
|---|---|---|
{coefficient_rows}

How: plain BT aggregates the battles into one row per model pair (win/tie/loss counts, ≤ 19,900 rows for
200 models); each bootstrap round is an exact multinomial redraw of those counts (same distribution as
resampling battles with replacement) refitted from the full-data maximum by chord-Newton steps. The
baseline fits one row per battle. Style control cannot aggregate continuous covariates and fits per battle,
in single precision for the bootstrap passes.
"""
    print(section)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", section)


if __name__ == "__main__":
    main()
