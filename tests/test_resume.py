"""A run killed with SIGKILL resumes to exactly the uninterrupted results, recomputing nothing it had finished."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOTAL_REQUESTS = 3 * 150  # pubmedqa: three choices per question


def _command(db: Path, output: Path) -> list[str]:
    return [
        sys.executable, "-m", "evalsuite.cli", "run", "--model", "demo/pico-s", "--tasks", "pubmedqa",
        "--limit", "150", "--db", str(db), "--output", str(output),
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "EVALSUITE_CACHE_CHUNK": "30"}


def _cached(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as connection:
            return connection.execute("SELECT count(*) FROM request_cache").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _per_doc_logliks(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT doc_id, logliks FROM sample ORDER BY doc_id").fetchall()


@pytest.mark.slow
def test_kill_9_then_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    db, partial_out = tmp_path / "killed.db", tmp_path / "resumed.json"
    process = subprocess.Popen(_command(db, partial_out), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while _cached(db) < 60 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished_before_kill = _cached(db)
    assert 0 < finished_before_kill < TOTAL_REQUESTS

    listing = subprocess.run([sys.executable, "-m", "evalsuite.cli", "results", "list", "--db", str(db)], cwd=REPO, env=_env(), capture_output=True, text=True, check=True)
    assert "failed" in listing.stdout and "complete" not in listing.stdout

    subprocess.run(_command(db, partial_out), cwd=REPO, env=_env(), check=True, capture_output=True)
    with sqlite3.connect(db) as connection:
        runs = connection.execute("SELECT id, status, requests_computed, requests_cached FROM run").fetchall()
    assert runs == [(1, "complete", TOTAL_REQUESTS - finished_before_kill, finished_before_kill)]

    fresh_db, fresh_out = tmp_path / "fresh.db", tmp_path / "fresh.json"
    subprocess.run(_command(fresh_db, fresh_out), cwd=REPO, env=_env(), check=True, capture_output=True)
    assert json.loads(partial_out.read_text())["results"] == json.loads(fresh_out.read_text())["results"]
    assert _per_doc_logliks(db) == _per_doc_logliks(fresh_db)
