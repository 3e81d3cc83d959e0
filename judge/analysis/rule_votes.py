"""Votes and gold accuracy under an order rule: a judge's per-order verdicts combined by ``agree``, ``sum`` or
``separate`` (see :mod:`judge.core.protocols.order_rules`); human and file votes are one vote each whatever the rule.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlmodel import Session

from judge.analysis.sources import Source, judge_votes, load_source_votes, rule_outcomes
from judge.core.errors import InputError
from judge.core.protocols.order_rules import DESCRIPTIONS, OrderRule
from judge.core.types import PairVote, Winner
from judge.importers.llmbar import GOLD_VOTER
from judge.metrics.gold import GoldRecord, gold_accuracy, gold_record
from judge.metrics.intervals import proportion
from judge.store import DEFAULT_TENANT
from judge.store.queries import get_set, load_pair_votes
from judge.store.records import SetRecord


def votes_by_rule(
    session: Session,
    *,
    source: Source,
    prompt_set: SetRecord | None,
    voters: str | None = None,
    rule: OrderRule = OrderRule.AGREE,
) -> list[PairVote]:
    """``source``'s votes; a judge's per-order verdicts are combined by ``rule``."""
    if source.kind == "judge" and prompt_set is not None and rule is not OrderRule.AGREE:
        assert source.model is not None
        return judge_votes(session, prompt_set=prompt_set, model=source.model, rubric=source.rubric, rule=rule)
    return load_source_votes(session, source=source, prompt_set=prompt_set, voters=voters)


def gold_votes(session: Session, *, prompt_set: SetRecord) -> dict[str, PairVote]:
    """The set's gold votes (``judge import llmbar`` or ``judgebench``) by external prompt id."""
    return {v.prompt_id: v for v in load_pair_votes(session, prompt_set=prompt_set, voters=GOLD_VOTER)}


def gold_records_by_rule(
    session: Session, *, prompt_set: SetRecord, model: str, rubric: str | None, rule: OrderRule
) -> list[tuple[GoldRecord, str | None]]:
    """Each judged gold pair's record (one per order under ``separate``) with its prompt's category."""
    golds = gold_votes(session, prompt_set=prompt_set)
    if not golds:
        raise InputError(
            f"set {prompt_set.name!r} has no gold votes (import it with `judge import llmbar` or `judgebench`)",
            field="--gold",
        )
    records: list[tuple[GoldRecord, str | None]] = []
    outcomes = rule_outcomes(session, prompt_set=prompt_set, model=model, rubric=rubric, rule=rule)
    for (prompt_id, model_a, model_b, _turn), unit_outcomes in outcomes.items():
        vote = golds.get(prompt_id)
        if vote is None or {model_a, model_b} != {vote.model_a, vote.model_b}:
            continue
        gold_model = vote.model_a if vote.winner is Winner.MODEL_A else vote.model_b
        label: Any = 1 if gold_model == model_a else 2
        for index, outcome in enumerate(unit_outcomes):
            pair_id = prompt_id if rule is not OrderRule.SEPARATE else f"{prompt_id}#{index + 1}"
            records.append((gold_record(pair_id, label, outcome), vote.category))
    return records


def judged_gold_pairs(
    session: Session, *, gold_set: str, judge: str, rule: OrderRule, tenant: str = DEFAULT_TENANT
) -> tuple[SetRecord, Source, list[tuple[GoldRecord, str | None]]]:
    """The gold set, the judge source (``judge:MODEL[@RUBRIC]``) and its gold records under ``rule``."""
    prompt_set = get_set(session, name=gold_set, tenant=tenant)
    source = Source.parse(judge)
    if source.kind != "judge" or source.model is None:
        raise InputError("--gold needs --a judge:MODEL", field="--a")
    pairs = gold_records_by_rule(session, prompt_set=prompt_set, model=source.model, rubric=source.rubric, rule=rule)
    return prompt_set, source, pairs


def gold_report_by_rule(
    session: Session, *, gold_set: str, judge: str, rule: OrderRule, tenant: str = DEFAULT_TENANT
) -> dict[str, Any]:
    """A judge's accuracy on a gold set under an order rule, overall and per category (micro and macro)."""
    _, source, pairs = judged_gold_pairs(session, gold_set=gold_set, judge=judge, rule=rule, tenant=tenant)
    records = [r for r, _ in pairs]
    result = gold_accuracy(records).to_json()
    result["n_pairs"] = len(records)
    by_category: dict[str, list[GoldRecord]] = defaultdict(list)
    for record, category in pairs:
        by_category[category or "(none)"].append(record)
    groups = {name: gold_accuracy(rs).accuracy.to_json() for name, rs in sorted(by_category.items())}
    result["categories"] = groups
    rates = [g["rate"] for g in groups.values() if g["rate"] is not None]
    result["macro_accuracy"] = sum(rates) / len(rates) if rates else None
    result["micro_accuracy"] = proportion(sum(r.correct for r in records), len(records)).rate
    result["method"] = {
        "judge": source.model,
        "rubric": source.rubric,
        "order_rule": rule.value,
        "order_rule_means": DESCRIPTIONS[rule],
        "counted_correct": "the rule's outcome picks the gold response; ties and missing verdicts count as wrong",
        "micro_accuracy": "pooled over all pairs",
        "macro_accuracy": "mean of the per-category accuracies",
        "ci": "Wilson 95%",
    }
    return result
