"""Combine a run's per-order verdicts into one outcome per judge and unit, then across a panel (pure).

A judge is named by its model string; when one model answers from two api_bases in the same verdicts, each is
its own judge, named ``MODEL @ BASE`` (the normalised api_base; ``default``: the provider's own endpoint).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from judge.metrics.diagnostics import JudgeDiagnostics, OrderedVerdict, judge_diagnostics
from judge.plan import WorkItem, keyed_api_base
from judge.protocols.pairwise import CombinedOutcome, combine_orders, panel_majority
from judge.types import Frozen, Order, VerdictStatus, Winner

Unit = tuple[int, str, str | None, int]


class StoredVerdict(Frozen):
    """What combining needs of one stored verdict."""

    item: WorkItem
    status: VerdictStatus
    winner: Winner | None


class UnitOutcome(Frozen):
    """One unit's result: per judge (orders reconciled) and for the panel (majority of judges)."""

    unit: Unit
    by_judge: dict[str, CombinedOutcome]
    per_order: dict[str, dict[str, str | None]]
    panel: CombinedOutcome


def judge_names(verdicts: Sequence[StoredVerdict]) -> dict[tuple[str, str | None], str]:
    """The name of each (model, normalised api_base) judge among ``verdicts``: the model string, or
    ``MODEL @ BASE`` when the model answers from more than one api_base."""
    identities = {(v.item.judge.model, keyed_api_base(v.item.judge.model, v.item.judge.api_base)) for v in verdicts}
    bases: dict[str, int] = defaultdict(int)
    for model, _ in identities:
        bases[model] += 1
    return {(m, b): f"{m} @ {b or 'default'}" if bases[m] > 1 else m for m, b in identities}


def _name(names: dict[tuple[str, str | None], str], item: WorkItem) -> str:
    return names[(item.judge.model, keyed_api_base(item.judge.model, item.judge.api_base))]


def combine_run(verdicts: Sequence[StoredVerdict], judges: Sequence[str]) -> list[UnitOutcome]:
    """Every pairwise unit's combined outcome; a missing order or judge leaves the outcome incomplete.

    ``judges`` are the panel's model strings; a model answering from several api_bases counts once per base."""
    names = judge_names(verdicts)
    by_model: dict[str, list[str]] = defaultdict(list)
    for (model, _), name in sorted(names.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        by_model[model].append(name)
    judges = list(dict.fromkeys(name for j in judges for name in by_model.get(j, [j])))
    grouped: dict[Unit, dict[str, dict[Order, Winner | None]]] = defaultdict(lambda: defaultdict(dict))
    for verdict in verdicts:
        if verdict.item.model_b is None:
            continue
        winner = verdict.winner if verdict.status is VerdictStatus.OK else None
        grouped[verdict.item.unit()][_name(names, verdict.item)][verdict.item.order] = winner
    outcomes = []
    for unit in sorted(grouped, key=lambda u: (u[0], u[1], u[2] or "", u[3])):
        by_judge = {judge: combine_orders(orders) for judge, orders in grouped[unit].items()}
        if len(judges) == 1 and judges[0] in by_judge:
            panel = by_judge[judges[0]]  # one judge: its reconciled orders are the result
        else:
            panel = panel_majority([by_judge[j].winner if j in by_judge else None for j in judges])
        per_order = {
            j: {o.value: (w.value if w else None) for o, w in orders.items()} for j, orders in grouped[unit].items()
        }
        outcomes.append(UnitOutcome(unit=unit, by_judge=by_judge, per_order=per_order, panel=panel))
    return outcomes


def diagnostics_by_judge(verdicts: Sequence[StoredVerdict]) -> dict[str, JudgeDiagnostics]:
    """Position consistency, first-position preference, tie and unparseable rates of each judge."""
    per_judge: dict[str, list[OrderedVerdict]] = defaultdict(list)
    names = judge_names(verdicts)
    for verdict in verdicts:
        if verdict.item.model_b is None:
            continue
        unit = "|".join(str(part) for part in verdict.item.unit())
        per_judge[_name(names, verdict.item)].append(
            OrderedVerdict(
                unit=unit,
                order=verdict.item.order,
                status=verdict.status,
                winner=verdict.winner if verdict.status is VerdictStatus.OK else None,
            )
        )
    return {judge: judge_diagnostics(items) for judge, items in per_judge.items()}
