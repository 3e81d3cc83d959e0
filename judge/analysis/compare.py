"""``judge compare``: is A better than B, by how much, and how sure are we (the CLI and API share these)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlmodel import Session

from judge.analysis.rule_votes import gold_records_by_rule, votes_by_rule
from judge.analysis.sources import Source
from judge.core.errors import InputError, StatisticsError
from judge.core.protocols.order_rules import DESCRIPTIONS, OrderRule
from judge.core.types import PairVote
from judge.metrics.categories import in_category
from judge.metrics.intervals import proportion
from judge.metrics.significance import cluster_bootstrap, mcnemar, paired_bootstrap
from judge.metrics.winrate import item_score
from judge.ratings import BootstrapSpec, battles_from_votes, fit_bradley_terry
from judge.store import DEFAULT_TENANT
from judge.store.queries import get_set


def _rating_gap(votes: Sequence[PairVote], a: str, b: str) -> float:
    battles = battles_from_votes(votes)
    if a not in battles.models or b not in battles.models:
        raise StatisticsError("a model has no battles in this resample")
    fit = fit_bradley_terry(battles, bootstrap=BootstrapSpec(rounds=0))
    return float(fit.ratings[battles.models.index(a)] - fit.ratings[battles.models.index(b)])


def _by_prompt(votes: Sequence[PairVote]) -> list[list[PairVote]]:
    groups: dict[str, list[PairVote]] = defaultdict(list)
    for vote in votes:
        groups[vote.prompt_id].append(vote)
    return [groups[k] for k in sorted(groups)]


def compare_votes(
    votes: Sequence[PairVote],
    a: str,
    b: str,
    *,
    baseline: str | None = None,
    rounds: int = 200,
    seed: int = 0,
    ci: float = 0.95,
) -> dict[str, Any]:
    """Rating gap (Bradley-Terry, bootstrap over prompts), head-to-head win rate, and win rates vs a baseline."""
    models = {m for v in votes for m in (v.model_a, v.model_b)}
    for side, model in (("--a", a), ("--b", b)):
        if model not in models:
            raise InputError(f"no votes involve {model!r}", field=side)
    groups = _by_prompt(votes)

    def gap(index: NDArray[np.int64]) -> float:
        return _rating_gap([v for i in index for v in groups[i]], a, b)

    out: dict[str, Any] = {"a": a, "b": b, "n_votes": len(votes), "n_prompts": len(groups)}
    out["rating_difference"] = cluster_bootstrap(gap, len(groups), rounds=rounds, seed=seed, ci=ci).to_json()
    direct = [[item_score(v, a) for v in g if {v.model_a, v.model_b} == {a, b}] for g in groups]
    direct = [s for s in direct if s]
    if direct:
        scores = [s for g in direct for s in g]

        def share(index: NDArray[np.int64]) -> float:
            picked = [s for i in index for s in direct[i]]
            return float(sum(picked)) / len(picked) - 0.5

        head = cluster_bootstrap(share, len(direct), rounds=rounds, seed=seed, ci=ci).to_json()
        out["head_to_head"] = {
            "win_rate_a": sum(scores) / len(scores),
            "n_votes": len(scores),
            "n_prompts": len(direct),
            "a_minus_half": head,
        }
    if baseline is not None:
        per_prompt: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for v in votes:
            for model in (a, b):
                if {v.model_a, v.model_b} == {model, baseline}:
                    per_prompt[v.prompt_id][model].append(item_score(v, model))
        shared = sorted(p for p, s in per_prompt.items() if s[a] and s[b])
        if not shared:
            raise InputError(f"{a!r} and {b!r} never faced {baseline!r} on the same prompt", field="--baseline")
        xs = [100.0 * float(np.mean(per_prompt[p][a])) for p in shared]
        ys = [100.0 * float(np.mean(per_prompt[p][b])) for p in shared]
        out["win_rate_vs_baseline"] = {
            "baseline": baseline,
            "win_rate_a": float(np.mean(xs)),
            "win_rate_b": float(np.mean(ys)),
            "difference": paired_bootstrap(xs, ys, rounds=max(rounds, 1000), seed=seed, ci=ci).to_json(),
        }
    return out


def compare_models(
    session: Session,
    *,
    set_name: str,
    a: str,
    b: str,
    source: str = "human",
    voters: str | None = None,
    rule: OrderRule = OrderRule.AGREE,
    baseline: str | None = None,
    category: str | None = None,
    rounds: int = 200,
    seed: int = 0,
    ci: float = 0.95,
    tenant: str = DEFAULT_TENANT,
) -> dict[str, Any]:
    """Two models compared on a set's votes from ``source`` (optionally one category)."""
    prompt_set = get_set(session, name=set_name, tenant=tenant)
    votes = votes_by_rule(session, source=Source.parse(source), prompt_set=prompt_set, voters=voters, rule=rule)
    if category is not None:
        votes = [v for v in votes if in_category(v.category, category)]
    if not votes:
        raise InputError(f"no votes from {source}" + (f" in category {category!r}" if category else ""), field="--set")
    out = compare_votes(votes, a, b, baseline=baseline, rounds=rounds, seed=seed, ci=ci)
    out["method"] = {
        "source": source,
        "voters": voters,
        "category": category,
        "order_rule": rule.value,
        "order_rule_means": DESCRIPTIONS[rule],
        "rating": "Bradley-Terry (Elo scale, ties half a win), refitted on each bootstrap resample of prompts",
        "head_to_head": "A's share of points in A-vs-B votes (ties half), bootstrap over prompts",
        "win_rate_vs_baseline": "per-prompt win rates vs the baseline on prompts both faced it, paired bootstrap",
        "p_a_better": "share of bootstrap rounds where A's figure is higher (ties half)",
        "p_value": "two-sided bootstrap p = 2 min(P(d <= 0), P(d >= 0))",
        "bootstrap_rounds": rounds,
        "seed": seed,
        "ci_level": ci,
    }
    return out


def compare_judges_on_gold(
    session: Session,
    *,
    gold_set: str,
    a: str,
    b: str,
    rule: OrderRule = OrderRule.AGREE,
    rounds: int = 2000,
    seed: int = 0,
    ci: float = 0.95,
    tenant: str = DEFAULT_TENANT,
) -> dict[str, Any]:
    """Two judges' accuracies on the gold pairs both judged: difference with CI, P(A better), McNemar."""
    prompt_set = get_set(session, name=gold_set, tenant=tenant)
    flags: list[dict[str, bool]] = []
    for source_text in (a, b):
        source = Source.parse(source_text)
        if source.kind != "judge" or source.model is None:
            raise InputError("with --gold, --a and --b are judge:MODEL sources", field="--a")
        records = gold_records_by_rule(
            session, prompt_set=prompt_set, model=source.model, rubric=source.rubric, rule=rule
        )
        flags.append({r.pair_id: r.correct for r, _ in records})
    shared = sorted(set(flags[0]) & set(flags[1]))
    if not shared:
        raise InputError("the two judges share no judged gold pairs", field="--b")
    xa = [flags[0][p] for p in shared]
    xb = [flags[1][p] for p in shared]
    return {
        "a": a,
        "b": b,
        "n_pairs": len(shared),
        "accuracy_a": proportion(sum(xa), len(xa), ci).to_json(),
        "accuracy_b": proportion(sum(xb), len(xb), ci).to_json(),
        "difference": paired_bootstrap(
            [float(x) for x in xa], [float(x) for x in xb], rounds=rounds, seed=seed, ci=ci
        ).to_json(),
        "mcnemar": mcnemar(xa, xb).to_json(),
        "method": {
            "gold_set": gold_set,
            "order_rule": rule.value,
            "order_rule_means": DESCRIPTIONS[rule],
            "items": "gold pairs judged by both (one item per order under separate)",
            "accuracy_ci": f"Wilson {ci:.0%}",
            "difference": "accuracy A - B, paired bootstrap over the shared pairs",
            "test": "exact McNemar on the pairs only one judge got right",
        },
    }
