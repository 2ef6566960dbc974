"""Retrying short write transactions that lost a race: SQLite's lock, PostgreSQL's serialization and deadlock aborts.

Many writers share one database: arena voters, several ``evalsuite run`` processes
(results, request cache, heartbeats), pods writing into a team's PostgreSQL. The busy
timeout makes SQLite *wait* for its write lock, but it still answers "database is
locked" when the wait runs out under a long burst of writers, and at once when a
transaction whose snapshot is older than another writer's commit tries to write (WAL
cannot let it, and waiting could deadlock); PostgreSQL aborts one of two transactions
that deadlock (SQLSTATE 40P01) or cannot be serialized (40001, under the serializable
isolation a team's server may be configured with). In each case the database rolled the
transaction back whole, so running it again is safe; the user should never see it.

:func:`retrying` wraps a function that runs *one* short transaction (or several that
are each safe to repeat, like get-or-create) and calls it again after a jittered
exponential pause — jitter so that the writers that collided do not collide again in
step. After :data:`MAX_ATTEMPTS` attempts (or :data:`MAX_RETRY_S`) it raises a :class:`~evalsuite.errors.DatabaseError`
with a hint instead of a driver traceback.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError

from evalsuite.errors import DatabaseError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
FIRST_PAUSE_S = 0.005
MAX_PAUSE_S = 1.0  # 12 attempts: at most ~5 s of pauses in all, on top of SQLite's busy timeout per attempt
# No new attempt after this long: an attempt that waited out SQLite's whole busy timeout (30 s) means a writer
# is stuck, not racing, and the user should hear so within a minute, not after 12 timeouts.
MAX_RETRY_S = 60.0
RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
SQLITE_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy")

P = ParamSpec("P")
R = TypeVar("R")


def is_transient(exc: BaseException) -> bool:
    """Whether the database rolled this transaction back only because another one collided with it."""
    if not isinstance(exc, DBAPIError):
        return False
    original = exc.orig
    if getattr(original, "sqlstate", None) in RETRY_SQLSTATES:
        return True
    message = str(original).lower()
    return type(original).__module__ == "sqlite3" and any(words in message for words in SQLITE_BUSY_WORDS)


def pause_s(attempt: int, rng: random.Random | None = None) -> float:
    """"Full jitter": uniform in [0, min(MAX, FIRST * 2**attempt)], so colliding writers spread out."""
    ceiling = min(MAX_PAUSE_S, FIRST_PAUSE_S * 2**attempt)
    return (rng or random).uniform(0, ceiling)


def retrying(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` again (up to :data:`MAX_ATTEMPTS` times) when its transaction was rolled back by a collision."""
    name = getattr(function, "__name__", type(function).__name__)

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        began = time.monotonic()
        for attempt in range(MAX_ATTEMPTS):
            try:
                return function(*args, **kwargs)
            except DBAPIError as exc:
                if not is_transient(exc):
                    raise
                if attempt == MAX_ATTEMPTS - 1 or time.monotonic() - began > MAX_RETRY_S:
                    raise DatabaseError(
                        f"the database stayed busy: {name} collided with other writers {attempt + 1} times ({exc.orig})",
                        "retry later; if it persists, fewer processes should write at once (or use PostgreSQL for many writers)",
                    ) from exc
                log.debug("%s collided with another writer (%s); retrying", name, exc.orig)
                time.sleep(pause_s(attempt))
        raise AssertionError("unreachable")  # the loop returns or raises

    return wrapper
