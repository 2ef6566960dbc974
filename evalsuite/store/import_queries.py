"""Writes and reads of `results import`: one imported run per bundle, whatever how often it arrives.

An imported run is keyed by its bundle id (``config_hash = "bundle:<id>"``, never the
hash of a run made here), so importing the same bundle twice finds the first run and
writes nothing. Its model and identity rows are the same rows a local run of the same
weights and settings uses, so imported scores share the board's columns with local ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from evalsuite.store import queries
from evalsuite.store.db import Database
from evalsuite.store.schema import MetricRecord, ModelRecord, RunAttempt, RunRecord, SampleRecord

BUNDLE_HASH_PREFIX = "bundle:"
LM_EVAL_BACKEND_PREFIX = "lm-eval:"  # the backend of a run imported from lm-eval's results layout ("lm-eval:hf")
RowsBuilder = Callable[[int], tuple[list[MetricRecord], list[SampleRecord]]]
ScoreValues = dict[tuple[str, str, str], float | None]  # (task, metric, filter) -> value


@dataclass(frozen=True)
class ImportedRun:
    """Where a bundle's run is stored, and whether this import created it (False: it was there)."""

    run_id: int
    created: bool


def imported_scoring(backend: str | None) -> str | None:
    """What scored a run imported from lm-eval's output, for the board's key (None: not such a run).

    Such a run has no evalsuite identity (scoring version, chat-template hash), so its scores
    are never put in one column with scores made here: ``lm-eval hf (imported)`` for the
    ``lm_eval`` CLI's ``hf`` model, ``evalsuite-vllm --output (imported)`` for the results
    JSON of a run made elsewhere (``evalsuite run --output``, read as lm-eval's layout).
    """
    if not backend or not backend.startswith(LM_EVAL_BACKEND_PREFIX):
        return None
    scorer = backend[len(LM_EVAL_BACKEND_PREFIX):]
    return f"{scorer} --output (imported)" if scorer.startswith("evalsuite-") else f"lm-eval {scorer} (imported)"


def bundle_hash(bundle_id: str) -> str:
    return f"{BUNDLE_HASH_PREFIX}{bundle_id}"


def is_imported(run: RunRecord) -> bool:
    """Whether a run was imported (`results import`, `results pull`, a pod's bundle) rather than made here."""
    return (run.config_hash or "").startswith(BUNDLE_HASH_PREFIX)


def import_origin(run: RunRecord) -> str | None:
    """Where an imported run came from, in words (None: the run was made here, so it can be resumed here).

    An imported run has no requests, cache or process here: `evalsuite run --resume` cannot
    continue it, only a new run on its machine or pod can.
    """
    if not is_imported(run):
        return None
    config = run.config or {}
    bundle_id = str(config.get("bundle_id") or (run.config_hash or "")[len(BUNDLE_HASH_PREFIX):])
    if config.get("imported_from"):  # lm-eval's own output (bundle.py's lm-eval import)
        return f"the lm-eval results {config['imported_from']}"
    pod = config["pod"] if isinstance(config.get("pod"), dict) else {}
    made_on = f"pod {pod['id']}" if pod.get("id") else (f"host {run.host}" if run.host else None)
    return f"bundle {bundle_id}" + (f", made on {made_on}" if made_on else "")


def find_imported_run(database: Database, bundle_id: str) -> int | None:
    """The run an earlier import of this bundle created (None: not imported yet)."""
    with database.session() as session:
        statement = select(RunRecord.id).where(RunRecord.config_hash == bundle_hash(bundle_id)).order_by(col(RunRecord.id))
        return session.exec(statement).first()


def imported_bundle_ids(database: Database) -> set[str]:
    """Every bundle id already imported (``results pull`` skips these)."""
    with database.session() as session:
        hashes = session.exec(select(RunRecord.config_hash).where(col(RunRecord.config_hash).startswith(BUNDLE_HASH_PREFIX))).all()
    return {value[len(BUNDLE_HASH_PREFIX):] for value in hashes}


def model_name_with_hashes(database: Database, weights_sha256: str, tokenizer_sha256: str | None, config_sha256: str | None) -> str | None:
    """The name of the first model row with exactly these files (None: no run of them is stored), so an
    import of a model folder lands on the board row of the local runs of the same files, whatever path named it."""
    statement = (
        select(ModelRecord.name)
        .where(
            ModelRecord.weights_sha256 == weights_sha256, ModelRecord.tokenizer_sha256 == tokenizer_sha256,
            ModelRecord.config_sha256 == config_sha256,
        )
        .order_by(col(ModelRecord.id))
    )
    with database.session() as session:
        return session.exec(statement).first()


def is_output_of(database: Database, run_id: int, *, weights_sha256: str | None, written_at: datetime | None, scores: ScoreValues) -> bool:
    """Whether stored run ``run_id`` wrote this ``evalsuite run --output`` file (then importing it would copy the run).

    The file names its run id, which another database may use for another run, so the run must
    also have the file's weights, have started before the file was written, and hold every
    score of the file with the same value.
    """
    with database.session() as session:
        run = session.get(RunRecord, run_id)
        model = session.get(ModelRecord, run.model_id) if run is not None else None
        stored = session.exec(select(MetricRecord).where(MetricRecord.run_id == run_id)).all() if run is not None else []
        if run is None or model is None or is_imported(run) or model.weights_sha256 != weights_sha256:
            return False
        started = run.started_at if run.started_at.tzinfo else run.started_at.replace(tzinfo=UTC)
    if written_at is not None and written_at < started:
        return False
    values = {(m.task, m.metric, m.filter): m.value for m in stored}
    return bool(scores) and all(key in values and values[key] == value for key, value in scores.items())


def store_imported_run(
    database: Database,
    bundle_id: str,
    *,
    model: dict[str, Any],
    identity: tuple[str, dict[str, Any]] | None,
    run: dict[str, Any],
    attempt: dict[str, Any],
    rows: RowsBuilder,
) -> ImportedRun:
    """Store one imported run (model and identity rows shared with local runs), unless already there.

    Args:
        bundle_id: the bundle's id; the run is found by it on every later import.
        model: ``model`` table fields (name, weights and tokenizer hashes, ...).
        identity: (key, columns) of the run's ``model_identity`` row, or None (an lm-eval CLI run).
        run: ``run`` table fields other than ids and the config hash.
        attempt: host, pid and times of the one attempt the run is stored with.
        rows: builds the metric and sample rows once the run id is known.
    """
    existing = find_imported_run(database, bundle_id)
    if existing is not None:
        return ImportedRun(run_id=existing, created=False)
    model_row = queries.get_or_create_model(database, **model)
    identity_id = queries.get_or_create_identity(database, identity[0], identity[1]).id if identity is not None else None
    with database.session() as session:
        record = RunRecord(model_id=int(model_row.id or 0), identity_id=identity_id, config_hash=bundle_hash(bundle_id), **run)
        session.add(record)
        session.flush()
        run_id = int(record.id or 0)
        session.add(RunAttempt(run_id=run_id, attempt=1, outcome=record.status, versions=record.versions, hardware=record.hardware, **attempt))
        metrics, samples = rows(run_id)
        session.add_all(metrics)
        session.add_all(samples)
    return ImportedRun(run_id=run_id, created=True)


def run_record_fields(database: Database, run_id: int) -> tuple[RunRecord, list[RunAttempt], Any]:
    """A stored run, its attempts and its identity row (None when not recorded), for writing its bundle."""
    detail = queries.get_run(database, run_id)
    attempts = queries.run_attempts(database, run_id)
    identity = queries.get_identity(database, detail.run.identity_id) if detail.run.identity_id is not None else None
    return detail.run, attempts, identity


def as_time(value: str | None) -> datetime | None:
    """A time as a bundle writes it (ISO 8601)."""
    return datetime.fromisoformat(value) if value else None
