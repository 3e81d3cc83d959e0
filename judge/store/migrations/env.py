"""Alembic environment: runs migrations against the URL set by judge.store.engine.alembic_config."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from judge.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from judge.store.engine import make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None
engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
