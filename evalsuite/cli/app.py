"""The `evalsuite` command line: parse flags, call the library, print.

No logic lives here. Library errors (`EvalsuiteError`) are printed as one line,
``error: … — hint: …``, with exit status 1; any other exception is a bug and
keeps its traceback.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from evalsuite.cli.admin import admin_app
from evalsuite.cli.arena import arena_app
from evalsuite.cli.bundle import register as register_bundle_commands
from evalsuite.cli.cache import cache_app
from evalsuite.cli.common import (  # noqa: F401 (re-exported)
    DbOption,
    OneLineErrors,
    _console,
    console,
    err_console,
    handles_errors,
    report_progress,
)
from evalsuite.cli.compare import register as register_compare_command
from evalsuite.cli.metrics import metrics_app
from evalsuite.cli.options import HostOption, PortOption, takes_run_options
from evalsuite.cli.run_options import config_from_options
from evalsuite.cli.runpod import register_launch, runpod_app
from evalsuite.identity.run_config import RunConfig, check_writable_output
from evalsuite.redact import mask_secrets
from evalsuite.settings import default_db

app = typer.Typer(
    help="Evaluate language models, store the results in SQLite, compare them on a leaderboard and in an arena.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    cls=OneLineErrors,
)
results_app = typer.Typer(help="Read stored runs back from the database; import and bundle runs made elsewhere.", no_args_is_help=True)
app.add_typer(results_app, name="results")
register_bundle_commands(results_app)
register_compare_command(results_app)

def _print_version(value: bool) -> None:
    if value:
        from evalsuite.version import __version__

        _console().print(f"evalsuite {__version__}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print evalsuite's version and exit."),
) -> None:
    """Evaluate language models, store the results in SQLite, compare them on a leaderboard and in an arena."""
    from evalsuite.redact import mask_log_records

    mask_log_records()  # every command's log lines, from any library, with passwords and tokens masked


def _quiet_libraries(verbose: bool) -> None:
    """Libraries' chatter only with --verbose; evalsuite's own warnings always (a fallback that costs speed, a slow dtype)."""
    level = logging.INFO if verbose else logging.ERROR
    for name in ("lm_eval", "lm-eval", "transformers", "datasets", "vllm"):
        logging.getLogger(name).setLevel(level)
    logging.getLogger("evalsuite").setLevel(logging.INFO if verbose else logging.WARNING)
    if not verbose:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@app.command()
@handles_errors
@takes_run_options  # run's options are declared once, in evalsuite/cli/options.py
def run(**options: Any) -> None:
    """Evaluate a model (or a queue of models, each its own run) on tasks or a suite and store the results."""
    _quiet_libraries(options["verbose"])
    from evalsuite.execution import queue as model_queue
    from evalsuite.execution import runner

    models = model_queue.model_list(options["model"], options["models_file"])
    config = config_from_options(options, models[0])  # the one place flags become a RunConfig
    model_queue.refuse_gpu_sets(options["gpu_sets"])
    if len(models) > 1 or options["models_file"] is not None:
        _run_queue(config, models)
        return
    if options["dry_run"]:
        _print_dry_run(runner.dry_run(config, report=report_progress))
        return
    outcome = runner.run(config, report=report_progress)  # the run header first, then progress
    _print_run_metrics(outcome.run_id, config.outputs.db)
    _print_run_footer(outcome, config.outputs.db, options["output"])


register_launch(run)  # `runpod launch` offers run's own options (evalsuite/cli/runpod.py)


def _run_queue(config: RunConfig, models: tuple[str, ...]) -> None:
    """Every model in turn here, or as Ray tasks (``--executor ray``), then a summary; exit status 1 when any model failed."""
    from evalsuite.execution import queue as model_queue
    from evalsuite.execution import runner
    from evalsuite.execution.resolve import resolve

    config = resolve(config)
    model_queue.check_queue_config(config)
    runner.validate(config)  # flags checked once, before the first model loads
    configs = [config.with_changes(model=name) for name in models]
    on_ray = config.controls.executor == "ray"
    if on_ray:
        from evalsuite.execution import ray_queue

        results = ray_queue.run_queue_on_ray(configs, report_progress)
    else:
        results = model_queue.run_queue(configs, report_progress)
    _print_queue_summary(results, config.outputs.db, show_placement=on_ray)
    failed = [result.model for result in results if result.status != model_queue.COMPLETE]
    summary = f"{len(results) - len(failed)} of {len(results)} models complete" + (f"; failed: {', '.join(failed)}" if failed else "")
    _console(stderr=True).print(Text(summary, style="red" if failed else "green"), highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def _print_queue_summary(results: list[Any], db: str, show_placement: bool) -> None:
    from evalsuite.execution import queue as model_queue

    table = Table(title=f"queue: {len(results)} models, stored in {mask_secrets(db)}")
    for column in ("model", "run", "status", "seconds", *(("ran on",) if show_placement else ()), "main numbers / error"):
        table.add_column(column, overflow="fold")
    for result in results:
        detail = model_queue.main_numbers(db, result.run_id) if result.status == model_queue.COMPLETE and result.run_id is not None else result.error or ""
        placed = (result.placed or "",) if show_placement else ()
        table.add_row(result.model, "—" if result.run_id is None else str(result.run_id), result.status, f"{result.seconds:.1f}", *placed, Text(detail))
    _console().print(table)


def _print_run_footer(outcome: Any, db: str, output: Path | None) -> None:
    """The last line of a run: what was computed, where it is stored, and how to read it back."""
    db_option = "" if db == default_db() else f" --db {shlex.quote(mask_secrets(db))}"  # a command to paste (password masked)
    text = Text.assemble(
        (f"run {outcome.run_id} complete", "green"),
        f": {outcome.computed} requests computed, {outcome.cached} from cache; stored in {mask_secrets(db)}",
        f" (evalsuite results show {outcome.run_id}{db_option})",
        f"; lm-eval results JSON written to {output}" if output else "",
    )
    _console(stderr=True).print(text, highlight=False, soft_wrap=True)


def _print_dry_run(outcome: Any) -> None:
    table = Table(title="dry run: requests per task (no model loaded)")
    table.add_column("task")
    table.add_column("requests", justify="right")
    for task, count in outcome.request_counts.items():
        table.add_row(task, str(count))
    table.add_row("[bold]total[/]", f"[bold]{sum(outcome.request_counts.values())}[/]")
    _console().print(table)


def _format_score(value: float | None, stderr: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:.4f}"
    return f"{text} ± {stderr:.4f}" if stderr is not None else text


def _print_run_metrics(run_id: int | None, db: str) -> None:
    from evalsuite.store import queries
    from evalsuite.store.db import open_database

    if run_id is None:
        return
    with open_database(db, create=False) as database:
        detail = queries.get_run(database, run_id)
    table = Table(title=f"run {run_id}: {detail.model.name} [{detail.run.backend}] — {detail.run.status}")
    for column in ("task", "metric", "filter", "value ± stderr", "n", "shots"):
        table.add_column(column, justify="right" if column in ("n", "shots", "value ± stderr") else "left")
    for metric in detail.metrics:
        arrow = "↑" if metric.higher_is_better else "↓" if metric.higher_is_better is False else ""
        table.add_row(
            metric.task,
            f"{metric.metric} {arrow}",
            metric.filter,
            _format_score(metric.value, metric.stderr),
            str(metric.n_samples or ""),
            "" if metric.n_shot is None else str(int(metric.n_shot)),
        )
    _console().print(table)


@app.command()
@handles_errors
def rescore(
    run_id: int = typer.Argument(..., help="A stored run whose requests are all cached."),
    db: str | None = DbOption,
) -> None:
    """Recompute a run's metrics from its cached model answers, without loading the model."""
    _quiet_libraries(False)
    from evalsuite.execution import runner

    outcome = runner.rescore(run_id, db or default_db(), report=lambda line: _console(stderr=True).print(f"[dim]{line}[/]"))
    _print_run_metrics(outcome.run_id, db or default_db())


@app.command("tasks")
@handles_errors
def list_tasks(
    all_tasks: bool = typer.Option(False, "--all", help="Also list lm-eval's ~14,000 built-in tasks (indexed once, then cached)."),
) -> None:
    """List tasks and suites with their metrics and where their data comes from."""
    from evalsuite.judged import judged_task, judged_task_names
    from evalsuite.tasks.loading import catalog

    table = Table(title="evalsuite tasks and suites")
    for column in ("name", "kind", "output", "metrics", "data"):
        table.add_column(column, overflow="fold")
    for info in catalog(include_builtin=all_tasks):
        table.add_row(info.name, info.kind, info.output_type or "", ", ".join(info.metrics), info.data_source)
    for name in judged_task_names():  # graded by a judge model: --tasks NAME --judge J
        task = judged_task(name)
        table.add_row(name, "judged task", "generate_until + judge", ", ".join(task.metrics), f"{task.data_source()}; {task.description}")
    _console().print(table)


@results_app.command("list")
@handles_errors
def results_list(
    db: str | None = DbOption,
    status: str | None = typer.Option(None, help="Only runs in this status: running, interrupted (heartbeat stopped), complete, failed."),
    model: str | None = typer.Option(None, help="Only models whose name contains this text."),
) -> None:
    """List stored runs, newest first (seconds: the sum of the run's attempts, not the time it lay dead)."""
    from evalsuite.store import queries
    from evalsuite.store.db import open_database

    with open_database(db or default_db(), create=False) as database:
        runs = queries.list_runs(database, status=status, model=model)
    table = Table(title=f"runs in {mask_secrets(db or default_db())}")
    for column in ("id", "model", "backend", "status", "tasks", "started", "seconds", "attempts"):
        table.add_column(column)
    for summary in runs:
        table.add_row(
            str(summary.id),
            summary.model,
            summary.backend,
            summary.status,
            ",".join(summary.tasks),
            summary.started_at.strftime("%Y-%m-%d %H:%M"),
            f"{summary.duration_s:.1f}" if summary.duration_s is not None else "",
            str(summary.attempts),
        )
    _console().print(table)


@results_app.command("show")
@handles_errors
def results_show(run_id: int = typer.Argument(..., help="Run id from `evalsuite results list`."), db: str | None = DbOption) -> None:
    """Show one run's configuration and scores."""
    from evalsuite.store import queries
    from evalsuite.store.db import open_database

    with open_database(db or default_db(), create=False) as database:
        detail = queries.get_run(database, run_id)
        attempts = queries.run_attempts(database, run_id)
    run_row = detail.run
    _console().print(f"[bold]run {run_id}[/] — {detail.model.name} ({detail.model.source}) — {run_row.status}")
    _console().print(f"weights sha256 {detail.model.weights_sha256}; backend {run_row.backend}; seed {run_row.seed}; chat template {run_row.apply_chat_template}")
    _print_parallelism(run_row)
    if run_row.error:
        _console().print(f"[red]error:[/] {run_row.error}")
    if run_row.status in ("interrupted", "failed"):
        from evalsuite.store.import_queries import import_origin

        origin = import_origin(run_row)
        if origin is None:
            _console().print(f"resume it with `evalsuite run ... --resume {run_id}` (from any host; finished requests are kept)", highlight=False)
        else:
            _console().print(f"imported from {origin}: an imported run cannot be resumed here; rerun it on its machine or pod", highlight=False, markup=False, soft_wrap=True)
    _console().print(f"requests: {run_row.requests_computed} computed, {run_row.requests_cached} from cache")
    _print_attempts(attempts, run_row.status)
    if run_row.requests_cached:  # a run that reused no answer has no cache sources to name
        _print_cache_sources(run_id, db or default_db())
    _print_run_metrics(run_id, db or default_db())


def _print_parallelism(run_row: Any) -> None:
    """vLLM runs: the parallel layout they were given; any run: the GPUs it was given (CUDA_VISIBLE_DEVICES, set by Ray for a queued model)."""
    from evalsuite.backends.parallelism import describe

    stored = (run_row.config or {}).get("parallelism")
    if stored:
        _console().print(describe(stored), highlight=False)
    visible = (run_row.hardware or {}).get("cuda_visible_devices")
    if visible is not None:
        _console().print(f"CUDA_VISIBLE_DEVICES={visible}", highlight=False)


def _print_attempts(attempts: list[Any], run_status: str) -> None:
    """One line per attempt: a resumed run says where, when and with what each part was computed."""
    total = sum(a.duration_s or 0.0 for a in attempts)
    _console().print(f"{len(attempts)} attempt(s), {total:.1f} s in all", highlight=False)
    for a in attempts:
        versions = a.versions or {}
        libraries = ", ".join(f"{name} {versions[name]}" for name in ("evalsuite", "lm_eval", "torch") if name in versions)
        outcome = "interrupted (no heartbeat)" if a.outcome == "running" and run_status == "interrupted" else a.outcome
        _console().print(
            f"  attempt {a.attempt}: {outcome} on {a.host} (pid {a.pid}), started {a.started_at:%Y-%m-%d %H:%M:%S}, "
            f"{a.duration_s or 0.0:.1f} s; {libraries}",
            highlight=False,
        )


def _print_cache_sources(run_id: int, db: str) -> None:
    """Which earlier runs computed the cached answers this run's model identity could reuse."""
    from evalsuite.store import queries
    from evalsuite.store.db import open_database

    with open_database(db) as database:
        sources = queries.cache_sources(database, run_id)
    if sources:
        parts = [f"run {s.run_id}: {s.answers}" if s.run_id is not None else f"unrecorded runs: {s.answers}" for s in sources]
        _console().print(f"cached answers for this model identity from earlier runs — {'; '.join(parts)}", highlight=False)


@results_app.command("export")
@handles_errors
def results_export(
    db: str | None = DbOption,
    format: str = typer.Option("json", "--format", "-f", help="json, csv, md (a table for a model card) or autoeval (LLM AutoEval's "
        "Markdown summary of one --run of the nous suite); any case."),
    view: str = typer.Option(
        "all", "--view",
        help="all (every task, as on the leaderboard), a suite (its score, ranked: quick, open-llm-v1, ...), "
        "or rows (one row per stored score of every run).",
    ),
    run: list[int] = typer.Option([], "--run", help="Only these run ids (repeatable) \\[default: all]."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to a file (missing folders are made) instead of stdout."),
) -> None:
    """Export stored scores by the leaderboard's rules, as JSON, CSV or a Markdown table."""
    from evalsuite.formats import export
    from evalsuite.store.db import open_database

    export.check_format(format)
    export.check_view(view)
    if output:
        check_writable_output(output, "--output")  # before any work, as `run --output`
    with open_database(db or default_db(), create=False) as database:
        text = export.render(database, format, run_ids=run or None, view=view)
    if output:
        export.write(output, text)
        _console(stderr=True).print(f"wrote {output}")
    else:
        sys.stdout.write(text)


@app.command()
@handles_errors
def leaderboard(
    db: str | None = DbOption,
    port: int = PortOption,
    host: str = HostOption,
) -> None:
    """Open the Streamlit leaderboard on the database."""
    from evalsuite.cli import app_launcher

    raise typer.Exit(app_launcher.launch(db or default_db(), port=port, host=host))


app.add_typer(arena_app, name="arena")
app.add_typer(cache_app, name="cache")
app.add_typer(runpod_app, name="runpod")
app.add_typer(admin_app, name="admin")
app.add_typer(metrics_app, name="metrics")


def main() -> None:
    """The `evalsuite` console command: run it, then leave without the interpreter's teardown.

    Once a command has finished (everything stored, exit handlers run, output flushed), freeing
    torch's, datasets' and lm-eval's objects one by one takes ~1.7 s that nobody waits for
    gladly (bench/notes/tasks.md). The process then ends with ``os._exit``. A traceback (a bug)
    and Ctrl-C take the ordinary way out, and so does a process with other threads still at work.
    """
    try:
        app()
    except SystemExit as stop:
        _leave(stop)
        raise


def _leave(stop: SystemExit) -> None:
    """End the process now with ``stop``'s status, as ``sys.exit`` would, once nothing is left to do."""
    import atexit
    import threading

    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate() if thread is not threading.main_thread()):
        return  # someone else's work: the ordinary exit waits for it
    code = stop.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()  # logging's flush, databases closed (store.db), child processes joined
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    main()
