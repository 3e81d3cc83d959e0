"""The migrations build exactly the schema the table classes declare, and every step downgrades and upgrades."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

import judge.store.tables  # noqa: F401  (registers the table classes on SQLModel.metadata)
from judge.store.engine import alembic_config, make_engine, upgrade_database


def _structural_diff(url: str) -> list[tuple[object, ...]]:
    """Tables and columns the database lacks or has beyond the table classes (index and type spellings aside)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            changes = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    kinds = {"add_table", "remove_table", "add_column", "remove_column"}
    return [change for change in changes if isinstance(change, tuple) and change[0] in kinds]


def test_head_matches_the_table_classes(db_url: str) -> None:
    upgrade_database(db_url)
    assert _structural_diff(db_url) == []


def test_run_has_no_cached_count_and_the_step_reverses(db_url: str) -> None:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    try:
        assert "n_cached" not in {c["name"] for c in inspect(engine).get_columns("run")}
    finally:
        engine.dispose()
    command.downgrade(alembic_config(db_url), "0007")
    engine = make_engine(db_url)
    try:
        assert "n_cached" in {c["name"] for c in inspect(engine).get_columns("run")}
    finally:
        engine.dispose()
    upgrade_database(db_url)
    assert _structural_diff(db_url) == []


def test_revisions_form_one_line() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None
    assert [r.revision for r in reversed(revisions)] == sorted(r.revision for r in revisions)
