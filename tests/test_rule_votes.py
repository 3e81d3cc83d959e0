"""Order rules over stored verdicts: gold accuracy on real JudgeBench pairs, judged through the fake provider."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine

from judge.analysis.rule_votes import gold_report_by_rule
from judge.analysis.sources import judge_votes
from judge.core.protocols.order_rules import OrderRule
from judge.importers.judgebench import read_judgebench
from judge.runs.request import JudgeSpec
from judge.store.engine import session_scope
from judge.store.ingest import write_bundle
from judge.store.queries import get_set
from judge.testing.fake_provider import FakeProvider
from tests.test_importers_judgebench import EXCERPT
from tests.toy import config, run

TIE_REPLY = {"kind": "reply", "content": '{"reason": "cannot tell", "verdict": "tie"}'}


@pytest.fixture
def judged(sqlite_store: Engine, fake_provider: FakeProvider) -> Engine:
    """Pair 1 (gold A): one order says tie, the other picks A. Pair 2 (gold A): both orders pick B.

    A second judge, ``biased``, always picks the first position shown (inconsistent on every pair)."""
    with session_scope(sqlite_store) as session:
        write_bundle(session, set_name="jb", bundle=read_judgebench(EXCERPT), source="gold")
    fake_provider.script(  # type: ignore[arg-type]
        rules=[
            {"model": "biased", "behaviour": {"kind": "position_biased"}},
            {"contains": "malicious prosecution", "times": 1, "behaviour": TIE_REPLY},
            {
                "contains": "malicious prosecution",
                "behaviour": {"kind": "prefer_marker", "marker": "FFFFF", "rival": "AAAAA"},
            },
            {
                "contains": "ceramics studio",
                "behaviour": {"kind": "prefer_marker", "marker": "JJJJJ", "rival": "DDDDD"},
            },
        ],
    )
    judges = tuple(JudgeSpec(model=f"openai/{name}", api_base=fake_provider.url) for name in ("fake-judge", "biased"))
    run(sqlite_store, config(fake_provider, set_name="jb", concurrency=1, judges=judges))
    return sqlite_store


@pytest.mark.parametrize(("rule", "correct", "n"), [("agree", 0, 2), ("sum", 1, 2), ("separate", 1, 4)])
def test_gold_accuracy_under_each_order_rule(judged: Engine, rule: str, correct: int, n: int) -> None:
    with session_scope(judged) as session:
        report = gold_report_by_rule(session, gold_set="jb", judge="judge:openai/fake-judge", rule=OrderRule(rule))
    assert (report["accuracy"]["count"], report["accuracy"]["n"]) == (correct, n)
    assert report["method"]["order_rule"] == rule
    assert report["categories"]["mmlu-pro-law"]["n"] == n


def test_separate_rule_makes_one_vote_per_order(judged: Engine) -> None:
    with session_scope(judged) as session:
        prompt_set = get_set(session, name="jb")
        separate = judge_votes(
            session, prompt_set=prompt_set, model="openai/fake-judge", rubric=None, rule=OrderRule.SEPARATE
        )
        summed = judge_votes(session, prompt_set=prompt_set, model="openai/fake-judge", rubric=None, rule=OrderRule.SUM)
    assert len(separate) == 4 and len(summed) == 2
    assert sorted(v.winner.value for v in summed) == ["model_a", "model_b"]


def test_agreement_cli_takes_the_order_rule(judged: Engine, sqlite_url: str, judge_env: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from judge.cli import app

    judge_env.setenv("JUDGE_DATABASE_URL", sqlite_url)
    args = ["agreement", "--gold", "jb", "--a", "judge:openai/fake-judge", "--format", "json", "--order-rule", "sum"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["accuracy"]["count"], data["accuracy"]["n"], data["method"]["order_rule"]) == (1, 2, "sum")


def test_compare_judges_on_gold_with_mcnemar(judged: Engine) -> None:
    from judge.analysis.compare import compare_judges_on_gold

    with session_scope(judged) as session:
        data = compare_judges_on_gold(
            session, gold_set="jb", a="judge:openai/fake-judge", b="judge:openai/biased", rule=OrderRule.SUM
        )
    # sum rule: fake-judge right on pair 1 only; biased is inconsistent (a tie) on both -> 1/2 vs 0/2
    assert (data["accuracy_a"]["count"], data["accuracy_b"]["count"], data["n_pairs"]) == (1, 0, 2)
    assert data["difference"]["estimate"] == 0.5
    assert (data["mcnemar"]["only_a"], data["mcnemar"]["only_b"], data["mcnemar"]["p_value"]) == (1, 0, 1.0)


@pytest.mark.parametrize(("rule", "agree", "total"), [("agree", 0, 2), ("sum", 1, 2), ("separate", 1, 4)])
def test_agreement_with_gold_votes_under_each_rule(judged: Engine, rule: str, agree: int, total: int) -> None:
    from judge.analysis.reports import agreement_report

    with session_scope(judged) as session:
        data = agreement_report(
            session,
            a="judge:openai/fake-judge",
            b="human",
            set_name="jb",
            voters="gold",
            by=None,
            order_rule=OrderRule(rule),
        )
    assert (data["with_ties"]["agree"], data["with_ties"]["total"]) == (agree, total)
    assert data["method"]["order_rule"] == rule
