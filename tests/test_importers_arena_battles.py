"""Chatbot Arena battle logs: votes, conversations, category tags (hard = 6 of 7 criteria), located errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge.core.errors import InputError
from judge.core.types import Winner
from judge.importers.arena_battles import read_arena_battles
from judge.metrics.categories import category_tags, in_category, join_tags
from tests.paths import REPO

BATTLES = REPO / "tests" / "fixtures" / "formats" / "arena" / "clean_battle_sample.json"


def test_battles_become_votes_with_tags_and_conversations() -> None:
    votes = read_arena_battles(BATTLES).votes
    assert [v.winner for v in votes] == [Winner.MODEL_A, Winner.TIE_BOTHBAD, Winner.MODEL_B, Winner.TIE]
    # b1: 6 of 7 criteria + math; b2: 6 of 7 + instruction following (score 4) + code; b3: creative writing
    assert [v.category for v in votes] == ["hard,math", "code,hard,if", "creative_writing", None]
    assert votes[0].prompt_turns == ["Integrate x^2 from 0 to 3."] and votes[0].answer_b == ["27"]
    assert votes[3].prompt_turns is None and votes[0].voter == "arena_user_1"
    assert votes[0].location == "clean_battle_sample.json:2"


def test_category_tags_helpers() -> None:
    assert category_tags("code,hard,if") == ["code", "hard", "if"] and category_tags(None) == []
    assert in_category("code,hard,if", "hard") and in_category("writing", "writing")
    assert not in_category("hardware", "hard")
    assert join_tags(["math", "hard", "math"]) == "hard,math" and join_tags([]) is None


def test_missing_question_id_gets_a_stable_id_and_bad_winner_is_located(tmp_path: Path) -> None:
    battles = json.loads(BATTLES.read_text())
    for b in battles:
        del b["question_id"]
    path = tmp_path / "clean_battle_x.json"
    path.write_text(json.dumps(battles, indent=1))
    first = read_arena_battles(path).votes
    again = read_arena_battles(path).votes
    assert first[0].prompt_id.startswith("arena-") and [v.prompt_id for v in first] == [v.prompt_id for v in again]
    battles[2]["winner"] = "draw"
    path.write_text(json.dumps(battles, indent=1))
    with pytest.raises(InputError, match=r"clean_battle_x.json:\d+: winner: expected one of"):
        read_arena_battles(path)


REAL = REPO / "tests" / "fixtures" / "formats" / "arena" / "clean_battle_real_excerpt.json"


def test_real_tw_arena_battles_keep_multi_turn_conversations_and_drop_reveal_labels() -> None:
    raw = json.loads(REAL.read_text(encoding="utf-8"))
    # the second battle is logged as FastChat logs a vote cast after the reveal: labelled names, anony false
    assert raw[1]["model_a"] == "### Model A: gpt-3.5-turbo" and raw[1]["anony"] is False
    votes = read_arena_battles(REAL).votes
    assert [(v.model_a, v.model_b, v.winner) for v in votes] == [
        ("gemini-pro", "claude-2.1", Winner.MODEL_B),
        ("gpt-3.5-turbo", "Llama-3-Taiwan-70B-Instruct", Winner.TIE_BOTHBAD),
    ]
    assert [v.prompt_id for v in votes] == ["abbdc95e296d4a4b85a3d1f030768719", "7d9cfd9e501b4428a054daaa40571dd3"]
    assert [v.turn for v in votes] == [2, 6] and [v.category for v in votes] == [None, None]
    assert [v.voter for v in votes] == ["arena_user_ip-redacted-1", "arena_user_ip-redacted-2"]
    assert [v.tstamp for v in votes] == [1705197743.088, 1720677863.9913]
    first, second = votes
    assert first.prompt_turns == ["如果原本應該加95的車，加油加了92，會怎麼樣？", "那如果加錯，可以利用加98來稀釋嗎？"]
    assert first.answer_a is not None and first.answer_b is not None
    assert len(first.answer_a) == 2 and first.answer_b[1].startswith("可以,如果加錯汽油等級")
    assert second.prompt_turns is not None and len(second.prompt_turns) == 6
    assert second.prompt_turns[-1] == "賴清德的現職是？"
    assert second.answer_a is not None and second.answer_a[-1] == "賴清德是台灣的前行政院長，目前則擔任民進黨主席。"
    assert [v.location for v in votes] == ["clean_battle_real_excerpt.json:2", "clean_battle_real_excerpt.json:49"]
