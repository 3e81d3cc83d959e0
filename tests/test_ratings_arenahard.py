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
