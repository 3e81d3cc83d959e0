"""AlpacaEval annotations.json: a real excerpt, every preference spelling, and located errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from judge.core.errors import InputError
from judge.core.types import Winner
from judge.importers.alpacaeval import instruction_id, read_alpacaeval
from judge.store.engine import session_scope
from judge.store.ingest import write_bundle
from judge.store.queries import get_set, load_pair_votes
from tests.paths import REPO

EXCERPT = REPO / "tests" / "fixtures" / "formats" / "alpacaeval" / "annotations_alpaca-7b_excerpt.json"


def item(preference: Any, instruction: str = "Say hi.", **extra: Any) -> dict[str, Any]:
    return {
        "instruction": instruction,
        "output_1": "Hi.",
        "generator_1": "base",
        "output_2": "Hello!",
        "generator_2": "model",
        "annotator": "gpt4",
        "preference": preference,
        **extra,
    }


def write(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(items, indent=2))
    return path


def test_real_excerpt_reads_prompts_outputs_and_votes() -> None:
    bundle = read_alpacaeval([EXCERPT])
    assert len(bundle.prompts) == 4 and {p.category for p in bundle.prompts} == {"helpful_base"}
    assert len(bundle.responses) == 8
    assert {r.model for r in bundle.responses} == {"text_davinci_003", "alpaca-7b"}
    assert [v.winner for v in bundle.votes] == [Winner.MODEL_A] * 3 + [Winner.MODEL_B]
    assert {v.voter for v in bundle.votes} == {"alpaca_eval_gpt4"}
    first = bundle.prompts[0]
    assert first.prompt_id == instruction_id(first.turns[0])
    assert bundle.votes[0].location == "annotations_alpaca-7b_excerpt.json:2"
    assert bundle.votes[3].location == "annotations_alpaca-7b_excerpt.json:38"


def test_preferences_wins_draws_and_nulls(tmp_path: Path) -> None:
    items = [item(1, "a"), item(2.0, "b"), item(1.5, "c"), item(0, "d"), item(None, "e")]
    bundle = read_alpacaeval([write(tmp_path / "annotations.json", items)])
    assert [v.winner for v in bundle.votes] == [Winner.MODEL_A, Winner.MODEL_B, Winner.TIE, Winner.TIE]
    assert len(bundle.prompts) == 5  # the null-preference item still brings its prompt and outputs


def test_the_same_instruction_in_two_files_is_one_prompt(tmp_path: Path) -> None:
    one = write(tmp_path / "one.json", [item(1)])
    two = write(tmp_path / "two.json", [{**item(2), "generator_2": "other"}])
    bundle = read_alpacaeval([one, two])
    assert len(bundle.prompts) == 1 and len(bundle.responses) == 3 and len(bundle.votes) == 2


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"preference": 1.27}, "annotations.json:11: preference: expected 1, 2, 1.5 or 0"),
        ({"preference": True}, "annotations.json:11: preference: expected a number or null"),
        ({"output_2": None}, "annotations.json:11: output_2: expected text"),
        ({"generator_1": ""}, "annotations.json:11: generator_1: expected text"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, bad: dict[str, Any], message: str) -> None:
    path = write(tmp_path / "annotations.json", [item(1, "ok"), {**item(1, "bad"), **bad}])
    with pytest.raises(InputError) as info:
        read_alpacaeval([path])
    assert str(info.value).startswith(message)


def test_missing_field_and_conflicting_outputs(tmp_path: Path) -> None:
    missing = {k: v for k, v in item(1).items() if k != "preference"}
    with pytest.raises(InputError, match=r"annotations.json:2: preference: Field required"):
        read_alpacaeval([write(tmp_path / "annotations.json", [missing])])
    one = write(tmp_path / "one.json", [item(1)])
    two = write(tmp_path / "two.json", [{**item(1), "output_1": "Different."}])
    with pytest.raises(InputError, match=r"two.json:2: output_1: 'base' already has a different output"):
        read_alpacaeval([one, two])


def test_excerpt_writes_once_on_both_backends(engine: Engine) -> None:
    bundle = read_alpacaeval([EXCERPT])
    with session_scope(engine) as session:
        first = write_bundle(session, set_name="ae", bundle=bundle, source="alpacaeval")
    with session_scope(engine) as session:
        again = write_bundle(session, set_name="ae", bundle=bundle, source="alpacaeval")
        votes = load_pair_votes(session, prompt_set=get_set(session, name="ae"), voters="alpaca_eval_*")
    assert (first.prompts_added, first.responses_added, first.votes_added) == (4, 8, 4)
    assert (again.prompts_added, again.responses_added, again.votes_added) == (0, 0, 0)
    assert sorted(v.winner.value for v in votes) == ["model_a"] * 3 + ["model_b"]
    assert {v.category for v in votes} == {"helpful_base"}
