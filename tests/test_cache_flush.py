"""The request cache commits on a time bound: a run killed mid-task keeps what it computed until the last flush."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

from tests.faults.forked_runs import start_cli

TOTAL_REQUESTS = 3 * 150  # pubmedqa: three choices per question


def _cached(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as connection:
            return int(connection.execute("SELECT count(*) FROM request_cache").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_kill_9_keeps_answers_flushed_by_the_time_bound(tmp_path: Path) -> None:
    """With a count bound that is never reached, only the time bound can commit before the task ends.

    The run is a real process (a fork of a server that already imported evalsuite, see
    tests/faults/forked_runs.py) killed from outside at an arbitrary moment, not at a fault point.
    """
    db = tmp_path / "killed.db"
    args = ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "150", "--db", str(db)]
    env = {
        **os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
        "EVALSUITE_CACHE_CHUNK": "100000", "EVALSUITE_CACHE_FLUSH_S": "0.3",
    }
    process = start_cli(args, env, tmp_path, tmp_path / "run.log")
    deadline = time.monotonic() + 300
    while _cached(db) == 0 and process.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.is_alive(), "the run finished before anything was flushed: the time bound did not act"
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    assert process.exitcode == -signal.SIGKILL
    kept = _cached(db)
    assert 0 < kept < TOTAL_REQUESTS
