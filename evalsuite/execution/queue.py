"""The model queue: several models, each its own run, one at a time (per GPU set).

`evalsuite run --model A --model B` (or ``--models-file F``) evaluates the models
one after another; each is loaded, evaluated, stored and closed (its memory freed)
before the next loads. They run in this process, except with a backend the registry
marks ``child_process`` (vLLM: its engine and workers are only reliably gone when
their process ends), which gets a fresh process per model, as below. A model that fails is recorded (its run,
if one was stored, is marked failed by the runner) and the queue goes on; the CLI
prints a summary and exits non-zero when any model failed.

With ``--gpu-sets 0,1 --gpu-sets 2,3`` there is one worker per set: each takes the
next model from the shared queue and runs it in a fresh ``python -m evalsuite.execution.queue``
process whose ``CUDA_VISIBLE_DEVICES`` is that set. A process per model, not per
set, because a model's GPU memory (vLLM's engine, CUDA caches) is only reliably
returned when its process exits. The runs land in the one database, as concurrent
runs always may (SQLite WAL or PostgreSQL).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evalsuite.backends.parallelism import Parallelism
from evalsuite.backends.registry import backend_entry
from evalsuite.errors import ConfigError, EvalsuiteError
from evalsuite.identity.run_config import RunConfig

Reporter = Callable[[str], None]
VISIBLE_DEVICES_ENV = "CUDA_VISIBLE_DEVICES"
COMPLETE, FAILED = "complete", "failed"
_MODELS_FILE_HINT = "write one model per line (hub id, local directory or demo alias); lines starting with # are comments"


@dataclass(frozen=True)
class QueueResult:
    """One model's outcome: its run (None when it failed before a run was stored), status and time."""

    model: str
    status: str
    run_id: int | None
    seconds: float
    error: str | None = None
    gpu_set: str | None = None


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


def parse_gpu_sets(values: Sequence[str]) -> tuple[str, ...]:
    """``--gpu-sets 0,1`` values as CUDA_VISIBLE_DEVICES strings; a GPU may belong to one set only."""
    sets: list[str] = []
    seen: set[int] = set()
    for value in values:
        parts = [part.strip() for part in value.split(",")]
        if not all(part.isascii() and part.isdigit() for part in parts):  # "²".isdigit() is true; int() refuses it
            raise ConfigError(f"--gpu-sets {value!r} is not a comma-separated list of GPU indices", "write e.g. --gpu-sets 0,1 --gpu-sets 2,3")
        indices = [int(part) for part in parts]
        if len(set(indices)) != len(indices) or seen.intersection(indices):
            raise ConfigError(f"--gpu-sets {value!r}: a GPU may appear in one set, once", "give each set its own GPUs, e.g. --gpu-sets 0,1 --gpu-sets 2,3")
        seen.update(indices)
        sets.append(",".join(map(str, indices)))
    return tuple(sets)


def check_queue_config(config: RunConfig, gpu_sets: Sequence[str] = ()) -> None:
    """Options that name one run cannot apply to a queue of several; each GPU set must hold one engine (``config``: resolved)."""
    for flag, value in (("--resume", config.controls.resume), ("--output", config.outputs.output)):
        if value is not None:
            raise ConfigError(f"{flag} applies to one model, not a queue", f"drop {flag} (use `evalsuite results export --run ID` for files)")
    if config.controls.dry_run:
        raise ConfigError("--dry-run applies to one model, not a queue", "dry-run one model: request counts do not depend on the model")
    parallelism = Parallelism(**config.parallelism) if config.parallelism is not None else None
    if parallelism is None or parallelism.executor == "ray" or parallelism.nnodes > 1:
        return  # one device per run, or an engine that spans nodes (Ray places it)
    for gpu_set in gpu_sets:
        if parallelism.world_size > len(gpu_set.split(",")):
            raise ConfigError(
                f"--gpu-sets {gpu_set} has {len(gpu_set.split(','))} GPU(s), but tensor x pipeline parallel size is {parallelism.world_size}",
                f"give every set {parallelism.world_size} GPUs, e.g. --gpu-sets {','.join(map(str, range(parallelism.world_size)))}",
            )


def run_one(config: RunConfig, report: Reporter, gpu_set: str | None = None) -> QueueResult:
    """Run one model, catching its failure so the queue can go on (Ctrl-C and SIGTERM still stop it)."""
    from evalsuite.execution import runner

    started = time.perf_counter()
    try:
        outcome = runner.run(config, report=report)
    except runner.RunInterrupted:
        raise
    except EvalsuiteError as exc:
        return QueueResult(config.model.name, FAILED, getattr(exc, "failed_run_id", None), time.perf_counter() - started, exc.message, gpu_set)
    except Exception as exc:  # a bug or a crash mid-run: keep its traceback visible, and go on
        for line in traceback.format_exc().splitlines():
            report(line)
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return QueueResult(config.model.name, FAILED, getattr(exc, "failed_run_id", None), time.perf_counter() - started, error, gpu_set)
    return QueueResult(config.model.name, COMPLETE, outcome.run_id, time.perf_counter() - started, None, gpu_set)


def run_queue(configs: Sequence[RunConfig], report: Reporter) -> list[QueueResult]:
    """Each config in turn: in this process, or in a child per model for a backend that needs a fresh one (vLLM).

    The runner closes each backend; what it leaves (Python objects, torch's CUDA cache) is freed before the next loads.
    """
    results = []
    for number, config in enumerate(configs, start=1):
        report(f"queue: model {number} of {len(configs)}: {config.model.name}")
        if backend_entry(config.model.backend).capabilities.child_process:
            results.append(_run_in_child(config, None))
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


def run_queue_on_gpu_sets(configs: Sequence[RunConfig], gpu_sets: Sequence[str], report: Reporter) -> list[QueueResult]:
    """One worker thread per GPU set, each running the next queued model in a child process on its set."""
    pending: queue.SimpleQueue[tuple[int, RunConfig]] = queue.SimpleQueue()
    for item in enumerate(configs):
        pending.put(item)
    results: list[QueueResult | None] = [None] * len(configs)
    stop = threading.Event()  # set on Ctrl-C: the workers take no further model (their children got the signal too)

    def worker(gpu_set: str) -> None:
        while not stop.is_set():
            try:
                index, config = pending.get_nowait()
            except queue.Empty:
                return
            report(f"queue: {config.model.name} on GPUs {gpu_set}")
            results[index] = _run_in_child(config, gpu_set)

    threads = [threading.Thread(target=worker, args=(gpu_set,), name=f"gpus-{gpu_set}") for gpu_set in gpu_sets]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        stop.set()
        for thread in threads:
            thread.join()
        raise
    return [result for result in results if result is not None]


def _run_in_child(config: RunConfig, gpu_set: str | None) -> QueueResult:
    """``python -m evalsuite.execution.queue`` (with the set as CUDA_VISIBLE_DEVICES, if any); its result comes back as JSON."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="evalsuite-queue-") as folder:
        config_path, result_path = Path(folder) / "config.pickle", Path(folder) / "result.json"
        config_path.write_bytes(pickle.dumps((config, _log_levels())))  # our own objects, to our own child
        env = {**os.environ, **({VISIBLE_DEVICES_ENV: gpu_set} if gpu_set is not None else {})}
        completed = subprocess.run([sys.executable, "-m", "evalsuite.execution.queue", str(config_path), str(result_path)], env=env, check=False)
        if result_path.is_file():
            return QueueResult(**json.loads(result_path.read_text()))
    error = f"worker process exited with status {completed.returncode} before reporting"
    return QueueResult(config.model.name, FAILED, None, time.perf_counter() - started, error, gpu_set)


def _log_levels() -> dict[str, int]:
    """Levels the parent's command set on top-level loggers (lm_eval, transformers, vllm, ...), for its children."""
    loggers = logging.root.manager.loggerDict.items()
    return {name: logger.level for name, logger in loggers if isinstance(logger, logging.Logger) and "." not in name and logger.level}


def _child_main(config_path: str, result_path: str) -> int:
    """The worker process: run one model on the GPUs in CUDA_VISIBLE_DEVICES, write its result."""
    config, levels = pickle.loads(Path(config_path).read_bytes())  # noqa: S301 - written by our parent process
    for name, level in levels.items():  # quiet (or verbose) as the parent's command was
        logging.getLogger(name).setLevel(level)
    gpu_set = os.environ.get(VISIBLE_DEVICES_ENV)
    prefix = f"[GPUs {gpu_set}] " if gpu_set is not None else ""

    def report(line: str) -> None:
        print(f"{prefix}{line}", file=sys.stderr, flush=True)

    try:
        result = run_one(config, report, gpu_set)
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
