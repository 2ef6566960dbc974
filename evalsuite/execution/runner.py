"""One evaluation run end to end: resolve, evaluate task by task, store, mark complete.

Each requested task is a :class:`~evalsuite.tasks.runnable.RunnableTask` (an lm-eval task,
a judged task: the runner does not ask which), evaluated over a backend instance wrapped in
the request cache and stored as soon as it finishes, so an
interrupted run keeps its finished tasks and its finished requests. A run is
marked complete only after every task is stored; any failure or interruption
marks it failed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from evalsuite import settings
from evalsuite.backends import check_backend_options, close_backend, load_backend, resolve
from evalsuite.backends.cache import CachedLM
from evalsuite.backends.requests import model_options
from evalsuite.errors import ConfigError, DatabaseError, DatabaseWriteRefused, EvalsuiteError
from evalsuite.execution import plan as run_plan
from evalsuite.execution.resolve import resolve as resolve_config
from evalsuite.execution.task_lookup import runnable_tasks
from evalsuite.formats import layout as results_layout
from evalsuite.identity import environment
from evalsuite.identity.model_identity import ModelIdentity, build_identity
from evalsuite.identity.models import ModelSpec
from evalsuite.identity.run_config import RunConfig, check_writable_output
from evalsuite.judged import session as judged_session
from evalsuite.store import faults, import_queries, liveness, queries
from evalsuite.store.db import Database, open_database
from evalsuite.store.liveness import Heartbeat
from evalsuite.store.schema import RunRecord, utcnow
from evalsuite.tasks.runnable import Grader, GraderKey, RunnableTask, TaskRun, TaskScores

if TYPE_CHECKING:
    from lm_eval.api.model import LM

log = logging.getLogger(__name__)
Reporter = Callable[[str], None]


@dataclass
class RunOutcome:
    """What a finished (or dry) run hands back to the CLI."""

    run_id: int | None
    model: ModelSpec | None
    results: dict[str, Any] = field(default_factory=dict)
    request_counts: dict[str, int] = field(default_factory=dict)
    computed: int = 0
    cached: int = 0


class RunInterrupted(EvalsuiteError):
    """Ctrl-C or SIGTERM during a run: it is stored as failed, and its finished requests are kept."""

    default_hint = "resume it with `evalsuite run ... --resume ID` (the id is in `evalsuite results list`)"


class Terminated(KeyboardInterrupt):
    """SIGTERM (a pod or a job scheduler stopping us), raised like Ctrl-C.

    A KeyboardInterrupt, not an Exception: a library's ``except Exception`` around the
    code the signal lands in cannot swallow it, and the CLI treats it as an interruption.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def _resume_hint(run_id: int) -> str:
    return f"resume it with `evalsuite run ... --resume {run_id}` (finished requests are kept)"


def validate(config: RunConfig) -> str:
    """Check every option of a resolved config that can be checked without the model; return the device type to use.

    Runs before anything is loaded or stored, so a bad flag costs no minutes of work and
    leaves no failed run behind (RunConfig itself checked the plain values, the resolution
    the registries).
    """
    if config.outputs.output is not None:
        check_writable_output(config.outputs.output, "--output")
    faults.check()
    if config.controls.executor == "ray":  # a missing extra, or SQLite on a cluster, is refused before a run row exists
        from evalsuite.execution.cluster.connect import check_installed, check_replicas_database

        check_installed()
        check_replicas_database(config.outputs.db, config.controls.replicas, config.controls.ray_address)
    judged_session.check(config)
    return check_backend_options(model_options(config))


def dry_run(config: RunConfig, report: Reporter = log.info) -> RunOutcome:
    """Count the requests each task would send, without loading any model (with the run's header)."""
    config = resolve_config(config)
    validate(config)
    counts: dict[str, int] = {}
    tasks = runnable_tasks(config)
    for task in tasks:
        counts.update(task.request_counts())
    for line in run_plan.header_lines([task.planned() for task in tasks], config.model.name):
        report(line)
    return RunOutcome(run_id=None, model=None, request_counts=counts)


def run(config: RunConfig, report: Reporter = log.info) -> RunOutcome:
    """Evaluate ``config.model`` on the planned tasks and store everything (``config`` is resolved first).

    SIGTERM is turned into :class:`Terminated` for the whole run, so a stopped run is
    marked failed at once (not left `running` until its heartbeat times out).
    """
    if config.controls.dry_run:
        return dry_run(config)
    config = resolve_config(config)
    device = validate(config)
    with _interrupts_as_errors():
        return _run(config, device, report)


def _run(config: RunConfig, device: str, report: Reporter) -> RunOutcome:
    with open_database(config.outputs.db) as database:  # closed however the run ends, also before it has a row
        return _run_in(database, config, device, report)


def _run_in(database: Database, config: RunConfig, device: str, report: Reporter) -> RunOutcome:
    tasks = runnable_tasks(config)
    for line in run_plan.header_lines([task.planned() for task in tasks], config.model.name):
        report(line)  # the run header: what will run, said before the model loads (bad tasks fail here)
    model = resolve(config.model.name, model_options(config))
    faults.point("model_resolved")
    identity = build_identity(config, model, device)
    graders = _graders(tasks)
    grader_keys = [grader.prepare(model) for grader in graders]  # an unknown judge fails before anything is stored
    start = _start_or_resume(database, config, model, [task.name for task in tasks], identity, grader_keys, report)
    run_id = start.run_id
    heartbeat = Heartbeat(database, run_id, start.attempt, start.started_at)
    cached_lm: CachedLM | None = None
    for grader in graders:
        grader.open(database, run_id)
    try:
        faults.point("run_created")
        heartbeat.start()
        report(f"run {run_id}: {model.name} ({model.source}, sha256 {model.weights_sha256[:12]}) on {len(tasks)} task(s)")
        cached_lm = _build_cached_lm(config, model, database, identity, start, report)
        merged: dict[str, Any] = {}
        for index, task in enumerate(tasks):
            # Tasks finished before an interruption are re-scored from the cache (no model calls),
            # which keeps --output complete and the stored numbers identical.
            report(f"task {task.name}: evaluating")
            faults.point("task_started")
            scores = task.evaluate(TaskRun(run_id, model, cached_lm, report, last=index == len(tasks) - 1))
            _store(database, run_id, scores)
            faults.point("task_stored")
            results_layout.merge(merged, scores.results)
        merged = results_layout.finalize(merged, config, model, run_id)
        if config.outputs.output is not None:  # before the run is marked complete: one truth for exit status and row
            _write_output(config.outputs.output, merged)
        faults.point("before_finish")
        computed, cached = _usage(cached_lm, graders)
        queries.finish_run(database, run_id, computed=computed, cached=cached)
    except BaseException as exc:
        user_error = _as_user_error(exc, run_id)
        _record_failure(database, run_id, user_error, cached_lm, graders)
        for raised in (exc, user_error):  # the model queue's summary names the stored run
            raised.failed_run_id = run_id  # type: ignore[attr-defined]
        if user_error is exc:
            raise
        raise user_error from exc
    finally:
        heartbeat.stop()
        if cached_lm is not None:
            close_backend(cached_lm.inner)
        for grader in graders:
            grader.close()
    computed, cached = _usage(cached_lm, graders)
    return RunOutcome(run_id=run_id, model=model, results=merged, computed=computed, cached=cached)


def _graders(tasks: list[RunnableTask]) -> list[Grader]:
    """The run's graders (a judge), each once, in task order: tasks of one kind share theirs."""
    graders: list[Grader] = []
    for task in tasks:
        grader = task.grader
        if grader is not None and not any(grader is seen for seen in graders):
            graders.append(grader)
    return graders


def _usage(cached_lm: CachedLM | None, graders: list[Grader]) -> tuple[int, int]:
    """Requests (computed, cached) of the model under test and every grader, for the run row."""
    counts = [(cached_lm.stats.computed, cached_lm.stats.cached)] if cached_lm is not None else []
    counts += [grader.usage() for grader in graders]
    return sum(c for c, _ in counts), sum(c for _, c in counts)


def _store(database: Database, run_id: int, scores: TaskScores) -> None:
    queries.save_task_results(database, run_id, list(scores.tasks), scores.metrics, scores.samples)


def _record_failure(
    database: Database, run_id: int, exc: BaseException, cached_lm: CachedLM | None, graders: list[Grader]
) -> None:
    """Mark the run failed with what it computed; if the database refuses even that, leave it to the heartbeat.

    A read-only or unreachable database cannot take the failure either: the row stays
    `running`, its heartbeat stops with this process, and readers show it `interrupted`
    after the heartbeat timeout. The user still gets the original error, not this one.
    """
    computed, cached = _usage(cached_lm, graders)
    try:
        queries.fail_run(database, run_id, _describe_failure(exc), computed=computed, cached=cached)
    except EvalsuiteError as failure:
        log.warning("run %s could not be marked failed (%s); it shows as interrupted once its heartbeat stops", run_id, failure.message)


def _as_user_error(exc: BaseException, run_id: int) -> BaseException:
    """The error the CLI shows for a failed run: interruptions and refused writes name the run to resume."""
    if isinstance(exc, Terminated):
        return RunInterrupted(f"run {run_id} interrupted by signal {exc.signum}", _resume_hint(run_id))
    if isinstance(exc, KeyboardInterrupt):
        return RunInterrupted(f"run {run_id} interrupted (Ctrl-C)", _resume_hint(run_id))
    if isinstance(exc, DatabaseWriteRefused):
        return DatabaseWriteRefused(f"run {run_id} stopped: {exc.message}", f"{exc.hint}; then {_resume_hint(run_id)}")
    return exc


def _start_or_resume(
    database: Database, config: RunConfig, model: ModelSpec, task_names: list[str], identity: ModelIdentity,
    grader_keys: Sequence[GraderKey] = (), report: Reporter = log.info,
) -> queries.RunStart:
    """Open the run row: --resume ID, an unfinished run of the same config nobody works on, or a new one.

    Resuming (from any host) records this attempt's versions, hardware, host and start;
    the earlier attempts stay in ``run_attempt``. A grader's (judge's) key is part of the run's
    identity (its config hash) and of its stored config (the board's comparability key).
    """
    config_hash = config.result_hash("|".join([identity.key, *(key.hash_part for key in grader_keys)]))
    resume = config.controls.resume
    if resume is not None:
        existing = queries.get_run(database, resume).run
        origin = import_queries.import_origin(existing)
        if origin is not None:  # no requests, cache or process of it here: nothing to continue
            raise ConfigError(
                f"run {resume} was imported from {origin}: an imported run cannot be resumed here",
                "rerun it on its machine or pod, or start a new run here without --resume",
            )
        if existing.config_hash != config_hash:
            differences = config.result_differences(dict(existing.config or {}))
            raise ConfigError(
                f"run {resume} was made with "
                + (f"other options: {'; '.join(differences)}" if differences else "other weights or another model identity"),
                "repeat the original command with --resume, or start a new run without it",
            )
        return _resumed(queries.reopen_run(database, resume, versions=environment.package_versions(), hardware=environment.hardware()), report)
    resumable = queries.find_resumable_run(database, config_hash)
    if resumable is not None and resumable.id is not None:
        try:
            return _resumed(queries.reopen_run(database, resumable.id, versions=environment.package_versions(), hardware=environment.hardware()), report)
        except DatabaseError:
            log.info("run %s was resumed by another process first; starting a new run", resumable.id)
    _say_why_not_taken_over(queries.live_run(database, config_hash), report)
    model_row = queries.get_or_create_model(
        database,
        name=model.name,
        source=model.stored_source,
        revision=model.revision,
        weights_sha256=model.weights_sha256,
        tokenizer_sha256=model.tokenizer_sha256,
        config_sha256=model.config_sha256,
        params=model.params,
        dtype=config.model.dtype,
        architecture=model.architecture,
    )
    identity_row = queries.get_or_create_identity(database, identity.key, identity.as_columns())
    run_row = queries.create_run(
        database,
        model_id=model_row.id,
        identity_id=identity_row.id,
        backend=config.model.backend,
        config={**config.to_json(), **{k: v for key in grader_keys for k, v in key.stored_config.items()}},
        config_hash=config_hash,
        tasks=task_names,
        suite=config.selection.suite,
        seed=config.prompt.seeds["random"],
        apply_chat_template=config.prompt.apply_chat_template,
        system_instruction=config.prompt.system_instruction,
        versions=environment.package_versions(),
        hardware=environment.hardware(),
    )
    return queries.RunStart(run=run_row, attempt=1, started_at=run_row.started_at)


def _resumed(start: queries.RunStart, report: Reporter) -> queries.RunStart:
    report(f"resuming run {start.run_id} (attempt {start.attempt}): finished requests come from the cache")
    return start


def _say_why_not_taken_over(live: RunRecord | None, report: Reporter) -> None:
    """A run of this configuration still beats (or its process was killed a moment ago): say why a new run starts."""
    if live is None:
        return
    age = (utcnow() - liveness.last_seen(live)).total_seconds()
    report(
        f"run {live.id} has this configuration and is still marked running on {live.host} (pid {live.pid}); "
        f"its last heartbeat is {age:.0f} s old and a run is taken over only after {liveness.heartbeat_timeout():.0f} s "
        f"without one, so this is a new run. If that process is gone (kill -9), stop this one and resume run {live.id} "
        f"with `--resume {live.id}` once `evalsuite results list` shows it interrupted"
    )


def _build_cached_lm(
    config: RunConfig, model: ModelSpec, database: Database, identity: ModelIdentity, start: queries.RunStart, report: Reporter
) -> CachedLM:
    """The backend (or its replicas on Ray) wrapped in the request cache under the model identity's key."""
    inner = _backend_or_replicas(config, model, database, identity, start, report)
    faults.point("backend_loaded")
    chunk = settings.CACHE_CHUNK.read()  # smaller loses less on a crash
    flush = settings.CACHE_FLUSH_S.read()
    return CachedLM(
        inner,
        database,
        identity.key,
        chunk_size=chunk,
        flush_seconds=flush if flush > 0 else None,
        run_id=start.run_id,
        refresh=config.controls.no_cache,
        show_progress=config.controls.show_progress,
    )




def _backend_or_replicas(
    config: RunConfig, model: ModelSpec, database: Database, identity: ModelIdentity, start: queries.RunStart, report: Reporter
) -> LM:
    """The model in this process (``--executor local``), or ``--replicas`` copies of it as Ray actors that commit into the same cache."""
    if config.controls.executor == "local":
        return load_backend(model, model_options(config))
    from evalsuite.execution.cluster import pool

    notes = pool.AttemptNotes(database, start.run_id, start.attempt)
    return pool.start(config, model, identity.key, identity.device, notes, report)


@contextmanager
def _interrupts_as_errors() -> Iterator[None]:
    """SIGTERM (a pod being stopped) raises :class:`Terminated`, so the run fails cleanly instead of staying 'running'."""

    def on_term(signum: int, _frame: FrameType | None) -> None:
        raise Terminated(signum)

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _describe_failure(exc: BaseException) -> str:
    """The error stored on the failed run (``evalsuite results show``): the user's message and hint, or the bug's one line."""
    if isinstance(exc, EvalsuiteError):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _write_output(path: Path, results: dict[str, Any]) -> None:
    from lm_eval.utils import handle_non_serializable

    # Written beside the target, then moved over it: a crash mid-write never leaves a truncated file.
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(results, indent=2, default=handle_non_serializable, ensure_ascii=False))
        faults.point("output_written")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DatabaseError(f"cannot write --output {path}: {exc.strerror}", "choose a writable --output path") from exc


def rescore(run_id: int, db: str, report: Reporter = log.info) -> RunOutcome:
    """Recompute a finished run's metrics from its cached requests, without the model."""
    with open_database(db) as database:
        detail = queries.get_run(database, run_id)
        stored = dict(detail.run.config or {})
        # The stored config is resolved (suite args merged, chat template forced); it only re-scores, so it writes nothing.
        config = RunConfig.from_json(stored).with_changes(output=None, resume=None, dry_run=False)
        model = ModelSpec(
            name=detail.model.name,
            path=Path(detail.model.source),
            source="stored",
            revision=detail.model.revision,
            weights_sha256=detail.model.weights_sha256,
            architecture=detail.model.architecture,
            params=detail.model.params,
            tokenizer_sha256=detail.model.tokenizer_sha256 or "",
            config_sha256=detail.model.config_sha256 or "",
        )
        lm = CachedLM(None, database, _stored_namespace(database, detail.run.identity_id, config, model), show_progress=False)
        merged: dict[str, Any] = {}
        started = time.perf_counter()
        for task in runnable_tasks(config):
            scores = task.rescore(TaskRun(run_id, model, lm, report))
            _store(database, run_id, scores)
            results_layout.merge(merged, scores.results)
    report(f"run {run_id} re-scored from {lm.stats.cached} cached requests in {time.perf_counter() - started:.1f}s")
    return RunOutcome(run_id=run_id, model=model, results=results_layout.finalize(merged, config, model, run_id), cached=lm.stats.cached)


def _stored_namespace(database: Database, identity_id: int | None, config: RunConfig, model: ModelSpec) -> str:
    """The cache namespace a stored run used: its identity's key (rebuilt from the stored columns).

    Runs stored before identities were recorded used weights, revision and backend options only.
    """
    row = queries.get_identity(database, identity_id) if identity_id is not None else None
    if row is not None:
        return ModelIdentity.from_columns(row).key
    legacy = f"{model.weights_sha256}:{model.revision or ''}"
    request = config.model
    return f"{legacy}|{request.backend}|{request.dtype}|{request.device}|{sorted(request.backend_args)}"
