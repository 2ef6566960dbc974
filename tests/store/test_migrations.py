"""Alembic migrations: the first released schema upgrades keeping every row, and the tables never drift from them.

``data/schema_v1.db`` was written by the first released evalsuite (see data/README.md);
its rows are read here with plain sqlite3, independently of the code under test.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pg_server import PostgresServer
from raw_sql import engine_url, sql
from sqlalchemy import UniqueConstraint, create_engine, inspect
from sqlmodel import SQLModel
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.errors import DatabaseError
from evalsuite.store import queries
from evalsuite.store.db import BASELINE_REVISION, alembic_config, head_revision, open_database
from evalsuite.store.revisions import schema_version

V1_DB = Path(__file__).parent / "data" / "schema_v1.db"
V1_TABLES = ("model", "run", "metric", "sample", "request_cache", "prompt", "completion", "battle", "vote", "schema_migration")


def _schema_objects(path: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name != 'alembic_version'")
        return {(kind, name): sql for kind, name, sql in rows}


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]


def _v1_rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of every first-release table, in the first release's columns only."""
    with sqlite3.connect(V1_DB) as original:
        columns = {table: _columns(original, table) for table in V1_TABLES}
    with sqlite3.connect(path) as connection:
        return {
            table: connection.execute(f'SELECT {", ".join(f"{c!r}" for c in names)} FROM "{table}" ORDER BY rowid').fetchall()
            for table, names in columns.items()
        }


def _drift(db: Path | str) -> list[object]:
    """Alembic's comparison of the database with the tables, plus unique constraints (it skips unnamed ones on SQLite)."""
    engine = create_engine(engine_url(db))
    with engine.connect() as connection:
        differences: list[object] = list(
            compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), SQLModel.metadata)
        )
        inspector = inspect(connection)
        present = set(inspector.get_table_names())
        for table in (t for t in SQLModel.metadata.sorted_tables if t.name in present):
            stored = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table.name)}
            wanted = {tuple(c.name for c in u.columns) for u in table.constraints if isinstance(u, UniqueConstraint)}
            wanted |= {(c.name,) for c in table.columns if c.unique and not c.index}  # with index=True: a unique index
            if stored != wanted:
                differences.append(("unique constraints", table.name, sorted(stored), sorted(wanted)))
    engine.dispose()
    return differences


@pytest.fixture
def v1_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "v1.db"
    shutil.copy(V1_DB, copy)
    return copy


def test_committed_v1_database_has_rows_in_every_table_and_no_alembic_stamp() -> None:
    with sqlite3.connect(V1_DB) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        counts = {table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in V1_TABLES}
    assert tables == set(V1_TABLES)
    assert all(count > 0 for count in counts.values()), counts


def test_baseline_revision_builds_exactly_the_first_released_schema(tmp_path: Path) -> None:
    path = tmp_path / "baseline.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), BASELINE_REVISION)
    engine.dispose()
    assert _schema_objects(path) == _schema_objects(V1_DB)


def test_v1_database_opens_upgrades_and_keeps_every_row(v1_copy: Path) -> None:
    before = _v1_rows(v1_copy)
    open_database(v1_copy).close()
    after = _v1_rows(v1_copy)
    counts = {table: len(rows) for table, rows in before.items() if table != "schema_migration"}
    assert {table: len(rows) for table, rows in after.items() if table != "schema_migration"} == counts
    assert {table: rows for table, rows in after.items() if table != "schema_migration"} == {
        table: rows for table, rows in before.items() if table != "schema_migration"
    }
    assert after["schema_migration"][:1] == before["schema_migration"]  # version 1 kept, later versions added
    with sqlite3.connect(v1_copy) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
        versions = [row[0] for row in connection.execute("SELECT version FROM schema_migration ORDER BY version")]
        runs = connection.execute("SELECT id, started_at, finished_at, duration_s, host, status FROM run ORDER BY id").fetchall()
        attempts = connection.execute(
            "SELECT run_id, started_at, ended_at, duration_s, host, outcome FROM run_attempt WHERE attempt = 1 ORDER BY run_id"
        ).fetchall()
        integrity = connection.execute("PRAGMA integrity_check").fetchall()
        broken_references = connection.execute("PRAGMA foreign_key_check").fetchall()
    assert versions == list(range(1, schema_version() + 1))
    assert attempts == runs  # each old run becomes its own first attempt
    assert integrity == [("ok",)] and broken_references == []


def test_upgraded_v1_schema_matches_the_sqlmodel_tables(v1_copy: Path) -> None:
    """Fails whenever store/schema.py changes without a migration revision."""
    open_database(v1_copy).close()
    assert _drift(v1_copy) == []


def test_new_database_is_built_by_the_revisions_and_matches_the_tables(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    open_database(path).close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
    assert _drift(path) == []


def test_upgraded_v1_database_reads_back_through_the_cli(v1_copy: Path) -> None:
    result = CliRunner().invoke(app, ["results", "list", "--db", str(v1_copy)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "demo/pico" in line]
    assert len(lines) == 2 and all("complete" in line for line in lines)
    assert "5.4" in lines[1] and "6.8" in lines[0]  # seconds: the stored durations (5.408 s, 6.827 s)
    with open_database(v1_copy, create=False) as database:
        assert [len(queries.run_attempts(database, run_id)) for run_id in (1, 2)] == [1, 1]


def test_database_from_a_newer_evalsuite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    open_database(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00d'")
    with pytest.raises(DatabaseError, match="newer than this evalsuite"):
        open_database(path)


def test_sqlite_file_of_another_application_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    with pytest.raises(DatabaseError, match="no evalsuite schema version"):
        open_database(path)
    with sqlite3.connect(path) as connection:
        assert [row[0] for row in connection.execute("SELECT name FROM sqlite_master")] == ["notes"]


def _open_after(barrier: multiprocessing.synchronize.Barrier, path: str) -> None:
    barrier.wait()
    open_database(path).close()


@pytest.mark.parametrize("start", ["new", "v1"])
def test_eight_processes_opening_one_database_at_once_all_succeed(tmp_path: Path, start: str) -> None:
    """A new database is created once, an old one upgraded once, whoever comes first (the schema lock)."""
    path = tmp_path / "race.db"
    if start == "v1":
        shutil.copy(V1_DB, path)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(8)
    processes = [context.Process(target=_open_after, args=(barrier, str(path))) for _ in range(8)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [process.exitcode for process in processes] == [0] * 8
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
        assert [row[0] for row in connection.execute("SELECT version FROM schema_migration ORDER BY version")] == list(range(1, schema_version() + 1))
        assert connection.execute("SELECT count(*) FROM run_attempt").fetchone()[0] == (2 if start == "v1" else 0)


# ---------------------------------------------------------------- PostgreSQL
# The committed v1 file is SQLite's; on PostgreSQL a database is only ever built by the revisions.


@pytest.fixture
def pg_db(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


def _tables_and_columns(db: Path | str) -> dict[str, list[str]]:
    engine = create_engine(engine_url(db))
    try:
        inspector = inspect(engine)
        return {table: sorted(c["name"] for c in inspector.get_columns(table)) for table in inspector.get_table_names()}
    finally:
        engine.dispose()


def test_new_postgres_database_is_built_by_the_revisions_with_sqlites_tables_and_columns(pg_db: str, tmp_path: Path) -> None:
    open_database(pg_db).close()
    open_database(tmp_path / "twin.db").close()
    assert sql(pg_db, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert sql(pg_db, "SELECT version FROM schema_migration ORDER BY version") == [(v,) for v in range(1, schema_version() + 1)]
    assert _tables_and_columns(pg_db) == _tables_and_columns(tmp_path / "twin.db")
    assert _drift(pg_db) == []


def test_eight_processes_opening_one_new_postgres_database_at_once_all_succeed(pg_db: str) -> None:
    """The advisory lock: the schema is created once, whoever comes first."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(8)
    processes = [context.Process(target=_open_after, args=(barrier, pg_db)) for _ in range(8)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [process.exitcode for process in processes] == [0] * 8
    assert sql(pg_db, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert sql(pg_db, "SELECT version FROM schema_migration ORDER BY version") == [(v,) for v in range(1, schema_version() + 1)]
