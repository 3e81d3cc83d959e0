"""Votes of a source under an order rule: a judge's per-order verdicts combined by ``agree``, ``sum`` or
``separate`` (see :mod:`judge.protocols.order_rules`); human and file votes are one vote each whatever the rule.
"""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import Session, col, select

from judge.protocols.order_rules import OrderRule, apply_order_rule
from judge.sources import Source, judge_verdicts, load_source_votes
from judge.store.tables import Prompt, PromptSet
from judge.types import Order, PairVote, VerdictStatus, Winner


def judge_votes_by_rule(
    session: Session, *, prompt_set: PromptSet, model: str, rubric: str | None, rule: OrderRule
) -> list[PairVote]:
    """The judge's outcomes under ``rule`` as votes; units without an outcome are left out."""
    prompts = {p.id: p for p in session.exec(select(Prompt).where(col(Prompt.set_id) == prompt_set.id))}
    orders: dict[tuple[str, str, str, int], dict[Order, Winner | None]] = defaultdict(dict)
    for v in judge_verdicts(session, prompt_set=prompt_set, model=model, rubric=rubric):
        item = v.item
        assert item.model_b is not None
        key = (prompts[item.prompt_id].external_id, item.model_a, item.model_b, item.turn)
        orders[key][item.order] = v.winner if v.status is VerdictStatus.OK else None
    categories = {p.external_id: p.category for p in prompts.values()}
    votes = []
    for (pid, a, b, turn), by_order in sorted(orders.items()):
        for outcome in apply_order_rule(rule, by_order):
            if outcome.winner is not None:
                votes.append(
                    PairVote(
                        prompt_id=pid,
                        model_a=a,
                        model_b=b,
                        winner=outcome.winner,
                        voter=f"judge:{model}",
                        turn=turn,
                        category=categories.get(pid),
                    )
                )
    return votes


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
