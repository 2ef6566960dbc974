"""Deterministic fault injection: stop a run at a named step, as a crash or a full disk would.

Tests and operators' drills need to know what a run leaves behind when it dies at a
given moment (model load, scoring, metric computation, storing). Timing a ``kill``
from outside cannot hit a step reliably, so the product names its steps and calls
:func:`point` at each; two environment variables choose one of them and the fault:

``EVALSUITE_FAULT_AT=<point>[@<nth>]``
    fire at the ``nth`` (default 1st) time this process passes ``point``;
``EVALSUITE_FAULT_KIND=kill|term|int|disk-full|read-only`` (default ``kill``)
    ``kill``/``term``/``int`` send SIGKILL/SIGTERM/SIGINT to the process itself;
    ``disk-full`` and ``read-only`` leave the process running but make every later
    database write fail with the database's own error (SQLite: ``PRAGMA
    max_page_count`` at the current size gives SQLITE_FULL, ``PRAGMA query_only``
    gives SQLITE_READONLY; PostgreSQL: read-only transactions give SQLSTATE 25006; a
    PostgreSQL server cannot be filled from a client, so ``disk-full`` acts on SQLite only).

Unset, :func:`point` costs one environment lookup, so the calls stay in the product.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from typing import Any

from evalsuite import settings
from evalsuite.errors import ConfigError

ENV_AT = settings.FAULT_AT.name
ENV_KIND = settings.FAULT_KIND.name

# Every step a fault can be injected at, in the order a run passes them; the docstring of each
# says what is (and is not) stored at that moment. Keep in step with the `point(...)` calls.
POINTS: dict[str, str] = {
    "model_resolved": "the model is found and hashed; no run row exists yet",
    "run_created": "the run row (status running) and its attempt are stored; nothing evaluated",
    "backend_loaded": "the model's weights are loaded; no request computed",
    "task_started": "a task begins (nth=2: the first task is fully stored, the second not begun)",
    "chunk_computed": "a chunk of requests is computed but not yet committed to the request cache",
    "chunk_committed": "a chunk of computed requests is committed to the request cache",
    "task_scored": "lm-eval returned the task's results; its metrics are not yet built",
    "metrics_built": "the task's metric and sample rows are built; not yet written",
    "results_uncommitted": "the task's rows are written inside the open transaction; not committed",
    "task_stored": "the task's metrics and samples are committed",
    "output_written": "the --output JSON is written to a temporary file; not yet moved into place",
    "before_finish": "every task is stored and the output is in place; the run is not yet marked complete",
}
KINDS: dict[str, int | None] = {
    "kill": signal.SIGKILL,
    "term": signal.SIGTERM,
    "int": signal.SIGINT,
    "disk-full": None,
    "read-only": None,
}
STORAGE_KINDS = ("disk-full", "read-only")

_passes: Counter[str] = Counter()
_storage_fault: str | None = None  # set once a disk-full or read-only fault has fired in this process


def configured() -> tuple[str, int, str] | None:
    """The fault asked for by the environment: (point, nth, kind), or None; a typo is a ConfigError."""
    raw = settings.FAULT_AT.read()
    if not raw:
        return None
    name, _, nth_text = raw.partition("@")
    if name not in POINTS:
        from difflib import get_close_matches

        close = get_close_matches(name, POINTS, n=1)
        suggestion = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{ENV_AT}={raw!r} names no fault point", f"{suggestion}points: {', '.join(POINTS)}")
    try:
        nth = int(nth_text) if nth_text else 1
    except ValueError:
        nth = 0
    if nth < 1:
        raise ConfigError(f"{ENV_AT}={raw!r}: the count after @ must be a whole number ≥ 1", f"e.g. {ENV_AT}={name}@2")
    kind = settings.FAULT_KIND.read()
    if kind not in KINDS:
        raise ConfigError(f"{ENV_KIND}={kind!r} is not a fault kind", f"use one of: {', '.join(KINDS)}")
    return name, nth, kind


def check() -> None:
    """Fail before any work when the fault variables are malformed (a drill that never fires teaches nothing)."""
    configured()


def point(name: str) -> None:
    """Mark that the process reaches step ``name``; fire the configured fault if this is its pass."""
    if not settings.FAULT_AT.read():
        return
    fault = configured()
    if fault is None or fault[0] != name:
        return
    _passes[name] += 1
    if _passes[name] != fault[1]:
        return
    _fire(fault[2])


def _fire(kind: str) -> None:
    global _storage_fault
    number = KINDS[kind]
    if number is None:
        _storage_fault = kind
        return
    # Raised in this (the main) thread, so its Python handler runs here at once (a signal sent to the
    # process could land in the heartbeat thread and wait); SIGKILL never returns.
    signal.raise_signal(number)
    time.sleep(10)
    raise RuntimeError(f"fault {kind} at a point was sent but not delivered")  # a bug: the handler is missing


def storage_fault() -> str | None:
    """``disk-full`` or ``read-only`` once such a fault has fired in this process, else None."""
    return _storage_fault


def apply_storage_fault(dbapi_connection: Any, dialect: str) -> None:
    """Make a connection taken from the pool refuse writes the way a full or read-only database does.

    Called for every checkout (``store.db``); a no-op until a storage fault fires.
    """
    if _storage_fault is None:
        return
    cursor = dbapi_connection.cursor()
    try:
        if dialect == "sqlite":
            if _storage_fault == "disk-full":
                # The database may not grow past its current size: the next page it needs is SQLITE_FULL.
                pages = cursor.execute("PRAGMA page_count").fetchone()[0]
                cursor.execute(f"PRAGMA max_page_count = {int(pages)}")
            else:
                cursor.execute("PRAGMA query_only = ON")
        elif dialect == "postgresql" and _storage_fault == "read-only":
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_connection.commit()  # the SET opened a transaction that is still read-write; later ones are not
    finally:
        cursor.close()
