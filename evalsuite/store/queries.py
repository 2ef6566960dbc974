"""Every read and write the CLI, the runner and the Streamlit app make.

Pages and commands call these functions; none of them writes SQL of its own.
Reads return plain dataclasses or table rows detached from their session.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from evalsuite.errors import DatabaseError
from evalsuite.redact import mask_secrets
from evalsuite.store import faults, liveness
from evalsuite.store.db import Database, in_chunks
from evalsuite.store.retry import retrying
from evalsuite.store.schema import (
    RUN_COMPLETE,
    RUN_FAILED,
    RUN_INTERRUPTED,
    RUN_RUNNING,
    MetricRecord,
    ModelIdentityRecord,
    ModelRecord,
    RequestCacheRecord,
    RunAttempt,
    RunRecord,
    SampleRecord,
    utcnow,
)


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
    attempts: int = 1


@dataclass(frozen=True)
class RunDetail:
    run: RunRecord
    model: ModelRecord
    metrics: list[MetricRecord]


# ---------------------------------------------------------------- models and runs


@retrying
def get_or_create_model(database: Database, **fields: Any) -> ModelRecord:
    """The model row for (name, weights, tokenizer, config); created on first sight.

    Many processes may see a new model at once: the insert that loses the race on the
    unique constraint reads the winner's row instead of failing.
    """
    statement = select(ModelRecord).where(
        ModelRecord.name == fields["name"],
        ModelRecord.weights_sha256 == fields["weights_sha256"],
        ModelRecord.tokenizer_sha256 == fields.get("tokenizer_sha256"),
        ModelRecord.config_sha256 == fields.get("config_sha256"),
    )
    with database.session() as session:
        existing = session.exec(statement).first()
    if existing is not None:
        return existing
    try:
        with database.session() as session:
            record = ModelRecord(**fields)
            session.add(record)
            session.flush()
            session.refresh(record)
            return record
    except IntegrityError:
        with database.session() as session:
            return session.exec(statement).one()


@dataclass(frozen=True)
class RunStart:
    """A run this process now owns, and which attempt at it this is (the heartbeat's key).

    A new run (``create_run``) is attempt 1, started at ``run.started_at``.
    """

    run: RunRecord
    attempt: int
    started_at: datetime

    @property
    def run_id(self) -> int:
        return int(self.run.id or 0)


@retrying
def create_run(database: Database, **fields: Any) -> RunRecord:
    """A new run in status `running`, owned by this process, with its first attempt open (attempt 1)."""
    now = utcnow()
    with database.session() as session:
        record = RunRecord(status=RUN_RUNNING, pid=os.getpid(), host=liveness.hostname(), started_at=now, heartbeat_at=now, **fields)
        session.add(record)
        session.flush()
        session.add(_new_attempt(record, 1, now))
        session.refresh(record)
        return record


def _new_attempt(record: RunRecord, number: int, now: datetime) -> RunAttempt:
    return RunAttempt(
        run_id=int(record.id or 0), attempt=number, host=record.host, pid=record.pid, started_at=now, ended_at=now,
        duration_s=0.0, outcome=RUN_RUNNING, versions=record.versions, hardware=record.hardware,
    )


@retrying
def reopen_run(database: Database, run_id: int, *, versions: dict | None = None, hardware: dict | None = None) -> RunStart:
    """Take over a failed or interrupted (heartbeat too old) run from any host, as a new attempt.

    The claim is one conditional UPDATE, so of two processes resuming the same run
    at once exactly one wins; the other gets a ``DatabaseError`` saying why.
    """
    now = utcnow()
    with database.session() as session:
        claim = (
            update(RunRecord)
            .where(col(RunRecord.id) == run_id)
            .where(
                or_(
                    col(RunRecord.status) == RUN_FAILED,
                    and_(
                        col(RunRecord.status) == RUN_RUNNING,
                        func.coalesce(col(RunRecord.heartbeat_at), col(RunRecord.started_at)) < liveness.stale_cutoff(now),
                    ),
                )
            )
            .values(
                status=RUN_RUNNING, pid=os.getpid(), host=liveness.hostname(), started_at=now, heartbeat_at=now,
                finished_at=None, error=None, **({"versions": versions} if versions is not None else {}),
                **({"hardware": hardware} if hardware is not None else {}),
            )
        )
        if session.exec(claim).rowcount != 1:  # type: ignore[call-overload]
            raise _not_resumable(_require_run(session, run_id), now)
        _close_open_attempts(session, run_id, outcome=RUN_INTERRUPTED)
        record = _require_run(session, run_id)
        session.refresh(record)
        number = 1 + int(session.exec(select(func.coalesce(func.max(RunAttempt.attempt), 0)).where(RunAttempt.run_id == run_id)).one())
        session.add(_new_attempt(record, number, now))
        record.duration_s = _attempts_seconds(session, run_id)
        session.add(record)
        return RunStart(run=record, attempt=number, started_at=now)


def _not_resumable(record: RunRecord, now: datetime) -> DatabaseError:
    if record.status == RUN_COMPLETE:
        return DatabaseError(f"run {record.id} is already complete", "start a new run instead of --resume")
    seen = (now - liveness.last_seen(record)).total_seconds()
    return DatabaseError(
        f"run {record.id} is still running on {record.host} (pid {record.pid}, heartbeat {seen:.0f} s ago)",
        f"wait for it or stop it; it counts as interrupted {liveness.heartbeat_timeout():.0f} s after its last heartbeat",
    )


def _close_open_attempts(session: Any, run_id: int, *, outcome: str, now: datetime | None = None) -> None:
    """End attempts still marked running: at ``now``, or at their last heartbeat for a dead process."""
    for attempt in session.exec(select(RunAttempt).where(RunAttempt.run_id == run_id, RunAttempt.outcome == RUN_RUNNING)):
        started = liveness.as_utc(attempt.started_at)
        ended = now or liveness.as_utc(attempt.ended_at or attempt.started_at)
        attempt.ended_at = ended
        attempt.duration_s = max(0.0, (ended - started).total_seconds())
        attempt.outcome = outcome
        session.add(attempt)
    session.flush()


def _attempts_seconds(session: Any, run_id: int) -> float:
    """The run's working time: the sum of its attempts, without the time it lay dead between them."""
    total = session.exec(select(func.coalesce(func.sum(RunAttempt.duration_s), 0.0)).where(RunAttempt.run_id == run_id)).one()
    return float(total)


def find_resumable_run(database: Database, config_hash: str) -> RunRecord | None:
    """The latest unfinished run with the same result-defining configuration that nobody works on."""
    now = utcnow()
    with database.session() as session:
        statement = (
            select(RunRecord)
            .where(RunRecord.config_hash == config_hash, RunRecord.status != RUN_COMPLETE)
            .order_by(col(RunRecord.id).desc())
        )
        for record in session.exec(statement):
            if record.status == RUN_FAILED or liveness.is_stale(record, now):
                return record
    return None


def live_run(database: Database, config_hash: str) -> RunRecord | None:
    """The latest run with this configuration still marked running whose heartbeat is fresh (not taken over)."""
    now = utcnow()
    with database.session() as session:
        statement = (
            select(RunRecord)
            .where(RunRecord.config_hash == config_hash, RunRecord.status == RUN_RUNNING)
            .order_by(col(RunRecord.id).desc())
        )
        return next((record for record in session.exec(statement) if not liveness.is_stale(record, now)), None)


def finish_run(database: Database, run_id: int, *, computed: int, cached: int) -> None:
    _end_run(database, run_id, RUN_COMPLETE, None, computed=computed, cached=cached)


def fail_run(database: Database, run_id: int, error: str, *, computed: int = 0, cached: int = 0) -> None:
    _end_run(database, run_id, RUN_FAILED, error, computed=computed, cached=cached)


@retrying
def _end_run(database: Database, run_id: int, status: str, error: str | None, *, computed: int, cached: int) -> None:
    """Close this attempt and the run; the run's seconds are the sum of its attempts."""
    now = utcnow()
    with database.session() as session:
        record = _require_run(session, run_id)
        _close_open_attempts(session, run_id, outcome=status, now=now)
        record.status = status
        record.finished_at = now
        record.heartbeat_at = now
        record.duration_s = _attempts_seconds(session, run_id)
        record.requests_computed = computed
        record.requests_cached = cached
        record.error = None if error is None else mask_secrets(error)  # stored errors are shown on pages and exports
        session.add(record)


@retrying
def note_attempt(database: Database, run_id: int, attempt: int, key: str, value: Any) -> None:
    """Set ``key`` in one attempt's ``hardware`` record: where its replicas ran, which were lost and when.

    Written as it happens, so a run that dies later still says where each part was computed.
    """
    with database.session() as session:
        row = session.exec(select(RunAttempt).where(RunAttempt.run_id == run_id, RunAttempt.attempt == attempt)).one()
        row.hardware = {**(row.hardware or {}), key: value}  # a new dict: the JSON column sees the change
        session.add(row)


def run_attempts(database: Database, run_id: int) -> list[RunAttempt]:
    """Every attempt at a run, first first: where, when, how long, with which versions, how it ended."""
    with database.session() as session:
        _require_run(session, run_id)
        return list(session.exec(select(RunAttempt).where(RunAttempt.run_id == run_id).order_by(col(RunAttempt.attempt))).all())


def _require_run(session: Any, run_id: int) -> RunRecord:
    record = session.get(RunRecord, run_id)
    if record is None:
        raise DatabaseError(f"no run with id {run_id}", "list runs with `evalsuite results list`")
    return record


def effective_status(record: RunRecord, now: datetime | None = None) -> str:
    """A `running` row whose heartbeat stopped (on any host) is shown as `interrupted`: never as live."""
    if liveness.is_stale(record, now):
        return RUN_INTERRUPTED
    return record.status


# ---------------------------------------------------------------- results


@retrying
def save_task_results(
    database: Database, run_id: int, tasks: Sequence[str], metrics: list[MetricRecord], samples: list[SampleRecord]
) -> None:
    """Replace the stored results of ``tasks`` in a run, in one transaction."""
    for record in (*metrics, *samples):  # a retried attempt must not reuse ids that a rolled-back flush assigned
        record.id = None
    with database.session() as session:
        for table in (MetricRecord, SampleRecord):
            session.exec(  # type: ignore[call-overload]
                delete(table).where(col(table.run_id) == run_id, col(table.task).in_(list(tasks)))
            )
        session.add_all(metrics)
        session.add_all(samples)
        session.flush()
        faults.point("results_uncommitted")  # a crash here must lose the task's rows whole, never keep half


def completed_tasks(database: Database, run_id: int) -> set[str]:
    """Tasks of a run that already have stored metrics (skipped when resuming)."""
    with database.session() as session:
        rows = session.exec(select(MetricRecord.task).where(MetricRecord.run_id == run_id).distinct())
        return set(rows.all())


def list_runs(database: Database, *, status: str | None = None, model: str | None = None, limit: int | None = None) -> list[RunSummary]:
    """Runs newest first; started = the first attempt's start, seconds = the sum of the attempts' durations."""
    now = utcnow()
    attempts = (
        select(
            col(RunAttempt.run_id).label("run_id"),
            func.count().label("count"),
            func.min(RunAttempt.started_at).label("first_start"),
            func.sum(RunAttempt.duration_s).label("seconds"),
        )
        .group_by(col(RunAttempt.run_id))
        .subquery()
    )
    with database.session() as session:
        statement = (
            sa_select(RunRecord, ModelRecord, attempts.c.count, attempts.c.first_start, attempts.c.seconds)
            .join(ModelRecord)
            .outerjoin(attempts, attempts.c.run_id == col(RunRecord.id))
            .order_by(col(RunRecord.id).desc())
        )
        if model:
            statement = statement.where(col(ModelRecord.name).contains(model))
        rows = session.execute(statement).all()  # sqlmodel's select takes at most four columns
    summaries = [
        RunSummary(
            id=run.id or 0,
            model=model_row.name,
            backend=run.backend,
            status=effective_status(run, now),
            tasks=list(run.tasks or []),
            started_at=liveness.as_utc(_parse_time(first_start) or run.started_at),
            duration_s=float(seconds) if seconds is not None else run.duration_s,
            seed=run.seed,
            attempts=int(count or 1),
        )
        for run, model_row, count, first_start, seconds in rows
    ]
    if status:
        summaries = [s for s in summaries if s.status == status]
    return summaries[:limit] if limit else summaries


def _parse_time(value: datetime | str | None) -> datetime | None:
    """An aggregate (min) of a DATETIME column comes back from SQLite as text."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


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
        for batch in in_chunks(unique):
            rows = session.exec(select(RequestCacheRecord).where(col(RequestCacheRecord.key).in_(batch)))
            for row in rows:
                found[row.key] = list(row.response or [])
    return found


@retrying
def store_responses(
    database: Database, model_key: str, request_type: str, responses: dict[str, list[Any]], *, run_id: int | None = None
) -> None:
    """Write one finished chunk of responses (computed by ``run_id``); committed at once so a kill keeps it.

    One INSERT ... ON CONFLICT DO UPDATE, not select-then-insert: runs of one model
    started together compute the same requests and must not fail on each other's keys.
    """
    now = utcnow()
    rows = [
        RequestCacheRecord(
            key=key, model_key=model_key, request_type=request_type, response=response, computed_by_run_id=run_id, created_at=now
        ).model_dump()
        for key, response in sorted(responses.items())  # one key order for every writer: no deadlock between them on PostgreSQL
    ]
    if not rows:
        return
    with database.session() as session:
        insert = _dialect_insert(session.get_bind().dialect.name)
        if insert is None:  # another server: merge row by row (not race-free)
            for row in rows:
                session.merge(RequestCacheRecord(**row))
            return
        statement = insert(RequestCacheRecord)
        replaced = {name: statement.excluded[name] for name in rows[0] if name != "key"}
        session.execute(statement.on_conflict_do_update(index_elements=["key"], set_=replaced), rows)


def _dialect_insert(dialect: str) -> Any:
    """SQLite's and PostgreSQL's INSERT with ON CONFLICT, or None for a server without it."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    return None


def count_cached(database: Database, model_key: str | None = None) -> int:
    with database.session() as session:
        statement = select(func.count()).select_from(RequestCacheRecord)
        if model_key is not None:
            statement = statement.where(RequestCacheRecord.model_key == model_key)
        return int(session.exec(statement).one())


# ---------------------------------------------------------------- model identity and request-cache provenance
# (evalsuite.identity.model_identity builds the record; these functions store it and read the cache by it)


@retrying
def get_or_create_identity(database: Database, key: str, columns: dict[str, Any]) -> ModelIdentityRecord:
    """The ``model_identity`` row with this key; created on first sight (a racing creator wins)."""
    with database.session() as session:
        existing = session.exec(select(ModelIdentityRecord).where(ModelIdentityRecord.key == key)).first()
        if existing is not None:
            return existing
    try:
        with database.session() as session:
            record = ModelIdentityRecord(key=key, **columns)
            session.add(record)
            session.flush()
            session.refresh(record)
            return record
    except IntegrityError:
        with database.session() as session:
            return session.exec(select(ModelIdentityRecord).where(ModelIdentityRecord.key == key)).one()


def get_identity(database: Database, identity_id: int) -> ModelIdentityRecord | None:
    with database.session() as session:
        return session.get(ModelIdentityRecord, identity_id)


@dataclass(frozen=True)
class CacheSource:
    """Answers stored under a run's model identity by one other run (None: before runs were recorded)."""

    run_id: int | None
    answers: int


def cache_sources(database: Database, run_id: int) -> list[CacheSource]:
    """Which earlier runs computed answers stored under this run's model identity, and how many each.

    These are the answers the run could be served from the cache (its own
    ``requests_cached`` says how many it was); later runs are not counted.
    """
    with database.session() as session:
        run = _require_run(session, run_id)
        if run.identity_id is None:
            return []
        identity = session.get(ModelIdentityRecord, run.identity_id)
        if identity is None:
            return []
        source = RequestCacheRecord.computed_by_run_id
        statement = (
            select(col(source), func.count())
            .where(RequestCacheRecord.model_key == identity.key)
            .where((col(source) < run_id) | col(source).is_(None))
            .group_by(col(source))
            .order_by(col(source))
        )
        return [CacheSource(run_id=row[0], answers=int(row[1])) for row in session.exec(statement)]


def model_names(database: Database) -> list[str]:
    with database.session() as session:
        return sorted(set(session.exec(select(ModelRecord.name)).all()))


def clear_request_cache(database: Database, model: str | None = None) -> int:
    """Delete cached answers (all, or those of every identity of the model named ``model``); return how many.

    A model's answers are those stored under the identities of its runs, and under
    any identity with its weights, tokenizer and config (answers of runs that failed
    before their row was linked).
    """
    with database.session() as session:
        statement = delete(RequestCacheRecord)
        if model is not None:
            keys = _identity_keys_of_model(session, model)
            if not keys:
                return 0
            statement = statement.where(col(RequestCacheRecord.model_key).in_(keys))
        result = session.exec(statement)  # type: ignore[call-overload]
        return int(result.rowcount or 0)


def _identity_keys_of_model(session: Any, model: str) -> list[str]:
    models = session.exec(select(ModelRecord).where(ModelRecord.name == model)).all()
    model_ids = [m.id for m in models]
    by_runs = select(ModelIdentityRecord.key).join(RunRecord, col(RunRecord.identity_id) == ModelIdentityRecord.id)
    keys = set(session.exec(by_runs.where(col(RunRecord.model_id).in_(model_ids))).all()) if model_ids else set()
    for record in models:
        by_hashes = select(ModelIdentityRecord.key).where(
            ModelIdentityRecord.weights_sha256 == record.weights_sha256,
            ModelIdentityRecord.tokenizer_sha256 == record.tokenizer_sha256,
            ModelIdentityRecord.config_sha256 == record.config_sha256,
        )
        keys.update(session.exec(by_hashes).all())
    return sorted(keys)
