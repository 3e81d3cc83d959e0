"""Planning a run (pure): unit selection, orders, limits, skips and verdict keys."""

from __future__ import annotations

from typing import Any

import pytest

from judge.core.errors import InputError
from judge.core.hashing import content_hash
from judge.core.rubrics import load_rubric
from judge.core.types import Order
from judge.runs.plan import Catalog, PromptRow, ResponseRow, VotedUnit, keyed_api_base, plan_run
from judge.runs.request import JudgeSpec, RunConfig

MODELS = ("m1", "m2", "m3", "m4")


def catalog(with_reference: bool = True) -> Catalog:
    prompts = [
        PromptRow(
            id=i,
            external_id=f"p{i}",
            turns=("q1", "q2"),
            reference_turns=("r1",) if with_reference and i % 2 == 0 else None,
        )
        for i in range(5)
    ]
    responses = [
        ResponseRow(prompt_id=i, model=m, turns=(f"{m} {i} a", f"{m} {i} b"), content_hash=content_hash([m, i]))
        for i in range(5)
        for m in MODELS
    ]
    return Catalog(prompts, responses)


def config(**overrides: Any) -> RunConfig:
    values: dict[str, Any] = {
        "set_name": "s",
        "judges": (JudgeSpec(model="openai/j"),),
        "rubric": "pairwise",
        "pairs": "all",
    }
    return RunConfig(**(values | overrides))


VOTED = [
    VotedUnit(prompt_id=0, model_a="m2", model_b="m1", turn=1),
    VotedUnit(prompt_id=0, model_a="m1", model_b="m2", turn=1),
    VotedUnit(prompt_id=3, model_a="m3", model_b="m4", turn=1),
]


def test_all_pairs_in_both_orders() -> None:
    plan = plan_run(load_rubric("pairwise"), config(), catalog(), [])
    assert plan.n_units == 5 * 6
    assert len(plan.items) == 5 * 6 * 2
    assert {i.order for i in plan.items} == {Order.AB, Order.BA}
    assert len({i.verdict_key for i in plan.items}) == len(plan.items)


def test_human_voted_units_are_deduplicated_and_sorted() -> None:
    plan = plan_run(load_rubric("pairwise"), config(pairs="human-voted"), catalog(), VOTED)
    assert plan.n_units == 2
    assert {(i.prompt_id, i.model_a, i.model_b) for i in plan.items} == {(0, "m1", "m2"), (3, "m3", "m4")}


def test_baseline_pairs_and_models_filter() -> None:
    plan = plan_run(load_rubric("pairwise"), config(pairs="baseline:m1", models=("m1", "m2", "m3")), catalog(), [])
    assert {(i.model_a, i.model_b) for i in plan.items} == {("m1", "m2"), ("m1", "m3")}


def test_random_order_is_one_seeded_order_and_limit_spreads() -> None:
    plan = plan_run(load_rubric("pairwise"), config(order="random", seed=3, limit=7), catalog(), [])
    assert plan.n_units == 7 and len(plan.items) == 7
    again = plan_run(load_rubric("pairwise"), config(order="random", seed=3, limit=7), catalog(), [])
    assert plan.items == again.items
    assert len({i.prompt_id for i in plan.items}) > 1


def test_correctness_grades_each_response_once_where_a_reference_exists() -> None:
    plan = plan_run(load_rubric("correctness"), config(pairs="human-voted"), catalog(), VOTED)
    assert {(i.prompt_id, i.model_a, i.model_b, i.order) for i in plan.items} == {
        (0, "m1", None, Order.SINGLE),
        (0, "m2", None, Order.SINGLE),
    }
    assert plan.skipped == {"no reference answer for the turn": 1}


def test_turn_two_and_missing_turns() -> None:
    plan = plan_run(load_rubric("pairwise"), config(turns=(2, 3), models=("m1", "m2")), catalog(), [])
    assert {i.turn for i in plan.items} == {2}
    assert plan.skipped == {"prompt has no turn 3": 5}


@pytest.mark.parametrize(
    "change",
    [
        {"sampling": {"temperature": 0.5}},
        {"rubric": "pairwise-5"},
        {"reask": True},
        {"judges": (JudgeSpec(model="openai/other"),)},
    ],
)
def test_verdict_keys_change_with_what_decides_a_verdict(change: dict[str, Any]) -> None:
    base = plan_run(load_rubric("pairwise"), config(), catalog(), [])
    cfg = config(**change)
    changed = plan_run(load_rubric(cfg.rubric), cfg, catalog(), [])
    assert not {i.verdict_key for i in base.items} & {i.verdict_key for i in changed.items}


def test_verdict_keys_ignore_what_does_not_decide_a_verdict() -> None:
    base = plan_run(load_rubric("pairwise"), config(), catalog(), [])
    other = plan_run(load_rubric("pairwise"), config(concurrency=3, max_cost_usd=1.0, timeout_s=5), catalog(), [])
    assert [i.verdict_key for i in base.items] == [i.verdict_key for i in other.items]


def test_run_defaults_come_from_settings(judge_env: pytest.MonkeyPatch) -> None:
    judge_env.setenv("JUDGE_CONCURRENCY", "3")
    judge_env.setenv("JUDGE_REQUEST_TIMEOUT_S", "12.5")
    defaults = RunConfig(set_name="s", judges=(JudgeSpec(model="openai/j"),), rubric="pairwise")
    assert (defaults.concurrency, defaults.timeout_s) == (3, 12.5)
    assert config(concurrency=7).concurrency == 7


def test_keys_of_judges_without_api_base_are_what_they_were() -> None:
    """The key formula before api_bases were hashed, for a judge without one: stored verdicts stay reused."""
    rubric, cfg = load_rubric("pairwise"), config()
    plan = plan_run(rubric, cfg, catalog(), [])
    item = plan.items[0]
    prompt, cat = catalog().prompts[item.prompt_id], catalog()
    a, b = cat.responses[(item.prompt_id, item.model_a)], cat.responses[(item.prompt_id, item.model_b or "")]
    before = content_hash(
        {
            "judge": "openai/j",
            "rubric": rubric.content_hash,
            "mode": "pairwise",
            "prompt": [prompt.id, content_hash([prompt.turns, prompt.reference_turns])],
            "turn": item.turn,
            "a": [a.model, a.content_hash],
            "b": [b.model, b.content_hash],
            "order": item.order.value,
            "sampling": {"temperature": 0.0},
            "reask": False,
        }
    )
    assert item.verdict_key == before


def keys(*judges: JudgeSpec) -> set[str]:
    return {i.verdict_key for i in plan_run(load_rubric("pairwise"), config(judges=judges), catalog(), []).items}


def test_two_servers_answering_to_one_model_name_are_two_judges() -> None:
    here, there = (
        JudgeSpec(model="openai/j", api_base="http://a:8000/v1"),
        JudgeSpec(model="openai/j", api_base="http://b:8000/v1"),
    )
    assert not keys(here) & keys(there)
    assert not keys(here) & keys(JudgeSpec(model="openai/j"))
    assert keys(here) == keys(JudgeSpec(model="openai/j", api_base="HTTP://A:8000//v1/"))
    assert keys(JudgeSpec(model="openai/j", api_base="https://h/v1")) == keys(
        JudgeSpec(model="openai/j", api_base="https://H:443/v1/")
    )
    assert keys(here, there) == keys(here) | keys(there)  # one panel, two judges


def test_naming_the_providers_own_endpoint_is_the_same_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    keyed_api_base.cache_clear()
    assert keys(JudgeSpec(model="openai/j", api_base="https://API.openai.com:443/v1/")) == keys(
        JudgeSpec(model="openai/j")
    )
    with pytest.raises(InputError, match="named twice"):
        keys(JudgeSpec(model="openai/j"), JudgeSpec(model="openai/j", api_base="https://api.openai.com/v1"))
    keyed_api_base.cache_clear()


@pytest.mark.parametrize(
    "panel",
    [
        (JudgeSpec(model="openai/j"), JudgeSpec(model="openai/j")),
        (
            JudgeSpec(model="openai/j", api_base="http://a:8000/v1"),
            JudgeSpec(model="openai/j", api_base="http://A:8000/v1/"),
        ),
    ],
)
def test_a_panel_naming_one_judge_twice_is_refused(panel: tuple[JudgeSpec, ...]) -> None:
    with pytest.raises(InputError, match="named twice in the panel") as caught:
        plan_run(load_rubric("pairwise"), config(judges=panel), catalog(), [])
    assert caught.value.field == "judges.1"
