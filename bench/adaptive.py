"""Adaptive judging: judge calls needed for the same ranking and the same CI width, adaptive vs full sweep.

Run ``.venv/bin/python bench/adaptive.py`` (``--quick`` for a smoke-sized run). A simulated judge at known ratings
(``--models`` models, one of them the baseline at 1000; the others at the ratings in ``RATINGS``, Elo scale) judges
every model against the baseline on ``--prompts`` prompts in both orders (Arena-Hard's plan); its verdicts are the
fake provider's ``bradley_terry`` behaviour (a seeded hash draw per request, ``--tie-rate`` ties), in-process, no
HTTP. For each of ``--seeds`` seeds, in the same run:

- **full sweep**: every verdict (models x prompts x 2 orders); Bradley-Terry on every unit (orders by the agree
  rule) anchored on the baseline, sandwich 95% CIs: its ranking and its widest CI half-width H.
- **adaptive, same ranking** (``--until-separated``): calls until every model's interval clears its neighbours';
  the run's final ranking is compared with the full sweep's.
- **adaptive, same CI width** (``--until-ci H``, H the full sweep's widest half-width of that seed): calls until
  every model's half-width is at most H.
- **uniform prefix**: the fewest waves after which the full sweep's own prefix (every model on the same prompts)
  meets the goal: what stopping everyone at once, without adaptivity, would need.

The adaptive runs use the run service's own schedule and rule (:mod:`judge.runs.adaptive`, waves of
``--wave-size`` prompts, ``--min-battles``). Then one smaller adaptive run goes through the real path (SQLite,
LiteLLM, the fake provider over HTTP) and the same schedule is simulated in-process on that run's items: the two
must agree on every model's calls and stop. Writes the "## Adaptive judging" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.report import write_section  # noqa: E402
from judge.ratings.adaptive import StoppingRule, separated  # noqa: E402
from judge.runs.adaptive import AdaptiveSchedule, WaveResult, drive  # noqa: E402
from judge.runs.combine import StoredVerdict  # noqa: E402
from judge.runs.plan import WorkItem  # noqa: E402

TITLE = "Adaptive judging"
BASELINE = "base"
# Spread on both sides of the baseline like an Arena-Hard board; with 10 models neighbours are 90 to 130 points apart
RATINGS = (1090.0, 910.0, 1190.0, 820.0, 1300.0, 720.0, 1420.0, 610.0, 480.0, 1550.0, 350.0)


def ratings_for(models: int) -> dict[str, float]:
    return {BASELINE: 1000.0} | {f"m{k + 1:02d}": RATINGS[k] for k in range(models - 1)}


def simulate(
    items: list[WorkItem],
    names: dict[int, str],
    ratings: dict[str, float],
    rule: StoppingRule,
    args: argparse.Namespace,
    seed: int,
    *,
    prompt_seed: int | None = None,
    judge: str = "sim-judge",
    after_wave: Callable[[AdaptiveSchedule], None] | None = None,
) -> AdaptiveSchedule:
    """An adaptive run of the run service's schedule against the simulated judge (judge seed ``seed``; prompt order
    seeded by ``prompt_seed``, default ``seed``), in-process: no HTTP, no store."""
    from judge.testing.simulated_judge import simulated_verdict

    schedule = AdaptiveSchedule(
        items,
        judges=[judge],
        rule=rule,
        wave_size=args.wave_size,
        seed=seed if prompt_seed is None else prompt_seed,
        baseline=BASELINE,
    )
    store: dict[str, StoredVerdict] = {}

    async def execute(wave: list[WorkItem]) -> WaveResult:
        for item in wave:
            store[item.verdict_key] = simulated_verdict(
                item, names[item.prompt_id], ratings, seed=seed, tie_rate=args.tie_rate
            )
        return WaveResult()

    async def load(keys: list[str]) -> list[StoredVerdict]:
        return [store[k] for k in keys]

    async def save(state: AdaptiveSchedule) -> None:
        if after_wave is not None:
            after_wave(state)

    asyncio.run(drive(schedule, execute, load, save=save))
    return schedule


def ranking_of(schedule: AdaptiveSchedule) -> list[str]:
    return [s.model for s in sorted(schedule.standings, key=lambda s: (-s.rating, s.model))]


def full_sweep(
    items: list[WorkItem], names: dict[int, str], ratings: dict[str, float], args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    """Every verdict (a rule no model meets: each is judged on every prompt), with the fit after every wave: the
    prefixes give the uniform-prefix figures."""
    prefixes: list[tuple[int, float, bool]] = []  # (calls, widest half-width, every model separated)

    def after_wave(schedule: AdaptiveSchedule) -> None:
        judged = [s for s in schedule.standings if s.model != BASELINE]
        ready = len(judged) == args.models - 1 and all(s.battles >= args.min_battles and s.finite for s in judged)
        widest = max(s.half_width for s in judged) if ready else float("inf")
        apart = ready and all(separated(schedule.standings, s.model) for s in judged)
        prefixes.append((schedule.n_calls, widest, apart))

    never = StoppingRule(until_ci=1e-9, min_battles=args.min_battles)
    schedule = simulate(items, names, ratings, never, args, seed, after_wave=after_wave)
    assert schedule.n_calls == len(items)
    return {"calls": schedule.n_calls, "ranking": ranking_of(schedule), "widest": prefixes[-1][1], "prefixes": prefixes}


def first_prefix(prefixes: list[tuple[int, float, bool]], reached: Any, calls: int) -> int:
    return next((c for c, widest, sep in prefixes if reached(widest, sep)), calls)


def sweep_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    from judge.testing.simulated_judge import rated_items

    ratings = ratings_for(args.models)
    items, names = rated_items(list(ratings), args.prompts, baseline=BASELINE)
    full = full_sweep(items, names, ratings, args, seed)
    true_ranking = sorted(ratings, key=lambda m: -ratings[m])
    separated_run = simulate(
        items, names, ratings, StoppingRule(until_separated=True, min_battles=args.min_battles), args, seed
    )
    ci_run = simulate(
        items, names, ratings, StoppingRule(until_ci=full["widest"], min_battles=args.min_battles), args, seed
    )
    reasons = [row["stopped"] for m, row in separated_run.report()["models"].items() if m != BASELINE]
    return {
        "full_calls": full["calls"],
        "full_true": full["ranking"] == true_ranking,
        "widest": full["widest"],
        "sep_calls": separated_run.n_calls,
        "sep_same": ranking_of(separated_run) == full["ranking"],
        "sep_exhausted": reasons.count("exhausted"),
        "sep_uniform": first_prefix(full["prefixes"], lambda _w, sep: sep, full["calls"]),
        "ci_calls": ci_run.n_calls,
        "ci_within": all(s.half_width <= full["widest"] * (1 + 1e-6) for s in ci_run.standings if s.model != BASELINE),
        "ci_same": ranking_of(ci_run) == full["ranking"],
        "ci_uniform": first_prefix(full["prefixes"], lambda w, _sep: w <= full["widest"], full["calls"]),
    }


def machinery(args: argparse.Namespace) -> dict[str, Any]:
    """One adaptive run through SQLite, LiteLLM and the fake provider, and the in-process simulation of the same
    items: per model (calls, stop reason) must be equal."""
    from judge.llm.client import LiteLLMClient
    from judge.runs.request import JudgeSpec, RunConfig
    from judge.runs.service import create_run, execute_run, get_run
    from judge.store.engine import make_engine, session_scope, upgrade_database
    from judge.store.ingest import write_bundle
    from judge.store.verdicts import load_catalog, load_run_items
    from judge.testing.fake_provider import FakeProvider
    from judge.testing.toy import rated_bundle

    ratings = ratings_for(args.small_models)
    seed, prompt_seed = 99, 5
    with tempfile.TemporaryDirectory() as folder, FakeProvider() as provider:
        url = f"sqlite:///{Path(folder) / 'judge.db'}"
        upgrade_database(url)
        engine = make_engine(url)
        with session_scope(engine) as session:
            write_bundle(session, set_name="rated", bundle=rated_bundle(list(ratings), args.small_prompts))
        provider.script(
            default={"kind": "bradley_terry", "ratings": ratings, "seed": seed, "tie_rate": args.tie_rate}  # type: ignore[arg-type]
        )
        config = RunConfig(
            set_name="rated",
            judges=(JudgeSpec(model="openai/fake-judge", api_base=provider.url),),
            pairs=f"baseline:{BASELINE}",
            until_separated=True,
            min_battles=args.min_battles,
            wave_size=args.wave_size,
            prompt_seed=prompt_seed,
            concurrency=16,
        )
        with session_scope(engine) as session:
            run, plan = create_run(session, config=config)
            run_id = run.id
        assert run_id is not None
        started = time.perf_counter()
        asyncio.run(execute_run(engine, run_id, LiteLLMClient()))
        elapsed = time.perf_counter() - started
        calls = provider.counts()["received"]
        with session_scope(engine) as session:
            state = get_run(session, run_id=run_id).config["adaptive_state"]
            items = load_run_items(session, run_id=run_id)
            catalog = load_catalog(session, set_id=get_run(session, run_id=run_id).set_id)
        engine.dispose()
    names = {pid: p.external_id for pid, p in catalog.prompts.items()}
    rule = StoppingRule(until_separated=True, min_battles=args.min_battles)
    sim = simulate(items, names, ratings, rule, args, seed, prompt_seed=prompt_seed, judge="openai/fake-judge")
    real = {m: (row["calls"], row["stopped"]) for m, row in state["models"].items()}
    simulated = {m: (row["calls"], row["stopped"]) for m, row in sim.report()["models"].items()}
    return {
        "planned": len(plan.items),
        "calls": calls,
        "state_calls": state["calls"],
        "agree": real == simulated,
        "elapsed": elapsed,
        "models": args.small_models,
        "prompts": args.small_prompts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke size: 2 seeds, 6 models, 200 prompts")
    parser.add_argument("--models", type=int, default=10, help="models, the baseline included (at most 12)")
    parser.add_argument("--prompts", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--wave-size", type=int, default=20)
    parser.add_argument("--min-battles", type=int, default=50)
    parser.add_argument("--tie-rate", type=float, default=0.1)
    parser.add_argument("--small-models", type=int, default=5, help="models of the run through the fake provider")
    parser.add_argument("--small-prompts", type=int, default=120)
    parser.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.models, args.prompts, args.small_prompts = 2, 6, 200, 60
    started = time.perf_counter()
    rows = []
    for seed in range(args.seeds):
        rows.append(sweep_seed(args, 1000 + seed))
        print(seed, rows[-1], flush=True)
    simulated_s = time.perf_counter() - started
    real = machinery(args)
    print(real, flush=True)
    load = os.getloadavg()[0]

    def mean(key: str) -> float:
        return statistics.fmean(r[key] for r in rows)

    def saving(calls: str, against: str) -> str:
        ratios = [r[calls] / r[against] for r in rows]
        return f"{1 - statistics.fmean(ratios):.0%} ({1 - max(ratios):.0%}-{1 - min(ratios):.0%})"

    n = len(rows)
    full = mean("full_calls")
    table = [
        "| goal | full sweep calls | adaptive calls (mean) | fewer than the full sweep: mean (range) "
        "| uniform-prefix calls (mean) | fewer than the uniform prefix | adaptive reaches the goal |",
        "|---|---:|---:|---:|---:|---:|---|",
        f"| same ranking (`--until-separated`) | {full:,.0f} | {mean('sep_calls'):,.0f} "
        f"| {saving('sep_calls', 'full_calls')} | {mean('sep_uniform'):,.0f} | {saving('sep_calls', 'sep_uniform')} "
        f"| full sweep's ranking in {sum(r['sep_same'] for r in rows)}/{n} seeds |",
        f"| same CI width (`--until-ci H`) | {full:,.0f} | {mean('ci_calls'):,.0f} "
        f"| {saving('ci_calls', 'full_calls')} | {mean('ci_uniform'):,.0f} | {saving('ci_calls', 'ci_uniform')} "
        f"| every half-width ≤ H (to 10⁻⁶, numerical) in {sum(r['ci_within'] for r in rows)}/{n} seeds "
        f"(and the full sweep's ranking in {sum(r['ci_same'] for r in rows)}/{n}) |",
    ]
    ratings = ratings_for(args.models)
    listing = ", ".join(f"{m} {r:g}" for m, r in sorted(ratings.items(), key=lambda kv: -kv[1]))
    body = "\n".join(
        [
            f"{args.models} models ({listing}; "
            f"Elo scale) judged against the baseline `{BASELINE}` on {args.prompts} prompts in both orders by a "
            f"simulated judge at those ratings ({args.tie_rate:.0%} ties; the fake provider's `bradley_terry` draw, "
            f"in-process), {args.seeds} seeds; waves of {args.wave_size} prompts, at least {args.min_battles} battles "
            f"before a model may stop. Full sweep and adaptive runs in the same invocation, on the same verdicts "
            f"(one seed = one judge and one prompt order). H = the full sweep's widest 95% half-width in that seed "
            f"(mean {mean('widest'):.0f} rating points). The uniform prefix is the full sweep stopped, for every "
            f"model at once, after the first wave at which it meets the goal: the saving beyond that is the "
            f"adaptivity's own.",
            "",
            *table,
            "",
            f"The full sweep ranks the models in their true order in {sum(r['full_true'] for r in rows)}/{n} seeds; "
            f"`--until-separated` left {sum(r['sep_exhausted'] for r in rows)} model-runs unseparated when the "
            f"prompts ran out (`exhausted`). Simulated part: {simulated_s:.0f} s (load average {load:.1f} on "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}).",
            "",
            "Caveats: the saving grows with the spread of the ratings (neighbours 90 to 130 points apart here); a "
            "pair closer than the full sweep itself can separate is judged to the last prompt (`exhausted`) under "
            "`--until-separated`, so a board of near-ties saves little. The rule looks at each interval after every "
            "wave and the nominal 95% is not corrected for those repeated looks (`--min-battles` guards the first, "
            "noisiest waves); the CI width row shows the intervals reached, not their coverage.",
            "",
            f"Through the real path (SQLite, LiteLLM, the fake provider over HTTP: `judge.runs.service.execute_run` "
            f"with `--until-separated`): {real['models']} models, {real['prompts']} prompts, "
            f"{real['calls']:,} judge calls of {real['planned']:,} planned ({1 - real['calls'] / real['planned']:.0%} "
            f"fewer), {real['elapsed']:.1f} s; the in-process simulation of the same items and seeds "
            f"{'gives the same calls and stop reason for every model' if real['agree'] else 'DISAGREES'}.",
        ]
    )
    print(body)
    if not args.no_write:
        command = ".venv/bin/python bench/adaptive.py" + (" --quick" if args.quick else "")
        write_section(TITLE, body, command=command)


if __name__ == "__main__":
    main()
