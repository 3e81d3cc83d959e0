"""JudgeBench pairs: a real excerpt (with a reward model's published judgments) and located errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge.core.errors import InputError
from judge.core.types import Winner
from judge.importers.judgebench import read_judgebench
from tests.paths import REPO

EXCERPT = REPO / "tests" / "fixtures" / "formats" / "judgebench" / "judgebench_internlm2-7b-reward_excerpt.jsonl"


def test_real_excerpt_becomes_a_gold_set_with_source_categories() -> None:
    bundle = read_judgebench(EXCERPT)
    assert [p.prompt_id for p in bundle.prompts] == [
        "e302b0a0-28d5-5a3c-b1af-fedcf5543e72",
        "2d989dfb-7cf0-549e-945c-3dd060d1fad5",
    ]
    assert {p.category for p in bundle.prompts} == {"mmlu-pro-law"}
    assert {(r.model, r.turns[0][-5:]) for r in bundle.responses if r.prompt_id.startswith("e302")} == {
        ("response_A", "FFFFF"),
        ("response_B", "AAAAA"),
    }
    assert [(v.voter, v.winner) for v in bundle.votes] == [("gold", Winner.MODEL_A)] * 2


def test_bad_label_and_duplicate_pair_are_located(tmp_path: Path) -> None:
    lines = EXCERPT.read_text().splitlines()
    second = json.loads(lines[1])
    path = tmp_path / "pairs.jsonl"
    path.write_text(lines[0] + "\n" + json.dumps({**second, "label": "A=B"}) + "\n")
    with pytest.raises(InputError, match=r"pairs.jsonl:2: label: expected 'A>B' or 'B>A', got 'A=B'"):
        read_judgebench(path)
    path.write_text(lines[0] + "\n" + lines[0] + "\n")
    with pytest.raises(InputError, match=r"pairs.jsonl:2: pair_id: duplicate of pairs.jsonl:1"):
        read_judgebench(path)
    path.write_text(json.dumps({k: v for k, v in second.items() if k != "question"}) + "\n")
    with pytest.raises(InputError, match=r"pairs.jsonl:1: question: Field required"):
        read_judgebench(path)
