"""Votes and gold accuracy under an order rule: a judge's per-order verdicts combined by ``agree``, ``sum`` or
``separate`` (see :mod:`judge.core.protocols.order_rules`); human and file votes are one vote each whatever the rule.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from judge.analysis.sources import Source, judge_verdicts, load_source_votes
from judge.core.errors import InputError
from judge.core.protocols.order_rules import DESCRIPTIONS, OrderRule
from judge.core.protocols.pairwise import CombinedOutcome
from judge.core.types import PairVote, VerdictStatus, Winner
from judge.importers.llmbar import GOLD_VOTER
from judge.metrics.gold import GoldRecord, gold_accuracy, gold_record
from judge.metrics.intervals import proportion
from judge.runs.combine import Samples, combine_samples
from judge.store.queries import get_set
from judge.store.tables import DEFAULT_TENANT, Prompt, PromptSet, Vote

UnitKey = tuple[str, str, str, int]
"""(external prompt id, model_a, model_b, turn)."""


def _prompts(session: Session, prompt_set: PromptSet) -> dict[int, Prompt]:
    return {p.id or 0: p for p in session.exec(select(Prompt).where(col(Prompt.set_id) == prompt_set.id))}


def rule_outcomes(
    session: Session, *, prompt_set: PromptSet, model: str, rubric: str | None, rule: OrderRule
) -> dict[UnitKey, list[CombinedOutcome]]:
    """Each unit's outcomes under ``rule`` (one for agree and sum, one per usable order for separate); a run with
    repeats: each sample's orders combined, then the majority over the samples."""
    prompts = _prompts(session, prompt_set)
    samples: dict[UnitKey, Samples] = defaultdict(lambda: defaultdict(dict))
    for v in judge_verdicts(session, prompt_set=prompt_set, model=model, rubric=rubric):
        item = v.item
        assert item.model_b is not None
        key = (prompts[item.prompt_id].external_id, item.model_a, item.model_b, item.turn)
        samples[key][item.sample][item.order] = v.winner if v.status is VerdictStatus.OK else None
    return {key: combine_samples(by_sample, rule) for key, by_sample in sorted(samples.items())}


def judge_votes_by_rule(
    session: Session, *, prompt_set: PromptSet, model: str, rubric: str | None, rule: OrderRule
) -> list[PairVote]:
    """The judge's outcomes under ``rule`` as votes; units without an outcome are left out."""
    categories = {p.external_id: p.category for p in _prompts(session, prompt_set).values()}
    return [
        PairVote(
            prompt_id=pid,
            model_a=a,
            model_b=b,
            winner=outcome.winner,
            voter=f"judge:{model}",
            turn=turn,
            category=categories.get(pid),
        )
        for (pid, a, b, turn), outcomes in rule_outcomes(
            session, prompt_set=prompt_set, model=model, rubric=rubric, rule=rule
        ).items()
        for outcome in outcomes
        if outcome.winner is not None
    ]


def votes_by_rule(
    session: Session,
    *,
    source: Source,
    prompt_set: PromptSet | None,
    voters: str | None = None,
    rule: OrderRule = OrderRule.AGREE,
) -> list[PairVote]:
    """``source``'s votes; a judge's per-order verdicts are combined by ``rule``."""
    if source.kind == "judge" and prompt_set is not None and rule is not OrderRule.AGREE:
        assert source.model is not None
        return judge_votes_by_rule(session, prompt_set=prompt_set, model=source.model, rubric=source.rubric, rule=rule)
    return load_source_votes(session, source=source, prompt_set=prompt_set, voters=voters)


def gold_records_by_rule(
    session: Session, *, prompt_set: PromptSet, model: str, rubric: str | None, rule: OrderRule
) -> list[tuple[GoldRecord, str | None]]:
    """Each judged gold pair's record (one per order under ``separate``) with its prompt's category."""
    golds = {
        external_id: (vote, category)
        for vote, external_id, category in session.exec(
            select(Vote, Prompt.external_id, Prompt.category)
            .join(Prompt, col(Vote.prompt_id) == col(Prompt.id))
            .where(col(Vote.set_id) == prompt_set.id, col(Vote.voter) == GOLD_VOTER)
        )
    }
    if not golds:
        raise InputError(
            f"set {prompt_set.name!r} has no gold votes (import it with `judge import llmbar` or `judgebench`)",
            field="--gold",
        )
    records: list[tuple[GoldRecord, str | None]] = []
    outcomes = rule_outcomes(session, prompt_set=prompt_set, model=model, rubric=rubric, rule=rule)
    for (prompt_id, model_a, model_b, _turn), unit_outcomes in outcomes.items():
        found = golds.get(prompt_id)
        if found is None or {model_a, model_b} != {found[0].model_a, found[0].model_b}:
            continue
        vote, category = found
        gold_model = vote.model_a if vote.winner == Winner.MODEL_A.value else vote.model_b
        label: Any = 1 if gold_model == model_a else 2
        for index, outcome in enumerate(unit_outcomes):
            pair_id = prompt_id if rule is not OrderRule.SEPARATE else f"{prompt_id}#{index + 1}"
            records.append((gold_record(pair_id, label, outcome), category))
    return records


def gold_report_by_rule(
    session: Session, *, gold_set: str, judge: str, rule: OrderRule, tenant: str = DEFAULT_TENANT
) -> dict[str, Any]:
    """A judge's accuracy on a gold set under an order rule, overall and per category (micro and macro)."""
    prompt_set = get_set(session, name=gold_set, tenant=tenant)
    source = Source.parse(judge)
    if source.kind != "judge" or source.model is None:
        raise InputError("--gold needs --a judge:MODEL", field="--a")
    pairs = gold_records_by_rule(session, prompt_set=prompt_set, model=source.model, rubric=source.rubric, rule=rule)
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
