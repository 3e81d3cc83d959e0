"""Votes files written in bulk (``judge import votes``) on SQLite and PostgreSQL: the same rows, keys, counts and
``file:line: field`` errors as the per-row path, idempotent, nothing written on error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from typer.testing import CliRunner

import judge.importers.columnar as columnar
from judge.cli import app
from judge.core.errors import InputError
from judge.importers.bundle import ImportBundle
from judge.importers.columnar import VoteColumns, read_vote_file
from judge.importers.generic import read_votes
from judge.importers.records import PromptRecord, ResponseRecord
from judge.store.bulk_votes import write_votes
from judge.store.engine import session_scope
from judge.store.ingest import ImportCounts, write_bundle
from judge.store.tables import Prompt, PromptSet, Response, Vote
from tests.test_importers import write_lines

VOTES: list[dict[str, Any]] = [
    {"prompt_id": "p1", "model_a": "x", "model_b": "y", "winner": "model_a", "voter": "ann", "tstamp": 1690000000.1234},
    {"prompt_id": "2", "voter": 'b\u00e9a "q" \\ \u2603', "model_a": "y", "model_b": "z", "winner": "tie (bothbad)"},
    {"prompt_id": "p1", "model_a": "z", "model_b": "x", "winner": "tie", "turn": 2, "tstamp": 1700000000},
    {"prompt_id": "p\u00e9\t3", "model_a": "x", "model_b": "y", "winner": "model_b", "category": "math", "tstamp": 0.1},
    {"prompt_id": "p1", "model_a": "x", "model_b": "y", "winner": "model_a", "voter": "", "tstamp": -3.5e-07},
]


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    return write_lines(path, *(json.dumps(r) for r in rows))


def parquet(path: Path, rows: list[dict[str, Any]], tmp_path: Path) -> Path:
    """Rows as Parquet, every field a column (pyarrow's JSON reader unions the fields of all rows)."""
    import pyarrow.json as pj

    pq.write_table(pj.read_json(jsonl(tmp_path / "as_table.jsonl", rows)), path)
    return path


def bulk(engine: Engine, path: Path, set_name: str = "s", create_missing: bool = True) -> ImportCounts:
    votes = read_vote_file(path)
    with session_scope(engine) as session:
        return write_votes(session, set_name=set_name, votes=votes, source="human", create_missing=create_missing)


def per_row(engine: Engine, path: Path, set_name: str = "s", create_missing: bool = True) -> ImportCounts:
    bundle = ImportBundle(votes=read_votes(path))
    with session_scope(engine) as session:
        return write_bundle(session, set_name=set_name, bundle=bundle, source="human", create_missing=create_missing)


def stored(engine: Engine, set_name: str) -> list[tuple[Any, ...]]:
    """The set's votes in insertion order, prompts by external id, ids left out."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(Vote, Prompt.external_id)
            .join(Prompt, col(Prompt.id) == Vote.prompt_id)
            .join(PromptSet, col(PromptSet.id) == Vote.set_id)
            .where(PromptSet.name == set_name)
            .order_by(col(Vote.id))
        ).all()
    return [
        (v.vote_key, external, v.model_a, v.model_b, v.winner, v.voter, v.turn, v.source, v.tstamp)
        for v, external in rows
    ]


def counts(engine: Engine) -> tuple[int, int]:
    with session_scope(engine) as session:
        return tuple(  # type: ignore[return-value]
            int(session.exec(select(func.count()).select_from(t)).one()) for t in (Prompt, Vote)
        )


def test_bulk_rows_and_keys_equal_the_per_row_path_and_reimport_adds_nothing(engine: Engine, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "votes.jsonl", VOTES)
    assert isinstance(read_vote_file(path), VoteColumns)  # read column-wise, not by the per-row reader
    first = bulk(engine, path, "bulk")
    assert (first.prompts_added, first.votes_added) == (3, 5)
    row_path = per_row(engine, path, "rows")
    assert (row_path.prompts_added, row_path.votes_added) == (3, 5)
    # the keys hash the set name, so compare each set's rows with the key recomputed for the other set
    mine, theirs = stored(engine, "bulk"), stored(engine, "rows")
    assert [r[1:] for r in mine] == [r[1:] for r in theirs]
    assert bulk(engine, path, "rows").model_dump() == ImportCounts().model_dump()  # keys equal across paths
    assert per_row(engine, path, "bulk").votes_added == 0
    assert bulk(engine, path, "bulk").model_dump() == ImportCounts().model_dump()
    assert stored(engine, "bulk") == mine
    with session_scope(engine) as session:
        created = session.exec(
            select(Prompt).join(PromptSet).where(PromptSet.name == "bulk").order_by(col(Prompt.id))
        ).all()
    assert [(p.external_id, p.category, p.turns) for p in created] == [
        ("p1", None, []),
        ("2", None, []),
        ("p\u00e9\t3", "math", []),
    ]


def staged_copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables each PostgreSQL import sent through the staging table (the slow path), recorded."""
    import judge.store.bulk_votes as bulk_votes

    tables: list[str] = []
    real = bulk_votes._copy_staged

    def spy(cursor: Any, table: str, *args: Any) -> None:
        tables.append(table)
        real(cursor, table, *args)

    monkeypatch.setattr(bulk_votes, "_copy_staged", spy)
    return tables


def test_a_first_import_copies_straight_in_and_a_repeated_vote_is_stored_once(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Into a set with no vote, prompts and votes are copied straight into their tables; a file repeating a vote
    (or importing into a set that has votes) goes through the staging table and stores each key once."""
    staged = staged_copies(monkeypatch)
    assert bulk(engine, jsonl(tmp_path / "votes.jsonl", VOTES), "fresh").votes_added == 5
    assert staged == []
    repeated = jsonl(tmp_path / "repeated.jsonl", [*VOTES, VOTES[0], VOTES[2]])
    counted = bulk(engine, repeated, "repeated")
    assert (counted.prompts_added, counted.votes_added) == (3, 5)
    assert [r[1:] for r in stored(engine, "repeated")] == [r[1:] for r in stored(engine, "fresh")]
    more = jsonl(tmp_path / "more.jsonl", [*VOTES, {**VOTES[0], "voter": "new"}])
    assert bulk(engine, more, "fresh").model_dump() == {**ImportCounts().model_dump(), "votes_added": 1}
    postgres = engine.dialect.name == "postgresql"
    assert staged == (["vote", "vote"] if postgres else [])


def test_the_staging_path_stores_what_the_direct_copy_stores(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prompts and votes sent through the staging table (as when a direct copy meets a stored key) are the rows,
    order and counts a direct copy stores."""
    import judge.store.bulk_votes as bulk_votes

    path = jsonl(tmp_path / "votes.jsonl", VOTES)
    direct = bulk(engine, path, "direct")
    monkeypatch.setattr(bulk_votes, "_copy_direct", lambda *args: False)
    staged = bulk(engine, path, "staged")
    assert direct.model_dump() == staged.model_dump()
    assert [r[1:] for r in stored(engine, "staged")] == [r[1:] for r in stored(engine, "direct")]
    with session_scope(engine) as session:
        made = {
            name: [
                (p.external_id, p.category)
                for p in session.exec(
                    select(Prompt).join(PromptSet).where(PromptSet.name == name).order_by(col(Prompt.id))
                )
            ]
            for name in ("direct", "staged")
        }
    assert made["staged"] == made["direct"] == [("p1", None), ("2", None), ("p\u00e9\t3", "math")]


def race_imports(engine: Engine, path: Path, set_name: str) -> tuple[list[ImportCounts], list[BaseException]]:
    """Two threads importing ``path`` into ``set_name``, released together; their counts and errors."""
    import threading

    results: list[ImportCounts] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        try:
            votes = read_vote_file(path)
            barrier.wait()
            with session_scope(engine) as session:
                results.append(write_votes(session, set_name=set_name, votes=votes, create_missing=True))
        except BaseException as exc:  # reported by the caller's assertion
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_concurrent_bulk_imports_into_one_set_store_each_vote_once(engine: Engine, tmp_path: Path) -> None:
    """Two imports of one file into one set at once (a new set, then one that exists): one waits for the other's
    commit, then adds nothing."""
    from judge.store.ingest import get_or_create_set

    rows = [{**GOOD, "voter": f"v{k}", "prompt_id": f"q{k}"} for k in range(2000)]
    path = jsonl(tmp_path / "votes.jsonl", rows)
    with session_scope(engine) as session:
        get_or_create_set(session, "existing")
    for set_name, total in (("new", 2000), ("existing", 4000)):
        results, errors = race_imports(engine, path, set_name)
        assert errors == []
        assert sorted((r.prompts_added, r.votes_added) for r in results) == [(0, 0), (2000, 2000)]
        assert counts(engine) == (total, total)


def test_csv_and_parquet_bulk_equal_jsonl(engine: Engine, tmp_path: Path) -> None:
    bulk(engine, jsonl(tmp_path / "votes.jsonl", VOTES), "a")
    csv_path = tmp_path / "votes.csv"
    csv_path.write_text(
        "prompt_id,model_a,model_b,winner,voter,turn,tstamp,category\n"
        "p1,x,y,model_a,ann,,1690000000.1234,\n"
        "p1,z,x,tie,anonymous,2,1700000000,\n"
    )
    assert isinstance(read_vote_file(csv_path), VoteColumns)
    assert bulk(engine, csv_path, "a").votes_added == 0  # the same two votes, keyed alike from text cells
    pq_path = parquet(tmp_path / "votes.parquet", VOTES, tmp_path)
    assert isinstance(read_vote_file(pq_path), VoteColumns)
    assert bulk(engine, pq_path, "a").votes_added == 0
    assert bulk(engine, pq_path, "b").votes_added == 5
    assert [r[1:] for r in stored(engine, "a")] == [r[1:] for r in stored(engine, "b")]


@pytest.fixture
def voted(engine: Engine) -> Engine:
    """Set ``s``: prompts p1, p2, responses of x and y to each."""
    bundle = ImportBundle(
        prompts=[PromptRecord(prompt_id=p, turns=["q"]) for p in ("p1", "p2")],
        responses=[ResponseRecord(prompt_id=p, model=m, turns=["a"]) for p in ("p1", "p2") for m in ("x", "y")],
    )
    with session_scope(engine) as session:
        write_bundle(session, set_name="s", bundle=bundle)
    return engine


GOOD = {"prompt_id": "p1", "model_a": "x", "model_b": "y", "winner": "model_a"}
UNKNOWN = [
    ({"prompt_id": "nope"}, "prompt_id: unknown prompt 'nope' in set 's'"),
    ({"model_a": "mystery"}, "model_a: unknown model 'mystery': no responses of it in set 's'"),
    ({"model_b": "mystery"}, "model_b: unknown model 'mystery': no responses of it in set 's'"),
    ({"prompt_id": "nope", "model_b": "mystery"}, "prompt_id: unknown prompt 'nope'"),
]


@pytest.mark.parametrize(("change", "message"), UNKNOWN)
def test_unknown_prompt_or_model_same_error_as_per_row_and_nothing_written(
    voted: Engine, tmp_path: Path, change: dict[str, str], message: str
) -> None:
    rows = [GOOD, {**GOOD, "voter": "v"}, {**GOOD, **change}, {**GOOD, "model_a": "other"}]
    path = jsonl(tmp_path / "votes.jsonl", rows)
    before = counts(voted)
    with pytest.raises(InputError) as row_error:
        per_row(voted, path, create_missing=False)
    with pytest.raises(InputError) as bulk_error:
        bulk(voted, path, create_missing=False)
    assert str(bulk_error.value) == str(row_error.value)
    assert str(bulk_error.value).startswith(f"votes.jsonl:3: {message}")
    assert counts(voted) == before


def test_csv_error_names_the_line_a_quoted_newline_moved(voted: Engine, tmp_path: Path) -> None:
    path = tmp_path / "votes.csv"
    path.write_text(
        'prompt_id,model_a,model_b,winner,category\np1,x,y,tie,"two\nlines"\np2,x,y,tie,\np2,x,ghost,tie,\n'
    )
    assert isinstance(read_vote_file(path), VoteColumns)
    with pytest.raises(InputError) as row_error:
        per_row(voted, path, create_missing=False)
    with pytest.raises(InputError) as bulk_error:
        bulk(voted, path, create_missing=False)
    assert str(bulk_error.value) == str(row_error.value)
    assert str(bulk_error.value).startswith("votes.csv:5: model_b: unknown model 'ghost'")


def test_parquet_error_located_by_row_and_nothing_written(voted: Engine, tmp_path: Path) -> None:
    path = parquet(
        tmp_path / "votes.parquet", [GOOD, {**GOOD, "prompt_id": "p2"}, {**GOOD, "prompt_id": "p9"}], tmp_path
    )
    before = counts(voted)
    with pytest.raises(InputError, match=r"^votes.parquet:3: prompt_id: unknown prompt 'p9' in set 's'"):
        bulk(voted, path, create_missing=False)
    assert counts(voted) == before
    assert bulk(voted, path, create_missing=True).model_dump() == {
        "prompts_added": 1,
        "references_added": 0,
        "responses_added": 0,
        "votes_added": 3,
    }


def test_malformed_row_same_error_as_per_row_and_nothing_written(voted: Engine, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "votes.jsonl", json.dumps(GOOD), json.dumps({**GOOD, "turn": 0}), json.dumps(GOOD))
    before = counts(voted)
    with pytest.raises(InputError) as row_error:
        read_votes(path)
    with pytest.raises(InputError) as bulk_error:
        bulk(voted, path)
    assert str(bulk_error.value) == str(row_error.value)
    assert str(bulk_error.value).startswith("votes.jsonl:2: turn: ")
    assert counts(voted) == before


def test_many_batches_one_transaction(voted: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Votes go in several batches; an error after the first batch was sent leaves nothing behind."""
    import judge.store.bulk_votes as bulk_votes

    monkeypatch.setattr(bulk_votes, "BATCH", 3)
    rows = [{**GOOD, "voter": f"v{k}", "prompt_id": f"p{k % 2 + 1}"} for k in range(10)]
    path = jsonl(tmp_path / "votes.jsonl", rows)
    before = counts(voted)
    real = bulk_votes._vote_rows
    sent: list[int] = []

    def failing(*args: Any) -> Any:
        for batch in real(*args):
            sent.append(len(batch))
            yield batch
            if len(sent) == 2:
                raise RuntimeError("disk full")

    monkeypatch.setattr(bulk_votes, "_vote_rows", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        bulk(voted, path)
    assert counts(voted) == before and sent == [3, 3]
    monkeypatch.setattr(bulk_votes, "_vote_rows", real)
    assert bulk(voted, path).votes_added == 10
    assert [r[5] for r in stored(voted, "s")] == [f"v{k}" for k in range(10)]  # file order kept


def test_conversations_still_create_prompts_and_responses(voted: Engine, tmp_path: Path) -> None:
    conversation = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "A"}]
    row = {**GOOD, "question_id": "q", "conversation_a": conversation, "conversation_b": conversation}
    del row["prompt_id"]
    path = jsonl(tmp_path / "arena.jsonl", [row])
    assert not isinstance(read_vote_file(path), VoteColumns)
    assert bulk(voted, path, create_missing=False).model_dump() == {
        "prompts_added": 1,
        "references_added": 0,
        "responses_added": 2,
        "votes_added": 1,
    }
    with session_scope(voted) as session:
        assert session.exec(select(func.count()).select_from(Response)).one() == 6


def test_vote_keys_of_random_timestamps_equal_across_readers(tmp_path: Path) -> None:
    """Timestamps parsed by pyarrow (JSON and CSV text) key a vote exactly as Python's float() does."""
    import random

    from judge.store.bulk_votes import _vote_rows
    from judge.store.ingest import vote_key

    rng = random.Random(7)
    values = [rng.uniform(1e9, 2e9) for _ in range(300)] + [
        rng.random() * 10 ** rng.randint(-12, 15) for _ in range(300)
    ]
    rows = [{**GOOD, "tstamp": t} for t in values]
    path = jsonl(tmp_path / "votes.jsonl", rows)
    csv_path = tmp_path / "votes.csv"
    csv_path.write_text(
        "prompt_id,model_a,model_b,winner,tstamp\n" + "".join(f"p1,x,y,model_a,{t!r}\n" for t in values)
    )
    expected = [vote_key("default", "s", v, "human") for v in read_votes(path)]
    for file in (path, csv_path):
        votes = read_vote_file(file)
        assert isinstance(votes, VoteColumns)
        prompts, codes = votes.codes("prompt_ids")
        keys = [
            r[0]
            for batch in _vote_rows(votes, "default", "s", 1, "human", prompts, codes, np.arange(len(prompts)))
            for r in batch
        ]
        assert keys == expected


def test_cli_imports_parquet_in_bulk_and_again_adds_nothing(
    judge_env: pytest.MonkeyPatch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    judge_env.setenv("JUDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    path = parquet(tmp_path / "votes.parquet", VOTES, tmp_path)
    monkeypatch.setattr(columnar, "vote_from", None)  # a valid Parquet file is never validated row by row
    runner = CliRunner()
    first = runner.invoke(app, ["import", "votes", str(path), "--set", "arena", "--create-missing"])
    assert first.exit_code == 0, first.output
    assert "set 'arena': +3 prompts, +0 references, +0 responses, +5 votes (read 0 prompts, 0 responses, 5 votes)" in (
        first.output
    )
    again = runner.invoke(app, ["import", "votes", str(path), "--set", "arena", "--create-missing"])
    assert "+0 prompts, +0 references, +0 responses, +0 votes" in again.output
    bad = runner.invoke(app, ["import", "votes", str(path), "--set", "other"])
    assert bad.exit_code == 2
    assert "votes.parquet:1: prompt_id: unknown prompt 'p1' in set 'other'" in bad.output


def test_arrow_table_of_votes_is_what_the_bench_writes(tmp_path: Path) -> None:
    """Columns of typed Parquet (int turn, float tstamp, bool extra column) are read column-wise too."""
    table = pa.table(
        {
            "question_id": ["a", "b"],
            "model_a": ["x", "y"],
            "model_b": ["y", "x"],
            "winner": ["model_a", "tie (bothbad)"],
            "judge": ["u1", "u2"],
            "turn": [1, 3],
            "anony": [True, True],
            "tstamp": [1.5, 2.25],
        }
    )
    pq.write_table(table, tmp_path / "typed.parquet")
    votes = read_vote_file(tmp_path / "typed.parquet")
    assert isinstance(votes, VoteColumns)
    assert votes.tstamps is not None and votes.tstamps.tolist() == [1.5, 2.25]
    assert [votes.location(k) for k in range(2)] == ["typed.parquet:1", "typed.parquet:2"]
