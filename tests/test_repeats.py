"""``repeats``: N samples per verdict key, stored individually, outcome by majority, self-consistency and spread.

Run end to end through LiteLLM and the fake provider, whose ``sequence`` behaviour makes a judge's repeated
samples of one request vary; and the pure combination on hand-built verdicts.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from judge.core.protocols.order_rules import OrderRule
from judge.core.protocols.pairwise import CombinedOutcome, OutcomeStatus
from judge.core.types import Order, VerdictStatus, Winner
from judge.runs.combine import StoredVerdict, combine_run, repeat_report, sample_majority
from judge.runs.plan import WorkItem
from judge.runs.request import JudgeSpec
from judge.testing.fake_provider import FakeProvider
from tests.toy import PREFER_GOOD, PROMPTS, config, run, verdicts
from tests.toy import summary as toy_summary

# p1's requests: two samples prefer 'good', the third takes the first response shown. Pairs are stored sorted
# (bad, good): shown ab, the third sample picks 'bad'; shown ba, it picks 'good'. So exactly one sample of p1 is a
# tie (its orders disagree) and the other 5 prompts' samples all say 'good', whichever sample index gets which.
VARYING = [
    {
        "contains": "Question 1?",
        "behaviour": {"kind": "sequence", "steps": [PREFER_GOOD, PREFER_GOOD, {"kind": "position_biased"}]},
    }
]


def summary(engine: Engine, run_id: int, rule: OrderRule = OrderRule.AGREE) -> Any:
    from judge.runs.service import get_run, summarize_run
    from judge.store.engine import session_scope
    from judge.store.tables import PromptSet

    if rule is OrderRule.AGREE:
        return toy_summary(engine, run_id)
    with session_scope(engine) as session:
        found = get_run(session, run_id=run_id)
        prompt_set = session.get(PromptSet, found.set_id)
        assert prompt_set is not None
        return summarize_run(session, run=found, prompt_set=prompt_set, order_rule=rule)


def test_repeats_store_each_sample_and_take_the_majority(store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(VARYING, default=PREFER_GOOD)  # type: ignore[arg-type]
    run_id, progress = run(store, config(fake_provider, repeats=3, sampling={"temperature": 0.7}))
    assert (progress.done, progress.ok) == (3 * 2 * PROMPTS, 3 * 2 * PROMPTS)
    assert fake_provider.counts()["distinct"] == 2 * PROMPTS  # the same request, asked three times
    stored = verdicts(store)
    assert len({v.verdict_key for v in stored}) == 3 * 2 * PROMPTS
    assert sorted(v.sampling.get("sample", 0) for v in stored) == sorted([0, 1, 2] * 2 * PROMPTS)

    result = summary(store, run_id)
    assert result.units == PROMPTS
    assert result.combined == {"model_b": PROMPTS}  # p1: good, good, tie -> good
    assert result.inconsistent == 0  # one inconsistent sample of three is not most of them
    repeats = result.repeats
    assert repeats["n"] == 3 and repeats["measure"] == "win_rate"
    consistency = repeats["self_consistency"]["openai/fake-judge"]
    assert (consistency["count"], consistency["n"]) == (5, 6)
    assert consistency["ci_low"] == pytest.approx(0.4365, abs=1e-3)  # Wilson 95% of 5/6, by hand
    assert consistency["ci_high"] == pytest.approx(0.9700, abs=1e-3)
    good = repeats["spread"]["openai/fake-judge"]["good"]
    assert sorted(good["per_sample"]) == pytest.approx([5.5 / 6, 1.0, 1.0])  # the tie sample: 5 wins and a half
    assert (good["min"], good["median"], good["max"], good["majority"]) == pytest.approx((5.5 / 6, 1.0, 1.0, 1.0))
    bad = repeats["spread"]["openai/fake-judge"]["bad"]
    assert (bad["min"], bad["median"], bad["max"], bad["majority"]) == pytest.approx((0.0, 0.0, 0.5 / 6, 0.0))
    assert result.method["repeats"] == 3 and "majority" in result.method["sample_aggregation"]
    assert result.method["order_rule"] == "agree"

    separate = summary(store, run_id, OrderRule.SEPARATE)  # each order its own battle: 12, all 'good' by majority
    assert separate.combined == {"model_b": 2 * PROMPTS} and separate.units == PROMPTS
    assert separate.method["order_rule"] == "separate" and "own battle" in separate.method["order_rule_means"]


def test_sample_zero_keeps_todays_keys_and_more_repeats_pay_only_for_new_samples(
    store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    _, plain = run(store, config(fake_provider))
    assert plain.done == 2 * PROMPTS
    _, three = run(store, config(fake_provider, repeats=3))
    assert (three.done, three.cached) == (2 * 2 * PROMPTS, 2 * PROMPTS)  # sample 0 is the plain run's verdict
    run_id, four = run(store, config(fake_provider, repeats=4))
    assert (four.done, four.cached) == (2 * PROMPTS, 3 * 2 * PROMPTS)
    assert len(verdicts(store)) == 4 * 2 * PROMPTS
    result = summary(store, run_id)
    consistency = result.repeats["self_consistency"]["openai/fake-judge"]
    assert (consistency["count"], consistency["n"]) == (PROMPTS, PROMPTS)


def test_one_sample_run_has_no_repeat_report(sqlite_store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    run_id, _ = run(sqlite_store, config(fake_provider))
    result = summary(sqlite_store, run_id)
    assert result.repeats is None and "repeats" not in result.method


JUDGE = JudgeSpec(model="openai/j")


def verdict(prompt: int, order: Order, sample: int, winner: Winner | None, *, score: float | None = None) -> Any:
    single = order is Order.SINGLE
    item = WorkItem(
        verdict_key=f"{prompt}-{order.value}-{sample}",
        judge=JUDGE,
        prompt_id=prompt,
        turn=1,
        model_a="x",
        model_b=None if single else "y",
        order=order,
        sample=sample,
    )
    status = VerdictStatus.OK if winner is not None or score is not None else VerdictStatus.UNPARSEABLE
    return StoredVerdict(item=item, status=status, winner=winner, score=score)


A, B, TIE = Winner.MODEL_A, Winner.MODEL_B, Winner.TIE


def outcome(winner: Winner | None, complete: bool = True) -> CombinedOutcome:
    status = OutcomeStatus.COMPLETE if complete else OutcomeStatus.INCOMPLETE
    return CombinedOutcome(winner=winner, status=status, n_verdicts=int(winner is not None))


def test_sample_majority() -> None:
    assert sample_majority([outcome(A), outcome(B), outcome(A)]).winner is A
    assert sample_majority([outcome(A), outcome(B)]).winner is TIE  # no majority
    assert sample_majority([outcome(A), outcome(TIE), outcome(B), outcome(TIE), outcome(Winner.TIE_BOTHBAD)]).winner
    # an unparseable sample does not vote, but the outcome is then incomplete
    missing = sample_majority([outcome(B), outcome(None, complete=False), outcome(B)])
    assert missing.winner is B and missing.status is OutcomeStatus.INCOMPLETE
    assert sample_majority([outcome(None, complete=False)] * 2).winner is None


def test_majority_and_consistency_under_order_rules_by_hand() -> None:
    stored = [
        # prompt 1: sample 0 agrees on x; sample 1 splits (ab x, ba y); sample 2 says x
        verdict(1, Order.AB, 0, A),
        verdict(1, Order.BA, 0, A),
        verdict(1, Order.AB, 1, A),
        verdict(1, Order.BA, 1, B),
        verdict(1, Order.AB, 2, A),
        verdict(1, Order.BA, 2, A),
        # prompt 2: every sample y; sample 2's ba unparseable
        verdict(2, Order.AB, 0, B),
        verdict(2, Order.BA, 0, B),
        verdict(2, Order.AB, 1, B),
        verdict(2, Order.BA, 1, B),
        verdict(2, Order.AB, 2, B),
        verdict(2, Order.BA, 2, None),
    ]
    agree = {o.unit[0]: o.panel for o in combine_run(stored, ["openai/j"], OrderRule.AGREE)}
    assert agree[1].winner is A  # x, tie, x
    # prompt 2: sample 2 has no outcome under agree (an unparseable order); the two others say y
    assert agree[2].winner is B and agree[2].status is OutcomeStatus.INCOMPLETE
    report = repeat_report(stored, OrderRule.AGREE, 3)
    consistency = report["self_consistency"]["openai/j"]
    # only units where every sample has an outcome count: prompt 1 (a tie sample: not all agree); not prompt 2
    assert (consistency["count"], consistency["n"]) == (0, 1)
    x = report["spread"]["openai/j"]["x"]
    # per sample: 0 -> x won p1, lost p2: 1/2; 1 -> tie p1, lost p2: 1/4; 2 -> won p1 (p2 has no outcome): 1
    assert x["per_sample"] == [0.5, 0.25, 1.0] and (x["min"], x["median"], x["max"]) == (0.25, 0.5, 1.0)
    assert x["majority"] == 0.5  # majority outcomes: x won p1, y won p2
    separate = combine_run(stored, ["openai/j"], OrderRule.SEPARATE)
    battles = {(o.unit[0], o.battle): o.panel.winner for o in separate}
    # p1 ab: x x x -> x; ba: x y x -> x; p2 ab: y y y; ba: y y (one unparseable) -> y
    assert battles == {(1, "ab"): A, (1, "ba"): A, (2, "ab"): B, (2, "ba"): B}
    summed = {o.unit[0]: o.panel.winner for o in combine_run(stored, ["openai/j"], OrderRule.SUM)}
    assert summed == {1: A, 2: B}  # p1 sample 1 sums to 0: a tie, outvoted by the two x samples


def test_single_grading_spread_of_mean_scores_by_hand() -> None:
    stored = [
        verdict(1, Order.SINGLE, 0, None, score=8.0),
        verdict(1, Order.SINGLE, 1, None, score=6.0),
        verdict(1, Order.SINGLE, 2, None, score=7.0),
        verdict(2, Order.SINGLE, 0, None, score=4.0),
        verdict(2, Order.SINGLE, 1, None, score=4.0),
        verdict(2, Order.SINGLE, 2, None, score=4.0),
    ]
    report = repeat_report(stored, OrderRule.AGREE, 3)
    assert report["measure"] == "mean_score"
    consistency = report["self_consistency"]["openai/j"]
    assert (consistency["count"], consistency["n"]) == (1, 2)
    x = report["spread"]["openai/j"]["x"]
    assert x["per_sample"] == [6.0, 5.0, 5.5]  # (8+4)/2, (6+4)/2, (7+4)/2
    assert (x["min"], x["median"], x["max"]) == (5.0, 5.5, 6.0)
    assert x["majority"] == 5.5  # mean of the unit medians 7 and 4


def test_two_concurrent_runs_with_repeats_pay_each_sample_once(store: Engine, fake_provider: FakeProvider) -> None:
    import asyncio

    from judge.llm.client import LiteLLMClient
    from judge.runs.service import create_run, execute_run
    from judge.store.engine import session_scope
    from tests.toy import FAST_RETRIES

    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 20})  # type: ignore[arg-type]
    cfg = config(fake_provider, repeats=3, concurrency=3)
    run_ids = []
    for _ in range(2):
        with session_scope(store) as session:
            created, _ = create_run(session, config=cfg)
        assert created.id is not None
        run_ids.append(created.id)

    async def both() -> list[Any]:
        return list(await asyncio.gather(*(execute_run(store, r, LiteLLMClient(FAST_RETRIES)) for r in run_ids)))

    first, second = asyncio.run(both())
    assert len(fake_provider.requests()) == 3 * 2 * PROMPTS  # every sample's key leased, judged and paid once
    assert first.done + second.done == 3 * 2 * PROMPTS and len(verdicts(store)) == 3 * 2 * PROMPTS
    assert summary(store, run_ids[0]).combined == summary(store, run_ids[1]).combined == {"model_b": PROMPTS}
