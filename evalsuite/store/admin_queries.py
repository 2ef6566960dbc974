"""The operator's writes: deleting a run, hiding and un-hiding a model — rows only, no token checks.

Who may call these is decided above the store, in ``evalsuite.board.admin`` (the admin token);
this module only changes rows, each in one short transaction.

Hiding is a row in ``hidden_model`` per model *name* (every run and every arena identity
of that name). Readers leave hidden models out by selecting from the base rows of
:mod:`evalsuite.store.visibility`, which the board (``leaderboard_queries``) and the arena
(``arena_queries``: pairing and the votes the ratings read) share. The hidden model's runs,
answers and votes stay stored, so un-hiding brings everything back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from evalsuite.errors import AdminError
from evalsuite.store import liveness
from evalsuite.store.db import Database
from evalsuite.store.retry import retrying
from evalsuite.store.schema import (
    RUN_RUNNING,
    Completion,
    HiddenModel,
    MetricRecord,
    ModelRecord,
    RequestCacheRecord,
    RunAttempt,
    RunRecord,
    SampleRecord,
)


@dataclass(frozen=True)
class DeletedRun:
    """What :func:`delete_run` removed (the request cache is never deleted: other runs reuse it)."""

    run_id: int
    model: str
    status: str
    metrics: int
    samples: int
    attempts: int


def hidden_models(database: Database) -> list[str]:
    with database.session() as session:
        return sorted(session.exec(select(HiddenModel.name)).all())


def known_model_names(database: Database) -> list[str]:
    """Names that can be hidden: evaluated models and arena contestants (hidden or not)."""
    with database.session() as session:
        evaluated = set(session.exec(select(ModelRecord.name)).all())
        answering = set(session.exec(select(Completion.model_name).distinct()).all())
    return sorted(evaluated | answering)


@retrying
def hide_model(database: Database, name: str) -> bool:
    """Hide ``name`` from the board and the arena; False when it was hidden already."""
    known = known_model_names(database)
    if name not in known:
        close = [n for n in known if name.lower() in n.lower()][:5]
        raise AdminError(
            f"no model named {name!r} has runs or arena answers",
            hint=f"did you mean {', '.join(close)}?" if close else "list models with `evalsuite results list` or `evalsuite arena prompts list`",
        )
    try:
        with database.session() as session:
            if session.get(HiddenModel, name) is not None:
                return False
            session.add(HiddenModel(name=name))
    except IntegrityError:  # hidden by someone else between the check and the insert
        return False
    return True


@retrying
def unhide_model(database: Database, name: str) -> bool:
    """Show ``name`` again; False when it was not hidden."""
    with database.session() as session:
        result = session.exec(delete(HiddenModel).where(col(HiddenModel.name) == name))  # type: ignore[call-overload]
        return bool(result.rowcount)


@retrying
def delete_run(database: Database, run_id: int, *, force: bool = False) -> DeletedRun:
    """Delete a run with its metrics, samples and attempts, in one transaction.

    A run that is still being worked on (``running`` with a fresh heartbeat) is refused
    unless ``force``: its process would keep writing rows for a run that no longer exists.
    Cached answers it computed stay (other runs reuse them); their ``computed_by_run_id``
    is cleared, because SQLite may give the freed id to the next run.
    """
    with database.session() as session:
        record = session.get(RunRecord, run_id)
        if record is None:
            raise AdminError(f"no run with id {run_id}", hint="list runs with `evalsuite results list`")
        if record.status == RUN_RUNNING and not liveness.is_stale(record) and not force:
            raise AdminError(
                f"run {run_id} is still running (heartbeat from {record.host or 'its host'})",
                hint="wait for it to finish, stop it, or pass --force to delete it anyway",
            )
        model = session.get(ModelRecord, record.model_id)
        counts = {
            table.__name__: int(session.exec(select(func.count()).select_from(table).where(col(table.run_id) == run_id)).one())
            for table in (MetricRecord, SampleRecord, RunAttempt)
        }
        for table in (MetricRecord, SampleRecord, RunAttempt):
            session.exec(delete(table).where(col(table.run_id) == run_id))  # type: ignore[call-overload]
        session.exec(
            update(RequestCacheRecord).where(col(RequestCacheRecord.computed_by_run_id) == run_id).values(computed_by_run_id=None)  # type: ignore[call-overload]
        )
        session.exec(delete(RunRecord).where(col(RunRecord.id) == run_id))  # type: ignore[call-overload]
        return DeletedRun(
            run_id=run_id, model=model.name if model is not None else "?", status=record.status,
            metrics=counts["MetricRecord"], samples=counts["SampleRecord"], attempts=counts["RunAttempt"],
        )
