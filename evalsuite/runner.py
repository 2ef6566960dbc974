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

from evalsuite import environment, results_layout
from evalsuite.backends import close_backend
from evalsuite.backends.cache import DEFAULT_CHUNK_SIZE, CachedLM
from evalsuite.config import RunConfig
from evalsuite.errors import ConfigError, DatabaseError, EvalsuiteError
from evalsuite.models import ModelSpec, resolve_model
from evalsuite.store import queries
from evalsuite.store.db import Database, open_database
from evalsuite.tasks import LoadedTasks, TaskSpec, load_tasks, request_counts, select_tasks, suites

log = logging.getLogger(__name__)
# Requests computed between two commits of the request cache: smaller loses less on a crash.
ENV_CACHE_CHUNK = "EVALSUITE_CACHE_CHUNK"
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
    default_hint = "resume it with `evalsuite run ... --resume RUN_ID` (finished requests are kept)"


def plan_tasks(config: RunConfig) -> list[TaskSpec]:
    """The task list of a run: --tasks, --suite, or a perplexity task over --text-file."""
    return select_tasks(list(config.tasks) or None, config.suite, text_file=config.text_file)


def dry_run(config: RunConfig) -> RunOutcome:
    """Count the requests each task would send, without loading any model."""
    counts: dict[str, int] = {}
    for spec in plan_tasks(config):
        loaded = _load(config, spec)
        counts.update(request_counts(loaded, _limit_for(config, spec)))
    return RunOutcome(run_id=None, model=None, request_counts=counts)


def run(config: RunConfig, report: Reporter = log.info) -> RunOutcome:
    """Evaluate ``config.model`` on the planned tasks and store everything."""
    if config.dry_run:
        return dry_run(config)
    database = open_database(config.db)
    specs = plan_tasks(config)
    loaded_tasks = [(spec, _load(config, spec)) for spec in specs]  # fail on bad tasks before the model loads
    model = resolve_model(config.model, revision=config.revision, trust_remote_code=config.trust_remote_code)
    run_id = _start_or_resume(database, config, model, specs)
    report(f"run {run_id}: {model.name} ({model.source}, sha256 {model.weights_sha256[:12]}) on {len(specs)} task(s)")
    cached_lm: CachedLM | None = None
    try:
        with _interrupts_as_errors():
            cached_lm = _build_cached_lm(config, model, database)
            merged: dict[str, Any] = {}
            for spec, loaded in loaded_tasks:
                # Tasks finished before an interruption are re-scored from the cache (no model calls),
                # which keeps --output complete and the stored numbers identical.
                report(f"task {spec.name}: evaluating")
                results = _evaluate(config, cached_lm, spec, loaded)
                _store(database, run_id, config, model, cached_lm, loaded, results)
                results_layout.merge(merged, results)
        queries.finish_run(database, run_id, computed=cached_lm.stats.computed, cached=cached_lm.stats.cached)
    except BaseException as exc:
        stats = cached_lm.stats if cached_lm is not None else None
        queries.fail_run(
            database,
            run_id,
            _describe_failure(exc),
            computed=stats.computed if stats else 0,
            cached=stats.cached if stats else 0,
        )
        raise
    finally:
        database.close()
        if cached_lm is not None:
            close_backend(cached_lm.inner)
    merged = results_layout.finalize(merged, config, model, run_id)
    if config.output is not None:
        _write_output(config.output, merged)
    stats = cached_lm.stats
    return RunOutcome(run_id=run_id, model=model, results=merged, computed=stats.computed, cached=stats.cached)


def _load(config: RunConfig, spec: TaskSpec) -> LoadedTasks:
    return load_tasks(
        [spec],
        data_dir=config.data_dir,
        text_file=config.text_file,
        num_fewshot=config.num_fewshot,
        include_path=list(config.include_path),
    )


def _limit_for(config: RunConfig, spec: TaskSpec) -> int | None:
    """An explicit --limit wins over a suite's per-task limit."""
    return config.limit if config.limit is not None else spec.limit


def _start_or_resume(database: Database, config: RunConfig, model: ModelSpec, specs: list[TaskSpec]) -> int:
    """Open the run row: --resume ID, an unfinished run of the same config, or a new one."""
    config_hash = config.result_hash(model.identity)
    resumable = None
    if config.resume is not None:
        resumable = queries.get_run(database, config.resume).run
        if resumable.config_hash != config_hash:
            raise ConfigError(
                f"run {config.resume} was made with another configuration or other weights",
                "repeat the original command with --resume, or start a new run without it",
            )
    else:
        resumable = queries.find_resumable_run(database, config_hash)
    if resumable is not None and resumable.id is not None:
        queries.reopen_run(database, resumable.id)
        return resumable.id
    model_row = queries.get_or_create_model(
        database,
        name=model.name,
        source=str(model.path) if model.source != "hub" else model.name,
        revision=model.revision,
        weights_sha256=model.weights_sha256,
        params=model.params,
        dtype=config.dtype,
        architecture=model.architecture,
    )
    run_row = queries.create_run(
        database,
        model_id=model_row.id,
        backend=config.backend,
        config=config.to_json(),
        config_hash=config_hash,
        tasks=[spec.name for spec in specs],
        suite=config.suite,
        seed=config.seeds["random"],
        apply_chat_template=config.apply_chat_template,
        system_instruction=config.system_instruction,
        versions=environment.package_versions(),
        hardware=environment.hardware(),
    )
    return int(run_row.id or 0)


def _build_cached_lm(config: RunConfig, model: ModelSpec, database: Database) -> CachedLM:
    from evalsuite.backends import build_backend

    namespace = f"{model.identity}|{config.backend}|{config.dtype}|{config.device}|{sorted(config.backend_args)}"
    inner = build_backend(config, model)
    chunk = int(os.environ.get(ENV_CACHE_CHUNK, DEFAULT_CHUNK_SIZE))
    return CachedLM(inner, database, namespace, chunk_size=chunk, show_progress=config.show_progress)


def _evaluate(config: RunConfig, lm: CachedLM, spec: TaskSpec, loaded: LoadedTasks) -> dict[str, Any]:
    import lm_eval

    seeds = config.seeds
    results = lm_eval.simple_evaluate(
        model=lm,
        tasks=loaded.tasks,
        task_manager=loaded.manager,
        num_fewshot=None,  # load_tasks already set each task's shots (CLI > suite > task default)
        limit=_limit_for(config, spec),
        log_samples=True,
        apply_chat_template=config.apply_chat_template,
        fewshot_as_multiturn=config.multiturn_fewshot,
        system_instruction=config.system_instruction,
        gen_kwargs=dict(config.gen_kwargs) or None,
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
    task_names = sorted({m.task for m in metrics} | {s.task for s in samples})
    queries.save_task_results(database, run_id, task_names, metrics, samples)


@contextmanager
def _interrupts_as_errors() -> Iterator[None]:
    """SIGTERM (a pod being stopped) fails the run cleanly instead of leaving it 'running'."""

    def on_term(signum: int, _frame: FrameType | None) -> None:
        raise RunInterrupted(f"interrupted by signal {signum}")

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
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C); resume with --resume"
    if isinstance(exc, EvalsuiteError):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _write_output(path: Path, results: dict[str, Any]) -> None:
    from lm_eval.utils import handle_non_serializable

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, default=handle_non_serializable, ensure_ascii=False))
    except OSError as exc:
        raise DatabaseError(f"cannot write --output {path}: {exc.strerror}", "choose a writable --output path") from exc


def rescore(run_id: int, db: str, report: Reporter = log.info) -> RunOutcome:
    """Recompute a finished run's metrics from its cached requests, without the model."""
    database = open_database(db)
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
    )
    namespace = f"{model.identity}|{config.backend}|{config.dtype}|{config.device}|{sorted(config.backend_args)}"
    lm = CachedLM(None, database, namespace, show_progress=False)
    merged: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        for spec in plan_tasks(config):
            loaded = _load(config, spec)
            results = _evaluate(config, lm, spec, loaded)
            _store(database, run_id, config, model, lm, loaded, results)
            results_layout.merge(merged, results)
    finally:
        database.close()
    report(f"run {run_id} re-scored from {lm.stats.cached} cached requests in {time.perf_counter() - started:.1f}s")
    return RunOutcome(run_id=run_id, model=model, results=results_layout.finalize(merged, config, model, run_id), cached=lm.stats.cached)
