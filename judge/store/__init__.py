"""The verdict store: SQLModel tables, Alembic migrations, idempotent writes and queries."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from judge.core.errors import StoreError
from judge.settings import get_settings
from judge.store.engine import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    get_engine,
    redact_url,
    session_scope,
    upgrade_database,
)
from judge.store.tables import DEFAULT_TENANT, utcnow

__all__ = ["DEFAULT_TENANT", "head_revision", "open_store", "session_scope", "upgrade_database", "utcnow"]


def head_revision() -> str:
    """The newest migration shipped with this version of judge."""
    from alembic.script import ScriptDirectory  # Alembic on first use: slow to import, `judge --help` needs none

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None, f"no migrations in {MIGRATIONS_DIR}"
    return head


def open_store(url: str | None = None) -> Engine:
    """The engine for the configured database; an empty database is created, an outdated one refused."""
    url = url or get_settings().database_url
    engine = get_engine(url)
    revision = current_revision(engine)
    if revision is None:
        upgrade_database(url)
    elif revision != head_revision():
        raise StoreError(
            f"database {redact_url(url)} is at schema {revision}, this judge needs "
            f"{head_revision()}: run `judge db upgrade`"
        )
    return engine
