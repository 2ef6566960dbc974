"""Data-parallel replicas on this machine: one replica with 2 threads vs two replicas with 1 thread each, and Ray's start-up.

Three sides, each `evalsuite`'s runner in a fresh process on a fresh SQLite database (nothing
cached), same requests (demo/pico-s, PubMedQA --limit N and the perplexity task):

* ``local, 2 threads``: ``--executor local`` with torch on 2 threads (no Ray at all);
* ``ray, 1 replica x 2 CPUs``: ``--executor ray --replicas 1`` (a local Ray; the actor gets 2 CPUs, so 2 threads);
* ``ray, 2 replicas x 1 CPU``: ``--executor ray --replicas 2`` (each actor 1 CPU, 1 thread).

Inside, the worker times Ray's start-up (``ray.init`` of a local instance; the table's "model load" row)
and the run itself
(replicas started and loaded, requests computed and committed, tasks scored); the metrics of
every side are compared with the first's. Alternating rounds, medians with spread
(``bench/_common.py``). A GPU figure needs a machine with GPUs. From the repository root:

    .venv/bin/python -m bench.ray_replicas [--docs 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench._common import Side, alternate, conditions, module_command, runs_argument, summary_table, timed, worker_arguments, write_result

# The first side is the base of the ratios (it must have a Ray start-up time: the local side has none).
SIDES = {"ray, 1 replica x 2 CPUs": ("ray", 1), "ray, 2 replicas x 1 CPU": ("ray", 2), "local, 2 threads": ("local", 1)}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200, help="PubMedQA questions (3 requests each), plus 8 perplexity documents")
    parser.add_argument("--side", choices=list(SIDES), help=argparse.SUPPRESS)
    runs_argument(parser)
    worker_arguments(parser)
    return parser.parse_args()


def worker(args: argparse.Namespace) -> None:
    """One side: Ray started (timed) when the side uses it, then the whole run timed; its metrics returned."""
    import torch

    from evalsuite.execution import runner
    from evalsuite.identity.run_config import RunConfig

    executor, replicas = SIDES[args.side]
    torch.set_num_threads(2)
    ray_start = 0.0
    if executor == "ray":
        import ray

        began = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
        ray_start = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as scratch:
        config = RunConfig.from_flat(
            model="demo/pico-s", tasks=("pubmedqa", "perplexity"), limit=args.docs, db=str(Path(scratch) / "r.db"),
            executor=executor, replicas=replicas, show_progress=False,
        )
        run_s, outcome = timed(lambda: runner.run(config, report=lambda line: None))
    scores = {f"{task}/{metric}": value for task, metrics in outcome.results.get("results", {}).items() for metric, value in metrics.items() if isinstance(value, float)}
    write_result(args.result, ray_start, {"run": run_s}, scores)  # the table's "model load" row is Ray's start-up here


def main() -> None:
    args = parse_args()
    if args.result is not None:
        worker(args)
        return
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    sides = [Side(name, module_command("ray_replicas", "--side", name, "--docs", str(args.docs))) for name in SIDES]
    measurement = alternate(sides, args.runs)
    print(summary_table(measurement))
    first = measurement.of(sides[0].name)
    for side in sides[1:]:
        same = all(a.scores == b.scores for a, b in zip(first, measurement.of(side.name), strict=False))
        print(f"metrics of {side.name} equal to {sides[0].name}'s in every round: {same}")
    print(conditions(measurement))


if __name__ == "__main__":
    main()
