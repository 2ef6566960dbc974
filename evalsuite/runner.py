"""One evaluation run end to end: resolve, evaluate task by task, store, mark complete.

Each requested task is evaluated by lm-eval (`simple_evaluate` over a backend
instance wrapped in the request cache) and stored as soon as it finishes, so an
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from evalsuite import environment, faults, results_layout, run_plan
from evalsuite.backends import check_backend_options, close_backend, load_backend, resolve
from evalsuite.backends.cache import DEFAULT_CHUNK_SIZE, DEFAULT_FLUSH_SECONDS, CachedLM, MissingFromCache
from evalsuite.config import RunConfig, check_writable_output
from evalsuite.errors import ConfigError, DatabaseError, DatabaseWriteRefused, EvalsuiteError
from evalsuite.identity import ModelIdentity, build_identity
from evalsuite.judged import is_judged, judged_task
from evalsuite.judged import session as judged_session
from evalsuite.judged.base import JudgedTask
from evalsuite.models import ModelSpec
from evalsuite.store import import_queries, liveness, queries
from evalsuite.store.db import Database, open_database
from evalsuite.store.liveness import Heartbeat
from evalsuite.store.schema import RunRecord, utcnow
from evalsuite.tasks import LoadedTasks, TaskSpec, load_tasks, request_counts, select_tasks, suites

log = logging.getLogger(__name__)
# Requests computed between two commits of the request cache: smaller loses less on a crash.
ENV_CACHE_CHUNK = "EVALSUITE_CACHE_CHUNK"
# Longest time between two commits of the request cache, in seconds (0 turns the bound off).
ENV_CACHE_FLUSH_S = "EVALSUITE_CACHE_FLUSH_S"
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


def plan_tasks(config: RunConfig) -> list[TaskSpec]:
    """The task list of a run: --tasks, --suite, or a perplexity task over --text-file.

    Judged tasks (graded by --judge) come from the judged-task registry; a run has either
    only judged tasks or none (RunConfig checks it).
    """
    if config.judged_tasks:
        return [TaskSpec(name) for name in config.judged_tasks]
    return select_tasks(list(config.tasks) or None, config.suite, text_file=config.text_file, include_path=config.include_path)


def validate(config: RunConfig) -> str:
    """Check every option that can be checked without the model; return the device type to use.

    Runs before anything is loaded or stored, so a bad flag costs no minutes of work and
    leaves no failed run behind (RunConfig itself already checked the plain values).
    """
    if config.output is not None:
        check_writable_output(config.output, "--output")
    faults.check()
    judged_session.check(config)
    return check_backend_options(config.backend_options())


def dry_run(config: RunConfig, report: Reporter = log.info) -> RunOutcome:
    """Count the requests each task would send, without loading any model (with the run's header)."""
    validate(config)
    counts: dict[str, int] = {}
    loaded_tasks: list[tuple[TaskSpec, LoadedTasks | JudgedTask]] = []
    for spec in plan_tasks(config):
        loaded = _load(config, spec)
        loaded_tasks.append((spec, loaded))
        if isinstance(loaded, LoadedTasks):
            counts.update(request_counts(loaded, _limit_for(config, spec)))
        else:
            counts.update(loaded.request_counts(config.limit))
    for line in run_plan.header_lines(_planned(config, loaded_tasks), config.model):
        report(line)
    return RunOutcome(run_id=None, model=None, request_counts=counts)


def run(config: RunConfig, report: Reporter = log.info) -> RunOutcome:
    """Evaluate ``config.model`` on the planned tasks and store everything.

    SIGTERM is turned into :class:`Terminated` for the whole run, so a stopped run is
    marked failed at once (not left `running` until its heartbeat times out).
    """
    if config.dry_run:
        return dry_run(config)
    device = validate(config)
    with _interrupts_as_errors():
        return _run(config, device, report)


def _run(config: RunConfig, device: str, report: Reporter) -> RunOutcome:
    database = open_database(config.db)
    specs = plan_tasks(config)
    loaded_tasks = [(spec, _load(config, spec)) for spec in specs]  # fail on bad tasks before the model loads
    for line in run_plan.header_lines(_planned(config, loaded_tasks), config.model):
        report(line)  # the run header: what will run, said before the model loads
    model = resolve(config.model, config.backend_options())
    faults.point("model_resolved")
    identity = build_identity(config, model, device)
    judged = [t for _, t in loaded_tasks if not isinstance(t, LoadedTasks)]
    judge = judged_session.prepare(config, model, judged) if judged else None  # an unknown judge fails before anything is stored
    start = _start_or_resume(database, config, model, specs, identity, judge, report)
    run_id = start.run_id
    heartbeat = Heartbeat(database, run_id, start.attempt, start.started_at)
    cached_lm: CachedLM | None = None
    judge_handle = judged_session.JudgeHandle(judge, database, run_id, config.no_cache, config.show_progress) if judge else None
    try:
        faults.point("run_created")
        heartbeat.start()
        report(f"run {run_id}: {model.name} ({model.source}, sha256 {model.weights_sha256[:12]}) on {len(specs)} task(s)")
        cached_lm = _build_cached_lm(config, model, database, identity.key, run_id)
        merged: dict[str, Any] = {}
        for spec, loaded in loaded_tasks:
            # Tasks finished before an interruption are re-scored from the cache (no model calls),
            # which keeps --output complete and the stored numbers identical.
            report(f"task {spec.name}: evaluating")
            faults.point("task_started")
            if isinstance(loaded, LoadedTasks):
                results = _evaluate(config, cached_lm, spec, loaded)
                faults.point("task_scored")
                _store(database, run_id, config, model, cached_lm, loaded, results)
                faults.point("task_stored")
            else:  # a judged task: the model answers, the judge grades (both cached)
                assert judge_handle is not None  # prepared above for every judged task
                last = spec is loaded_tasks[-1][0]  # after the last one's answers the model is closed
                results = _evaluate_judged(database, run_id, config, cached_lm, loaded, judge_handle, report, last)
            results_layout.merge(merged, results)
        merged = results_layout.finalize(merged, config, model, run_id)
        if config.output is not None:  # before the run is marked complete: one truth for exit status and row
            _write_output(config.output, merged)
        faults.point("before_finish")
        judge_computed, judge_cached = (judge_handle.computed, judge_handle.cached) if judge_handle else (0, 0)
        queries.finish_run(database, run_id, computed=cached_lm.stats.computed + judge_computed, cached=cached_lm.stats.cached + judge_cached)
    except BaseException as exc:
        user_error = _as_user_error(exc, run_id)
        _record_failure(database, run_id, user_error, cached_lm, judge_handle)
        for raised in (exc, user_error):  # the model queue's summary names the stored run
            raised.failed_run_id = run_id  # type: ignore[attr-defined]
        if user_error is exc:
            raise
        raise user_error from exc
    finally:
        heartbeat.stop()
        database.close()
        if cached_lm is not None:
            close_backend(cached_lm.inner)
        if judge_handle is not None:
            judge_handle.close()
    stats = cached_lm.stats
    judge_computed, judge_cached = (judge_handle.computed, judge_handle.cached) if judge_handle else (0, 0)
    return RunOutcome(
        run_id=run_id, model=model, results=merged, computed=stats.computed + judge_computed, cached=stats.cached + judge_cached
    )


def _record_failure(
    database: Database, run_id: int, exc: BaseException, cached_lm: CachedLM | None, judge_handle: judged_session.JudgeHandle | None
) -> None:
    """Mark the run failed with what it computed; if the database refuses even that, leave it to the heartbeat.

    A read-only or unreachable database cannot take the failure either: the row stays
    `running`, its heartbeat stops with this process, and readers show it `interrupted`
    after the heartbeat timeout. The user still gets the original error, not this one.
    """
    stats = cached_lm.stats if cached_lm is not None else None
    judge_computed, judge_cached = (judge_handle.computed, judge_handle.cached) if judge_handle else (0, 0)
    try:
        queries.fail_run(
            database,
            run_id,
            _describe_failure(exc),
            computed=(stats.computed if stats else 0) + judge_computed,
            cached=(stats.cached if stats else 0) + judge_cached,
        )
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


def _load(config: RunConfig, spec: TaskSpec) -> LoadedTasks | JudgedTask:
    """lm-eval's task objects, or a judged task from the judged-task registry."""
    if is_judged(spec.name):
        return judged_task(spec.name)
    return load_tasks(
        [spec],
        data_dir=config.data_dir,
        text_file=config.text_file,
        num_fewshot=config.num_fewshot,
        include_path=list(config.include_path),
    )


def _planned(config: RunConfig, loaded_tasks: list[tuple[TaskSpec, LoadedTasks | JudgedTask]]) -> list[run_plan.PlannedTask]:
    """The run header's facts, in task order: lm-eval tasks from their Task objects, judged tasks from themselves."""
    planned: list[run_plan.PlannedTask] = []
    for _spec, loaded in loaded_tasks:
        if isinstance(loaded, LoadedTasks):
            planned.extend(run_plan.plan([loaded], config.limit))
        else:
            documents = loaded.documents(config.limit)
            source = f"{loaded.data_source()}, judged by {config.judge}"
            planned.append(run_plan.PlannedTask(loaded.name, 1, (0,), documents, loaded.available(), source))
    return planned


def _evaluate_judged(
    database: Database, run_id: int, config: RunConfig, lm: CachedLM, task: JudgedTask,
    judge: judged_session.JudgeHandle, report: Reporter, last: bool,
) -> dict[str, Any]:
    """Answer, judge and store a judged task; lm-eval's results layout of its scores."""
    outcome, results = judged_session.evaluate(task, config, lm, judge, run_id, report, last=last)
    samples = outcome.samples if config.log_samples else []
    queries.save_task_results(database, run_id, [task.name], outcome.metrics, samples)
    return results


def _limit_for(config: RunConfig, spec: TaskSpec) -> int | None:
    """An explicit --limit wins over a suite's per-task limit."""
    return config.limit if config.limit is not None else spec.limit


def _start_or_resume(
    database: Database, config: RunConfig, model: ModelSpec, specs: list[TaskSpec], identity: ModelIdentity,
    judge: judged_session.JudgeSetup | None = None, report: Reporter = log.info,
) -> queries.RunStart:
    """Open the run row: --resume ID, an unfinished run of the same config nobody works on, or a new one.

    Resuming (from any host) records this attempt's versions, hardware, host and start;
    the earlier attempts stay in ``run_attempt``. A judge's key is part of the run's
    identity (its config hash) and of its stored config (the board's comparability key).
    """
    config_hash = config.result_hash(identity.key if judge is None else f"{identity.key}|judge:{judge.key}")
    if config.resume is not None:
        existing = queries.get_run(database, config.resume).run
        origin = import_queries.import_origin(existing)
        if origin is not None:  # no requests, cache or process of it here: nothing to continue
            raise ConfigError(
                f"run {config.resume} was imported from {origin}: an imported run cannot be resumed here",
                "rerun it on its machine or pod, or start a new run here without --resume",
            )
        if existing.config_hash != config_hash:
            differences = config.result_differences(dict(existing.config or {}))
            raise ConfigError(
                f"run {config.resume} was made with "
                + (f"other options: {'; '.join(differences)}" if differences else "other weights or another model identity"),
                "repeat the original command with --resume, or start a new run without it",
            )
        return _resumed(queries.reopen_run(database, config.resume, versions=environment.package_versions(), hardware=environment.hardware()), report)
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
        dtype=config.dtype,
        architecture=model.architecture,
    )
    identity_row = queries.get_or_create_identity(database, identity.key, identity.as_columns())
    run_row = queries.create_run(
        database,
        model_id=model_row.id,
        identity_id=identity_row.id,
        backend=config.backend,
        config={**config.to_json(), **(judge.stored_config() if judge is not None else {})},
        config_hash=config_hash,
        tasks=[spec.name for spec in specs],
        suite=config.suite,
        seed=config.seeds["random"],
        apply_chat_template=config.apply_chat_template,
        system_instruction=config.system_instruction,
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


def _build_cached_lm(config: RunConfig, model: ModelSpec, database: Database, namespace: str, run_id: int) -> CachedLM:
    """The backend wrapped in the request cache under ``namespace`` (the model identity's key)."""
    inner = load_backend(model, config.backend_options())
    faults.point("backend_loaded")
    chunk = _env_number(ENV_CACHE_CHUNK, DEFAULT_CHUNK_SIZE, int)
    flush = _env_number(ENV_CACHE_FLUSH_S, DEFAULT_FLUSH_SECONDS, float)
    return CachedLM(
        inner,
        database,
        namespace,
        chunk_size=chunk,
        flush_seconds=flush if flush > 0 else None,
        run_id=run_id,
        refresh=config.no_cache,
        show_progress=config.show_progress,
    )


def _env_number(name: str, default: float, kind: type) -> Any:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return kind(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r} is not a number", f"unset {name} or set it to e.g. {default}") from exc


def _evaluate(config: RunConfig, lm: CachedLM, spec: TaskSpec, loaded: LoadedTasks) -> dict[str, Any]:
    import lm_eval

    seeds = config.seeds
    results = environment.without_git_noise(lm_eval.simple_evaluate)(
        model=lm,
        tasks=loaded.tasks,
        task_manager=loaded.manager,
        num_fewshot=None,  # load_tasks already set each task's shots (CLI > suite > task default)
        limit=_limit_for(config, spec),
        log_samples=True,
        apply_chat_template=config.apply_chat_template,
        fewshot_as_multiturn=config.multiturn_fewshot,
        system_instruction=config.system_instruction,
        gen_kwargs=config.generation_kwargs() or None,  # decoded and checked, as lm-eval's CLI parses them
        random_seed=seeds["random"],
        numpy_random_seed=seeds["numpy"],
        torch_random_seed=seeds["torch"],
        fewshot_random_seed=seeds["fewshot"],
    )
    if results is None:
        raise EvalsuiteError(f"lm-eval returned no results for {spec.name}")
    return dict(results)


def _store(
    database: Database,
    run_id: int,
    config: RunConfig,
    model: ModelSpec,
    lm: CachedLM,
    loaded: LoadedTasks,
    results: dict[str, Any],
) -> None:
    counter = results_layout.token_counter(lm, model)
    metrics, samples = results_layout.to_records(run_id, results, loaded, token_count=counter)
    if config.suite is not None:
        results_layout.add_suite_normalization(metrics, suites()[config.suite].metrics)
    if not config.log_samples:
        samples = []
    faults.point("metrics_built")
    task_names = sorted({m.task for m in metrics} | {s.task for s in samples})
    queries.save_task_results(database, run_id, task_names, metrics, samples)


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
        config = RunConfig(**results_layout.config_kwargs(stored))
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
        for spec in plan_tasks(config):
            loaded = _load(config, spec)
            if not isinstance(loaded, LoadedTasks):
                raise ConfigError(
                    f"run {run_id} has the judged task {spec.name}, which is not re-scored from the cache alone (it needs both tokenizers)",
                    "run the same `evalsuite run` command again: its answers and judgments come from the cache",
                )
            results = _evaluate_cached(config, lm, spec, loaded, run_id)
            _store(database, run_id, config, model, lm, loaded, results)
            results_layout.merge(merged, results)
    report(f"run {run_id} re-scored from {lm.stats.cached} cached requests in {time.perf_counter() - started:.1f}s")
    return RunOutcome(run_id=run_id, model=model, results=results_layout.finalize(merged, config, model, run_id), cached=lm.stats.cached)


def _evaluate_cached(config: RunConfig, lm: CachedLM, spec: TaskSpec, loaded: LoadedTasks, run_id: int) -> dict[str, Any]:
    """Evaluate from the cache alone; a --text-file that changed since the run is named as the cause, not the cache."""
    try:
        return _evaluate(config, lm, spec, loaded)
    except MissingFromCache as exc:
        if config.text_file is None:
            raise
        raise ConfigError(  # a missing file is refused before this, when the task is loaded
            f"run {run_id} measured perplexity on --text-file {config.text_file}, which has changed since "
            f"(its text makes other requests); {exc.message}",
            f"put the file back as it was for run {run_id}, or measure the new text with `evalsuite run --text-file {config.text_file}`",
        ) from exc


def _stored_namespace(database: Database, identity_id: int | None, config: RunConfig, model: ModelSpec) -> str:
    """The cache namespace a stored run used: its identity's key (rebuilt from the stored columns).

    Runs stored before identities were recorded used weights, revision and backend options only.
    """
    row = queries.get_identity(database, identity_id) if identity_id is not None else None
    if row is not None:
        return ModelIdentity.from_columns(row).key
    legacy = f"{model.weights_sha256}:{model.revision or ''}"
    return f"{legacy}|{config.backend}|{config.dtype}|{config.device}|{sorted(config.backend_args)}"
