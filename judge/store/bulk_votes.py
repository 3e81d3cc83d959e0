"""Votes files written in bulk: millions of votes in the caller's one transaction, checked column-wise first.

The rows and checks are those of :func:`judge.store.ingest.write_bundle`: the same vote keys, the same errors at
the same ``file:line`` (unknown prompt or model, first offending vote first), prompts made by ``--create-missing``
with the category of their first vote, and the number of votes added. What changes is how the rows reach the
database:

- SQLite: ``executemany`` on the driver's cursor, batch after batch, inside the caller's transaction (all or
  nothing); the page cache is enlarged for the import and set back after it (no durability setting is touched).
- PostgreSQL: under a transaction-level advisory lock on the set (bulk imports into one set take turns), the
  missing prompts are ``COPY``'d straight into the prompt table, and so are the votes when the set holds no vote
  yet (a first import: nothing to skip). When a key is already there (the set has votes, the file repeats a vote,
  or another writer stored the same row meanwhile) the rows go through a temporary staging table (dropped at
  commit) and one ``INSERT .. SELECT .. ON CONFLICT DO NOTHING``: a direct ``COPY`` that meets a duplicate key
  is rolled back to its savepoint and done that way.

Idempotent like the per-row path: a vote's key hashes every field (:func:`judge.store.ingest.vote_key`, computed
here from the same canonical JSON text), and the database skips a key it already holds (``ON CONFLICT DO
NOTHING``), so importing a file again adds nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func
from sqlmodel import Session, col, select

from judge.core.hashing import canonical_json
from judge.importers.bundle import ImportBundle
from judge.importers.columnar import WINNERS, VoteColumns
from judge.importers.records import VoteRecord
from judge.store.ingest import ImportCounts, get_or_create_set, unknown_model, unknown_prompt, write_bundle
from judge.store.tables import DEFAULT_TENANT, Prompt, Response, Vote

BATCH = 50_000
"""Votes keyed and sent per batch (bounds the memory a file of millions of votes takes)."""

SQLITE_CACHE_KIB = 262_144
"""SQLite page cache during a bulk import (256 MiB: the vote indexes of millions of rows stay in memory)."""

_PLAIN = re.compile(r'[^"\\\x00-\x1f]*')
"""Text that JSON (``ensure_ascii=False``) writes as it is, between quotes: no quote, backslash or control."""

SET_LOCK = 0x6A766F74
"""The first key of ``pg_advisory_xact_lock(SET_LOCK, set_id)``, taken by a bulk import into a set."""

VoteRow = tuple[str, int, int, str, str, str, str, int, str, float | None]
_VOTE_COLUMNS = "vote_key, set_id, prompt_id, model_a, model_b, winner, voter, turn, source, tstamp"


def write_votes(
    session: Session,
    *,
    set_name: str,
    votes: VoteColumns | Sequence[VoteRecord],
    tenant: str = DEFAULT_TENANT,
    source: str = "import",
    create_missing: bool = False,
) -> ImportCounts:
    """Write a votes file's votes (:func:`judge.importers.columnar.read_vote_file`) into set ``set_name``:
    in bulk, or through :func:`write_bundle` when they carry Arena conversations (prompts and responses too)."""
    if not isinstance(votes, VoteColumns):
        if any(v.prompt_turns is not None or v.answer_a is not None or v.answer_b is not None for v in votes):
            bundle = ImportBundle(votes=list(votes))
            return write_bundle(
                session, set_name=set_name, bundle=bundle, tenant=tenant, source=source, create_missing=create_missing
            )
        votes = VoteColumns.from_votes(votes)
    return write_vote_columns(
        session, set_name=set_name, votes=votes, tenant=tenant, source=source, create_missing=create_missing
    )


def write_vote_columns(
    session: Session,
    *,
    set_name: str,
    votes: VoteColumns,
    tenant: str = DEFAULT_TENANT,
    source: str = "import",
    create_missing: bool = False,
) -> ImportCounts:
    """Write ``votes`` (columns read from a file, timestamps included) into set ``set_name`` in bulk; raises
    InputError, having written nothing the caller will keep (it rolls back), at the first vote on an unknown prompt
    or model unless ``create_missing``."""
    if votes.tstamps is None:
        raise ValueError("votes without their timestamps cannot be keyed (read them from a file)")
    prompt_set = get_or_create_set(session, set_name, tenant)
    assert prompt_set.id is not None
    set_id = prompt_set.id
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:  # before reading what the set holds: a concurrent bulk import into it waits for this one's commit
        session.connection().exec_driver_sql(f"SELECT pg_advisory_xact_lock({SET_LOCK}, {int(set_id)})")
    counts = ImportCounts()
    prompts, prompt_codes = votes.codes("prompt_ids")
    stored = _prompt_ids(session, set_id)
    known = np.array([p in stored for p in prompts], dtype=bool)
    if not create_missing:
        _refuse_unknown(votes, set_name, prompts, prompt_codes, known, _models_with_responses(session, set_id))
    elif not known.all():
        first = np.unique(prompt_codes, return_index=True)[1]  # codes number the prompts in order of appearance
        categories, category_codes = votes.codes("categories")
        missing = np.flatnonzero(~known)
        new = [(str(prompts[k]), categories[category_codes[first[k]]]) for k in missing.tolist()]
        _insert_prompts(session, set_id, new)
        counts.prompts_added = len(new)
        stored = _prompt_ids(session, set_id)
    prompt_row_ids = np.array([stored[p] for p in prompts], dtype=np.int64)

    def rows() -> Iterator[list[VoteRow]]:
        return _vote_rows(votes, tenant, set_name, set_id, source, prompts, prompt_codes, prompt_row_ids)

    before = _vote_count(session, set_id)
    if postgres:
        _copy_votes_postgres(session, rows, direct=before == 0)
    else:
        _insert_votes_sqlite(session, rows())
    counts.votes_added = _vote_count(session, set_id) - before
    return counts


def _refuse_unknown(
    votes: VoteColumns,
    set_name: str,
    prompts: Sequence[Any],
    prompt_codes: NDArray[np.int64],
    known: NDArray[np.bool_],
    models: set[str],
) -> None:
    """The per-row path's error at the first vote on an unknown prompt (checked first) or model."""
    bad_prompt = ~known[prompt_codes]
    model_known = np.array([m in models for m in votes.models], dtype=bool)
    bad_a, bad_b = ~model_known[votes.a], ~model_known[votes.b]
    bad = bad_prompt | bad_a | bad_b
    if not bad.any():
        return
    row = int(np.argmax(bad))
    location = votes.location(row)
    if bad_prompt[row]:
        raise unknown_prompt(str(prompts[prompt_codes[row]]), set_name, location)
    if bad_a[row]:
        raise unknown_model(votes.models[votes.a[row]], set_name, location, "model_a")
    raise unknown_model(votes.models[votes.b[row]], set_name, location, "model_b")


def _vote_rows(
    votes: VoteColumns,
    tenant: str,
    set_name: str,
    set_id: int,
    source: str,
    prompts: Sequence[Any],
    prompt_codes: NDArray[np.int64],
    prompt_row_ids: NDArray[np.int64],
) -> Iterator[list[VoteRow]]:
    """Batches of vote rows, each with its key: the SHA-256 of the canonical JSON text that
    :func:`judge.store.ingest.vote_key` hashes, assembled from each distinct value's JSON written once."""
    assert votes.tstamps is not None
    voters, voter_codes = votes.codes("voters")
    head = f"[{canonical_json(tenant)},{canonical_json(set_name)},"
    prompt_json = _json_strings(prompts)
    model_json = _json_strings(votes.models)
    voter_json = _json_strings(voters)
    winner_json = [canonical_json(w.value) for w in WINNERS]
    winners = [w.value for w in WINNERS]
    source_json = canonical_json(source)
    models = votes.models
    sha256 = hashlib.sha256
    for start in range(0, len(votes), BATCH):
        part = slice(start, start + BATCH)
        tstamps = [None if t != t else t for t in votes.tstamps[part].tolist()]  # NaN: no timestamp
        batch: list[VoteRow] = []
        for p, a, b, w, v, turn, tstamp, prompt_id in zip(
            prompt_codes[part].tolist(),
            votes.a[part].tolist(),
            votes.b[part].tolist(),
            votes.winner[part].tolist(),
            voter_codes[part].tolist(),
            votes.turn[part].tolist(),
            tstamps,
            prompt_row_ids[prompt_codes[part]].tolist(),
            strict=True,
        ):
            text = (
                f"{head}{prompt_json[p]},{model_json[a]},{model_json[b]},{winner_json[w]},{voter_json[v]},{turn},"
                f"{source_json},{'null' if tstamp is None else repr(tstamp)}]"
            )
            key = sha256(text.encode("utf-8")).hexdigest()
            batch.append((key, set_id, prompt_id, models[a], models[b], winners[w], voters[v], turn, source, tstamp))
        yield batch


def _json_strings(values: Sequence[Any]) -> list[str]:
    """Each text as :func:`judge.core.hashing.canonical_json` writes it (quoted as is when nothing needs escaping)."""
    plain = _PLAIN.fullmatch
    return [f'"{v}"' if plain(v) else canonical_json(v) for v in values]


def _prompt_ids(session: Session, set_id: int) -> dict[str, int]:
    rows = session.exec(select(col(Prompt.external_id), col(Prompt.id)).where(col(Prompt.set_id) == set_id))
    return {external: row_id for external, row_id in rows if row_id is not None}


def _models_with_responses(session: Session, set_id: int) -> set[str]:
    stmt = select(col(Response.model)).join(Prompt).where(col(Prompt.set_id) == set_id).distinct()
    return set(session.exec(stmt))


def _vote_count(session: Session, set_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(Vote).where(col(Vote.set_id) == set_id)).one())


def _insert_prompts(session: Session, set_id: int, new: list[tuple[str, str | None]]) -> None:
    """Prompts with no turns yet (as ``--create-missing`` makes them), in order of their first vote."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    if session.get_bind().dialect.name == "postgresql":
        with driver.cursor() as cursor:
            rows = [(k, set_id, external_id, category, "[]") for k, (external_id, category) in enumerate(new)]
            columns = "set_id, external_id, category, turns"
            _copy_postgres(cursor, "prompt", columns, lambda: iter(rows), "set_id, external_id", direct=True)
        return
    cursor = driver.cursor()
    try:
        cursor.executemany(
            "INSERT INTO prompt (set_id, external_id, category, turns) VALUES (?, ?, ?, '[]') "
            "ON CONFLICT (set_id, external_id) DO NOTHING",
            [(set_id, external_id, category) for external_id, category in new],
        )
    finally:
        cursor.close()


def _insert_votes_sqlite(session: Session, batches: Iterator[list[VoteRow]]) -> None:
    """``executemany`` per batch on the session's connection (its transaction), with a larger page cache."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    (previous,) = cursor.execute("PRAGMA cache_size").fetchone()
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    try:
        for batch in batches:
            cursor.executemany(
                f"INSERT INTO vote ({_VOTE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (vote_key) DO NOTHING",
                batch,
            )
    finally:
        cursor.execute(f"PRAGMA cache_size={int(previous)}")
        cursor.close()


def _copy_votes_postgres(session: Session, batches: Callable[[], Iterator[list[VoteRow]]], *, direct: bool) -> None:
    """The votes into the vote table in file order (see :func:`_copy_postgres`)."""
    driver = session.connection().connection.driver_connection
    assert driver is not None

    def ordered() -> Iterator[tuple[Any, ...]]:
        k = 0
        for batch in batches():
            for row in batch:
                yield (k, *row)
                k += 1

    with driver.cursor() as cursor:
        _copy_postgres(cursor, "vote", _VOTE_COLUMNS, ordered, "vote_key", direct=direct)


def _copy_postgres(
    cursor: Any, table: str, columns: str, rows: Callable[[], Iterator[tuple[Any, ...]]], key: str, *, direct: bool
) -> None:
    """The rows ``rows()`` yields (each led by its position) into ``table``: by a direct ``COPY`` when ``direct``
    and no row's ``key`` is stored yet, else (``rows()`` again) through a staging table that skips those."""
    if not (direct and _copy_direct(cursor, table, columns, rows())):
        _copy_staged(cursor, table, columns, rows(), key)


def _copy_direct(cursor: Any, table: str, columns: str, rows: Iterator[tuple[Any, ...]]) -> bool:
    """``COPY`` the rows (less their leading position) straight into ``table`` under a savepoint; False, with
    nothing written, when a row's unique key is already stored."""
    import psycopg

    cursor.execute("SAVEPOINT judge_bulk_copy")
    try:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row[1:])
    except psycopg.errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT judge_bulk_copy")
        return False
    cursor.execute("RELEASE SAVEPOINT judge_bulk_copy")
    return True


def _copy_staged(cursor: Any, table: str, columns: str, rows: Iterator[tuple[Any, ...]], key: str) -> None:
    """``COPY`` into a temporary copy of ``table``'s columns, then one insert of the rows whose key is new, in
    their order."""
    cursor.execute(
        f"CREATE TEMP TABLE judge_bulk_import ON COMMIT DROP AS SELECT 0::bigint AS ord, {columns} FROM {table} "
        "WITH NO DATA"
    )
    with cursor.copy(f"COPY judge_bulk_import (ord, {columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute("SET LOCAL work_mem = '256MB'")  # the sort by position in memory; reset at commit
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM judge_bulk_import ORDER BY ord "
        f"ON CONFLICT ({key}) DO NOTHING"
    )
    cursor.execute("DROP TABLE judge_bulk_import")
