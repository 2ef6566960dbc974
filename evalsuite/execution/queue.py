"""The model queue: several models, each its own run, one at a time here (or several at once on Ray).

`evalsuite run --model A --model B` (or ``--models-file F``) evaluates the models
one after another; each is loaded, evaluated, stored and closed (its memory freed)
before the next loads. They run in this process, except with a backend the registry
marks ``child_process`` (vLLM: its engine and workers are only reliably gone when
their process ends), which gets a fresh process per model, as below. A model that fails is recorded (its run,
if one was stored, is marked failed by the runner) and the queue goes on; the CLI
prints a summary and exits non-zero when any model failed.

With ``--executor ray`` the models run as Ray tasks instead, as many at once as the
cluster has room for (:mod:`evalsuite.execution.ray_queue`); the checks, the one-model
run and the summary below are shared.
"""

from __future__ import annotations

import gc
import json
import logging
import pickle
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evalsuite.backends.registry import backend_entry
from evalsuite.errors import ConfigError, EvalsuiteError
from evalsuite.identity.run_config import RunConfig

Reporter = Callable[[str], None]
COMPLETE, FAILED = "complete", "failed"
_MODELS_FILE_HINT = "write one model per line (hub id, local directory or demo alias); lines starting with # are comments"


@dataclass(frozen=True)
class QueueResult:
    """One model's outcome: its run (None when it failed before a run was stored), status, time and where it ran (Ray: node and GPUs)."""

    model: str
    status: str
    run_id: int | None
    seconds: float
    error: str | None = None
    placed: str | None = None


def read_models_file(path: Path) -> tuple[str, ...]:
    """The models listed in ``path``: one per line, ``#`` starts a comment, blank lines skipped.

    Checked whole before anything runs: a missing, unreadable or empty file, a line with
    two words, or a model listed twice is a user error naming the line.
    """
    flag = f"--models-file {path}"
    if not path.is_file():
        raise ConfigError(f"{flag}: {'is a directory' if path.is_dir() else 'no such file'}", _MODELS_FILE_HINT)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{flag} cannot be read as UTF-8 text: {exc}", _MODELS_FILE_HINT) from exc
    models: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not entry:
            continue
        if len(entry.split()) > 1:
            raise ConfigError(f"{flag} line {number}: {entry!r} is more than one word", _MODELS_FILE_HINT)
        models.append(entry)
    if not models:
        raise ConfigError(f"{flag} lists no models", _MODELS_FILE_HINT)
    return tuple(models)


def model_list(models: Sequence[str], models_file: Path | None) -> tuple[str, ...]:
    """``--model`` values then the file's models; none at all, or one twice, is a user error."""
    found = tuple(models) + (read_models_file(models_file) if models_file is not None else ())
    if not found:
        raise ConfigError("no model given", "pass --model M (repeatable) or --models-file FILE")
    repeated = sorted({model for model in found if found.count(model) > 1})
    if repeated:
        raise ConfigError(f"model listed twice: {', '.join(repeated)}", "list each model once (a second run of the same model is `evalsuite run` again)")
    return found


def refuse_gpu_sets(values: Sequence[str]) -> None:
    """``--gpu-sets`` (the worker pool before Ray) is refused with the way that replaced it.

    It does not map onto Ray: Ray picks each model's GPUs from its request (tensor x pipeline
    size) and sets ``CUDA_VISIBLE_DEVICES`` itself, on any node of the cluster.
    """
    if values:
        raise ConfigError(
            f"--gpu-sets {' --gpu-sets '.join(values)}: the GPU-set worker pool is replaced by Ray",
            "run the queue with --executor ray: each model gets tensor x pipeline GPUs, as many models at once as the GPUs hold",
        )


def check_queue_config(config: RunConfig) -> None:
    """Options that name one run cannot apply to a queue of several."""
    for flag, value in (("--resume", config.controls.resume), ("--output", config.outputs.output)):
        if value is not None:
            raise ConfigError(f"{flag} applies to one model, not a queue", f"drop {flag} (use `evalsuite results export --run ID` for files)")
    if config.controls.dry_run:
        raise ConfigError("--dry-run applies to one model, not a queue", "dry-run one model: request counts do not depend on the model")


def run_one(config: RunConfig, report: Reporter, placed: str | None = None) -> QueueResult:
    """Run one model, catching its failure so the queue can go on (Ctrl-C and SIGTERM still stop it)."""
    from evalsuite.execution import runner

    started = time.perf_counter()
    try:
        outcome = runner.run(config, report=report)
    except runner.RunInterrupted:
        raise
    except EvalsuiteError as exc:
        return QueueResult(config.model.name, FAILED, getattr(exc, "failed_run_id", None), time.perf_counter() - started, exc.message, placed)
    except Exception as exc:  # a bug or a crash mid-run: keep its traceback visible, and go on
        for line in traceback.format_exc().splitlines():
            report(line)
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return QueueResult(config.model.name, FAILED, getattr(exc, "failed_run_id", None), time.perf_counter() - started, error, placed)
    return QueueResult(config.model.name, COMPLETE, outcome.run_id, time.perf_counter() - started, None, placed)


def run_queue(configs: Sequence[RunConfig], report: Reporter) -> list[QueueResult]:
    """Each config in turn: in this process, or in a child per model for a backend that needs a fresh one (vLLM).

    The runner closes each backend; what it leaves (Python objects, torch's CUDA cache) is freed before the next loads.
    """
    results = []
    for number, config in enumerate(configs, start=1):
        report(f"queue: model {number} of {len(configs)}: {config.model.name}")
        if backend_entry(config.model.backend).capabilities.child_process:
            results.append(_run_in_child(config))
        else:
            results.append(run_one(config, report))
            _free_memory()
    return results


def _free_memory() -> None:
    """Drop the finished model's objects and return torch's cached GPU blocks before the next model loads."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _run_in_child(config: RunConfig) -> QueueResult:
    """``python -m evalsuite.execution.queue``: one model in a fresh interpreter; its result comes back as JSON."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="evalsuite-queue-") as folder:
        config_path, result_path = Path(folder) / "config.pickle", Path(folder) / "result.json"
        config_path.write_bytes(pickle.dumps((config, log_levels())))  # our own objects, to our own child
        completed = subprocess.run([sys.executable, "-m", "evalsuite.execution.queue", str(config_path), str(result_path)], check=False)
        if result_path.is_file():
            return QueueResult(**json.loads(result_path.read_text()))
    error = f"worker process exited with status {completed.returncode} before reporting"
    return QueueResult(config.model.name, FAILED, None, time.perf_counter() - started, error)


def log_levels() -> dict[str, int]:
    """Levels the parent's command set on top-level loggers (lm_eval, transformers, vllm, ...), for its children and Ray workers."""
    loggers = logging.root.manager.loggerDict.items()
    return {name: logger.level for name, logger in loggers if isinstance(logger, logging.Logger) and "." not in name and logger.level}


def _child_main(config_path: str, result_path: str) -> int:
    """The child process: run one model, write its result."""
    config, levels = pickle.loads(Path(config_path).read_bytes())  # noqa: S301 - written by our parent process
    for name, level in levels.items():  # quiet (or verbose) as the parent's command was
        logging.getLogger(name).setLevel(level)

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        result = run_one(config, report)
    except EvalsuiteError as exc:  # interrupted: the run is stored as failed, the parent stops the queue
        report(f"error: {exc}")
        return 130
    Path(result_path).write_text(json.dumps(asdict(result)))
    return 0


def main_numbers(db: str, run_id: int) -> str:
    """The first stored metric of each task of a run, for the queue's summary."""
    from evalsuite.store import queries
    from evalsuite.store.db import open_database

    with open_database(db, create=False) as database:
        metrics = queries.get_run(database, run_id).metrics
    first: dict[str, Any] = {}
    for metric in metrics:
        first.setdefault(metric.task, metric)
    return ", ".join(f"{m.task} {m.metric} {m.value:.4f}" for m in first.values() if m.value is not None)


if __name__ == "__main__":
    raise SystemExit(_child_main(*sys.argv[1:3]))
