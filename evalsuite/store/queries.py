"""Every read and write the CLI, the runner and the Streamlit app make.

Pages and commands call these functions; none of them writes SQL of its own.
Reads return plain dataclasses or table rows detached from their session.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import col, select

from evalsuite.errors import DatabaseError
from evalsuite.store.db import Database
from evalsuite.store.schema import (
    RUN_COMPLETE,
    RUN_FAILED,
    RUN_RUNNING,
    MetricRecord,
    ModelRecord,
    RequestCacheRecord,
    RunRecord,
    SampleRecord,
    utcnow,
)

SQLITE_MAX_VARIABLES = 900  # stay under SQLite's bound-parameter limit per statement


@dataclass(frozen=True)
class RunSummary:
    """One line of `evalsuite results list`."""

    id: int
    model: str
    backend: str
    status: str
    tasks: list[str]
    started_at: datetime
    duration_s: float | None
    seed: int


@dataclass(frozen=True)
class RunDetail:
    run: RunRecord
    model: ModelRecord
    metrics: list[MetricRecord]


# ---------------------------------------------------------------- models and runs


def get_or_create_model(database: Database, **fields: Any) -> ModelRecord:
    """The model row for (name, weights); created on first sight."""
    with database.session() as session:
        statement = select(ModelRecord).where(
            ModelRecord.name == fields["name"], ModelRecord.weights_sha256 == fields["weights_sha256"]
        )
        existing = session.exec(statement).first()
        if existing is not None:
            return existing
        record = ModelRecord(**fields)
        session.add(record)
        session.flush()
        session.refresh(record)
        return record


def create_run(database: Database, **fields: Any) -> RunRecord:
    """A new run in status `running`, stamped with this process so a dead one can be told apart."""
    with database.session() as session:
        record = RunRecord(status=RUN_RUNNING, pid=os.getpid(), host=socket.gethostname(), **fields)
        session.add(record)
        session.flush()
        session.refresh(record)
        return record


def reopen_run(database: Database, run_id: int) -> RunRecord:
    """Mark a failed or interrupted run as running again, owned by this process."""
    with database.session() as session:
        record = _require_run(session, run_id)
        if record.status == RUN_COMPLETE:
            raise DatabaseError(f"run {run_id} is already complete", "start a new run instead of --resume")
        if record.status == RUN_RUNNING and _owner_alive(record):
            raise DatabaseError(f"run {run_id} is still running (pid {record.pid})", "wait for it or stop it first")
        record.status = RUN_RUNNING
        record.pid = os.getpid()
        record.host = socket.gethostname()
        record.error = None
        record.finished_at = None
        session.add(record)
        return record


def find_resumable_run(database: Database, config_hash: str) -> RunRecord | None:
    """The latest unfinished run with the same result-defining configuration."""
    with database.session() as session:
        statement = (
            select(RunRecord)
            .where(RunRecord.config_hash == config_hash, RunRecord.status != RUN_COMPLETE)
            .order_by(col(RunRecord.id).desc())
        )
        for record in session.exec(statement):
            if record.status == RUN_FAILED or not _owner_alive(record):
                return record
    return None


def finish_run(database: Database, run_id: int, *, computed: int, cached: int) -> None:
    with database.session() as session:
        record = _require_run(session, run_id)
        record.status = RUN_COMPLETE
        record.finished_at = utcnow()
        record.duration_s = (record.finished_at - record.started_at).total_seconds()
        record.requests_computed = computed
        record.requests_cached = cached
        record.error = None
        session.add(record)


def fail_run(database: Database, run_id: int, error: str, *, computed: int = 0, cached: int = 0) -> None:
    with database.session() as session:
        record = _require_run(session, run_id)
        record.status = RUN_FAILED
        record.finished_at = utcnow()
        record.error = error
        record.requests_computed = computed
        record.requests_cached = cached
        session.add(record)


def _require_run(session: Any, run_id: int) -> RunRecord:
    record = session.get(RunRecord, run_id)
    if record is None:
        raise DatabaseError(f"no run with id {run_id}", "list runs with `evalsuite results list`")
    return record


def _owner_alive(record: RunRecord) -> bool:
    """Whether the process that owns a `running` row still exists (same host only)."""
    if record.host != socket.gethostname():
        return True  # another machine's process: we cannot tell, so assume it lives
    if record.pid is None:
        return False
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def effective_status(record: RunRecord) -> str:
    """`running` rows whose process died are shown as failed: never as complete or live."""
    if record.status == RUN_RUNNING and not _owner_alive(record):
        return RUN_FAILED
    return record.status


# ---------------------------------------------------------------- results


def save_task_results(
    database: Database, run_id: int, tasks: Sequence[str], metrics: list[MetricRecord], samples: list[SampleRecord]
) -> None:
    """Replace the stored results of ``tasks`` in a run, in one transaction."""
    with database.session() as session:
        for table in (MetricRecord, SampleRecord):
            session.exec(  # type: ignore[call-overload]
                delete(table).where(col(table.run_id) == run_id, col(table.task).in_(list(tasks)))
            )
        session.add_all(metrics)
        session.add_all(samples)


def completed_tasks(database: Database, run_id: int) -> set[str]:
    """Tasks of a run that already have stored metrics (skipped when resuming)."""
    with database.session() as session:
        rows = session.exec(select(MetricRecord.task).where(MetricRecord.run_id == run_id).distinct())
        return set(rows.all())


def list_runs(database: Database, *, status: str | None = None, model: str | None = None, limit: int | None = None) -> list[RunSummary]:
    with database.session() as session:
        statement = select(RunRecord, ModelRecord).join(ModelRecord).order_by(col(RunRecord.id).desc())
        if model:
            statement = statement.where(col(ModelRecord.name).contains(model))
        rows = session.exec(statement).all()
    summaries = [
        RunSummary(
            id=run.id or 0,
            model=model_row.name,
            backend=run.backend,
            status=effective_status(run),
            tasks=list(run.tasks or []),
            started_at=run.started_at,
            duration_s=run.duration_s,
            seed=run.seed,
        )
        for run, model_row in rows
    ]
    if status:
        summaries = [s for s in summaries if s.status == status]
    return summaries[:limit] if limit else summaries


def get_run(database: Database, run_id: int) -> RunDetail:
    with database.session() as session:
        run = _require_run(session, run_id)
        model = session.get(ModelRecord, run.model_id)
        metrics = session.exec(
            select(MetricRecord).where(MetricRecord.run_id == run_id).order_by(MetricRecord.task, MetricRecord.metric)
        ).all()
    if model is None:
        raise DatabaseError(f"run {run_id} refers to a missing model row")
    run.status = effective_status(run)
    return RunDetail(run=run, model=model, metrics=list(metrics))


def run_samples(database: Database, run_id: int, task: str | None = None, *, limit: int | None = None) -> list[SampleRecord]:
    with database.session() as session:
        statement = select(SampleRecord).where(SampleRecord.run_id == run_id)
        if task:
            statement = statement.where(SampleRecord.task == task)
        statement = statement.order_by(col(SampleRecord.task), col(SampleRecord.doc_id))
        if limit:
            statement = statement.limit(limit)
        return list(session.exec(statement).all())


def metric_rows(database: Database, run_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Flat rows (run, model, task, metric, value, ...) for export and tables."""
    with database.session() as session:
        statement = (
            select(MetricRecord, RunRecord, ModelRecord)
            .join(RunRecord, col(MetricRecord.run_id) == col(RunRecord.id))
            .join(ModelRecord, col(RunRecord.model_id) == col(ModelRecord.id))
            .order_by(col(RunRecord.id), MetricRecord.task, MetricRecord.metric)
        )
        if run_ids is not None:
            statement = statement.where(col(RunRecord.id).in_(list(run_ids)))
        rows = session.exec(statement).all()
    return [
        {
            "run_id": run.id,
            "model": model.name,
            "backend": run.backend,
            "status": effective_status(run),
            "task": metric.task,
            "metric": metric.metric,
            "filter": metric.filter,
            "value": metric.value,
            "stderr": metric.stderr,
            "normalized": metric.normalized,
            "n_samples": metric.n_samples,
            "n_shot": metric.n_shot,
            "higher_is_better": metric.higher_is_better,
        }
        for metric, run, model in rows
    ]


# ---------------------------------------------------------------- request cache


def cached_responses(database: Database, keys: Sequence[str]) -> dict[str, list[Any]]:
    """Stored responses for the given request keys (missing keys are absent)."""
    found: dict[str, list[Any]] = {}
    unique = list(dict.fromkeys(keys))
    with database.session() as session:
        for start in range(0, len(unique), SQLITE_MAX_VARIABLES):
            batch = unique[start : start + SQLITE_MAX_VARIABLES]
            rows = session.exec(select(RequestCacheRecord).where(col(RequestCacheRecord.key).in_(batch)))
            for row in rows:
                found[row.key] = list(row.response or [])
    return found


def store_responses(database: Database, model_key: str, request_type: str, responses: dict[str, list[Any]]) -> None:
    """Write one finished chunk of responses; committed at once so a kill keeps it."""
    with database.session() as session:
        for key, response in responses.items():
            session.merge(RequestCacheRecord(key=key, model_key=model_key, request_type=request_type, response=response))


def count_cached(database: Database, model_key: str | None = None) -> int:
    with database.session() as session:
        statement = select(func.count()).select_from(RequestCacheRecord)
        if model_key is not None:
            statement = statement.where(RequestCacheRecord.model_key == model_key)
        return int(session.exec(statement).one())
