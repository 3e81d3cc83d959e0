"""Agreement between vote sources: hand-built sets with hand-computed values, and the MT-Bench figure."""

from __future__ import annotations

import json
from fnmatch import fnmatch

import numpy as np
import pytest

from judge.core.errors import InputError
from judge.core.types import PairVote, Winner
from judge.metrics.agreement import CSV_COLUMNS, compare_sources
from judge.metrics.kappa import UNDEFINED, kappa_standard_error, kappa_value
from judge.metrics.units import canonical_outcome, pair_across, pair_within, unit_key
from tests.paths import HUMAN_VOTES

A, B, T = Winner.MODEL_A, Winner.MODEL_B, Winner.TIE


def vote(prompt: str, winner: Winner, voter: str, *, flip: bool = False, turn: int = 1, category: str = "math"):
    """A vote on (prompt, y vs z) whose winner is given in canonical orientation (y = model_a).

    ``flip`` lists the models the other way round (z first) with the winner swapped to match.
    """
    if flip:
        return PairVote(
            prompt_id=prompt,
            model_a="z",
            model_b="y",
            winner=winner.swapped(),
            voter=voter,
            turn=turn,
            category=category,
        )
    return PairVote(
        prompt_id=prompt, model_a="y", model_b="z", winner=winner, voter=voter, turn=turn, category=category
    )


# Canonical outcomes per unit:   u1 u2 u3 u4   u5   u6
JUDGE = [A, A, B, B, T, A]
HUMAN = [A, B, B, T, T, A]


def judge_votes() -> list[PairVote]:
    return [vote(f"u{i}", w, "gpt-4", flip=i % 2 == 0) for i, w in enumerate(JUDGE, start=1)]


def human_votes() -> list[PairVote]:
    votes = [vote(f"u{i}", w, "expert_1", flip=i in (2, 3)) for i, w in enumerate(HUMAN, start=1)]
    # u5's human tie is a tie_bothbad: it still counts as a tie.
    return [v.model_copy(update={"winner": Winner.TIE_BOTHBAD}) if v.prompt_id == "u5" else v for v in votes]


def test_canonical_orientation_sorts_models_and_swaps_the_winner() -> None:
    listed_reversed = PairVote(prompt_id="p", model_a="z", model_b="y", winner=Winner.MODEL_A, voter="h")
    assert unit_key(listed_reversed).model_a == "y"
    assert canonical_outcome(listed_reversed) is Winner.MODEL_B
    bothbad = listed_reversed.model_copy(update={"winner": Winner.TIE_BOTHBAD})
    assert canonical_outcome(bothbad) is Winner.TIE


def test_cross_source_hand_computed_values() -> None:
    report = compare_sources(judge_votes(), human_votes())
    overall = report.overall
    # Agreeing units: u1, u3, u5, u6 -> 4 of 6; without ties u4 and u5 drop -> u1, u3, u6 of u1, u2, u3, u6.
    assert (overall.with_ties.count, overall.with_ties.n) == (4, 6)
    assert (overall.without_ties.count, overall.without_ties.n) == (3, 4)
    assert overall.confusion.counts == ((2, 1, 0), (0, 1, 1), (0, 0, 1))
    # p_o = 4/6; row marginals (3, 2, 1)/6, column marginals (2, 2, 2)/6 -> p_e = 12/36; kappa = (1/3)/(2/3).
    assert overall.kappa.value == pytest.approx(0.5)
    assert overall.kappa.ci_low is not None and overall.kappa.ci_high is not None
    assert overall.kappa.ci_low < 0.5 < overall.kappa.ci_high
    assert overall.n_units == 6
    assert report.mode == "cross_source"


def test_swapping_sources_transposes_the_confusion_matrix() -> None:
    forward = compare_sources(judge_votes(), human_votes()).overall
    backward = compare_sources(human_votes(), judge_votes()).overall
    assert np.array_equal(np.array(forward.confusion.counts).T, np.array(backward.confusion.counts))
    assert backward.kappa.value == pytest.approx(forward.kappa.value)


def test_json_shape() -> None:
    payload = compare_sources(judge_votes(), human_votes()).to_json()
    assert {"with_ties", "without_ties", "kappa", "confusion", "n_units"} <= payload.keys()
    assert payload["with_ties"] == {
        "agree": 4,
        "total": 6,
        "rate": pytest.approx(4 / 6),
        "ci_low": pytest.approx(0.3000, abs=1e-4),
        "ci_high": pytest.approx(0.9032, abs=1e-4),
    }
    assert payload["confusion"]["labels"] == ["model_a", "model_b", "tie"]
    assert payload["confusion"]["counts"][0] == [2, 1, 0]
    assert payload["kappa"]["ci_method"] == "asymptotic"
    json.dumps(payload)


def test_csv_rows() -> None:
    rows = compare_sources(judge_votes(), human_votes(), by="pair").to_rows()
    assert all(row.keys() == set(CSV_COLUMNS) for row in rows)
    with_ties = [r for r in rows if r["metric"] == "with_ties"]
    assert [(r["group"], r["count"], r["total"]) for r in with_ties] == [("all", 4, 6), ("y vs z", 4, 6)]
    cell = next(r for r in rows if r["group"] == "all" and r["metric"] == "confusion:model_b|tie")
    assert cell["count"] == 1


def test_same_source_pairs_every_two_different_voters() -> None:
    votes = [
        vote("u1", A, "h1"),
        vote("u1", A, "h2", flip=True),
        vote("u1", B, "h3"),
        vote("u1", B, "h3"),  # a second vote by h3 on the same unit is never compared with h3's first
        vote("u2", T, "h1"),
        vote("u2", A, "h2"),
        vote("u3", A, "h1"),  # alone on its unit: no comparison
    ]
    comparisons = pair_within(votes)
    # u1: h1-h2 agree, h1-h3 twice disagree, h2-h3 twice disagree; u2: h1-h2 (tie vs A) disagree.
    assert len(comparisons) == 6
    report = compare_sources(votes, same_source=True)
    assert (report.overall.with_ties.count, report.overall.with_ties.n) == (1, 6)
    assert (report.overall.without_ties.count, report.overall.without_ties.n) == (1, 5)
    assert report.overall.n_units == 2
    assert compare_sources(votes, list(reversed(votes)), same_source=True).overall == report.overall


def test_cross_source_counts_every_combination() -> None:
    judge = [vote("u1", A, "run1"), vote("u1", B, "run2")]
    humans = [vote("u1", A, "h1"), vote("u1", A, "h2", flip=True), vote("u1", T, "h3"), vote("u9", A, "h1")]
    assert len(pair_across(judge, humans)) == 6
    overall = compare_sources(judge, humans).overall
    assert (overall.with_ties.count, overall.with_ties.n) == (2, 6)
    assert (overall.without_ties.count, overall.without_ties.n) == (2, 4)
    assert overall.n_units == 1


def test_breakdown_by_category_and_turn() -> None:
    votes_a = [vote("u1", A, "j", category="math"), vote("u2", B, "j", category="coding", turn=2)]
    votes_b = [vote("u1", A, "h", category="math"), vote("u2", A, "h", category="coding", turn=2)]
    by_category = compare_sources(votes_a, votes_b, by="category")
    assert list(by_category.groups) == ["coding", "math"]
    assert by_category.groups["math"].with_ties.count == 1
    assert by_category.groups["coding"].with_ties.count == 0
    by_turn = compare_sources(votes_a, votes_b, by="turn")
    assert {k: g.with_ties.n for k, g in by_turn.groups.items()} == {"1": 1, "2": 1}
    assert by_turn.to_json()["groups"]["2"]["with_ties"]["agree"] == 0


def test_empty_input_gives_none_never_nan() -> None:
    report = compare_sources([], [])
    block = report.overall
    assert block.with_ties.n == 0 and block.with_ties.rate is None and block.with_ties.note
    assert block.kappa.value is None and block.kappa.note
    assert block.n_units == 0
    assert "NaN" not in json.dumps(report.to_json())


def test_kappa_undefined_when_both_sides_always_agree_on_one_outcome() -> None:
    votes_a = [vote("u1", A, "j"), vote("u2", A, "j")]
    votes_b = [vote("u1", A, "h"), vote("u2", A, "h")]
    overall = compare_sources(votes_a, votes_b).overall
    assert overall.with_ties.rate == 1.0
    assert overall.kappa.value is None and overall.kappa.note == UNDEFINED


def test_invalid_mode_arguments() -> None:
    with pytest.raises(InputError):
        compare_sources(judge_votes(), human_votes(), same_source=True)
    with pytest.raises(InputError):
        compare_sources(judge_votes())
    with pytest.raises(InputError):
        compare_sources([PairVote(prompt_id="p", model_a="x", model_b="x", winner=A, voter="h")], [])


def test_asymptotic_kappa_se_matches_simulation() -> None:
    probabilities = np.array([[0.27, 0.07, 0.05], [0.06, 0.27, 0.06], [0.07, 0.07, 0.08]])
    n = 500
    rng = np.random.default_rng(7)
    draws = rng.multinomial(n, probabilities.ravel(), size=4000).reshape(-1, 3, 3).astype(np.float64)
    simulated = np.std([kappa_value(d) for d in draws])
    assert kappa_standard_error(probabilities * n) == pytest.approx(simulated, rel=0.08)


def test_bootstrap_kappa_is_seeded() -> None:
    votes = judge_votes()
    first = compare_sources(votes, human_votes(), kappa_ci="bootstrap", n_resamples=300, seed=3).overall.kappa
    again = compare_sources(votes, human_votes(), kappa_ci="bootstrap", n_resamples=300, seed=3).overall.kappa
    assert first == again
    assert first.ci_method == "bootstrap"
    assert first.ci_low is not None and first.ci_high is not None
    assert first.ci_low <= 0.5 <= first.ci_high


def load_expert_votes() -> list[PairVote]:
    votes = []
    with HUMAN_VOTES.open() as handle:
        for line in handle:
            row = json.loads(line)
            if fnmatch(row["judge"], "expert_*"):
                votes.append(
                    PairVote(
                        prompt_id=str(row["question_id"]),
                        model_a=row["model_a"],
                        model_b=row["model_b"],
                        winner=Winner(row["winner"]),
                        voter=row["judge"],
                    )
                )
    return votes


def test_reproduces_the_mt_bench_human_human_agreement() -> None:
    report = compare_sources(load_expert_votes(), same_source=True)
    assert (report.overall.with_ties.count, report.overall.with_ties.n) == (454, 721)
    assert (report.overall.without_ties.count, report.overall.without_ties.n) == (388, 479)
    assert report.overall.confusion.n == 721
