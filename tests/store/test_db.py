"""The database layer: pragmas, schema, refusal of bad files, concurrency."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from evalsuite.errors import DatabaseError
from evalsuite.store import queries
from evalsuite.store.db import open_database
from evalsuite.store.schema import SCHEMA_VERSION


def test_new_database_uses_wal_and_busy_timeout(tmp_path: Path) -> None:
    database = open_database(tmp_path / "sub" / "results.db")
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    database.close()
    tables = {row[0] for row in sqlite3.connect(tmp_path / "sub" / "results.db").execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"model", "run", "metric", "sample", "request_cache", "prompt", "completion", "battle", "vote", "schema_migration"} <= tables


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    open_database(tmp_path / "a.db").close()
    open_database(tmp_path / "a.db").close()
    versions = [row[0] for row in sqlite3.connect(tmp_path / "a.db").execute("SELECT version FROM schema_migration")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n")
    with pytest.raises(DatabaseError, match="not a SQLite database"):
        open_database(path)
    assert path.read_text() == "these are my notes, not a database\n"


def test_path_that_cannot_be_created_is_a_database_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatabaseError, match="cannot create the database folder"):
        open_database(blocker / "deeper" / "results.db")


def test_concurrent_writers_lose_nothing(db_url: str) -> None:
    database = open_database(db_url)
    model = queries.get_or_create_model(database, name="m", source="m", weights_sha256="0" * 64)

    def write_runs() -> None:
        for _ in range(10):
            queries.create_run(database, model_id=model.id, backend="hf", config={}, config_hash="h", tasks=[])

    threads = [threading.Thread(target=write_runs) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(queries.list_runs(database)) == 80
    database.close()
