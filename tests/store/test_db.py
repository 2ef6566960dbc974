"""The database layer: pragmas, schema, refusal of bad files, concurrency."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.synchronize
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from evalsuite.errors import DatabaseError
from evalsuite.store import queries
from evalsuite.store.db import open_database
from evalsuite.store.revisions import schema_version


def test_new_database_uses_wal_and_busy_timeout(tmp_path: Path) -> None:
    with open_database(tmp_path / "sub" / "results.db") as database:
        with database.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    tables = {row[0] for row in sqlite3.connect(tmp_path / "sub" / "results.db").execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"model", "run", "metric", "sample", "request_cache", "prompt", "completion", "battle", "vote", "schema_migration"} <= tables


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    open_database(tmp_path / "a.db").close()
    open_database(tmp_path / "a.db").close()
    versions = [row[0] for row in sqlite3.connect(tmp_path / "a.db").execute("SELECT version FROM schema_migration")]
    assert versions == list(range(1, schema_version() + 1))


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
    with open_database(db_url) as database:
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


ROUNDS, OPENERS = 60, 2  # two openers on two cores spin in step; the old switch failed ~1 round in 10


def _open_in_step(rounds: int, barrier: multiprocessing.synchronize.Barrier, deadline: multiprocessing.sharedctypes.Synchronized[float], path: str, errors: multiprocessing.Queue[str]) -> None:
    """Each round: wait for all, let the first reset the file to rollback mode, then all open it at one instant."""
    for _ in range(rounds):
        if barrier.wait() == 0:
            with contextlib.closing(sqlite3.connect(path)) as connection:
                connection.execute("PRAGMA journal_mode = DELETE")
            deadline.value = time.time() + 0.05
        barrier.wait()
        while time.time() < deadline.value:
            pass  # a spin, not a sleep: the openers must collide within microseconds, as Ray workers did
        try:
            open_database(path).close()
        except DatabaseError as exc:
            errors.put(str(exc))


def test_processes_opening_one_database_at_one_instant_never_see_database_is_locked(tmp_path: Path) -> None:
    """SQLite answers two connections switching one file to WAL together with "database is locked" at once,
    without its busy timeout (two Ray workers opening a new database failed so); the switch is made once, under a lock."""
    path = tmp_path / "instant.db"
    open_database(path).close()  # the schema is at head: each round is the WAL switch alone
    context = multiprocessing.get_context("spawn")
    barrier, deadline, errors = context.Barrier(OPENERS), context.Value("d", 0.0), context.Queue()
    openers = [context.Process(target=_open_in_step, args=(ROUNDS, barrier, deadline, str(path), errors)) for _ in range(OPENERS)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join(300)
    assert [opener.exitcode for opener in openers] == [0] * OPENERS
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == []
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


class _Failure(Exception):
    """Raised inside the block to show the database is closed on the way out of an error too."""


@pytest.mark.parametrize("fails", [False, True], ids=["normal-exit", "exception"])
def test_database_as_context_manager_closes_on_exit(tmp_path: Path, fails: bool) -> None:
    path = tmp_path / "ctx.db"
    wal = tmp_path / "ctx.db-wal"
    with pytest.raises(_Failure) if fails else contextlib.nullcontext():
        with open_database(path) as database:
            pool = database.engine.pool
            queries.get_or_create_model(database, name="m", source="m", weights_sha256="0" * 64)
            assert pool.checkedin() >= 1 and wal.exists()  # a pooled connection holds the file open, with its WAL
            if fails:
                raise _Failure
    assert database.engine.pool is not pool  # disposed: the engine got a fresh pool, the old one is closed
    assert pool.checkedin() == 0 and pool.checkedout() == 0
    assert not wal.exists()  # SQLite folds the WAL back and removes it when its last connection closes
    with open_database(path, create=False) as again:
        assert queries.model_names(again) == ["m"]
