"""Whole `evalsuite run` vs lm-eval's own CLI, and what each spends outside scoring (start-up, data, storing).

Both sides are the real command lines, each in a fresh process, alternating, at least 3 rounds
(``bench/_common.py``): ``evalsuite run --tasks hellaswag --limit N --data-dir DATA`` and
``lm_eval --model hf --tasks <the same HellaSwag records> --limit N --batch_size 8``, float32 on the
CPU, on the random ~88M Llama of ``bench_multiple_choice`` (``head-light``). Inside each process the
worker only adds counters: seconds spent in the model's ``loglikelihood`` (compute) and in its
constructor (model load), and every top-level ``datasets.Dataset.map``/``filter`` call (a *dataset
pass*) with the rows it went over. "outside scoring" = whole process − compute; "CPU-s outside
scoring" = the process's CPU seconds (all threads) less those inside ``loglikelihood``, which moves
far less than wall time when other jobs share the machine.

lm-eval reads the same local HellaSwag file through a task YAML written to a temporary folder:
lm-eval's own ``hellaswag.yaml`` (prompt, ``process_docs``, metrics) with ``custom_dataset`` pointed
at the records evalsuite's converter makes (Hub schema, no train split). Both sides must report the
same ``acc`` and ``acc_norm``.

``--before DIR`` adds a third side: the same ``evalsuite run`` from another checkout (e.g. ``git
archive <commit> | tar -x -C DIR``), to show a change's effect in the same rounds.

Run from the repository root:

    .venv/bin/python -m bench.bench_startup                               # 3 rounds, 100 docs
    .venv/bin/python -m bench.bench_startup --before /tmp/evalsuite_before
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._common import (
    Measurement,
    Side,
    alternate,
    build_shape,
    conditions,
    module_command,
    runs_argument,
    spread,
    summary_table,
    worker_arguments,
    write_result,
)

REPO = Path(__file__).resolve().parent.parent
HELLASWAG_FILE = Path("hellaswag") / "hellaswag_val_preprocessed.jsonl"

# lm-eval's side: its own HellaSwag task, documents from the local file (same records as evalsuite's converter).
LM_EVAL_YAML = """\
include: {hellaswag_yaml}
task: hellaswag_local
custom_dataset: !function local_hellaswag.load
training_split: null
"""
LM_EVAL_LOADER = '''\
import json

import datasets

FILE = {path!r}


def load(**_metadata):
    """The preprocessed file in the Hub schema: "<activity>: <ctx>" split at the first ": ", ctx_b empty."""
    records = []
    with open(FILE, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                item = json.loads(line)
                activity, _, ctx_a = item["ctx"].partition(": ")
                records.append({{"activity_label": activity, "ctx_a": ctx_a, "ctx_b": "",
                                 "endings": list(item["endings"]), "label": str(item["label"])}})
    return datasets.DatasetDict({{"validation": datasets.Dataset.from_list(records)}})
'''


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=100, help="HellaSwag documents (default 100)")
    parser.add_argument("--shape", default="head-light", help="random Llama shape from bench/_common.py (default head-light, ~88M)")
    parser.add_argument("--model", type=Path, help="a model directory instead of the random shape")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data", help="evalsuite's --data-dir (holds hellaswag/)")
    parser.add_argument("--hf-batch-size", type=int, default=8, help="lm-eval hf batch_size (its default is 1)")
    parser.add_argument("--before", type=Path, help="another evalsuite checkout to run as a third side")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    parser.add_argument("--evalsuite-src", type=Path, help=argparse.SUPPRESS)
    runs_argument(parser)
    worker_arguments(parser)
    return parser.parse_args()


# ---------------------------------------------------------------- worker side


class Counters:
    """Seconds in the model's load and loglikelihood, and dataset passes, counted by wrapping the real methods."""

    def __init__(self) -> None:
        self.load_s = 0.0
        self.compute_s = 0.0
        self.compute_cpu_s = 0.0  # CPU seconds (all threads) inside loglikelihood
        self.passes: list[tuple[str, int]] = []
        self._depth = 0

    def time_into(self, cls: type, method: str, attribute: str) -> None:
        original = getattr(cls, method)

        def timed(obj: Any, *args: Any, **kwargs: Any) -> Any:
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                return original(obj, *args, **kwargs)
            finally:
                setattr(self, attribute, getattr(self, attribute) + time.perf_counter() - start)
                if attribute == "compute_s":
                    self.compute_cpu_s += time.process_time() - start_cpu

        setattr(cls, method, timed)

    def count_passes(self) -> None:
        """Every outermost Dataset.map/filter (filter runs map inside: that is one pass, not two)."""
        import datasets

        for name in ("map", "filter"):
            self._count(datasets.Dataset, name)

    def _count(self, cls: type, name: str) -> None:
        original: Callable[..., Any] = getattr(cls, name)

        def counted(dataset: Any, *args: Any, **kwargs: Any) -> Any:
            if self._depth == 0:
                self.passes.append((name, len(dataset)))
            self._depth += 1
            try:
                return original(dataset, *args, **kwargs)
            finally:
                self._depth -= 1

        setattr(cls, name, counted)


def run_cli(argv: list[str], entry: Callable[[], Any]) -> None:
    """A console entry point with these arguments, in this process; a non-zero exit fails the worker."""
    sys.argv = argv
    try:
        entry()
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise
    sys.argv = argv[:1]


def import_evalsuite_from(checkout: Path) -> None:
    """Make ``import evalsuite`` in this process load ``checkout``'s package (nothing has imported evalsuite yet).

    The package is registered under its own name from that folder, so its submodules come from there
    too; the import path itself is left alone.
    """
    import importlib.util

    package = checkout.resolve() / "evalsuite"
    spec = importlib.util.spec_from_file_location("evalsuite", package / "__init__.py", submodule_search_locations=[str(package)])
    if spec is None or spec.loader is None or "evalsuite" in sys.modules:
        raise SystemExit(f"cannot load evalsuite from {checkout} in this worker")
    module = importlib.util.module_from_spec(spec)
    sys.modules["evalsuite"] = module
    spec.loader.exec_module(module)


def evalsuite_worker(args: argparse.Namespace, counters: Counters, scratch: Path) -> dict[str, float]:
    if args.evalsuite_src is not None:  # the --before side: that checkout's evalsuite, not this one's
        import_evalsuite_from(args.evalsuite_src)
    from evalsuite.backends.transformers import TransformersLM
    from evalsuite.cli.app import app

    counters.time_into(TransformersLM, "__init__", "load_s")
    counters.time_into(TransformersLM, "loglikelihood", "compute_s")
    output = scratch / "out.json"
    run_cli(
        ["evalsuite", "run", "--model", str(args.model), "--tasks", "hellaswag", "--limit", str(args.limit),
         "--data-dir", str(args.data_dir), "--db", str(scratch / "r.db"), "--output", str(output)],
        app,  # the command without main's exit: the worker still has its figures to write (see `leave_as_the_console_command_does`)
    )  # fmt: skip
    return _scores(json.loads(output.read_text())["results"]["hellaswag"])


def leave_as_the_console_command_does(worker_name: str) -> None:
    """End an evalsuite worker the way that checkout's `evalsuite` command ends, so whole-process time is the command's.

    The console command (``evalsuite.cli.app.main``) leaves with ``os._exit`` after its work, where the
    checkout has ``_leave``; older checkouts, and lm-eval's CLI, go through the interpreter's teardown.
    """
    if worker_name != "evalsuite":
        return
    from evalsuite.cli import app as cli

    leave = getattr(cli, "_leave", None)
    if leave is not None:
        leave(SystemExit(0))


def lm_eval_worker(args: argparse.Namespace, counters: Counters, scratch: Path) -> dict[str, float]:
    import lm_eval.tasks
    from lm_eval.__main__ import cli_evaluate
    from lm_eval.models.huggingface import HFLM

    tasks = scratch / "tasks"
    tasks.mkdir()
    hellaswag_yaml = Path(lm_eval.tasks.__file__).parent / "hellaswag" / "hellaswag.yaml"
    (tasks / "hellaswag_local.yaml").write_text(LM_EVAL_YAML.format(hellaswag_yaml=hellaswag_yaml))
    (tasks / "local_hellaswag.py").write_text(LM_EVAL_LOADER.format(path=str((args.data_dir / HELLASWAG_FILE).resolve())))
    counters.time_into(HFLM, "__init__", "load_s")
    counters.time_into(HFLM, "loglikelihood", "compute_s")
    output = scratch / "lm-eval-out"
    run_cli(
        ["lm_eval", "--model", "hf", "--model_args", f"pretrained={args.model},dtype=float32", "--device", "cpu",
         "--tasks", "hellaswag_local", "--include_path", str(tasks), "--limit", str(args.limit),
         "--batch_size", str(args.hf_batch_size), "--output_path", str(output)],
        cli_evaluate,
    )  # fmt: skip
    return _scores(json.loads(next(output.rglob("results_*.json")).read_text())["results"]["hellaswag_local"])


def _scores(results: dict[str, Any]) -> dict[str, float]:
    return {metric: float(results[f"{metric},none"]) for metric in ("acc", "acc_norm")}


def worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    counters = Counters()
    counters.count_passes()
    with tempfile.TemporaryDirectory() as scratch:
        run = evalsuite_worker if args.worker == "evalsuite" else lm_eval_worker
        scores = run(args, counters, Path(scratch))
    usage = resource.getrusage(resource.RUSAGE_SELF)  # the whole process so far, every thread
    write_result(
        args.result, counters.load_s, {"hellaswag": counters.compute_s}, {"hellaswag": scores},
        passes=len(counters.passes), rows_passed=sum(rows for _, rows in counters.passes),
        cpu_outside_s=usage.ru_utime + usage.ru_stime - counters.compute_cpu_s,
    )  # fmt: skip
    leave_as_the_console_command_does(args.worker)


# ---------------------------------------------------------------- parent side


def sides_for(args: argparse.Namespace, model: Path) -> list[Side]:
    common = ["--model", str(model), "--limit", str(args.limit), "--data-dir", str(args.data_dir), "--threads", str(args.threads)]
    sides = [Side("evalsuite run", module_command("bench_startup", "--worker", "evalsuite", *common), "evalsuite run, backend transformers, dtype float32")]
    if args.before is not None:
        before = ["--evalsuite-src", str(args.before)]
        sides.append(Side("evalsuite before", module_command("bench_startup", "--worker", "evalsuite", *before, *common), f"the same command from {args.before}"))
    lm_eval = module_command("bench_startup", "--worker", "hf", "--hf-batch-size", str(args.hf_batch_size), *common)
    sides.append(Side(f"lm-eval hf (bs={args.hf_batch_size})", lm_eval, f"lm_eval CLI, model hf, dtype float32, batch_size {args.hf_batch_size}"))
    return sides


def startup_rows(measurement: Measurement) -> str:
    """Outside scoring (whole − compute) and dataset passes per run, per side: the start-up figures."""
    lines = [
        "| side | outside scoring, s | CPU-s outside scoring | dataset passes per run | rows passed over per run | acc, acc_norm |",
        "|---|---|---|---|---|---|",
    ]
    for side in measurement.sides:
        samples = measurement.of(side.name)
        outside = [s.whole_s - sum(s.compute_s.values()) for s in samples]
        passes = sorted({s.extra["passes"] for s in samples})
        rows = sorted({s.extra["rows_passed"] for s in samples})
        scores = sorted({tuple(s.scores["hellaswag"].values()) for s in samples})
        cpu = [s.extra["cpu_outside_s"] for s in samples]
        lines.append(f"| {side.name} | {spread(outside)} | {spread(cpu)} | {', '.join(map(str, passes))} | {', '.join(map(str, rows))} | {scores} |")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    model = args.model or build_shape(args.shape)
    print(f"\n== evalsuite run vs lm_eval, HellaSwag {args.limit} docs, {model} ==", flush=True)
    measurement = alternate(sides_for(args, model), args.runs)
    print(f"\nHellaSwag, {args.limit} documents, {model}")
    print(summary_table(measurement))
    print(startup_rows(measurement))
    whole = {side.name: statistics.median(s.whole_s for s in measurement.of(side.name)) for side in measurement.sides}
    ours, theirs = whole[measurement.sides[0].name], whole[measurement.sides[-1].name]
    print(f"whole process, lm-eval / evalsuite: {theirs / ours:.2f}x")
    for side in measurement.sides:
        print(f"{side.name}: {side.settings}")
    print(conditions(measurement), flush=True)
    if args.json:
        args.json.write_text(json.dumps([vars(s) for s in measurement.samples], indent=1))


if __name__ == "__main__":
    main()
