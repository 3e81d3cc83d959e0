"""Writing imports to the store, on SQLite and PostgreSQL: counts, idempotence, atomicity, fuzzing."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import select

from judge.core.errors import InputError
from judge.importers.bundle import ImportBundle
from judge.importers.generic import read_votes
from judge.importers.mtbench import read_mtbench
from judge.store.engine import session_scope
from judge.store.ingest import write_bundle
from judge.store.queries import get_set, load_pair_votes, summarize_set
from judge.store.tables import Prompt, Response, Vote
from tests.paths import SAMPLE_DATA

GOOD_VOTE = {
    "prompt_id": "81",
    "model_a": "gpt-4",
    "model_b": "llama-13b",
    "winner": "model_a",
    "voter": "me",
}


def table_counts(engine: Engine) -> tuple[int, int, int]:
    with session_scope(engine) as session:
        return tuple(  # type: ignore[return-value]
            int(session.exec(select(func.count()).select_from(t)).one()) for t in (Prompt, Response, Vote)
        )


def import_votes(engine: Engine, path: Path, create_missing: bool = False) -> int:
    with session_scope(engine) as session:
        counts = write_bundle(
            session,
            set_name="mt_bench",
            bundle=ImportBundle(votes=read_votes(path)),
            create_missing=create_missing,
        )
    return counts.votes_added


@pytest.fixture
def mtbench(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        write_bundle(session, set_name="mt_bench", bundle=read_mtbench(SAMPLE_DATA / "mt_bench"), source="human")
    return engine


def test_mtbench_import_counts_and_rerun_adds_nothing(mtbench: Engine) -> None:
    assert table_counts(mtbench) == (80, 480, 1689)
    with session_scope(mtbench) as session:
        counts = write_bundle(
            session, set_name="mt_bench", bundle=read_mtbench(SAMPLE_DATA / "mt_bench"), source="human"
        )
        summary = summarize_set(session, prompt_set=get_set(session, name="mt_bench"))
    assert counts.model_dump() == {
        "prompts_added": 0,
        "references_added": 0,
        "responses_added": 0,
        "votes_added": 0,
    }
    assert table_counts(mtbench) == (80, 480, 1689)
    assert (summary.models, summary.voters, summary.with_reference) == (6, 65, 40)


def test_pair_votes_round_trip_with_voter_filter(mtbench: Engine) -> None:
    with session_scope(mtbench) as session:
        prompt_set = get_set(session, name="mt_bench")
        experts = load_pair_votes(session, prompt_set=prompt_set, voters="expert_*")
        everyone = load_pair_votes(session, prompt_set=prompt_set)
    raw = [json.loads(line) for line in (SAMPLE_DATA / "mt_bench" / "human_judgments_turn1.jsonl").open()]
    assert len(everyone) == 1689
    assert len(experts) == sum(1 for r in raw if r["judge"].startswith("expert_"))
    assert {v.category for v in everyone} >= {"writing", "math", "coding"}


def test_unknown_prompt_or_model_is_an_error_unless_create_missing(mtbench: Engine, tmp_path: Path) -> None:
    path = tmp_path / "votes.jsonl"
    path.write_text(json.dumps({**GOOD_VOTE, "prompt_id": "9999"}) + "\n")
    with pytest.raises(InputError, match=r"votes.jsonl:1: prompt_id: unknown prompt '9999'"):
        import_votes(mtbench, path)
    path.write_text(json.dumps({**GOOD_VOTE, "model_b": "mystery-7b"}) + "\n")
    with pytest.raises(InputError, match=r"votes.jsonl:1: model_b: unknown model 'mystery-7b'"):
        import_votes(mtbench, path)
    assert table_counts(mtbench) == (80, 480, 1689)
    assert import_votes(mtbench, path, create_missing=True) == 1
    assert import_votes(mtbench, path, create_missing=True) == 0


MALFORMED: dict[str, bytes] = {
    "bad JSON": b'{"prompt_id": "81", "model_a": ',
    "missing field": json.dumps({k: v for k, v in GOOD_VOTE.items() if k != "winner"}).encode(),
    "wrong type": json.dumps({**GOOD_VOTE, "turn": [1]}).encode(),
    "unknown winner": json.dumps({**GOOD_VOTE, "winner": "draw"}).encode(),
    "10 MB line": json.dumps({**GOOD_VOTE, "voter": "x" * 10_000_000}).encode(),
    "non-UTF-8": json.dumps(GOOD_VOTE).encode().replace(b"me", b"m\xe9"),
    "not an object": b"[1, 2, 3]",
    "unknown prompt": json.dumps({**GOOD_VOTE, "prompt_id": "nope"}).encode(),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_line_writes_nothing(mtbench: Engine, tmp_path: Path, case: str) -> None:
    good_lines = [json.dumps({**GOOD_VOTE, "voter": f"v{i}"}).encode() for i in range(5)]
    lines = [*good_lines[:3], MALFORMED[case], *good_lines[3:]]
    path = tmp_path / "votes.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    before = table_counts(mtbench)
    with pytest.raises(InputError) as info:
        import_votes(mtbench, path)
    assert str(info.value).startswith("votes.jsonl:4: ")
    assert table_counts(mtbench) == before


def test_random_mutations_either_import_cleanly_or_write_nothing(mtbench: Engine, tmp_path: Path) -> None:
    rng = random.Random(20261125)
    template = json.dumps(GOOD_VOTE).encode()
    outcomes = {"imported": 0, "rejected": 0}
    for _ in range(60):
        mutated = bytearray(template)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(mutated))
            action = rng.choice(["flip", "delete", "insert"])
            if action == "flip":
                mutated[position] = rng.randrange(256)
            elif action == "delete":
                del mutated[position]
            else:
                mutated.insert(position, rng.choice(b'{}[]":,\\\x00\xff0a'))
        path = tmp_path / "votes.jsonl"
        path.write_bytes(template.replace(b'"me"', b'"fixed"') + b"\n" + bytes(mutated).replace(b"\n", b" ") + b"\n")
        before = table_counts(mtbench)
        try:
            import_votes(mtbench, path)
        except InputError as exc:
            assert str(exc).startswith(("votes.jsonl:1", "votes.jsonl:2")), str(exc)
            assert table_counts(mtbench) == before
            outcomes["rejected"] += 1
        else:
            outcomes["imported"] += 1
    assert outcomes["rejected"] > 30


def test_a_set_created_by_a_transaction_that_fails_is_gone_with_it(engine: Engine) -> None:
    """``get_or_create_set`` writes inside the caller's transaction: a later failure leaves no set behind (a
    savepoint released on SQLite would have committed it), and a second call in the transaction finds it."""
    from judge.store.ingest import get_or_create_set
    from judge.store.tables import PromptSet

    with pytest.raises(RuntimeError, match="later"), session_scope(engine) as session:
        first = get_or_create_set(session, "new-set")
        assert get_or_create_set(session, "new-set").id == first.id
        raise RuntimeError("a later step failed")
    with session_scope(engine) as session:
        assert session.exec(select(PromptSet)).all() == []
        made = get_or_create_set(session, "new-set", tenant="t2")
    with session_scope(engine) as session:
        assert [(s.tenant, s.name, s.id) for s in session.exec(select(PromptSet))] == [("t2", "new-set", made.id)]
