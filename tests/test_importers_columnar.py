"""The columnar votes reader: same votes and the same ``file:line: field`` errors as the per-row reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq
import pytest

import judge.importers.columnar as columnar
from judge.core.errors import InputError
from judge.core.types import PairVote
from judge.importers.columnar import VoteColumns, read_vote_columns
from judge.importers.generic import read_votes
from judge.importers.records import VoteRecord
from judge.ratings import battles_from_votes
from tests.test_importers import write_lines

GOOD = '{"prompt_id": "p", "model_a": "x", "model_b": "y", "winner": "tie"}'
BAD_LINES = [
    (
        '{"prompt_id": "p", "model_a": "x", "model_b": "y", "winner": "model_c"}',
        "votes.jsonl:2: winner: expected one of 'model_a', 'model_b', 'tie', 'tie (bothbad)', got 'model_c'",
    ),
    ('{"prompt_id": "p", "model_a": "x", "winner": "tie"}', "votes.jsonl:2: model_b: Field required"),
    ('{"prompt_id": "p", "model_a": 5, "model_b": "y", "winner": "tie"}', "votes.jsonl:2: model_a: Input should be"),
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
    ('{"prompt_id": "", "model_a": "x", "model_b": "y", "winner": "tie"}', "votes.jsonl:2: prompt_id: String should"),
    ('{"prompt_id": "p", "model_a": "x\\u0000", "model_b": "y", "winner": "tie"}', "votes.jsonl:2: model_a: text may"),
    ('{"prompt_id": "p", "model_a": "x", "model_b": "y", "winner": "tie", "turn": 1.0}', "votes.jsonl:2: turn: "),
    ('{"prompt_id": "p", "model_a": "x", "model_b": "y", "winner": "tie", "tstamp": NaN}', "votes.jsonl:2: tstamp: "),
    ('{"prompt_id": "p", "model_a": "x", "model_b": "y", "winner": "tie", "voter": 3}', "votes.jsonl:2: voter: "),
    ('{"prompt_id": true, "model_a": "x", "model_b": "y", "winner": "tie"}', "votes.jsonl:2: prompt_id: "),
    ('{"prompt_id": "p", "model_a": "x", "model_b": "y", "winner": "tie"} {"a": 1}', "votes.jsonl:2: invalid JSON"),
    (
        '{"prompt_id": "p", "model_a": "x", "model_b": "y", "winner": "tie", "turn": 3000000000}',
        "votes.jsonl:2: turn: expected an integer of at most",
    ),
    (
        '{"prompt_id": null, "question_id": "q", "model_a": "x", "model_b": "y", "winner": "tie"}',
        "votes.jsonl:2: prompt_id: Field required",
    ),
]


@pytest.mark.parametrize(("line", "expected"), BAD_LINES)
def test_bad_line_same_error_as_per_row(tmp_path: Path, line: str, expected: str) -> None:
    path = write_lines(tmp_path / "votes.jsonl", GOOD, line, GOOD)
    with pytest.raises(InputError) as per_row:
        read_votes(path)
    with pytest.raises(InputError) as info:
        read_vote_columns(path)
    assert str(info.value) == str(per_row.value)
    assert str(info.value).startswith(expected)


def test_undecodable_byte_in_an_ignored_field_is_refused(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "votes.jsonl",
        GOOD,
        b'{"prompt_id": "p", "model_a": "x", "model_b": "y", "winner": "tie", "note": "\xff"}',
    )
    with pytest.raises(InputError, match=r"votes.jsonl:2: not valid UTF-8"):
        read_vote_columns(path)


def _rows(columns: VoteColumns) -> list[PairVote]:
    return columns.pair_votes()


def _as_pair(votes: list[VoteRecord]) -> list[PairVote]:
    return [v.pair_vote() for v in votes]


VALID = [
    {"question_id": 7, "judge": "expert_1", "model_a": "x", "model_b": "y", "winner": "model_b", "turn": 2},
    {"question_id": 8, "model_a": "z", "model_b": "x", "winner": "tie (bothbad)", "tstamp": 1700000000},
    {"question_id": 9, "judge": "", "model_a": "y", "model_b": "z", "winner": "model_a", "category": "math"},
    {"question_id": 7, "judge": "expert_2", "model_a": "x", "model_b": "z", "winner": "tie", "tstamp": 1.5},
]


def test_valid_jsonl_read_without_the_per_row_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_lines(tmp_path / "votes.jsonl", *(json.dumps(v) for v in VALID))
    expected = _as_pair(read_votes(path))

    def refuse(_path: Path) -> None:
        raise AssertionError("the per-row reader was used")

    monkeypatch.setattr(columnar, "read_votes", refuse)
    columns = read_vote_columns(path)
    assert _rows(columns) == expected
    battles, reference = columns.battles(), battles_from_votes(expected)
    assert battles.models == reference.models
    assert np.array_equal(battles.a, reference.a) and np.array_equal(battles.b, reference.b)
    assert np.array_equal(battles.outcome, reference.outcome)
    assert len(columns.where_voters("expert_*")) == 2
    assert [v.prompt_id for v in columns.in_category("math").pair_votes()] == ["9"]


def test_csv_columns_equal_per_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "votes.csv"
    path.write_text(
        "question_id,model_a,model_b,winner,judge,turn,tstamp,category\n"
        "1,x,y,model_a,e1, 2 ,17.5,\n"
        '2,y,z,tie,,,,"multi\nline"\n'
        "3,z,x,model_b,e2,1,,code\n"
    )
    expected = _as_pair(read_votes(path))
    monkeypatch.setattr(columnar, "read_votes", None)
    assert _rows(read_vote_columns(path)) == expected


def test_bad_csv_row_same_error_as_per_row(tmp_path: Path) -> None:
    path = tmp_path / "votes.csv"
    path.write_text("prompt_id,model_a,model_b,winner,turn\np,x,y,tie,1\np,x,y,tie,two\n")
    with pytest.raises(InputError) as per_row:
        read_votes(path)
    with pytest.raises(InputError) as info:
        read_vote_columns(path)
    assert str(info.value) == str(per_row.value) and str(info.value).startswith("votes.csv:3: turn: ")


def test_files_the_columnar_checks_leave_to_the_per_row_reader_still_read(tmp_path: Path) -> None:
    blank = write_lines(tmp_path / "votes.jsonl", GOOD, "", "   ", GOOD)
    assert len(read_vote_columns(blank)) == 2
    conversation = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "A"}]
    arena = write_lines(
        tmp_path / "arena.jsonl",
        json.dumps(
            {
                "question_id": "q",
                "model_a": "x",
                "model_b": "y",
                "winner": "tie",
                "conversation_a": conversation,
                "conversation_b": conversation,
            }
        ),
    )
    assert [v.prompt_id for v in read_vote_columns(arena).pair_votes()] == ["q"]


def _table(rows: list[dict[str, object]], tmp_path: Path) -> pa.Table:
    """Rows as a table with every field a column (from_pylist would take the first row's fields only)."""
    return pj.read_json(write_lines(tmp_path / "rows.jsonl", *(json.dumps(r) for r in rows)))


def test_parquet_rows_and_errors_located_by_row(tmp_path: Path) -> None:
    path = tmp_path / "votes.parquet"
    pq.write_table(_table(VALID, tmp_path), path)
    assert _rows(read_vote_columns(path)) == _as_pair(
        read_votes(write_lines(tmp_path / "same.jsonl", *(json.dumps(v) for v in VALID)))
    )
    bad = [*VALID[:2], {**VALID[2], "winner": "model_c"}, VALID[3]]
    pq.write_table(_table(bad, tmp_path), path)
    with pytest.raises(InputError, match=r"^votes.parquet:3: winner: expected one of"):
        read_vote_columns(path)
    same = [*VALID[:1], {**VALID[1], "model_b": "z"}]
    pq.write_table(_table(same, tmp_path), path)
    with pytest.raises(InputError, match=r"^votes.parquet:2: model_b: model_a and model_b are the same model"):
        read_vote_columns(path)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match=r"^broken.parquet: not a readable Parquet file"):
        read_vote_columns(tmp_path / "broken.parquet")


def test_valid_parquet_is_not_validated_row_by_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "votes.parquet"
    pq.write_table(_table(VALID, tmp_path), path)
    monkeypatch.setattr(columnar, "vote_from", None)
    columns = read_vote_columns(path)
    assert [v.voter for v in columns.pair_votes()] == ["expert_1", "anonymous", "", "expert_2"]
    assert [v.prompt_id for v in columns.where_prompts({"7"}).pair_votes()] == ["7", "7"]
