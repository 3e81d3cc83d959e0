"""Combine a run's per-order verdicts into one outcome per judge and unit, then across a panel (pure).

Orders are combined by an order rule (:mod:`judge.core.protocols.order_rules`: ``agree``, ``sum``, ``separate``). A run
with ``repeats`` has several samples of each (judge, unit, order): each sample's orders are combined by the rule,
and the judge's outcome is the majority over its samples (:func:`sample_majority`); :func:`repeat_report` gives
the samples' self-consistency and the spread of the win rates (or scores) computed from each sample index alone.

A judge is named by its model string; when one model answers from two api_bases in the same verdicts, each is
its own judge, named ``MODEL @ BASE`` (the normalised api_base; ``default``: the provider's own endpoint).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from judge.core.protocols.order_rules import OrderRule, apply_order_rule
from judge.core.protocols.pairwise import CombinedOutcome, OutcomeStatus, panel_majority, single_order_outcome
from judge.core.types import Frozen, Order, VerdictStatus, Winner
from judge.metrics.diagnostics import JudgeDiagnostics, OrderedVerdict, judge_diagnostics
from judge.metrics.intervals import proportion
from judge.runs.plan import WorkItem, keyed_api_base

Unit = tuple[int, str, str | None, int]


class StoredVerdict(Frozen):
    """What combining needs of one stored verdict."""

    item: WorkItem
    status: VerdictStatus
    winner: Winner | None
    score: float | None = None


class UnitOutcome(Frozen):
    """One unit's result: per judge (orders combined by the rule, majority over samples) and for the panel
    (majority of judges). ``battle`` names the order under ``separate`` (one outcome per order); ``per_order``
    keys are orders (``ab``, ``ba``), with ``#N`` for sample N > 0 of a run with repeats."""

    unit: Unit
    by_judge: dict[str, CombinedOutcome]
    per_order: dict[str, dict[str, str | None]]
    panel: CombinedOutcome
    battle: str | None = None


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


Samples = dict[int, dict[Order, Winner | None]]
"""One judge's verdicts on one unit: sample index -> order -> winner (None: no usable verdict)."""


def _grouped(verdicts: Sequence[StoredVerdict]) -> dict[Unit, dict[str, Samples]]:
    names = judge_names(verdicts)
    grouped: dict[Unit, dict[str, Samples]] = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for verdict in verdicts:
        if verdict.item.model_b is None:
            continue
        winner = verdict.winner if verdict.status is VerdictStatus.OK else None
        grouped[verdict.item.unit()][_name(names, verdict.item)][verdict.item.sample][verdict.item.order] = winner
    return grouped


def sample_majority(outcomes: Sequence[CombinedOutcome]) -> CombinedOutcome:
    """The outcome of several samples of one judge on one unit: one sample is itself; else the winner more than
    half of the samples with an outcome give (no majority: a tie), incomplete when a sample had none, flagged
    inconsistent when most samples were."""
    if len(outcomes) == 1:
        return outcomes[0]
    present = [o.winner for o in outcomes if o.winner is not None]
    n_verdicts = sum(o.n_verdicts for o in outcomes)
    n_missing = sum(o.n_missing for o in outcomes)
    if not present:
        return CombinedOutcome(winner=None, status=OutcomeStatus.INCOMPLETE, n_verdicts=0, n_missing=n_missing)
    majority = panel_majority(present)
    complete = all(o.status is OutcomeStatus.COMPLETE for o in outcomes)
    return CombinedOutcome(
        winner=majority.winner,
        status=OutcomeStatus.COMPLETE if complete else OutcomeStatus.INCOMPLETE,
        inconsistent=2 * sum(o.inconsistent for o in outcomes) > len(outcomes),
        n_verdicts=n_verdicts,
        n_missing=n_missing,
    )


Battles = dict[str | None, dict[int, CombinedOutcome]]
"""One judge's outcomes on one unit: battle (None, or the order under separate) -> sample index -> outcome."""


def _battles(samples: Samples, rule: OrderRule) -> Battles:
    """Each battle's outcome in each sample: one battle (None) under agree and sum, one per order under separate
    (an order no sample has a usable verdict for is skipped)."""
    if rule is not OrderRule.SEPARATE:
        return {None: {s: apply_order_rule(rule, orders)[0] for s, orders in sorted(samples.items())}}
    used = sorted({o for orders in samples.values() for o, w in orders.items() if w is not None})
    return {o.value: {s: single_order_outcome(orders.get(o)) for s, orders in sorted(samples.items())} for o in used}


def combine_samples(samples: Samples, rule: OrderRule | str = OrderRule.AGREE) -> list[CombinedOutcome]:
    """One judge's outcomes on one unit under ``rule`` (one, or one per order under ``separate``): each sample's
    orders combined, then the majority over the samples."""
    return [sample_majority(list(b.values())) for b in _battles(samples, OrderRule(rule)).values()]


def _per_order(samples: Samples) -> dict[str, str | None]:
    return {
        o.value + (f"#{s}" if s else ""): (w.value if w else None)
        for s in sorted(samples)
        for o, w in sorted(samples[s].items())
    }


def combine_run(
    verdicts: Sequence[StoredVerdict], judges: Sequence[str], rule: OrderRule | str = OrderRule.AGREE
) -> list[UnitOutcome]:
    """Every pairwise unit's combined outcome under order ``rule`` (one per order under ``separate``); a missing
    order or judge leaves the outcome incomplete; several samples are combined by :func:`sample_majority`.

    ``judges`` are the panel's model strings; a model answering from several api_bases counts once per base."""
    chosen = OrderRule(rule)
    names = judge_names(verdicts)
    by_model: dict[str, list[str]] = defaultdict(list)
    for (model, _), name in sorted(names.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        by_model[model].append(name)
    judges = list(dict.fromkeys(name for j in judges for name in by_model.get(j, [j])))
    grouped = _grouped(verdicts)
    outcomes = []
    for unit in sorted(grouped, key=lambda u: (u[0], u[1], u[2] or "", u[3])):
        per_judge = {judge: _battles(samples, chosen) for judge, samples in grouped[unit].items()}
        per_order = {j: _per_order(samples) for j, samples in grouped[unit].items()}
        battles = sorted({b for by_battle in per_judge.values() for b in by_battle}, key=lambda b: b or "")
        for battle in battles:
            by_judge = {j: sample_majority(list(b[battle].values())) for j, b in per_judge.items() if battle in b}
            if len(judges) == 1 and judges[0] in by_judge:
                panel = by_judge[judges[0]]  # one judge: its combined orders are the result
            else:
                panel = panel_majority([by_judge[j].winner if j in by_judge else None for j in judges])
            outcomes.append(UnitOutcome(unit=unit, by_judge=by_judge, per_order=per_order, panel=panel, battle=battle))
    return outcomes


def _same(winners: Sequence[Winner | None]) -> bool:
    """Whether every sample gave the same outcome (a tie is a tie, whichever kind)."""
    return len({(w.is_tie, None if w.is_tie else w) if w else None for w in winners}) == 1


def _spread(per_sample: list[float | None], majority: float | None) -> dict[str, Any]:
    values = [v for v in per_sample if v is not None]
    return {
        "per_sample": per_sample,
        "min": min(values) if values else None,
        "median": statistics.median(values) if values else None,
        "max": max(values) if values else None,
        "majority": majority,
    }


def _win_rates(outcomes: Sequence[tuple[Unit, Winner]]) -> dict[str, float]:
    """Each model's share of points (win 1, tie 1/2) in the battles it took part in."""
    points: dict[str, float] = defaultdict(float)
    battles: dict[str, int] = defaultdict(int)
    for (_, model_a, model_b, _), winner in outcomes:
        assert model_b is not None
        for model, wins in ((model_a, Winner.MODEL_A), (model_b, Winner.MODEL_B)):
            battles[model] += 1
            points[model] += 1.0 if winner is wins else 0.5 if winner.is_tie else 0.0
    return {m: points[m] / battles[m] for m in sorted(battles)}


def _pairwise_repeats(verdicts: Sequence[StoredVerdict], rule: OrderRule, repeats: int) -> dict[str, Any]:
    consistency: dict[str, Any] = {}
    spread: dict[str, Any] = {}
    per_judge: dict[str, dict[Unit, Battles]] = defaultdict(dict)
    for unit, judges in _grouped(verdicts).items():
        for judge, samples in judges.items():
            per_judge[judge][unit] = _battles(samples, rule)
    for judge, units in sorted(per_judge.items()):
        agree = n = 0
        by_sample: list[list[tuple[Unit, Winner]]] = [[] for _ in range(repeats)]
        majority: list[tuple[Unit, Winner]] = []
        for unit, battles in units.items():
            winners = [[o.get(s) for s in range(repeats)] for o in battles.values()]
            if battles and all(o is not None and o.winner is not None for ws in winners for o in ws):
                n += 1
                agree += all(_same([o.winner for o in ws if o is not None]) for ws in winners)
            for outcomes in battles.values():
                for s, outcome in outcomes.items():
                    if outcome.winner is not None and s < repeats:
                        by_sample[s].append((unit, outcome.winner))
                combined = sample_majority(list(outcomes.values()))
                if combined.winner is not None:
                    majority.append((unit, combined.winner))
        consistency[judge] = proportion(agree, n).to_json()
        rates = [_win_rates(outcomes) for outcomes in by_sample]
        overall = _win_rates(majority)
        models = sorted({m for r in rates for m in r} | set(overall))
        spread[judge] = {m: _spread([r.get(m) for r in rates], overall.get(m)) for m in models}
    return {"self_consistency": consistency, "measure": "win_rate", "spread": spread}


def _single_repeats(verdicts: Sequence[StoredVerdict], repeats: int) -> dict[str, Any]:
    names = judge_names(verdicts)
    scores: dict[str, dict[Unit, dict[int, float | None]]] = defaultdict(lambda: defaultdict(dict))
    for v in verdicts:
        if v.item.model_b is None:
            score = v.score if v.status is VerdictStatus.OK else None
            scores[_name(names, v.item)][v.item.unit()][v.item.sample] = score
    consistency: dict[str, Any] = {}
    spread: dict[str, Any] = {}
    for judge, units in sorted(scores.items()):
        complete = [u for u in units.values() if len(u) == repeats and all(x is not None for x in u.values())]
        consistency[judge] = proportion(sum(len(set(u.values())) == 1 for u in complete), len(complete)).to_json()
        sums: list[dict[str, list[float]]] = [defaultdict(list) for _ in range(repeats)]
        medians: dict[str, list[float]] = defaultdict(list)
        for unit, samples in units.items():
            present = [x for x in samples.values() if x is not None]
            for s, x in samples.items():
                if x is not None and s < repeats:
                    sums[s][unit[1]].append(x)
            if present:
                medians[unit[1]].append(statistics.median(present))
        models = sorted({m for per in sums for m in per})
        spread[judge] = {
            m: _spread(
                [statistics.fmean(per[m]) if per.get(m) else None for per in sums],
                statistics.fmean(medians[m]) if medians.get(m) else None,
            )
            for m in models
        }
    return {"self_consistency": consistency, "measure": "mean_score", "spread": spread}


def repeat_report(verdicts: Sequence[StoredVerdict], rule: OrderRule | str, repeats: int) -> dict[str, Any]:
    """How a judge's ``repeats`` samples agree, per judge: ``self_consistency`` (share of units, Wilson CI, whose
    samples all give the same outcome, over the units every sample has an outcome for; a tie is a tie) and
    ``spread``: each model's win rate (pairwise; win 1, tie 1/2, under ``rule``) or mean score (single grading)
    computed from each sample index alone (``per_sample``), their min / median / max, and ``majority``: the
    figure from the majority outcomes (pairwise) or from each unit's median score (single)."""
    chosen = OrderRule(rule)
    pairwise = any(v.item.model_b is not None for v in verdicts)
    report = _pairwise_repeats(verdicts, chosen, repeats) if pairwise else _single_repeats(verdicts, repeats)
    return {"n": repeats, **report}


def diagnostics_by_judge(verdicts: Sequence[StoredVerdict]) -> dict[str, JudgeDiagnostics]:
    """Position consistency, first-position preference, tie and unparseable rates of each judge (a run with
    repeats: each sample's two orders are one pair)."""
    per_judge: dict[str, list[OrderedVerdict]] = defaultdict(list)
    names = judge_names(verdicts)
    for verdict in verdicts:
        if verdict.item.model_b is None:
            continue
        unit = "|".join(str(part) for part in verdict.item.unit())
        unit += f"#{verdict.item.sample}" if verdict.item.sample else ""  # each sample's orders are one pair
        per_judge[_name(names, verdict.item)].append(
            OrderedVerdict(
                unit=unit,
                order=verdict.item.order,
                status=verdict.status,
                winner=verdict.winner if verdict.status is VerdictStatus.OK else None,
            )
        )
    return {judge: judge_diagnostics(items) for judge, items in per_judge.items()}
