"""Eight `evalsuite run` processes starting the first run of a new model on a new database at once all succeed.

Before the schema lock and the race-free inserts, some of them died on "table model already
exists" (two processes creating the schema) or on the model row's unique constraint.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PROCESSES = 8


@pytest.mark.slow
def test_eight_first_runs_on_a_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "evalsuite.cli", "run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "2", "--db", str(db)]
    processes = [
        subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    outcomes = [(process.wait(timeout=600), process.stderr.read() if process.stderr else "") for process in processes]
    failures = [stderr for code, stderr in outcomes if code != 0]
    assert failures == [], failures[0][-2000:] if failures else ""

    with sqlite3.connect(db) as connection:
        statuses = [row[0] for row in connection.execute("SELECT status FROM run")]
        models = connection.execute("SELECT count(*) FROM model").fetchone()[0]
        answers = connection.execute("SELECT count(*) FROM request_cache").fetchone()[0]
        attempts = connection.execute("SELECT count(*) FROM run_attempt").fetchone()[0]
    assert statuses == ["complete"] * PROCESSES
    assert models == 1
    assert answers == 2 * 3  # two questions, three choices each: stored once, whoever computed them
    assert attempts == PROCESSES
