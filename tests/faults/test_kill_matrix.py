"""The kill matrix: `evalsuite run` stopped at each named step (evalsuite.store.faults) by SIGKILL, SIGTERM or Ctrl-C.

After every stop the database passes `PRAGMA integrity_check`, no run is stored complete
without all its metrics, and the run shows `interrupted` (SIGKILL: once its heartbeat is
older than the timeout) or `failed` at once (SIGTERM, SIGINT, with the id to resume and no
traceback). A resume from a second host (EVALSUITE_HOSTNAME) then computes exactly the
requests that were not committed before the stop, and ends with the metrics, per-document
log-likelihoods and --output of an uninterrupted run.

Run with ``-s`` to print the matrix as a markdown table, or set EVALSUITE_FAULT_TABLE=PATH
to write it there.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from evalsuite import settings
from evalsuite.backends.cache import clear_cache
from evalsuite.store import faults
from tests.faults import stored_state
from tests.faults.forked_runs import CliRun, run_cli
from tests.faults.scenario import HEARTBEAT_S, HEARTBEAT_TIMEOUT_S, Reference, run_args, run_env

WATCHED_TIMEOUT_S = 3.0  # the one case that watches `running` turn `interrupted` live needs room for the first read
TABLE_ENV = settings.FAULT_TABLE.name


@dataclass(frozen=True)
class Case:
    at: str  # EVALSUITE_FAULT_AT
    kind: str = "kill"  # EVALSUITE_FAULT_KIND
    prior_run: bool = False  # a finished run is already stored, so the stopped run is run 2, not 1
    watch_liveness: bool = False  # see `running` while the heartbeat is fresh, then `interrupted`; dead time not counted

    @property
    def timeout_s(self) -> float:
        return WATCHED_TIMEOUT_S if self.watch_liveness else HEARTBEAT_TIMEOUT_S


CASES = [
    Case("model_resolved"),
    Case("run_created"),
    Case("backend_loaded"),
    Case("chunk_computed@1"),
    Case("chunk_committed@2", watch_liveness=True),
    Case("task_scored@1"),
    Case("metrics_built@1"),
    Case("results_uncommitted@1"),
    Case("task_stored@1"),
    Case("chunk_committed@5"),
    Case("output_written"),
    Case("before_finish"),
    Case("chunk_committed@2", kind="term", prior_run=True),
    Case("task_scored@2", kind="int"),
]
ROWS: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def matrix_table() -> Iterator[None]:
    """After the module: the matrix as markdown, printed (visible with -s) and written to $EVALSUITE_FAULT_TABLE."""
    ROWS.clear()
    yield
    if not ROWS:
        return
    table = "\n".join(
        ["| fault point | signal | state after the stop | resume outcome |", "|---|---|---|---|", *ROWS]
    )
    print(f"\nkill matrix ({len(ROWS)} stops, all clean):\n{table}")
    target = settings.FAULT_TABLE.read()
    if target is not None:
        target.write_text(table + "\n")


def _assert_clean_stop(case: Case, stopped: CliRun, run_id: int) -> None:
    """SIGKILL: the process died by it. SIGTERM/SIGINT: exit 1 with the run's id to resume, no traceback."""
    if case.kind == "kill":
        assert stopped.killed_by == signal.SIGKILL, stopped.log[-3000:]
        return
    assert stopped.exitcode == 1, stopped.log[-3000:]
    assert "Traceback" not in stopped.log
    error = stopped.log[stopped.log.index("error: ") :].splitlines()[0]  # after the progress bar's last \r-line
    how = "by signal 15" if case.kind == "term" else "(Ctrl-C)"
    assert error == f"error: run {run_id} interrupted {how} — hint: resume it with `evalsuite run ... --resume {run_id}` (finished requests are kept)"


def _observe_status(case: Case, db: Path, run_id: int, stopped_at: float) -> str:
    """The status readers show after the stop: `failed` at once for SIGTERM/SIGINT, `interrupted` after the timeout for SIGKILL."""
    if case.kind != "kill":
        return stored_state.listed_status(db, run_id)
    if case.watch_liveness:
        assert stored_state.listed_status(db, run_id) == "running"  # its last heartbeat is still recent
    while (status := stored_state.listed_status(db, run_id)) == "running":
        assert time.monotonic() - stopped_at < case.timeout_s + 30, "the killed run never showed as interrupted"
        time.sleep(0.1)
    if case.watch_liveness:
        assert time.monotonic() - stopped_at >= case.timeout_s / 2  # not at once: only after the heartbeat timeout
    return status


def _describe(stored: stored_state.Stored | None, run_id: int, status: str, committed: int, total: int, output: Path) -> str:
    if stored is None or run_id not in stored.runs:
        return "no run row (nothing stored)" if stored is not None else "no database file"
    tasks = sorted(stored.metric_tasks.get(run_id, set()))
    kept = f"metrics of {', '.join(tasks)}" if tasks else "no metrics"
    out = "output complete" if output.exists() else "no output"
    return f"run {run_id} `{status}`; {committed}/{total} answers committed; {kept}; {out}; integrity ok"


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[f"{c.kind}-{c.at.replace('@', '-')}" for c in CASES])
def test_stopped_run_leaves_a_consistent_store_and_resumes_to_the_uninterrupted_result(
    case: Case, reference: Reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALSUITE_HEARTBEAT_S", str(HEARTBEAT_S))  # this process reads liveness as the host running the CLI
    monkeypatch.setenv("EVALSUITE_HEARTBEAT_TIMEOUT_S", str(case.timeout_s))
    db, output = tmp_path / "run.db", tmp_path / "out.json"
    run_id = 1
    if case.prior_run:
        shutil.copy(reference.db, db)
        clear_cache(str(db))  # the prior run's answers would serve every request of this one
        run_id = 2
    point, _, nth = case.at.partition("@")
    assert point in faults.POINTS

    stopped = run_cli(run_args(db, output), run_env("host-a", case.timeout_s, EVALSUITE_FAULT_AT=case.at, EVALSUITE_FAULT_KIND=case.kind), tmp_path, tmp_path / "stopped.log")
    stopped_at = time.monotonic()
    _assert_clean_stop(case, stopped, run_id)
    after = stored_state.read(db)
    assert after is not None, "the database is created before the model is resolved"
    assert after.integrity == "ok"
    assert after.complete_without_all_metrics() == []
    committed = after.cached
    total = reference.run.computed or 0
    assert 0 <= committed <= total
    if run_id in after.runs:
        status = _observe_status(case, db, run_id, stopped_at)
        assert status == ("interrupted" if case.kind == "kill" else "failed")
        assert after.runs[run_id].status != "complete"
    else:
        status = "absent"
    if output.exists():  # written whole and moved into place, or not at all
        assert json.loads(output.read_text())["results"] == reference.results
    state = _describe(after, run_id, status, committed, total, output)

    resume = ("--resume", str(run_id)) if case.kind != "kill" else ()  # SIGKILL: the same command finds the dead run
    resumed = run_cli(run_args(db, output, *resume), run_env("host-b", case.timeout_s), tmp_path, tmp_path / "resumed.log")
    assert resumed.exitcode == 0, resumed.log[-3000:]
    final = stored_state.read(db)
    assert final is not None and final.integrity == "ok"
    run = final.runs[run_id]
    assert (run.status, run.computed, run.cached) == ("complete", total - committed, (reference.run.cached or 0) + committed)
    first = [("host-a", "interrupted" if case.kind == "kill" else "failed")] if status != "absent" else []
    assert final.attempts[run_id] == [*first, ("host-b", "complete")]
    assert final.metrics[run_id] == reference.stored.metrics[1]
    assert final.logliks[run_id] == reference.stored.logliks[1]
    assert json.loads(output.read_text())["results"] == reference.results
    assert not list(tmp_path.glob(".out.json*")), "a partial --output file was left behind"
    if case.watch_liveness:
        _assert_dead_time_not_counted(db, case.timeout_s)
    ROWS.append(
        f"| `{point}`{f' (pass {nth})' if nth else ''} | {case.kind.upper()} | {state} | "
        f"complete from host-b: computed {run.computed} = {total} − {committed} committed, {run.cached} cached; metrics, logliks and --output = uninterrupted run |"
    )


def _assert_dead_time_not_counted(db: Path, timeout_s: float) -> None:
    """The run's seconds are the sum of its attempts: the time it lay dead between them is not counted."""
    import sqlite3

    with sqlite3.connect(db) as connection:
        seconds, attempts_sum = connection.execute("SELECT (SELECT duration_s FROM run), (SELECT sum(duration_s) FROM run_attempt)").fetchone()
        first_start, last_end = connection.execute("SELECT min(started_at), max(ended_at) FROM run_attempt").fetchone()
    assert seconds == pytest.approx(attempts_sum)
    wall = (datetime.fromisoformat(last_end) - datetime.fromisoformat(first_start)).total_seconds()
    assert seconds < wall - timeout_s / 2


@pytest.mark.slow
def test_sigterm_before_the_run_row_exists_is_a_clean_interruption_that_stores_no_run(tmp_path: Path) -> None:
    """Before anything is stored there is no run to resume: the CLI says what it does for Ctrl-C, exit 130."""
    db, output = tmp_path / "run.db", tmp_path / "out.json"
    fault = {"EVALSUITE_FAULT_AT": "model_resolved", "EVALSUITE_FAULT_KIND": "term"}
    stopped = run_cli(run_args(db, output), run_env("host-a", **fault), tmp_path, tmp_path / "stopped.log")
    assert stopped.exitcode == 130, stopped.log[-3000:]
    assert "Traceback" not in stopped.log
    assert stopped.log.rstrip().splitlines()[-1].startswith("interrupted — the command stopped before it finished; nothing was half-written: run it again")
    after = stored_state.read(db)
    assert after is not None and after.integrity == "ok" and after.runs == {}
