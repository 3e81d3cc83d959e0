"""Concurrent voters on SQLite and PostgreSQL: parallel clients (one transaction each, retried when the database
says busy, as the API does) voting at the same moment store each vote exactly once; a voter repeating a vote
concurrently gets one 'created' and the same reveal."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from judge.arena import service
from judge.store.arena import retrying
from judge.store.engine import session_scope
from judge.store.ingest import write_bundle
from judge.store.queries import get_set
from judge.store.tables import ArenaUnit, Vote
from tests.arena_fixtures import SET, arena_bundle

VOTERS = 16
REPEATS = 3


def test_parallel_votes_are_stored_exactly_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        write_bundle(session, set_name=SET, bundle=arena_bundle())
        prompt_set = get_set(session, name=SET)
        tokens = [
            service.invite(session, prompt_set=prompt_set, voter=f"v{i}", expires=None, base_url="").token
            for i in range(VOTERS)
        ]
    voters = []
    units = []
    for k, token in enumerate(tokens):
        with session_scope(engine) as session:
            voter = service.authenticate_voter(session, token)
            assert voter is not None
            served = service.next_unit(session, voter, np.random.default_rng(k))
            assert served is not None
        voters.append(voter)
        units.append(served.unit_id)

    barrier = threading.Barrier(VOTERS * REPEATS)

    def vote(job: int) -> tuple[int, dict[str, str], bool]:
        k = job % VOTERS
        barrier.wait()
        choice = ("A", "B", "tie")[job // VOTERS]
        reveal, created = retrying(engine, lambda session: service.cast_vote(session, voters[k], units[k], choice))
        return k, reveal.model_dump(), created

    with ThreadPoolExecutor(max_workers=VOTERS * REPEATS) as pool:
        results = list(pool.map(vote, range(VOTERS * REPEATS)))

    for k in range(VOTERS):
        mine = [(reveal, created) for voter, reveal, created in results if voter == k]
        assert sum(created for _, created in mine) == 1
        assert len({tuple(sorted(r.items())) for r, _ in mine}) == 1  # every call saw the first vote's reveal
    with session_scope(engine) as session:
        stored = session.exec(select(Vote.voter, func.count()).where(col(Vote.source) == "arena").group_by(Vote.voter))
        assert dict(stored.all()) == {f"v{i}": 1 for i in range(VOTERS)}
        voted = session.exec(select(func.count()).select_from(ArenaUnit).where(col(ArenaUnit.status) == "voted"))
        assert voted.one() == VOTERS


def test_concurrent_next_for_one_voter_never_serves_a_unit_twice(engine: Engine) -> None:
    with session_scope(engine) as session:
        write_bundle(session, set_name=SET, bundle=arena_bundle())
        token = service.invite(session, prompt_set=get_set(session, name=SET), voter="solo", expires=None, base_url="")
    with session_scope(engine) as session:
        voter = service.authenticate_voter(session, token.token)
    assert voter is not None
    barrier = threading.Barrier(8)

    def serve(k: int) -> str | None:
        barrier.wait()
        rng = np.random.default_rng(k)
        unit = retrying(engine, lambda session: service.next_unit(session, voter, rng, strategy="uniform"))
        return None if unit is None else unit.unit_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        served = [u for u in pool.map(serve, range(8)) if u is not None]
    assert served
    with session_scope(engine) as session:
        rows = session.exec(select(ArenaUnit).where(col(ArenaUnit.voter_id) == voter.id)).all()
    keys = [(r.prompt_id, r.model_a, r.model_b, r.turn) for r in rows]
    assert len(keys) == len(set(keys)) and set(served) <= {r.id for r in rows}
