"""Cost of the request cache's time-bound flush: count-bound chunks vs count + time bound.

The request cache commits answers every ``chunk_size`` (256) requests; with a time bound
(``EVALSUITE_CACHE_FLUSH_S``, default 30 s) it also starts with small chunks and sizes
later ones so that each takes at most the bound. This bench scores the same PubMedQA
requests through ``CachedLM`` + ``TransformersLM`` into a fresh SQLite database with
the bound off, at its default, and at a tight 1 s (chunks shrink until commits come
every second), so any slowdown from smaller chunks and more commits shows. Fresh
process per run, sides alternating, at least 3 rounds, medians with spread
(``bench/_common.py``). From the repository root:

    .venv/bin/python -m bench.bench_cache_flush [--model DIR] [--docs 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench._common import (
    Side,
    alternate,
    build_shape,
    conditions,
    max_abs_difference,
    module_command,
    runs_argument,
    summary_table,
    timed,
    worker_arguments,
    write_result,
)

# side name -> flush bound in seconds (0: count bound only, as before the time bound existed)
SIDES = {"count bound only": 0.0, "time bound 30 s (default)": 30.0, "time bound 1 s": 1.0}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model directory (default: the random ~110M Llama)")
    parser.add_argument("--docs", type=int, default=100, help="PubMedQA questions (3 requests each)")
    parser.add_argument("--flush-s", type=float, default=0.0, help=argparse.SUPPRESS)
    runs_argument(parser)
    worker_arguments(parser)
    return parser.parse_args()


def worker(args: argparse.Namespace) -> None:
    """Load the model, then time scoring every request through the cache into an empty database."""
    import torch

    from evalsuite.backends.cache import CachedLM
    from evalsuite.backends.transformers import TransformersLM
    from evalsuite.devtools.reference_requests import choice_requests, pubmedqa_docs
    from evalsuite.store.db import open_database

    torch.set_num_threads(args.threads)
    load_s, lm = timed(lambda: TransformersLM(str(args.model), dtype="float32"))
    requests = choice_requests(pubmedqa_docs(args.docs))
    commits: list[int] = []
    with tempfile.TemporaryDirectory() as scratch:
        with open_database(Path(scratch) / "bench.db") as database:
            cached = CachedLM(lm, database, "bench", flush_seconds=args.flush_s or None, show_progress=False, on_chunk=commits.append)
            compute_s, scores = timed(lambda: cached.loglikelihood(requests))
    write_result(args.result, load_s, {"pubmedqa": compute_s}, {"pubmedqa": [list(s) for s in scores]}, requests=len(requests), commits=len(commits))


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    model = args.model or build_shape("llama-110m")
    common = ["--model", str(model), "--docs", str(args.docs), "--threads", str(args.threads)]
    sides = [
        Side(name, module_command("bench_cache_flush", "--worker", "cache", "--flush-s", str(bound), *common))
        for name, bound in SIDES.items()
    ]
    measurement = alternate(sides, args.runs)
    first = measurement.samples[0]
    print(f"\nPubMedQA through CachedLM: {first.extra['requests']} requests, {model}")
    print(summary_table(measurement))
    for side in sides:
        commits = sorted({s.extra["commits"] for s in measurement.of(side.name)})
        print(f"{side.name}: commits per run {commits}")
    reference = measurement.of(sides[0].name)
    for side in sides[1:]:
        diffs = [max_abs_difference(a.scores["pubmedqa"], b.scores["pubmedqa"]) for a, b in zip(measurement.of(side.name), reference, strict=True)]
        worst, greedy = max(d[0] for d in diffs), min(d[1] for d in diffs)
        print(f"{side.name}: max |Δ log-likelihood| vs count bound {worst:.1e}, same is_greedy {greedy:.0%}")
    print(conditions(measurement), flush=True)


if __name__ == "__main__":
    main()
