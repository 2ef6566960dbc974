"""Write transactions that collide with another writer are retried, on real collisions of each engine.

SQLite: another connection holds the write lock longer than the busy timeout (shortened to
0.1 s here), so the write fails with "database is locked". PostgreSQL: two transactions lock
two rows in opposite orders, and the server aborts one of them (deadlock_detected, 40P01).
Each collision is first shown to reach the caller without :func:`retrying`, then to be absorbed
by it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from raw_sql import sql
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from evalsuite.errors import DatabaseError
from evalsuite.store import retry
from evalsuite.store.db import Database, open_database
from evalsuite.store.retry import is_transient, retrying

HOLD_S = 1.0  # how long the SQLite lock holder keeps the write lock


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setattr("evalsuite.store.db.BUSY_TIMEOUT_MS", 100)  # SQLite gives up waiting after 0.1 s instead of 30 s
    with open_database(db_url) as opened:
        with opened.engine.begin() as connection:
            connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
            connection.execute(text("INSERT INTO counter (id, n) VALUES (1, 0), (2, 0)"))
        yield opened


class Bumper:
    """Adds one to two counter rows in one transaction; waits at a barrier between them on its first attempt only."""

    def __init__(self, database: Database, barrier: threading.Barrier | None = None) -> None:
        self.database = database
        self.barrier = barrier
        self.attempts = 0

    def __call__(self, first: int, second: int) -> None:
        self.attempts += 1
        with self.database.session() as session:
            session.execute(text("UPDATE counter SET n = n + 1 WHERE id = :id"), {"id": first})
            if self.barrier is not None and self.attempts == 1:
                self.barrier.wait(timeout=30)
            session.execute(text("UPDATE counter SET n = n + 1 WHERE id = :id"), {"id": second})


def _collide(db_url: str, database: Database, make: Callable[[Bumper], Callable[[int, int], None]]) -> tuple[list[BaseException], int]:
    """The engine's collision around calls of ``make(bumper)``; the errors raised, and the attempts made."""
    errors: list[BaseException] = []

    def call(function: Callable[[int, int], None], first: int, second: int) -> None:
        try:
            function(first, second)
        except BaseException as exc:  # noqa: BLE001 (the test inspects it)
            errors.append(exc)

    if db_url.startswith("postgresql"):  # a deadlock: rows 1 then 2 against rows 2 then 1
        barrier = threading.Barrier(2)
        bumpers = [Bumper(database, barrier), Bumper(database, barrier)]
        threads = [threading.Thread(target=call, args=(make(b), *order)) for b, order in zip(bumpers, [(1, 2), (2, 1)], strict=True)]
    else:  # a writer that keeps the lock for longer than the busy timeout
        bumpers = [Bumper(database)]
        threads = [threading.Thread(target=call, args=(make(bumpers[0]), 1, 2))]
        holder = sqlite3.connect(Path(db_url), isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        threading.Timer(HOLD_S, lambda: (holder.execute("COMMIT"), holder.close())).start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors, sum(b.attempts for b in bumpers)


def test_collision_reaches_the_caller_without_retrying(db_url: str, database: Database) -> None:
    errors, _ = _collide(db_url, database, lambda bumper: bumper)
    assert len(errors) == 1 and isinstance(errors[0], OperationalError) and is_transient(errors[0])


def test_collision_is_retried_until_the_transaction_goes_through(db_url: str, database: Database) -> None:
    errors, attempts = _collide(db_url, database, retrying)
    assert errors == []
    writers = 2 if db_url.startswith("postgresql") else 1
    assert attempts > writers  # at least one transaction was rolled back and run again
    assert sql(db_url, "SELECT id, n FROM counter ORDER BY id") == [(1, writers), (2, writers)]  # each counted once


def test_collisions_past_the_bound_are_a_database_error_with_a_hint(db_url: str, database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "MAX_ATTEMPTS", 1)
    errors, _ = _collide(db_url, database, retrying)
    assert len(errors) == 1 and isinstance(errors[0], DatabaseError)
    assert "the database stayed busy" in errors[0].message and "fewer processes" in errors[0].hint
    assert "stayed busy" in str(errors[0]) and "Traceback" not in str(errors[0])


def test_errors_that_are_not_collisions_are_not_retried(database: Database) -> None:
    calls = []

    @retrying
    def broken() -> None:
        calls.append(1)
        with database.session() as session:
            session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(Exception, match="no_such_table"):
        broken()
    assert calls == [1]


def test_pauses_grow_and_stay_bounded() -> None:
    import random

    rng = random.Random(0)
    ceilings = [max(retry.pause_s(attempt, rng) for _ in range(200)) for attempt in range(retry.MAX_ATTEMPTS)]
    assert all(0 <= c <= retry.MAX_PAUSE_S for c in ceilings)
    assert ceilings[0] <= retry.FIRST_PAUSE_S and ceilings[-1] > 10 * retry.FIRST_PAUSE_S
