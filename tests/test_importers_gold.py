"""Gold answers and correctness labels: reading (file:line: field errors), writing all or nothing on SQLite and
PostgreSQL, idempotence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import select

from judge.core.errors import InputError
from judge.core.graders import AnswerType
from judge.core.types import Correctness
from judge.importers.gold import read_gold, read_labels
from judge.importers.mtbench import read_mtbench
from judge.store.correctness import load_gold, load_labels, write_gold, write_labels
from judge.store.engine import session_scope
from judge.store.ingest import write_bundle
from judge.store.queries import get_set
from judge.store.tables import CorrectnessLabel, GoldAnswer, Prompt
from tests.paths import MT_BENCH

GOLD_FILE = MT_BENCH / "gold_answers.jsonl"


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def count(engine: Engine, table: type[GoldAnswer] | type[CorrectnessLabel]) -> int:
    with session_scope(engine) as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


@pytest.fixture
def mtbench(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        write_bundle(session, set_name="mt_bench", bundle=read_mtbench(MT_BENCH), source="human")
    return engine


def import_gold(engine: Engine, path: Path, replace: bool = False) -> tuple[int, int, int]:
    records = read_gold(path)
    with session_scope(engine) as session:
        counts = write_gold(session, prompt_set=get_set(session, name="mt_bench"), records=records, replace=replace)
    return counts.added, counts.replaced, counts.unchanged


def test_the_vendored_gold_file_reads_as_17_turn_one_answers() -> None:
    records = read_gold(GOLD_FILE)
    assert len(records) == 17
    assert {r.turn for r in records} == {1}
    by_id = {r.prompt_id: r.gold for r in records}
    assert by_id["111"].type is AnswerType.NUMBER and by_id["111"].number_value() == 3
    assert by_id["101"].type is AnswerType.ALL_OF and by_id["101"].answer == ["second", "third"]
    assert by_id["110"].choices == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ({"question_id": 1, "type": "colour", "answer": "red"}, "bad.jsonl:2: type: unknown answer type 'colour'"),
        ({"question_id": 1, "answer": "red"}, "bad.jsonl:2: type: missing answer type"),
        ({"question_id": 1, "type": "number", "answer": "lots"}, "bad.jsonl:2: "),
        ({"type": "word", "answer": "west"}, "bad.jsonl:2: prompt_id: "),
        ({"question_id": 1, "type": "word", "answer": "west", "turn": 0}, "bad.jsonl:2: turn: "),
        ({"question_id": 1, "type": "word", "answer": "west", "colour": "red"}, "bad.jsonl:2: colour: "),
        ({"question_id": 1, "type": "regex", "answer": "x", "pattern": "(unclosed"}, "bad.jsonl:2: "),
    ],
)
def test_bad_gold_lines_say_where_and_which_field(tmp_path: Path, line: dict[str, Any], expected: str) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [{"question_id": 2, "type": "word", "answer": "ok"}, line])
    with pytest.raises(InputError) as info:
        read_gold(path)
    assert str(info.value).startswith(expected), str(info.value)


def test_an_unknown_answer_type_lists_the_known_ones(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [{"question_id": 1, "type": "colour", "answer": "red"}])
    with pytest.raises(InputError, match="known types: number, choice, word, all_of, regex, exact"):
        read_gold(path)


def test_duplicate_gold_for_one_turn_is_refused(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"question_id": 1, "type": "word", "answer": "a"},
        {"question_id": "1", "type": "word", "answer": "b"},
    ]
    with pytest.raises(InputError, match=r"dup\.jsonl:2: question_id: duplicate of dup\.jsonl:1"):
        read_gold(write_jsonl(tmp_path / "dup.jsonl", rows))


def test_csv_gold_reads_lists_numbers_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "gold.csv"
    path.write_text(
        "question_id,turn,type,answer,tolerance,accept_percent,choices\n"
        "114,1,number,0.9722222222,0.001,true,\n"
        '101,1,all_of,"[""second"", ""third""]",,,\n'
        '110,,choice,c,,,"[""a"", ""b"", ""c"", ""d""]"\n',
        encoding="utf-8",
    )
    records = read_gold(path)
    assert [r.location for r in records] == ["gold.csv:2", "gold.csv:3", "gold.csv:4"]
    assert records[0].gold.tolerance == 0.001 and records[0].gold.accept_percent is True
    assert records[0].gold.number_value() == pytest.approx(0.9722222222)
    assert records[1].gold.answer == ["second", "third"]
    assert records[2].turn == 1 and records[2].gold.choices == ["a", "b", "c", "d"]


def test_gold_import_is_idempotent_and_refuses_a_silent_change(mtbench: Engine, tmp_path: Path) -> None:
    assert import_gold(mtbench, GOLD_FILE) == (17, 0, 0)
    assert import_gold(mtbench, GOLD_FILE) == (0, 0, 17)
    changed = write_jsonl(tmp_path / "fix.jsonl", [{"question_id": 111, "type": "number", "answer": 4}])
    with pytest.raises(InputError, match=r"fix\.jsonl:1: answer: prompt '111' turn 1 already has a different gold"):
        import_gold(mtbench, changed)
    assert import_gold(mtbench, changed, replace=True) == (0, 1, 0)
    with session_scope(mtbench) as session:
        prompt_set = get_set(session, name="mt_bench")
        golds = load_gold(session, set_id=prompt_set.id or 0)
        q111 = session.exec(select(Prompt.id).where(Prompt.set_id == prompt_set.id, Prompt.external_id == "111")).one()
    assert len(golds) == 17
    assert q111 is not None and golds[(q111, 1)].gold.number_value() == 4.0


def test_gold_import_is_all_or_nothing(mtbench: Engine, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in GOLD_FILE.read_text().splitlines()]
    rows.append({"question_id": 9999, "type": "word", "answer": "x"})
    path = write_jsonl(tmp_path / "gold.jsonl", rows)
    with pytest.raises(InputError, match=r"gold\.jsonl:18: question_id: unknown prompt '9999' in set 'mt_bench'"):
        import_gold(mtbench, path)
    assert count(mtbench, GoldAnswer) == 0
    too_far = write_jsonl(tmp_path / "turn.jsonl", [{"question_id": 111, "turn": 3, "type": "word", "answer": "x"}])
    with pytest.raises(InputError, match=r"turn\.jsonl:1: turn: prompt '111' has 2 turn\(s\), no turn 3"):
        import_gold(mtbench, too_far)
    assert count(mtbench, GoldAnswer) == 0


LABELS: list[dict[str, Any]] = [
    {"prompt_id": "111", "model": "gpt-4", "label": "correct"},
    {"prompt_id": 111, "model": "claude-v1", "turn": "1", "label": "incorrect", "note": "says 2"},
    {"prompt_id": "104", "model": "gpt-4", "label": "no_answer"},
    {"prompt_id": "104", "model": "alpaca-13b", "label": "partially_correct"},
]


def import_labels(engine: Engine, path: Path, source: str = "people") -> tuple[int, int, int]:
    records = read_labels(path)
    with session_scope(engine) as session:
        counts = write_labels(session, prompt_set=get_set(session, name="mt_bench"), source=source, records=records)
    return counts.added, counts.replaced, counts.unchanged


def test_labels_round_trip_and_reimport_changes_nothing(mtbench: Engine, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "labels.jsonl", LABELS)
    assert import_labels(mtbench, path) == (4, 0, 0)
    assert import_labels(mtbench, path) == (0, 0, 4)
    assert import_labels(mtbench, path, source="tests") == (4, 0, 0)
    with session_scope(mtbench) as session:
        labels = load_labels(session, prompt_set=get_set(session, name="mt_bench"), source="people")
    assert labels[("111", "claude-v1", 1)].label is Correctness.INCORRECT
    assert labels[("111", "claude-v1", 1)].note == "says 2"
    assert labels[("104", "gpt-4", 1)].label is Correctness.NO_ANSWER
    assert len(labels) == 4


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"prompt_id": "111", "model": "gpt-4", "label": "right"}, "labels.jsonl:5: label: expected one of correct"),
        ({"prompt_id": "111", "label": "correct"}, "labels.jsonl:5: model: "),
        ({"prompt_id": "9999", "model": "gpt-4", "label": "correct"}, "labels.jsonl:5: prompt_id: unknown prompt"),
        ({"prompt_id": "111", "model": "gpt-5", "label": "correct"}, "labels.jsonl:5: model: no response of 'gpt-5'"),
        ({"prompt_id": "111", "model": "gpt-4", "turn": 3, "label": "correct"}, "labels.jsonl:5: turn: "),
        ({"prompt_id": "111", "model": "gpt-4", "label": "incorrect"}, "labels.jsonl:5: model: duplicate of"),
    ],
)
def test_bad_labels_say_where_and_write_nothing(
    mtbench: Engine, tmp_path: Path, bad: dict[str, Any], expected: str
) -> None:
    path = write_jsonl(tmp_path / "labels.jsonl", [*LABELS, bad])
    with pytest.raises(InputError) as info:
        import_labels(mtbench, path)
    assert str(info.value).startswith(expected), str(info.value)
    assert count(mtbench, CorrectnessLabel) == 0


def test_a_source_without_labels_names_the_sources_there_are(mtbench: Engine, tmp_path: Path) -> None:
    import_labels(mtbench, write_jsonl(tmp_path / "labels.jsonl", LABELS))
    with session_scope(mtbench) as session, pytest.raises(InputError, match=r"label sources: people"):
        load_labels(session, prompt_set=get_set(session, name="mt_bench"), source="nobody")
