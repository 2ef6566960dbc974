"""Run liveness from a heartbeat, attempts history, and race-free creation of shared rows.

Every test runs on SQLite and on PostgreSQL (``db_url``); times are aged with plain SQL (tests/raw_sql.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from raw_sql import sql

from evalsuite.errors import DatabaseError
from evalsuite.store import queries
from evalsuite.store.db import Database, open_database
from evalsuite.store.liveness import ENV_HOSTNAME, ENV_INTERVAL, ENV_TIMEOUT, Heartbeat
from evalsuite.store.schema import utcnow

STALE = timedelta(seconds=3600)
FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLite stores evalsuite's times


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv(ENV_INTERVAL, "0.2")
    monkeypatch.setenv(ENV_TIMEOUT, "60")
    monkeypatch.setenv(ENV_HOSTNAME, "host-a")
    with open_database(db_url) as opened:
        yield opened


def _new_run(database: Database, config_hash: str = "h") -> int:
    model = queries.get_or_create_model(database, name="m", source="m", weights_sha256="0" * 64)
    run = queries.create_run(database, model_id=model.id, backend="hf", config={}, config_hash=config_hash, tasks=["t"], versions={"evalsuite": "old"})
    return int(run.id or 0)


def _stored_time(database: Database, moment: datetime) -> str | datetime:
    """A UTC time as evalsuite stores it: SQLite text, or a PostgreSQL timestamp without zone."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.strftime(FORMAT) if database.url.startswith("sqlite") else utc


def _age(database: Database, run_id: int, seconds: float) -> None:
    """Pretend the run's process went silent ``seconds`` ago (and its attempt with it)."""
    then = _stored_time(database, utcnow() - timedelta(seconds=seconds))
    sql(database.url, "UPDATE run SET heartbeat_at = :then WHERE id = :run", then=then, run=run_id)
    sql(database.url, "UPDATE run_attempt SET ended_at = :then WHERE run_id = :run AND outcome = 'running'", then=then, run=run_id)


def _cli_db(database: Database) -> str:
    """What a user passes as --db for this database: the SQLite file's path, or the server's URL."""
    return database.url.removeprefix("sqlite:///")


def _status(database: Database, run_id: int) -> str:
    return next(summary.status for summary in queries.list_runs(database) if summary.id == run_id)


def test_running_run_with_a_fresh_heartbeat_shows_running_on_any_host(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = _new_run(database)
    monkeypatch.setenv(ENV_HOSTNAME, "host-b")  # a reader on another machine
    assert _status(database, run_id) == "running"
    assert queries.find_resumable_run(database, "h") is None


def test_running_run_whose_heartbeat_stopped_shows_interrupted_and_is_resumable(database: Database) -> None:
    run_id = _new_run(database)
    _age(database, run_id, 61)
    assert _status(database, run_id) == "interrupted"
    assert queries.get_run(database, run_id).run.status == "interrupted"
    assert [s.id for s in queries.list_runs(database, status="interrupted")] == [run_id]
    resumable = queries.find_resumable_run(database, "h")
    assert resumable is not None and resumable.id == run_id


def test_heartbeat_thread_keeps_the_run_alive(database: Database) -> None:
    start = queries.reopen_run(database, _failed_run(database))
    before = queries.get_run(database, start.run_id).run.heartbeat_at
    with Heartbeat(database, start.run_id, start.attempt, start.started_at):
        time.sleep(1.0)
    after = queries.get_run(database, start.run_id).run.heartbeat_at
    attempt = queries.run_attempts(database, start.run_id)[-1]
    assert before is not None and after is not None and (after - before).total_seconds() >= 0.6
    assert attempt.duration_s is not None and 0.6 <= attempt.duration_s <= 5


def _failed_run(database: Database) -> int:
    run_id = _new_run(database)
    queries.fail_run(database, run_id, "boom")
    return run_id


def test_live_run_cannot_be_resumed_from_another_host(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = _new_run(database)
    monkeypatch.setenv(ENV_HOSTNAME, "host-b")
    with pytest.raises(DatabaseError, match=r"still running on host-a .*heartbeat \d+ s ago"):
        queries.reopen_run(database, run_id)


def test_complete_run_cannot_be_resumed(database: Database) -> None:
    run_id = _new_run(database)
    queries.finish_run(database, run_id, computed=1, cached=0)
    with pytest.raises(DatabaseError, match="already complete"):
        queries.reopen_run(database, run_id)


def test_resume_on_another_host_records_a_second_attempt_and_seconds_skip_the_dead_time(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _new_run(database)
    died = utcnow() - STALE
    # attempt 1 worked 10 s, then its process died an hour ago
    start, last_beat = _stored_time(database, died - timedelta(seconds=10)), _stored_time(database, died)
    sql(database.url, "UPDATE run_attempt SET started_at = :start, ended_at = :end WHERE run_id = :run", start=start, end=last_beat, run=run_id)
    sql(database.url, "UPDATE run SET heartbeat_at = :end WHERE id = :run", end=last_beat, run=run_id)
    monkeypatch.setenv(ENV_HOSTNAME, "host-b")
    resumed = queries.reopen_run(database, run_id, versions={"evalsuite": "new"}, hardware={"gpu": "none"})
    assert resumed.attempt == 2 and resumed.run.host == "host-b" and resumed.run.versions == {"evalsuite": "new"}
    time.sleep(0.3)
    queries.finish_run(database, run_id, computed=3, cached=2)

    first, second = queries.run_attempts(database, run_id)
    assert (first.attempt, first.host, first.outcome, first.versions) == (1, "host-a", "interrupted", {"evalsuite": "old"})
    assert first.duration_s == pytest.approx(10.0, abs=0.01)
    assert (second.attempt, second.host, second.outcome, second.versions) == (2, "host-b", "complete", {"evalsuite": "new"})
    assert 0.3 <= (second.duration_s or 0) < 5
    summary = next(s for s in queries.list_runs(database) if s.id == run_id)
    assert summary.status == "complete" and summary.attempts == 2
    assert summary.duration_s == pytest.approx(first.duration_s + second.duration_s)  # not the hour it lay dead
    assert summary.started_at == first.started_at
    assert queries.get_run(database, run_id).run.duration_s == pytest.approx(summary.duration_s)


def test_two_processes_resuming_one_run_at_once_one_wins(database: Database) -> None:
    run_id = _failed_run(database)
    outcomes: list[str] = []

    def resume() -> None:
        try:
            queries.reopen_run(database, run_id)
            outcomes.append("won")
        except DatabaseError:
            outcomes.append("refused")

    threads = [threading.Thread(target=resume) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["won"]
    assert [a.attempt for a in queries.run_attempts(database, run_id)] == [1, 2]


def test_heartbeat_stops_when_another_process_took_the_run_over(database: Database) -> None:
    run_id = _new_run(database)
    beat = Heartbeat(database, run_id, 1, utcnow()).start()
    sql(database.url, "UPDATE run SET pid = pid + 1, host = 'host-b' WHERE id = :run", run=run_id)  # what reopen_run in another process writes
    time.sleep(0.8)
    assert not beat._thread.is_alive()
    assert queries.get_run(database, run_id).run.host == "host-b"
    beat.stop()


def test_new_model_created_by_many_threads_at_once_is_one_row(database: Database) -> None:
    rows: list[int] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        model = queries.get_or_create_model(database, name="new", source="s", weights_sha256="1" * 64, tokenizer_sha256="t", config_sha256="c")
        rows.append(int(model.id or 0))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(rows) == 8 and len(set(rows)) == 1


def test_same_answers_stored_by_two_runs_at_once_do_not_collide(database: Database) -> None:
    responses = {f"k{i}": [float(i), True] for i in range(50)}
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def store(run_id: int) -> None:
        barrier.wait()
        try:
            queries.store_responses(database, "model-key", "loglikelihood", responses, run_id=run_id)
        except BaseException as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)

    threads = [threading.Thread(target=store, args=(run_id,)) for run_id in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert queries.cached_responses(database, list(responses)) == {key: list(value) for key, value in responses.items()}
    assert queries.count_cached(database, "model-key") == 50


def test_results_show_and_list_an_interrupted_run_with_its_attempts(database: Database) -> None:
    from typer.testing import CliRunner

    from evalsuite.cli.app import app

    run_id = _new_run(database)
    _age(database, run_id, 61)
    shown = CliRunner().invoke(app, ["results", "show", str(run_id), "--db", _cli_db(database)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert f"run {run_id} — m (m) — interrupted" in shown.stdout
    assert f"resume it with `evalsuite run ... --resume {run_id}` (from any host; finished requests are kept)" in shown.stdout
    assert "1 attempt(s)" in shown.stdout and "attempt 1: interrupted (no heartbeat) on host-a" in shown.stdout
    listed = CliRunner().invoke(app, ["results", "list", "--status", "interrupted", "--db", _cli_db(database)], env={"COLUMNS": "200"})
    row = next(line for line in listed.stdout.splitlines() if line.strip().startswith(str(run_id)) or f"│ {run_id} " in line)
    assert "interrupted" in row
