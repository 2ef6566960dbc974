"""Rows read straight from a results database with plain SQL, independently of the store code under test.

Works on both engines the ``db_url`` fixture gives (a SQLite file path, a ``postgresql://`` URL):
SQLAlchemy Core and a text query, no evalsuite function in between.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text


def engine_url(db: str | Path) -> str:
    value = str(db)
    if value.startswith("postgresql://"):
        return "postgresql+psycopg://" + value.removeprefix("postgresql://")
    return value if "://" in value else f"sqlite:///{value}"


def sql(db: str | Path, query: str, **params: Any) -> list[tuple[Any, ...]]:
    """``query`` (named ``:params``) run and committed on ``db``; its rows as tuples (none for a write)."""
    engine = create_engine(engine_url(db))
    try:
        with engine.begin() as connection:
            result = connection.execute(text(query), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()
