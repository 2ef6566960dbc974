"""Opening the results database: engine, SQLite pragmas, schema creation, migrations.

SQLite is opened in WAL mode with a busy timeout so the leaderboard can read
while a run writes and many arena voters can write at once without "database is
locked". Any SQLAlchemy URL works (PostgreSQL for a shared deployment).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, create_engine, select

from evalsuite.errors import DatabaseError
from evalsuite.store import schema

BUSY_TIMEOUT_MS = 30_000

# Ordered migrations: version -> function(engine). Version 1 is the initial schema.
Migration = Callable[[Engine], None]
MIGRATIONS: dict[int, Migration] = {}


def database_url(db: str | Path) -> str:
    """Turn a path or URL into a SQLAlchemy URL (plain paths mean SQLite files)."""
    text_value = str(db)
    if "://" in text_value:
        return text_value
    return f"sqlite:///{Path(text_value).expanduser()}"


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    raw = url[len("sqlite:///") :]
    return None if raw in ("", ":memory:") else Path(raw)


def _prepare_sqlite_file(path: Path) -> None:
    """Create the parent folder and refuse files that are not SQLite databases."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create the database folder {path.parent}: {exc.strerror}") from exc
    if path.is_dir():
        raise DatabaseError(f"database path {path} is a directory")
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as handle:
            header = handle.read(16)
        if header != b"SQLite format 3\x00":
            raise DatabaseError(
                f"{path} is not a SQLite database",
                "pass --db with a new file name or an existing evalsuite database",
            )


def _set_sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


@dataclass
class Database:
    """An open results database; pass it to `store.queries` functions."""

    url: str
    engine: Engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except Exception:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()


def open_database(db: str | Path) -> Database:
    """Open (and create or migrate) the database at a path or SQLAlchemy URL."""
    url = database_url(db)
    path = _sqlite_path(url)
    if path is not None:
        _prepare_sqlite_file(path)
    connect_args = {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False} if url.startswith("sqlite") else {}
    try:
        engine = create_engine(url, connect_args=connect_args)
    except Exception as exc:  # malformed URL, missing driver
        raise DatabaseError(f"cannot open database {url}: {exc}") from exc
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _set_sqlite_pragmas)
    try:
        _create_and_migrate(engine)
    except (OperationalError, SADatabaseError) as exc:
        engine.dispose()
        reason = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
        raise DatabaseError(f"cannot use database {url}: {reason}") from exc
    return Database(url=url, engine=engine)


def _create_and_migrate(engine: Engine) -> None:
    """Create missing tables, then apply ordered migrations not yet recorded."""
    fresh = not inspect(engine).has_table("run")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        applied = set(session.exec(select(schema.SchemaMigration.version)).all())
        if fresh or not applied:
            for version in range(1, schema.SCHEMA_VERSION + 1):
                if version not in applied:
                    session.add(schema.SchemaMigration(version=version))
            session.commit()
            return
        for version in sorted(v for v in MIGRATIONS if v not in applied):
            MIGRATIONS[version](engine)
            session.add(schema.SchemaMigration(version=version))
            session.commit()


def check_connection(database: Database) -> None:
    """Touch the database so a locked or unreadable file fails early."""
    with database.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
