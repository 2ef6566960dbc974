"""A full or read-only database: a clean error with the fix, a consistent store, nothing lost, and a resume.

The faults are the databases' own: SQLite's ``PRAGMA max_page_count`` (at the current
size) makes the next page it needs fail with SQLITE_FULL, ``PRAGMA query_only`` makes
writes fail with SQLITE_READONLY, and a PostgreSQL session in read-only transactions
fails them with SQLSTATE 25006. They work as root and without mounting anything.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.errors import DatabaseWriteRefused
from evalsuite.store import faults, queries
from evalsuite.store.db import open_database
from tests.conftest import REPO_ROOT
from tests.faults import stored_state
from tests.faults.forked_runs import run_cli
from tests.faults.scenario import HEARTBEAT_S, HEARTBEAT_TIMEOUT_S, Reference, run_args, run_env

PUBMEDQA_ANSWERS = 4 * 3  # the first task's requests: committed before its results are stored


def _error_line(log: str) -> str:
    assert "Traceback" not in log, log[-3000:]
    return log[log.index("error: ") :].splitlines()[0]  # after the progress bar's last \r-line


@pytest.mark.slow
def test_disk_full_while_storing_a_task_fails_the_run_with_the_hint_and_keeps_every_committed_answer(
    reference: Reference, tmp_path: Path
) -> None:
    db, output = tmp_path / "full.db", tmp_path / "out.json"
    fault = {"EVALSUITE_FAULT_AT": "task_scored@1", "EVALSUITE_FAULT_KIND": "disk-full"}
    stopped = run_cli(run_args(db, output), run_env("host-a", **fault), tmp_path, tmp_path / "full.log")
    assert stopped.exitcode == 1, stopped.log[-3000:]
    assert _error_line(stopped.log) == (
        f"error: run 1 stopped: the database {db} is full (database or disk is full) — hint: free disk space where the database "
        "lives (or move it with --db); then resume it with `evalsuite run ... --resume 1` (finished requests are kept)"
    )
    after = stored_state.read(db)
    assert after is not None and after.integrity == "ok"
    run = after.runs[1]
    assert (run.status, run.computed, run.cached) == ("failed", PUBMEDQA_ANSWERS, 0)  # the status row fits in its page
    assert run.error is not None and "is full" in run.error and "--resume 1" in run.error
    assert after.metrics == {} and after.cached == PUBMEDQA_ANSWERS  # the task's rows rolled back whole; its answers kept
    assert not output.exists()

    resumed = run_cli(run_args(db, output, "--resume", "1"), run_env("host-b"), tmp_path, tmp_path / "resumed.log")
    assert resumed.exitcode == 0, resumed.log[-3000:]
    final = stored_state.read(db)
    assert final is not None and final.integrity == "ok"
    total = reference.run.computed or 0
    assert (final.runs[1].status, final.runs[1].computed, final.runs[1].cached) == ("complete", total - PUBMEDQA_ANSWERS, PUBMEDQA_ANSWERS)
    assert final.attempts[1] == [("host-a", "failed"), ("host-b", "complete")]
    assert final.metrics[1] == reference.stored.metrics[1]
    assert json.loads(output.read_text())["results"] == reference.results


@pytest.mark.slow
def test_database_turning_read_only_mid_run_stops_it_cleanly_and_it_resumes(
    reference: Reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even the failure cannot be written: the row stays `running`, shows `interrupted` once its heartbeat stops."""
    monkeypatch.setenv("EVALSUITE_HEARTBEAT_S", str(HEARTBEAT_S))
    monkeypatch.setenv("EVALSUITE_HEARTBEAT_TIMEOUT_S", str(HEARTBEAT_TIMEOUT_S))
    db, output = tmp_path / "ro.db", tmp_path / "out.json"
    fault = {"EVALSUITE_FAULT_AT": "chunk_committed@1", "EVALSUITE_FAULT_KIND": "read-only"}
    stopped = run_cli(run_args(db, output), run_env("host-a", **fault), tmp_path, tmp_path / "ro.log")
    assert stopped.exitcode == 1, stopped.log[-3000:]
    assert _error_line(stopped.log) == (
        f"error: run 1 stopped: the database {db} is read-only (attempt to write a readonly database) — hint: make the database "
        "file and its folder writable, or pass --db with a writable database; then resume it with `evalsuite run ... --resume 1` "
        "(finished requests are kept)"
    )
    after = stored_state.read(db)
    assert after is not None and after.integrity == "ok"
    assert after.runs[1].status == "running" and after.cached == 4 and after.metrics == {}
    deadline = time.monotonic() + HEARTBEAT_TIMEOUT_S + 30
    while stored_state.listed_status(db, 1) != "interrupted":  # the heartbeat cannot be written either: the row goes stale
        assert time.monotonic() < deadline, "the run never showed as interrupted"
        time.sleep(0.1)

    resumed = run_cli(run_args(db, output), run_env("host-b"), tmp_path, tmp_path / "resumed.log")
    assert resumed.exitcode == 0, resumed.log[-3000:]
    final = stored_state.read(db)
    assert final is not None and final.integrity == "ok"
    total = reference.run.computed or 0
    assert (final.runs[1].status, final.runs[1].computed, final.runs[1].cached) == ("complete", total - 4, 4)
    assert final.attempts[1] == [("host-a", "interrupted"), ("host-b", "complete")]
    assert final.metrics[1] == reference.stored.metrics[1]
    assert json.loads(output.read_text())["results"] == reference.results


@pytest.mark.slow
def test_read_only_database_before_the_run_starts_stores_nothing(db_url: str, tmp_path: Path) -> None:
    """SQLite and PostgreSQL: the first write (the model row) is refused; the error names the fix; no run, no model."""
    fault = {"EVALSUITE_FAULT_AT": "model_resolved", "EVALSUITE_FAULT_KIND": "read-only"}
    stopped = run_cli(run_args(db_url, tmp_path / "out.json"), run_env("host-a", **fault), tmp_path, tmp_path / "ro.log")
    assert stopped.exitcode == 1, stopped.log[-3000:]
    error = _error_line(stopped.log)
    assert re.fullmatch(
        r"error: the database \S+ is read-only \((attempt to write a readonly database|cannot execute INSERT in a read-only transaction)\)"
        r" — hint: make the database file and its folder writable, or pass --db with a writable database",
        error,
    ), error
    with open_database(db_url, create=False) as database:
        assert queries.list_runs(database) == [] and queries.model_names(database) == []


def _refusal_when(db: str, statement: str) -> DatabaseWriteRefused:
    """What the store raises when the database refuses ``statement`` (run in the store's own session)."""
    with open_database(db) as database:
        with pytest.raises(DatabaseWriteRefused) as refused, database.session() as session:
            session.execute(text(statement))
        return refused.value


def test_sqlite_full_is_a_database_write_refused_and_rolls_back_whole(tmp_path: Path) -> None:
    db = tmp_path / "small.db"
    answers = {f"key-{i}": [f"{'x' * 2000} {i}"] for i in range(50)}  # ~100 KB: far beyond any free room in the last page
    with open_database(db) as database:
        # max_page_count cannot go below the current size: "1" caps the file at what it holds now.
        event.listen(database.engine, "checkout", lambda connection, *_: connection.execute("PRAGMA max_page_count = 1"))
        with pytest.raises(DatabaseWriteRefused) as refused:
            queries.store_responses(database, "model-key", "generate_until", answers)
        assert queries.count_cached(database) == 0
    assert refused.value.message == f"the database {db} is full (database or disk is full)"
    assert stored_state.read(db) is not None and stored_state.read(db).integrity == "ok"  # type: ignore[union-attr]


def test_postgresql_disk_full_and_read_only_states_are_database_write_refused(postgres_url: str) -> None:
    """The server's own SQLSTATEs (53100 disk_full, 25006 read_only_sql_transaction) map to the two hints."""
    full = _refusal_when(postgres_url, "DO $$ BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END $$")
    assert full.message.endswith("is full (could not extend file)") and "free disk space" in full.hint
    read_only = _refusal_when(postgres_url, "SET TRANSACTION READ ONLY; CREATE TABLE never_made (id int)")
    assert "is read-only (cannot execute CREATE TABLE in a read-only transaction)" in read_only.message
    assert "password" not in full.message and "@" not in full.message


def test_a_misspelt_fault_point_is_refused_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(faults.ENV_AT, "chunk_comitted@2")
    db = tmp_path / "never.db"
    result = CliRunner().invoke(app, run_args(db, tmp_path / "out.json"))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: EVALSUITE_FAULT_AT='chunk_comitted@2' names no fault point — hint: did you mean 'chunk_committed'? points: model_resolved,"
    )
    assert not db.exists()


def test_every_fault_point_is_placed_in_the_product_once() -> None:
    """The registry and the calls stay in step: each named point is passed at exactly one place."""
    sources = "\n".join(path.read_text() for path in (REPO_ROOT / "evalsuite").rglob("*.py"))
    placed = re.findall(r'faults\.point\("(\w+)"\)', sources)
    assert sorted(placed) == sorted(faults.POINTS)
