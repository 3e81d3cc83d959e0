"""Arena-Hard-Auto: reading a benchmark directory and its score (strong verdicts 3x, two games per record)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from judge.core.errors import InputError
from judge.core.types import Winner
from judge.importers.arenahard import ArenaHardGame, read_arenahard
from judge.ratings.arenahard import arenahard_scores, battle_scores
from tests.paths import REPO

BENCH = REPO / "tests" / "fixtures" / "formats" / "arenahard" / "bench"
V01 = REPO / "tests" / "fixtures" / "formats" / "arenahard" / "v0.1"  # real excerpt, see its SOURCES.md


def game(g1: str | None, g2: str | None) -> ArenaHardGame:
    return ArenaHardGame(uid="q", model="m", baseline="b", judge="j", category=None, game1=g1, game2=g2, location="x:1")


@pytest.mark.parametrize(
    ("g1", "g2", "scores"),
    [
        ("B>A", "A>>B", [1.0, 1.0, 1.0, 1.0]),  # game 2 strong for the model (3 battles), game 1 model (B) better
        ("A=B", "B>A", [0.0, 0.5]),
        ("A>>B", "B<A", [1.0, 0.0, 0.0, 0.0]),  # B<A is A>B written backwards: model (A in game 2) wins
        (None, "A>B", []),  # a null game drops the record, as show_result.py does
    ],
)
def test_battle_scores_follow_arena_hard_label_map(g1: str | None, g2: str | None, scores: list[float]) -> None:
    assert battle_scores(game(g1, g2)) == scores


def test_directory_reads_prompts_answers_and_one_vote_per_game() -> None:
    found = read_arenahard(BENCH, baseline="base")
    assert len(found.bundle.prompts) == 3 and len(found.bundle.responses) == 9
    assert {p.category for p in found.bundle.prompts} == {"hard_prompt", "creative_writing"}
    assert len(found.games) == 6 and len(found.bundle.votes) == 11  # m1 q3 game 1 is null
    first = found.bundle.votes[0]  # m1 q1 game 1: baseline shown as A, verdict B>A
    assert (first.model_a, first.model_b, first.winner, first.voter) == ("base", "m1", Winner.MODEL_B, "gpt-4.1/game1")


def test_scores_match_hand_computation() -> None:
    found = read_arenahard(BENCH, baseline="base", judge="gpt-4.1")
    rows = {r.model: r for r in arenahard_scores(found.games, baseline="base", rounds=200, seed=1)}
    # m1: q1 [1,1,1,1], q2 [0,0.5], q3 dropped -> 4.5/6; m2: q1 [0,0,0,0], q2 [1,1], q3 [0.5,0.5] -> 3/8
    assert rows["m1"].score == pytest.approx(75.0) and rows["m1"].n_dropped == 1 and rows["m1"].n_battles == 6
    assert rows["m2"].score == pytest.approx(37.5) and rows["m2"].n_battles == 8
    assert rows["base"].score == 50.0
    assert rows["m1"].ci_low <= 75.0 <= rows["m1"].ci_high
    hard = {r.model: r for r in arenahard_scores(found.games, baseline="base", category="hard_prompt")}
    assert hard["m2"].score == pytest.approx(100 * 2 / 6)


def test_bad_label_and_missing_answer_are_located(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    shutil.copytree(BENCH, bench)
    judgment = bench / "model_judgment" / "gpt-4.1" / "m2.jsonl"
    lines = judgment.read_text().splitlines()
    bad = json.loads(lines[1])
    bad["games"][1]["score"] = "A>>>B"
    judgment.write_text("\n".join([lines[0], json.dumps(bad), lines[2]]) + "\n")
    with pytest.raises(InputError, match=r"m2.jsonl:2: games.1.score: expected one of"):
        read_arenahard(bench, baseline="base")
    bad["games"][1]["score"] = "A>B"
    bad["uid"] = "q9"
    judgment.write_text("\n".join([lines[0], json.dumps(bad)]) + "\n")
    with pytest.raises(InputError, match=r"m2.jsonl:2: model: no answer of 'm2' to question 'q9'"):
        read_arenahard(bench, baseline="base")


def test_real_v01_excerpt_reads_questions_answers_and_games() -> None:
    found = read_arenahard(V01, baseline="gpt-4-0314", judge="gpt-4-1106-preview")
    assert len(found.bundle.prompts) == 6 and {p.category for p in found.bundle.prompts} == {"arena-hard-v0.1"}
    # the baseline answered all 6 questions, each judged model its 3
    assert len(found.bundle.responses) == 12 and len(found.games) == 6 and len(found.bundle.votes) == 12
    odd = next(p for p in found.bundle.prompts if p.prompt_id == "b4b1c3f799f6459b8cfb15fa27e399e7")
    assert odd.turns == ["Write a Scheme program to decide whether a number is odd."]
    labels = {(g.model, g.uid[:4]): (g.game1, g.game2) for g in found.games}
    assert labels[("gpt-3.5-turbo-0125", "4f8b")] == ("A>>B", "B>>A")
    assert labels[("gpt-4-0613", "1b01")] == ("A=B", "A=B")
    first = found.bundle.votes[0]  # gpt-3.5-turbo-0125 on 08d2..., game 1 (baseline shown as A): A=B
    assert (first.model_a, first.model_b, first.winner, first.voter) == (
        "gpt-4-0314",
        "gpt-3.5-turbo-0125",
        Winner.TIE,
        "gpt-4-1106-preview/game1",
    )


def test_real_v01_excerpt_scores_equal_arena_hard_formula() -> None:
    """show_result.py's load_judgments, by hand: label_to_score[game2] + [1 - s for s in label_to_score[game1]],
    "A>>B" etc. counting --weight (3) times; the score is the mean over the exploded battles. (v0.1's Bradley-Terry
    win rate against the baseline is this same mean: each model meets only the baseline.)"""
    found = read_arenahard(V01, baseline="gpt-4-0314", judge="gpt-4-1106-preview")
    rows = {r.model: r for r in arenahard_scores(found.games, baseline="gpt-4-0314", rounds=200, seed=3)}
    # gpt-4-0613: b4b1 (A>B, B>A) -> [0] + [1-1]; 1b01 (A=B, A=B) -> [0.5] + [1-0.5]; 77fd (A>B, B>A) -> [0] + [0]
    #   = 0 + 0 + 0.5 + 0.5 + 0 + 0 = 1.0 over 6 battles -> 16.67
    assert rows["gpt-4-0613"].score == pytest.approx(100 * 1.0 / 6)
    assert (rows["gpt-4-0613"].n_battles, rows["gpt-4-0613"].n_questions) == (6, 3)
    # gpt-3.5-turbo-0125: 08d2 (A=B, A>B) -> [1] + [0.5]; 96d2 (A>B, B>A) -> [0] + [0];
    #   4f8b (A>>B, B>>A) -> [0, 0, 0] + [0, 0, 0]  = 1.5 over 2 + 2 + 6 = 10 battles -> 15.0
    assert rows["gpt-3.5-turbo-0125"].score == pytest.approx(15.0)
    assert rows["gpt-3.5-turbo-0125"].n_battles == 10 and rows["gpt-3.5-turbo-0125"].n_dropped == 0
    assert rows["gpt-4-0314"].score == 50.0
    # --weight 1: 4f8b is 2 battles, not 6 -> 1.5 / 6 = 25.0
    once = {r.model: r for r in arenahard_scores(found.games, baseline="gpt-4-0314", weight=1, rounds=10)}
    assert once["gpt-3.5-turbo-0125"].score == pytest.approx(25.0)


def test_judge_scoring_its_own_answers_is_left_out() -> None:
    own = ArenaHardGame(
        uid="q", model="j", baseline="b", judge="j", category=None, game1="B>A", game2="A>B", location="x:1"
    )
    rows = {r.model: r for r in arenahard_scores([game("A>B", "B>A"), own], baseline="b", rounds=10)}
    assert set(rows) == {"m", "b"}  # load_judgments drops rows whose model is one of the judges
