"""Dialect-aware ``INSERT ... ON CONFLICT`` for SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session


def _insert(session: Session, table: Table) -> Any:
    return _insert_for(session.get_bind().dialect.name, table)


def _insert_for(dialect: str, table: Table) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite  # the PostgreSQL dialect takes a while to import

    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {dialect!r} (use SQLite or PostgreSQL)")


def insert_ignoring_conflicts(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], conflict_columns: Sequence[str]
) -> None:
    """Insert ``rows``, skipping those whose ``conflict_columns`` already exist.

    Drivers disagree on rowcount for batched inserts, so callers count rows before and after when they need to.
    """
    if not rows:
        return
    stmt = _insert(session, table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    for start in range(0, len(rows), 500):
        session.execute(stmt, list(rows[start : start + 500]))


def insert_or_replace_where(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str],
    replace_where: Callable[[Table], ColumnElement[bool]],
) -> None:
    """Insert ``rows`` (all with the same keys); on conflict, overwrite an existing row only where
    ``replace_where(table)`` holds. One statement, executed for all rows at once.

    The statement is built once per (dialect, table, columns, rule) and reused: building its ``excluded``
    alias costs milliseconds, more than executing it for a batch.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    columns = tuple(k for k in rows[0] if k not in conflict_columns and k != "id")
    stmt = _upsert_statement(dialect, table, columns, tuple(conflict_columns), replace_where)
    session.execute(stmt, list(rows))


@functools.lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    conflict_columns: tuple[str, ...],
    replace_where: Callable[[Table], ColumnElement[bool]],
) -> Any:
    stmt = _insert_for(dialect, table)
    return stmt.on_conflict_do_update(
        index_elements=list(conflict_columns),
        set_={k: stmt.excluded[k] for k in columns},
        where=replace_where(table),
    )
