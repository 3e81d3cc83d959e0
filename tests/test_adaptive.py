"""Adaptive judging: the stopping rule (hand-checked cases, a seeded simulation) and adaptive runs end to end
through LiteLLM and the fake provider's simulated judge at known ratings (fewer calls, same ranking, resume,
budget)."""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from judge.core.errors import InputError
from judge.llm.client import LiteLLMClient
from judge.ratings.adaptive import (
    Standing,
    StoppingRule,
    StopReason,
    fit_standings,
    separated,
    stopping_decisions,
)
from judge.ratings.battles import Battles
from judge.runs.adaptive import AdaptiveSchedule, WaveResult, drive, prompt_order
from judge.runs.combine import StoredVerdict
from judge.runs.plan import WorkItem
from judge.runs.request import JudgeSpec, RunConfig
from judge.runs.service import create_run, execute_run, get_run, prepare_resume, stored_verdicts
from judge.store.engine import make_engine, session_scope, upgrade_database
from judge.store.ingest import write_bundle
from judge.testing.fake_provider import FakeProvider, bradley_terry_label
from judge.testing.simulated_judge import rated_items, simulated_verdict
from judge.testing.toy import rated_bundle
from tests.test_api_fixtures import Api, api, run_body
from tests.toy import FAST_RETRIES, summary

__all__ = ["api"]

# --- the rule, by hand -------------------------------------------------------------------------------------------


def standing(model: str, rating: float, half: float, battles: int = 100, *, finite: bool = True) -> Standing:
    return Standing(
        model=model, rating=rating, ci_low=rating - half, ci_high=rating + half, battles=battles, finite=finite
    )


BOARD = [
    standing("top", 1200, 50),  # [1150, 1250]: clear of mid's [980, 1020]
    standing("mid", 1000, 20),  # narrow, but overlaps low's [940, 1040]
    standing("low", 990, 50),
]


def test_ci_rule_stops_exactly_the_models_narrow_enough() -> None:
    rule = StoppingRule(until_ci=25)
    assert stopping_decisions(BOARD, rule, active={"top", "mid", "low"}) == {"mid": StopReason.CI_REACHED}
    assert stopping_decisions(BOARD, StoppingRule(until_ci=50), active={"top", "mid", "low"}) == {
        m: StopReason.CI_REACHED for m in ("top", "mid", "low")
    }


def test_separation_needs_both_neighbours_cleared() -> None:
    assert separated(BOARD, "top")  # one neighbour (mid), cleared: 1150 > 1020
    assert not separated(BOARD, "mid")  # clears top, overlaps low
    assert not separated(BOARD, "low")
    decisions = stopping_decisions(BOARD, StoppingRule(until_separated=True), active={"top", "mid", "low"})
    assert decisions == {"top": StopReason.SEPARATED}
    # touching intervals are not disjoint
    assert not separated([standing("a", 1100, 50), standing("b", 1000, 50)], "a")


def test_rule_skips_inactive_young_and_unbounded_models_and_prefers_ci() -> None:
    rule = StoppingRule(until_ci=60, until_separated=True, min_battles=50)
    board = [
        standing("top", 1200, 50),
        standing("young", 1000, 20, battles=49),
        standing("unbounded", 800, 5, finite=False),
    ]
    assert stopping_decisions(board, rule, active={"young", "unbounded"}) == {}
    # top is both narrow and separated: the CI reason comes first
    assert stopping_decisions(board, rule, active={"top"}) == {"top": StopReason.CI_REACHED}
    with pytest.raises(InputError):
        StoppingRule()


def test_fit_against_a_baseline_is_the_log_odds_of_beating_it() -> None:
    # x beats base 30 times in 40 (no ties): rating 1000 + 400 log10(3); the sandwich SE of one pair is
    # 1 / sqrt(n p (1 - p)) logits, 173.7 points per logit
    outcome = np.array([1.0] * 30 + [0.0] * 10)
    a, b = np.full(40, 1), np.zeros(40, dtype=np.int64)
    won_all = np.ones(10)  # y beats base 10 times in 10: no finite rating
    battles = Battles(
        ("base", "x", "y"),
        np.concatenate([a, np.full(10, 2)]).astype(np.int64),
        np.concatenate([b, np.zeros(10, dtype=np.int64)]),
        np.concatenate([outcome, won_all]),
    )
    board = {s.model: s for s in fit_standings(battles, anchor="base")}
    assert board["base"].rating == pytest.approx(1000.0) and board["base"].half_width == pytest.approx(0.0, abs=1e-6)
    x = board["x"]
    assert x.rating == pytest.approx(1000 + 400 * math.log10(3), abs=0.05)
    se = 400 / math.log(10) / math.sqrt(40 * 0.75 * 0.25)
    assert x.half_width == pytest.approx(1.959964 * se, rel=1e-3)  # 124.3 points
    assert (x.battles, x.finite, board["y"].finite) == (40, True, False)


# --- the rule on a seeded simulation ---------------------------------------------------------------------------

TRUE = {"base": 1000.0, "m1": 1150.0, "m2": 850.0, "m3": 1350.0, "m4": 600.0}


def simulate(
    items: Sequence[WorkItem],
    names: dict[int, str],
    rule: StoppingRule,
    *,
    seed: int,
    wave_size: int = 10,
    baseline: str | None = "base",
) -> AdaptiveSchedule:
    schedule = AdaptiveSchedule(
        items, judges=["sim-judge"], rule=rule, wave_size=wave_size, seed=seed, baseline=baseline
    )
    store: dict[str, StoredVerdict] = {}

    async def execute(wave: list[WorkItem]) -> WaveResult:
        for item in wave:
            store[item.verdict_key] = simulated_verdict(item, names[item.prompt_id], TRUE, seed=seed, tie_rate=0.1)
        return WaveResult()

    async def load(keys: list[str]) -> list[StoredVerdict]:
        return [store[k] for k in keys]

    assert asyncio.run(drive(schedule, execute, load)) is None
    return schedule


def true_ranking() -> list[str]:
    return sorted(TRUE, key=lambda m: -TRUE[m])


def ranking(state: dict[str, Any]) -> list[str]:
    return sorted(state["models"], key=lambda m: -state["models"][m]["now"]["rating"])


def test_seeded_simulation_stops_early_with_the_true_ranking() -> None:
    items, names = rated_items(list(TRUE), 300, baseline="base")
    rule = StoppingRule(until_separated=True, until_ci=80, min_battles=30)
    schedule = simulate(items, names, rule, seed=7)
    state = schedule.report()
    assert state["calls"] < 0.6 * len(items)  # at least 40% fewer verdicts than the full sweep
    assert ranking(state) == true_ranking()
    assert not schedule.active and state["active"] == []
    for model, row in state["models"].items():
        if model == "base":
            assert row["role"] == "baseline" and row["calls"] == row["prompts"] == 0 and row["stopped"] is None
            continue
        assert row["stopped"] in ("ci_reached", "separated"), (model, row)
        at_stop = row["at_stop"]
        assert at_stop["battles"] >= 30
        if row["stopped"] == "ci_reached":
            assert at_stop["half_width"] <= 80
        # a model's verdicts: both orders of each prompt it was judged on, all in the waves before it stopped
        assert row["calls"] == 2 * row["prompts"] and row["prompts"] <= 10 * row["wave"]
    # the same seed decides the same way; another seed orders the prompts differently
    assert simulate(items, names, rule, seed=7).report() == state
    assert prompt_order(range(300), 7) != prompt_order(range(300), 8)


def test_a_model_never_stops_before_min_battles_or_while_unbeaten() -> None:
    items, names = rated_items(list(TRUE), 40, baseline="base")
    schedule = simulate(items, names, StoppingRule(until_ci=1000, min_battles=25), seed=3)
    for model, row in schedule.report()["models"].items():
        if model != "base":
            assert row["at_stop"]["battles"] >= 25 and row["wave"] >= 3  # waves of 10 prompts


def test_all_pairs_anchor_on_the_mean_and_judge_a_pair_while_either_model_is_judged() -> None:
    items, names = rated_items(list(TRUE), 120, baseline=None)  # 10 pairs per prompt
    schedule = simulate(items, names, StoppingRule(until_separated=True, min_battles=40), seed=4, baseline=None)
    state = schedule.report()
    assert all(row["role"] == "judged" and row["stopped"] == "separated" for row in state["models"].values())
    assert ranking(state) == true_ranking() and state["calls"] < len(items)
    assert statistics.fmean(row["now"]["rating"] for row in state["models"].values()) == pytest.approx(1000.0)
    stopped_at = {m: row["wave"] for m, row in state["models"].items()}
    for unit in schedule.scheduled:  # asked for only while one of its two models was still judged
        wave = 1 + next(k for k, p in enumerate(schedule.order) if p == unit[0]) // 10
        assert wave <= max(stopped_at[unit[1]], stopped_at[str(unit[2])])


# --- adaptive runs end to end: LiteLLM -> fake provider (a judge at known ratings) -> store ----------------------

PROMPTS = 40
SEED = 11


def bt_judge(seed: int = SEED) -> dict[str, Any]:
    return {"kind": "bradley_terry", "ratings": TRUE, "seed": seed, "tie_rate": 0.1}


@pytest.fixture
def rated_store(tmp_path: Path) -> Iterator[Engine]:
    engine = rated_engine(tmp_path / "rated.db")
    yield engine
    engine.dispose()


def rated_engine(path: Path) -> Engine:
    url = f"sqlite:///{path}"
    upgrade_database(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        write_bundle(session, set_name="rated", bundle=rated_bundle(list(TRUE), PROMPTS))
    return engine


def rated_config(provider: FakeProvider, **overrides: Any) -> RunConfig:
    values: dict[str, Any] = {
        "set_name": "rated",
        "judges": (JudgeSpec(model="openai/fake-judge", api_base=provider.url),),
        "pairs": "baseline:base",
        "concurrency": 8,
        "timeout_s": 5.0,
    }
    return RunConfig(**(values | overrides))


ADAPTIVE = {"until_separated": True, "until_ci": 150.0, "min_battles": 10, "wave_size": 5, "prompt_seed": 5}


def start(engine: Engine, cfg: RunConfig) -> int:
    with session_scope(engine) as session:
        created, _ = create_run(session, config=cfg)
    assert created.id is not None
    return created.id


def execute(engine: Engine, run_id: int) -> Any:
    return asyncio.run(execute_run(engine, run_id, LiteLLMClient(FAST_RETRIES)))


def run_ranking(engine: Engine, run_id: int) -> list[str]:
    """The ranking of Bradley-Terry on every complete unit of a run (orders by the agree rule)."""
    with session_scope(engine) as session:
        verdicts = stored_verdicts(session, run=get_run(session, run_id=run_id))
    schedule = AdaptiveSchedule(
        [v.item for v in verdicts],
        judges=["openai/fake-judge"],
        rule=StoppingRule(until_separated=True),
        wave_size=PROMPTS,
        seed=0,
        baseline="base",
    )
    wave = schedule.next_wave()
    assert wave is not None
    schedule.begin(wave)
    schedule.record(verdicts)
    board = fit_standings(schedule.battles(), anchor="base")
    return [s.model for s in sorted(board, key=lambda s: -s.rating)]


def test_fake_provider_judges_at_known_ratings_reproducibly(fake_provider: FakeProvider) -> None:
    draws = [bradley_terry_label(f"[model:m3 prompt:p{i}]", f"[model:m4 prompt:p{i}]", TRUE) for i in range(400)]
    assert 0.95 < draws.count("A") / 400 <= 1.0  # m3 leads by 750 points: p = 0.987
    assert draws == [
        bradley_terry_label(f"[model:m3 prompt:p{i}]", f"[model:m4 prompt:p{i}]", TRUE) for i in range(400)
    ]
    ties = [bradley_terry_label(f"[model:base x{i}]", f"[model:base y{i}]", TRUE, tie_rate=0.5) for i in range(400)]
    assert 0.4 < ties.count("tie") / 400 < 0.6  # equal models: tie with probability tie_rate


def test_adaptive_run_needs_fewer_calls_for_the_same_ranking_and_shows_why_each_model_stopped(
    rated_store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default=bt_judge())  # type: ignore[arg-type]
    adaptive_id = start(rated_store, rated_config(fake_provider, **ADAPTIVE))
    progress = execute(rated_store, adaptive_id)
    adaptive = summary(rated_store, adaptive_id)
    state = adaptive.adaptive
    assert adaptive.status == "completed" and adaptive.note is None and state is not None
    calls = fake_provider.counts()["received"]
    assert calls == progress.done == state["calls"] < adaptive.planned == 4 * PROMPTS * 2
    assert fake_provider.counts()["distinct"] == calls  # no request asked twice
    assert {row["stopped"] for m, row in state["models"].items() if m != "base"} <= {"separated", "ci_reached"}
    assert adaptive.method["adaptive"]["prompt_order"] == "one random order of the prompts, seed 5"

    # the full sweep reuses every adaptive verdict, judges the rest, and ranks the models the same way
    full_id = start(rated_store, rated_config(fake_provider))
    full = execute(rated_store, full_id)
    assert (full.cached, full.done) == (state["calls"], 4 * PROMPTS * 2 - state["calls"])
    assert ranking(state) == run_ranking(rated_store, full_id) == true_ranking()


def test_budget_stops_before_a_wave_that_would_exceed_it_and_resume_continues_paying_nothing_twice(
    tmp_path: Path, rated_store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default=bt_judge())  # type: ignore[arg-type]
    priced = (JudgeSpec(model="openai/gpt-4o-mini", api_base=fake_provider.url),)
    # the same adaptive run, uninterrupted, in another store: what the interrupted one must end up with
    reference_store = rated_engine(tmp_path / "reference.db")
    reference_id = start(reference_store, rated_config(fake_provider, judges=priced, **ADAPTIVE))
    execute(reference_store, reference_id)
    reference = summary(reference_store, reference_id)
    reference_store.dispose()
    per_call = reference.cost_usd / reference.adaptive["calls"]
    first_wave = 4 * 5 * 2  # 4 models x 5 prompts x 2 orders
    fake_provider.reset()
    fake_provider.script(default=bt_judge())  # type: ignore[arg-type]

    budget = per_call * first_wave * 1.5  # the first wave fits, the second would not
    run_id = start(rated_store, rated_config(fake_provider, judges=priced, max_cost_usd=budget, **ADAPTIVE))
    progress = execute(rated_store, run_id)
    stopped = summary(rated_store, run_id)
    assert progress.done == first_wave and stopped.cost_usd <= budget
    assert stopped.status == "stopped" and stopped.note is not None and stopped.note.startswith("budget: the next wave")
    assert stopped.adaptive is not None and stopped.adaptive["waves"] == 1
    assert {row["stopped"] for m, row in stopped.adaptive["models"].items() if m != "base"} == {"budget"}

    with session_scope(rated_store) as session:
        prepare_resume(session, run_id=run_id, max_cost_usd=1.0)
    resumed = execute(rated_store, run_id)
    final = summary(rated_store, run_id)
    assert (resumed.cached, resumed.done) == (first_wave, reference.adaptive["calls"] - first_wave)
    assert fake_provider.counts()["received"] == fake_provider.counts()["distinct"] == reference.adaptive["calls"]
    assert final.status == "completed" and final.cost_usd == pytest.approx(reference.cost_usd)
    assert final.adaptive is not None and final.adaptive["models"] == reference.adaptive["models"]


def test_adaptive_requests_are_checked(fake_provider: FakeProvider) -> None:
    with pytest.raises(InputError, match="pairs all or baseline"):
        rated_config(fake_provider, pairs="human-voted", until_separated=True)
    with pytest.raises(InputError, match="drop limit"):
        rated_config(fake_provider, until_separated=True, limit=10)
    with pytest.raises(InputError, match="for adaptive runs"):
        rated_config(fake_provider, wave_size=7)


def test_cli_adaptive_run_and_runs_show(
    judge_env: pytest.MonkeyPatch, tmp_path: Path, fake_provider: FakeProvider
) -> None:
    from judge.cli import app

    rated_engine(tmp_path / "cli.db").dispose()
    judge_env.setenv("JUDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    judge_env.setenv("COLUMNS", "200")
    fake_provider.script(default=bt_judge())  # type: ignore[arg-type]
    runner = CliRunner()
    args = ["run", "--set", "rated", "--judge", "openai/fake-judge", "--api-base", fake_provider.url]
    args += ["--pairs", "baseline:base", "--until-separated", "--until-ci", "150", "--min-battles", "10"]
    result = runner.invoke(app, [*args, "--wave-size", "5", "--prompt-seed", "5"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "adaptive:" in result.output and "baseline (anchor)" in result.output
    shown = runner.invoke(app, ["runs", "show", "1", "--json"], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert '"stopped": "separated"' in shown.output or '"stopped": "ci_reached"' in shown.output
    refused = runner.invoke(app, [*args, "--backend", "celery"])
    assert refused.exit_code == 2 and "in-process only" in refused.output, refused.output


def test_api_runs_adaptive_and_shows_each_models_stop(api: Api, engine: Engine, fake_provider: FakeProvider) -> None:
    with session_scope(engine) as session:
        write_bundle(session, set_name="rated", bundle=rated_bundle(list(TRUE), PROMPTS), tenant="acme")
    set_id = next(s["id"] for s in api.get("/v1/prompt-sets").json() if s["name"] == "rated")
    fake_provider.script(default=bt_judge())  # type: ignore[arg-type]
    body = run_body(set_id, fake_provider, pairs="baseline:base", **ADAPTIVE)
    started = api.post("/v1/runs", json=body)
    assert started.status_code == 202, started.text
    run = api.wait_for_run(started.json()["id"])
    assert run["status"] == "completed" and run["request"]["until_separated"] and run["request"]["prompt_seed"] == 5
    state = run["adaptive"]
    assert state["calls"] == fake_provider.counts()["received"] < run["planned"] == 4 * PROMPTS * 2
    for model, row in state["models"].items():
        assert row["stopped"] in ((None,) if model == "base" else ("separated", "ci_reached"))
    refused = api.post("/v1/runs", json=run_body(set_id, fake_provider, wave_size=7))
    assert refused.status_code == 422 and "adaptive" in refused.text
