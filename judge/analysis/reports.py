"""Agreement, gold accuracy and audit reports assembled from the store (the CLI and API share these)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from judge.analysis.rule_votes import gold_votes, judged_gold_pairs, votes_by_rule
from judge.analysis.sources import (
    Source,
    correctness_grades,
    correctness_source_kind,
    judge_verdicts,
    load_source_votes,
    prompt_texts,
    response_texts,
)
from judge.core.protocols.order_rules import DESCRIPTIONS as ORDER_RULES
from judge.core.protocols.order_rules import OrderRule
from judge.metrics.agreement import Breakdown, compare_sources
from judge.metrics.audit import audit_preferences
from judge.metrics.gold import gold_accuracy
from judge.metrics.grader_agreement import grader_agreement
from judge.metrics.length_bias import compare_length_bias
from judge.metrics.style import style_features
from judge.runs.combine import diagnostics_by_judge
from judge.store import DEFAULT_TENANT
from judge.store.queries import get_set, load_prompts
from judge.store.records import SetRecord


def _set_or_none(session: Session, name: str | None, tenant: str) -> SetRecord | None:
    return get_set(session, name=name, tenant=tenant) if name else None


def agreement_report(
    session: Session,
    *,
    a: str,
    b: str,
    set_name: str | None,
    voters: str | None,
    by: Breakdown | None,
    tenant: str = DEFAULT_TENANT,
    order_rule: OrderRule = OrderRule.AGREE,
) -> dict[str, Any]:
    """Agreement of source ``a`` with ``b`` (same-source pairing when both name the same votes), as JSON; a
    judge's two presentation orders are combined by ``order_rule``."""
    prompt_set = _set_or_none(session, set_name, tenant)
    source_a, source_b = Source.parse(a), Source.parse(b)
    votes_a = votes_by_rule(session, source=source_a, prompt_set=prompt_set, voters=voters, rule=order_rule)
    same = source_a == source_b
    votes_b = (
        votes_a
        if same
        else votes_by_rule(session, source=source_b, prompt_set=prompt_set, voters=voters, rule=order_rule)
    )
    report = compare_sources(votes_a, None if same else votes_b, same_source=same, by=by)
    out: dict[str, Any] = report.to_json()
    out["sources"] = {
        "a": str(source_a),
        "b": str(source_b),
        "voters": voters,
        "n_votes_a": len(votes_a),
        "n_votes_b": len(votes_b),
    }
    out["method"] = {
        "units": "(prompt, unordered model pair, turn)",
        "pairing": "every pair of votes by two different voters on a unit"
        if same
        else "every (a vote, b vote) combination on a shared unit",
        "ties": "tie and tie (bothbad) are one outcome; without_ties drops comparisons where either side tied",
        "ci": "Wilson 95% for rates; kappa asymptotic 95%",
        "order_rule": order_rule.value,
        "order_rule_means": ORDER_RULES[order_rule],
    }
    judges = [s for s in (source_a, source_b) if s.kind == "judge"]
    if prompt_set is not None and judges:
        lengths = {
            key: style_features(text).length for key, text in response_texts(session, prompt_set=prompt_set).items()
        }
        out["judge_diagnostics"] = {}
        for source in judges:
            assert source.model is not None
            stored = judge_verdicts(session, prompt_set=prompt_set, model=source.model, rubric=source.rubric)
            out["judge_diagnostics"].update({k: v.to_json() for k, v in diagnostics_by_judge(stored).items()})
        other = votes_b if source_a.kind == "judge" else votes_a
        judge_side = votes_a if source_a.kind == "judge" else votes_b
        out["length_bias"] = compare_length_bias(judge_side, other, lengths).to_json()
    return out


def gold_report(session: Session, *, gold_set: str, judge: str, tenant: str = DEFAULT_TENANT) -> dict[str, Any]:
    """A judge's accuracy on a gold-labelled set (LLMBar import), both orders judged."""
    prompt_set, source, pairs = judged_gold_pairs(
        session, gold_set=gold_set, judge=judge, rule=OrderRule.AGREE, tenant=tenant
    )
    records = [record for record, _ in pairs]
    result = gold_accuracy(records).to_json()
    result["n_pairs"] = len(records)
    result["n_gold_pairs"] = len(gold_votes(session, prompt_set=prompt_set))
    result["method"] = {
        "judge": source.model,
        "rubric": source.rubric,
        "counted_correct": "combined verdict of "
        "both orders picks the gold response; inconsistent orders count as a tie",
        "ci": "Wilson 95%",
    }
    return result


def audit_report(
    session: Session,
    *,
    set_name: str,
    source: str,
    grader: str,
    voters: str | None,
    n_examples: int = 5,
    tenant: str = DEFAULT_TENANT,
) -> dict[str, Any]:
    """Preferred-but-wrong audit of ``source``'s preferences against ``grader``'s correctness verdicts."""
    prompt_set = get_set(session, name=set_name, tenant=tenant)
    votes = load_source_votes(session, source=Source.parse(source), prompt_set=prompt_set, voters=voters)
    grades = correctness_grades(session, prompt_set=prompt_set, grader=grader)
    report = audit_preferences(
        votes,
        grades,
        response_texts(session, prompt_set=prompt_set),
        prompt_texts(session, prompt_set=prompt_set),
        n_examples=n_examples,
    )
    out = report.to_json()
    out["n_graded_responses"] = len(grades)
    out["method"] = {
        "preferences": source,
        "voters": voters,
        "grader": grader,
        "grader_kind": correctness_source_kind(grader),
        "rubric": {"judge": "correctness", "grader": "gold answers", "labels": "imported labels"}[
            correctness_source_kind(grader)
        ],
        "not_correct": "incorrect or no_answer (nothing extractable)",
        "preferred_but_wrong": "decisive preferences where one response is correct and the other not correct; "
        "partially correct responses are left out of this figure",
        "both_incorrect_preferred": "count: decisive preferences between two not-correct responses; "
        "n: every preference (ties included) between two not-correct responses",
        "ci": "Wilson 95%",
    }
    return out


def grader_agreement_report(
    session: Session,
    *,
    a: str,
    b: str,
    set_name: str,
    n_examples: int = 10,
    tenant: str = DEFAULT_TENANT,
) -> dict[str, Any]:
    """Agreement of two correctness sources (LLM grader, ``grader:...``, ``labels:NAME``) on the same responses."""
    prompt_set = get_set(session, name=set_name, tenant=tenant)
    grades_a = correctness_grades(session, prompt_set=prompt_set, grader=a)
    grades_b = correctness_grades(session, prompt_set=prompt_set, grader=b)
    categories = {p.external_id: p.category for p in load_prompts(session, set_id=prompt_set.id).values()}
    report = grader_agreement(grades_a, grades_b, categories, n_examples=n_examples)
    out = report.to_json()
    out["sources"] = {"a": a, "b": b, "kind_a": correctness_source_kind(a), "kind_b": correctness_source_kind(b)}
    out["method"] = {
        "units": "response turns (prompt, model, turn) graded by both sources",
        "accuracy": "share of shared turns where b gives a's label (a is the reference)",
        "labels": "correct, partially_correct, incorrect, no_answer; binary: correct vs not correct",
        "by_model": "share of a model's turns graded correct under a and under b; shift_points = b - a",
        "ci": "Wilson 95% for rates; kappa asymptotic 95%",
    }
    return out
