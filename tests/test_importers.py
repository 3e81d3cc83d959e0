"""Parsing and validation of import files, without a database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge.core.errors import InputError
from judge.core.types import Winner
from judge.importers.generic import read_prompts, read_responses, read_votes
from judge.importers.llmbar import read_llmbar
from judge.importers.mtbench import read_mtbench
from tests.paths import SAMPLE_DATA


def write_lines(path: Path, *lines: str | bytes) -> Path:
    path.write_bytes(b"".join((ln if isinstance(ln, bytes) else ln.encode()) + b"\n" for ln in lines))
    return path


def test_vendored_mtbench_sample_reads_completely() -> None:
    bundle = read_mtbench(SAMPLE_DATA / "mt_bench")
    assert len(bundle.prompts) == 80
    assert len(bundle.responses) == 480
    assert len(bundle.votes) == 1689
    with_reference = {p.prompt_id for p in bundle.prompts if p.reference_turns}
    assert {str(i) for i in range(101, 131)} <= with_reference
    assert all(v.category for v in bundle.votes)
    assert {len(p.turns) for p in bundle.prompts} == {2}


def test_vote_winner_spellings_and_arena_fields(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "votes.jsonl",
        json.dumps({"prompt_id": "p1", "model_a": "x", "model_b": "y", "winner": "tie (bothbad)"}),
        json.dumps(
            {
                "question_id": 7,
                "judge": "expert_1",
                "model_a": "x",
                "model_b": "y",
                "winner": "model_b",
                "turn": 2,
                "tstamp": 1700000000,
            }
        ),
        json.dumps(
            {
                "question_id": "q9",
                "model_a": "x",
                "model_b": "y",
                "winner": "model_a",
                "conversation_a": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "A"}],
                "conversation_b": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "B"}],
            }
        ),
    )
    first, second, third = read_votes(path)
    assert first.winner is Winner.TIE_BOTHBAD and first.voter == "anonymous"
    assert (second.prompt_id, second.voter, second.turn, second.tstamp) == ("7", "expert_1", 2, 1700000000.0)
    assert (third.prompt_turns, third.answer_a, third.answer_b) == (["hi"], ["A"], ["B"])


def test_csv_prompts_and_responses(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.csv"
    prompts.write_text('prompt_id,category,turns,reference\np1,math,"[""2+2?"", ""and 3+3?""]",4\np2,,Hello,\n')
    p1, p2 = read_prompts(prompts)
    assert p1.turns == ["2+2?", "and 3+3?"] and p1.reference_turns == ["4"] and p1.category == "math"
    assert p2.turns == ["Hello"] and p2.reference_turns is None
    responses = tmp_path / "responses.csv"
    responses.write_text('prompt_id,model,response\np1,m,"[1, 2]"\n')
    (r,) = read_responses(responses)
    assert r.turns == ["[1, 2]"]  # a response that looks like JSON stays text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '{"prompt_id": "p", "model_a": "x", "model_b": "y", "winner": "model_c"}',
            "votes.jsonl:2: winner: expected one of 'model_a', 'model_b', 'tie', 'tie (bothbad)', got 'model_c'",
        ),
        ('{"prompt_id": "p", "model_a": "x", "winner": "tie"}', "votes.jsonl:2: model_b: Field required"),
        (
            '{"prompt_id": "p", "model_a": 5, "model_b": "y", "winner": "tie"}',
            "votes.jsonl:2: model_a: Input should be a valid string",
        ),
        (
            '{"prompt_id": "p", "model_a": "x", "model_b": "y", "winner": "tie", "turn": 0}',
            "votes.jsonl:2: turn: Input should be greater than or equal to 1",
        ),
        ('{"prompt_id": "p", "model_a": "x", "model_b": "y", "winner": "tie"', "votes.jsonl:2: invalid JSON"),
        ('["p", "x", "y"]', "votes.jsonl:2: expected a JSON object, got list"),
        (
            '{"prompt_id": "p", "model_a": "x", "model_b": "x", "winner": "tie"}',
            "votes.jsonl:2: model_b: model_a and model_b are the same model",
        ),
    ],
)
def test_bad_vote_lines_name_file_line_and_field(tmp_path: Path, line: str, expected: str) -> None:
    good = '{"prompt_id": "p", "model_a": "x", "model_b": "y", "winner": "tie"}'
    path = write_lines(tmp_path / "votes.jsonl", good, line, good)
    with pytest.raises(InputError) as info:
        read_votes(path)
    assert str(info.value).startswith(expected)


def test_non_utf8_and_oversized_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "votes.jsonl", b'{"prompt_id": "\xff"}')
    with pytest.raises(InputError, match=r"votes.jsonl:1: not valid UTF-8 \(byte 15"):
        read_votes(path)
    huge = '{"prompt_id": "' + "x" * (10 * 1024 * 1024) + '"}'
    path = write_lines(tmp_path / "votes.jsonl", huge)
    with pytest.raises(InputError, match=r"votes.jsonl:1: line is 10,485,778 bytes, more than the limit"):
        read_votes(path)


def test_duplicate_prompt_ids_are_rejected(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "p.jsonl", '{"prompt_id": 1, "turns": ["a"]}', '{"prompt_id": "1", "turns": "b"}')
    with pytest.raises(InputError, match=r"p.jsonl:2: prompt_id: duplicate of p.jsonl:1"):
        read_prompts(path)


def test_llmbar_gold_votes(tmp_path: Path) -> None:
    path = tmp_path / "set.json"
    path.write_text(
        json.dumps(
            [
                {"input": "Say hi", "output_1": "hi", "output_2": "bye", "label": 1},
                {"input": "Count", "output_1": "[1, 2]", "output_2": "1 2", "label": 2},
            ]
        )
    )
    bundle = read_llmbar(path)
    assert [v.winner for v in bundle.votes] == [Winner.MODEL_A, Winner.MODEL_B]
    assert bundle.responses[2].turns == ["[1, 2]"]
    path.write_text(json.dumps([{"input": "x", "output_1": "a", "output_2": "b", "label": 3}]))
    with pytest.raises(InputError, match=r"set.json\[0\]: label: expected 1 or 2, got 3"):
        read_llmbar(path)


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"question\.jsonl not found"):
        read_mtbench(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        read_votes(tmp_path / "absent.jsonl")
    with pytest.raises(InputError, match="unknown file type"):
        read_votes(write_lines(tmp_path / "votes.txt", "x"))
