"""What a SQLite results database holds, read with plain sqlite3 (not through evalsuite's store).

The fault tests judge the product's store by an independent reader: integrity, runs,
attempts, metrics, per-document log-likelihoods and the number of cached answers.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import evalsuite_ok

STATUSES = ("interrupted", "running", "complete", "failed")


@dataclass(frozen=True)
class Run:
    id: int
    status: str  # as stored; `interrupted` is derived by readers from the heartbeat (see listed_status)
    computed: int | None
    cached: int | None
    tasks: str
    error: str | None


@dataclass(frozen=True)
class Stored:
    integrity: str
    runs: dict[int, Run]
    attempts: dict[int, list[tuple[str, str]]]  # run id -> [(host, outcome)] in attempt order
    metric_tasks: dict[int, set[str]]
    metrics: dict[int, list[tuple]]  # run id -> [(task, metric, filter, value, stderr, n_samples)]
    logliks: dict[int, list[tuple]]  # run id -> [(task, doc_id, logliks)]
    cached: int  # answers in the request cache

    def complete_without_all_metrics(self) -> list[int]:
        """Runs stored as complete although a task of theirs has no metrics (must always be empty)."""
        return [
            run.id for run in self.runs.values()
            if run.status == "complete" and not set(json.loads(run.tasks)) <= self.metric_tasks.get(run.id, set())
        ]


def read(db: Path) -> Stored | None:
    """The database's state, or None when the run died before creating the file."""
    if not db.exists():
        return None
    with sqlite3.connect(db) as connection:
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        runs = {
            row[0]: Run(*row)
            for row in connection.execute("SELECT id, status, requests_computed, requests_cached, tasks, error FROM run")
        }
        attempts: dict[int, list[tuple[str, str]]] = {}
        for run_id, host, outcome in connection.execute("SELECT run_id, host, outcome FROM run_attempt ORDER BY run_id, attempt"):
            attempts.setdefault(run_id, []).append((host, outcome))
        metrics: dict[int, list[tuple]] = {}
        for run_id, *row in connection.execute(
            "SELECT run_id, task, metric, filter, value, stderr, n_samples FROM metric ORDER BY run_id, task, metric, filter"
        ):
            metrics.setdefault(run_id, []).append(tuple(row))
        logliks: dict[int, list[tuple]] = {}
        for run_id, *row in connection.execute("SELECT run_id, task, doc_id, logliks FROM sample ORDER BY run_id, task, doc_id"):
            logliks.setdefault(run_id, []).append(tuple(row))
        cached = connection.execute("SELECT count(*) FROM request_cache").fetchone()[0]
    tasks = {run_id: {row[0] for row in rows} for run_id, rows in metrics.items()}
    return Stored(integrity, runs, attempts, tasks, metrics, logliks, cached)


def listed_status(db: Path, run_id: int) -> str:
    """The status `evalsuite results list` shows for a run (the heartbeat turns a dead `running` into `interrupted`)."""
    listing = evalsuite_ok("results", "list", "--db", str(db))
    for line in listing.splitlines():
        cells = [cell.strip() for cell in line.replace("┃", "│").split("│")]
        if len(cells) > 2 and cells[1] == str(run_id):
            return next(word for word in STATUSES if word in cells)
    raise AssertionError(f"run {run_id} is not listed:\n{listing}")
