"""Multiple-choice log-likelihoods: evalsuite ``TransformersLM`` vs lm-eval ``HFLM``, on two model shapes.

Both sides score identical requests (lm-eval's ``loglikelihood`` Instances built by
``evalsuite.devtools.reference_requests``), in float32 on the CPU, each run in a fresh
process, alternating, at least 3 rounds (see ``bench/_common.py``). Two shapes, because
evalsuite skips the vocabulary projection at unscored positions, which flatters models
whose head is a large share of the compute:

- ``llama-110m``: the random ~110M Llama of the earlier figures (vocab 32000: head ~22%);
- ``head-light``: the same body with a 4000-word vocabulary (head ~3.5%, as in 7B-class models).

Run from the repository root:

    .venv/bin/python -m bench.bench_multiple_choice                      # HellaSwag, both shapes, 3 rounds
    .venv/bin/python -m bench.bench_multiple_choice --task pubmedqa --limit 12 --shapes llama-110m
    .venv/bin/python -m bench.bench_multiple_choice --task pubmedqa --single-token-answers
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench._common import (
    SHAPES,
    Measurement,
    Side,
    alternate,
    build_shape,
    conditions,
    head_fraction,
    max_abs_difference,
    module_command,
    runs_argument,
    summary_table,
    timed,
    worker_arguments,
    write_result,
)

SINGLE_TOKEN_CANDIDATES = ["yes", "no", "maybe", "the", "of", "and", "in", "to", "is", "a"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=["hellaswag", "pubmedqa"], default="hellaswag")
    parser.add_argument("--limit", type=int, default=30, help="documents (default 30)")
    parser.add_argument("--shapes", default="llama-110m,head-light", help=f"comma-separated, from {', '.join(SHAPES)}")
    parser.add_argument("--model", type=Path, help="a model directory instead of the random shapes")
    parser.add_argument("--hf-batch-size", type=int, default=8, help="HFLM batch_size (lm-eval's default is 1)")
    parser.add_argument("--single-token-answers", action="store_true", help="PubMedQA answers that are one token each")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    runs_argument(parser)
    worker_arguments(parser)
    return parser.parse_args()


def single_token_answers(model: str) -> list[str]:
    """Three answers, one token each for this tokenizer, preferring yes/no/maybe (HFLM's one-token fast path)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    answers = [f" {w}" for w in SINGLE_TOKEN_CANDIDATES if len(tokenizer(f" {w}", add_special_tokens=False)["input_ids"]) == 1]
    if len(answers) < 3:
        raise SystemExit(f"the tokenizer of {model} has fewer than three one-token answers among {SINGLE_TOKEN_CANDIDATES}")
    return answers[:3]


def requests_for(args: argparse.Namespace) -> list[Any]:
    from evalsuite.devtools.reference_requests import choice_requests, hellaswag_docs, pubmedqa_docs

    if args.task == "hellaswag":
        return choice_requests(hellaswag_docs(args.limit))
    docs = pubmedqa_docs(args.limit)
    if args.single_token_answers:
        answers = single_token_answers(str(args.model))
        docs = [(context, answers) for context, _ in docs]
    return choice_requests(docs)


def worker(args: argparse.Namespace) -> None:
    """One measurement in this fresh process: load the model, then time ``loglikelihood`` alone."""
    import torch

    torch.set_num_threads(args.threads)
    requests = requests_for(args)
    if args.worker == "evalsuite":
        from evalsuite.backends.transformers import TransformersLM

        load_s, lm = timed(lambda: TransformersLM(str(args.model), dtype="float32"))
    else:
        from lm_eval.models.huggingface import HFLM

        load_s, lm = timed(lambda: HFLM(pretrained=str(args.model), device="cpu", dtype="float32", batch_size=args.hf_batch_size))
    compute_s, scores = timed(lambda: lm.loglikelihood(requests, disable_tqdm=True))
    write_result(args.result, load_s, {args.task: compute_s}, {args.task: scores}, requests=len(requests))


def sides_for(args: argparse.Namespace, model: Path) -> list[Side]:
    common = ["--model", str(model), "--task", args.task, "--limit", str(args.limit), "--threads", str(args.threads)]
    if args.single_token_answers:
        common.append("--single-token-answers")
    return [
        Side(
            "evalsuite transformers",
            module_command("bench_multiple_choice", "--worker", "evalsuite", *common),
            "dtype float32, batch_size auto (rows packed into 384-token lines)",
        ),
        Side(
            f"lm-eval hf (bs={args.hf_batch_size})",
            module_command("bench_multiple_choice", "--worker", "hf", "--hf-batch-size", str(args.hf_batch_size), *common),
            f"dtype float32, batch_size {args.hf_batch_size}",
        ),
    ]


def agreement(measurement: Measurement, task: str) -> str:
    """Log-likelihood agreement of the two sides, round by round (each round's scores come from that round)."""
    diffs = [max_abs_difference(a.scores[task], b.scores[task]) for a, b in measurement.pairs()]
    return (
        f"max |Δ loglik| between the sides, over {len(diffs)} rounds: {max(d for d, _ in diffs):.2e}; "
        f"is_greedy identical: {all(same == 1.0 for _, same in diffs)}"
    )


def compare_shape(args: argparse.Namespace, label: str, model: Path) -> dict[str, Any]:
    head, total, fraction = head_fraction(model)
    print(
        f"\n== {args.task}, {args.limit} docs, {label}: {model} ==\n"
        f"vocabulary projection {head / 1e6:.1f}M of {total / 1e6:.1f}M parameters = {100 * fraction:.1f}%",
        flush=True,
    )
    measurement = alternate(sides_for(args, model), args.runs)
    requests = measurement.samples[0].extra["requests"]
    print(f"\n{args.task}: {args.limit} docs, {requests} requests, {label} (head {100 * fraction:.1f}% of {total / 1e6:.0f}M)")
    print(summary_table(measurement))
    print(agreement(measurement, args.task))
    for side in measurement.sides:
        print(f"{side.name}: {side.settings}")
    print(conditions(measurement), flush=True)
    return {
        "shape": label,
        "model": str(model),
        "head_fraction": fraction,
        "parameters": total,
        "samples": [vars(s) | {"scores": None} for s in measurement.samples],
    }


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    targets = [("given model", args.model)] if args.model else [(name, build_shape(name)) for name in args.shapes.split(",")]
    results = [compare_shape(args, label, model) for label, model in targets]
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
