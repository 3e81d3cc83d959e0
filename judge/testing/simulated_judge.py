"""A judge at known ratings without HTTP: the verdicts the fake provider's ``bradley_terry`` behaviour gives.

For tests and benchmarks that run the adaptive schedule (:mod:`judge.runs.adaptive`) in-process: the verdict on
a work item is :func:`judge.testing.fake_provider.bradley_terry_label` of the two responses' markers
(``[model:NAME prompt:ID]``, as :func:`judge.testing.toy.rated_bundle` writes them) in the order shown, so the
same seed gives the same verdicts here as through LiteLLM and the fake provider.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from judge.core.types import Order, VerdictStatus, Winner
from judge.runs.combine import StoredVerdict
from judge.runs.plan import WorkItem
from judge.runs.request import JudgeSpec
from judge.testing.fake_provider import bradley_terry_label


def marker(model: str, prompt: str) -> str:
    """The marker a rated bundle's answer carries."""
    return f"[model:{model} prompt:{prompt}]"


def simulated_verdict(
    item: WorkItem, prompt: str, ratings: Mapping[str, float], *, seed: int = 0, tie_rate: float = 0.0
) -> StoredVerdict:
    """The verdict on ``item`` (prompt external id ``prompt``) of the judge at ``ratings``, in the pair's own
    orientation."""
    assert item.model_b is not None
    first, second = (item.model_a, item.model_b) if item.order is Order.AB else (item.model_b, item.model_a)
    label = bradley_terry_label(
        marker(first, prompt), marker(second, prompt), dict(ratings), seed=seed, tie_rate=tie_rate
    )
    if label == "tie":
        winner = Winner.TIE
    else:
        shown_first_won = label == "A"
        winner = Winner.MODEL_A if shown_first_won == (item.order is Order.AB) else Winner.MODEL_B
    return StoredVerdict(item=item, status=VerdictStatus.OK, winner=winner)


def rated_items(
    models: Sequence[str], prompts: int, *, baseline: str | None = None, judge: str = "sim-judge"
) -> tuple[list[WorkItem], dict[int, str]]:
    """The work items of a full sweep (both orders) over ``prompts`` prompts: every model against ``baseline``, or
    every pair when None; with each prompt id's external id (``p0``...)."""
    spec = JudgeSpec(model=judge)
    if baseline is None:
        pairs = list(itertools.combinations(sorted(models), 2))
    else:
        pairs = [(baseline, m) for m in sorted(models) if m != baseline]
    items = [
        WorkItem(
            verdict_key=f"{p}|{a}|{b}|{order.value}",
            judge=spec,
            prompt_id=p,
            turn=1,
            model_a=a,
            model_b=b,
            order=order,
        )
        for p in range(prompts)
        for a, b in pairs
        for order in (Order.AB, Order.BA)
    ]
    return items, {p: f"p{p}" for p in range(prompts)}
