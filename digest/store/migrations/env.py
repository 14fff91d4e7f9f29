"""Alembic environment: runs the migrations on the connection that `Store.migrate` hands over.

`Store.migrate` opens the transaction and passes its connection in `config.attributes`, so the
whole upgrade commits or rolls back as one. Without one (the `alembic` command, for a developer
writing a revision), it connects to `sqlalchemy.url` itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from digest.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later migrations copy-and-move tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


given: Connection | None = context.config.attributes.get("connection")
if context.is_offline_mode():
    _run_offline()
elif given is not None:
    _run(given)
else:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: run migrations through digest.store.Store.migrate()")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()
