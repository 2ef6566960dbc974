"""Alembic's entry point: migrate the connection evalsuite hands over (or ``-x db=...`` from the alembic CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import evalsuite.store.schema  # noqa: F401  (registers every table on SQLModel.metadata for autogenerate)
from evalsuite.store.db import database_url
from evalsuite.store.revisions import record_applied


def _run(connection: object) -> None:
    is_sqlite = connection.dialect.name == "sqlite"  # type: ignore[attr-defined]
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=SQLModel.metadata,
        render_as_batch=is_sqlite,  # SQLite cannot ALTER most things: Alembic copies the table instead
        compare_type=True,
        on_version_apply=record_applied,  # each applied revision's number in schema_migration: no revision writes it by hand
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    db = context.get_x_argument(as_dictionary=True).get("db")
    if not db:
        raise SystemExit("pass the database to the alembic CLI as -x db=PATH_OR_URL")
    engine = create_engine(database_url(db))
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


if hasattr(context, "config"):  # only when Alembic runs this file, not when something imports it
    main()
