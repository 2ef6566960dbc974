"""Killed and interrupted runs: liveness from the heartbeat, resuming on another host, the attempts history.

A run killed with SIGKILL shows `running` while its heartbeat is fresh, then `interrupted`,
and resumes from a second working directory posing as another host (EVALSUITE_HOSTNAME)
to exactly the uninterrupted results, recomputing nothing it had finished.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

TOTAL_REQUESTS = 3 * 150  # pubmedqa: three choices per question
HEARTBEAT_S, HEARTBEAT_TIMEOUT_S = 0.5, 8.0


def _command(db: Path, output: Path, limit: int = 150, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "evalsuite.cli", "run", "--model", "demo/pico-s", "--tasks", "pubmedqa",
        "--limit", str(limit), "--db", str(db), "--output", str(output), *extra,
    ]


def _env(host: str = "host-a", chunk: int = 30) -> dict[str, str]:
    return {
        **os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
        # Fixed chunks (no time bound): the same requests share a batch in the killed, resumed and fresh runs.
        "EVALSUITE_CACHE_CHUNK": str(chunk), "EVALSUITE_CACHE_FLUSH_S": "0", "EVALSUITE_HOSTNAME": host,
        "EVALSUITE_HEARTBEAT_S": str(HEARTBEAT_S), "EVALSUITE_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
    }


def _workdir(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


def _cached(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as connection:
            return connection.execute("SELECT count(*) FROM request_cache").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _start_and_wait_for_answers(command: list[str], cwd: Path, env: dict[str, str], db: Path, answers: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while _cached(db) < answers and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be stopped"
    return process


def _per_doc_logliks(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT doc_id, logliks FROM sample ORDER BY doc_id").fetchall()


def _listed_status(db: Path, cwd: Path, env: dict[str, str]) -> str:
    listing = subprocess.run(
        [sys.executable, "-m", "evalsuite.cli", "results", "list", "--db", str(db)],
        cwd=cwd, env={**env, "COLUMNS": "200"}, capture_output=True, text=True, check=True,
    )
    row = next(line for line in listing.stdout.splitlines() if "demo/pico-s" in line)
    return next(word for word in ("interrupted", "running", "complete", "failed") if word in row)


def _attempts(db: Path, run_id: int = 1) -> list[tuple[int, str, str]]:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT attempt, host, outcome FROM run_attempt WHERE run_id = ? ORDER BY attempt", (run_id,)).fetchall()


@pytest.mark.slow
def test_kill_9_shows_interrupted_then_resumes_on_another_host_equal_to_an_uninterrupted_run(tmp_path: Path) -> None:
    db, partial_out = tmp_path / "killed.db", tmp_path / "resumed.json"
    host_a, host_b = _workdir(tmp_path, "host-a"), _workdir(tmp_path, "host-b")
    process = _start_and_wait_for_answers(_command(db, partial_out), host_a, _env("host-a"), db, 60)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = time.monotonic()
    finished_before_kill = _cached(db)
    assert 0 < finished_before_kill < TOTAL_REQUESTS

    assert _listed_status(db, host_b, _env("host-b")) == "running"  # its last heartbeat is still recent
    while (status := _listed_status(db, host_b, _env("host-b"))) == "running":
        assert time.monotonic() - killed_at < HEARTBEAT_TIMEOUT_S + 30, "the killed run never showed as interrupted"
    assert status == "interrupted"
    assert time.monotonic() - killed_at >= HEARTBEAT_TIMEOUT_S / 2  # not at once: only after the heartbeat timeout

    subprocess.run(_command(db, partial_out), cwd=host_b, env=_env("host-b"), check=True, capture_output=True)
    with sqlite3.connect(db) as connection:
        runs = connection.execute("SELECT id, status, host, requests_computed, requests_cached FROM run").fetchall()
        seconds = connection.execute("SELECT (SELECT duration_s FROM run), (SELECT sum(duration_s) FROM run_attempt)").fetchone()
        first_start, last_end = connection.execute("SELECT min(started_at), max(ended_at) FROM run_attempt").fetchone()
    assert runs == [(1, "complete", "host-b", TOTAL_REQUESTS - finished_before_kill, finished_before_kill)]
    assert _attempts(db) == [(1, "host-a", "interrupted"), (2, "host-b", "complete")]
    assert seconds[0] == pytest.approx(seconds[1])
    wall = (datetime.fromisoformat(last_end) - datetime.fromisoformat(first_start)).total_seconds()
    assert seconds[0] < wall - HEARTBEAT_TIMEOUT_S + 1  # the time it lay dead is not counted

    fresh_db, fresh_out = tmp_path / "fresh.db", tmp_path / "fresh.json"
    subprocess.run(_command(fresh_db, fresh_out), cwd=host_a, env=_env(), check=True, capture_output=True)
    assert json.loads(partial_out.read_text())["results"] == json.loads(fresh_out.read_text())["results"]
    assert _per_doc_logliks(db) == _per_doc_logliks(fresh_db)


@pytest.mark.slow
def test_sigterm_prints_the_real_run_id_to_resume_and_resume_by_id_works_from_another_host(tmp_path: Path) -> None:
    db, out = tmp_path / "stopped.db", tmp_path / "out.json"
    host_a, host_b = _workdir(tmp_path, "host-a"), _workdir(tmp_path, "host-b")
    subprocess.run(_command(db, out, 1), cwd=host_a, env=_env(), check=True, capture_output=True)  # run 1: so the id is not 1
    process = _start_and_wait_for_answers(_command(db, out, 30), host_a, _env("host-a", chunk=5), db, 3 + 5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "Traceback" not in stderr
    error = stderr[stderr.index("error: ") :].splitlines()[0]  # after the progress bar's last \r-line
    assert error == "error: run 2 interrupted by signal 15 — hint: resume it with `evalsuite run ... --resume 2` (finished requests are kept)"
    assert _attempts(db, 2) == [(1, "host-a", "failed")]

    subprocess.run(_command(db, out, 30, "--resume", "2"), cwd=host_b, env=_env("host-b", chunk=5), check=True, capture_output=True)
    assert _attempts(db, 2) == [(1, "host-a", "failed"), (2, "host-b", "complete")]
