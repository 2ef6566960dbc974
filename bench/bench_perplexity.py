"""WikiText perplexity (rolling windows): evalsuite ``TransformersLM`` vs lm-eval ``HFLM`` vs a plain transformers loop.

The plain loop is what one writes by hand: for each of lm-eval's rolling windows, one
forward pass, full-vocabulary log-softmax, gather the targets. All three must give the
same per-document log-likelihoods. Fresh process per run, sides alternating, at least 3
rounds, medians with spread (``bench/_common.py``). From the repository root:

    .venv/bin/python -m bench.bench_perplexity [--model DIR] [--limit 6000]   # --limit: tokens
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from bench._common import (
    Side,
    alternate,
    build_shape,
    conditions,
    module_command,
    runs_argument,
    summary_table,
    timed,
    worker_arguments,
    write_result,
)

SIDES = {"evalsuite": "evalsuite transformers", "hf": "lm-eval hf", "plain": "plain transformers loop"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model directory (default: the random ~110M Llama)")
    parser.add_argument("--limit", type=int, default=6000, help="WikiText-2 test tokens (whole articles up to this)")
    parser.add_argument("--hf-batch-size", type=int, default=8, help="HFLM batch_size (lm-eval's default is 1)")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    runs_argument(parser)
    worker_arguments(parser)
    return parser.parse_args()


def wikitext_documents(lm: Any, token_limit: int) -> list[str]:
    """Whole WikiText-2 test articles (split at ' = Title = ' rows) until ``token_limit`` tokens."""
    from evalsuite.devtools.reference_requests import wikitext_rows

    rows = wikitext_rows()
    starts = [i for i, row in enumerate(rows) if row.startswith(" = ") and not row.startswith(" = =")]
    documents, total = [], 0
    for start, end in zip(starts, [*starts[1:], len(rows)], strict=True):
        text = "".join(rows[start:end])
        documents.append(text)
        total += lm.count_tokens(text)
        if total >= token_limit:
            break
    return documents


def plain_loop(lm: Any, documents: list[str]) -> list[float]:
    """One window per forward pass, full logits, as a hand-written transformers loop does."""
    import torch
    from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

    totals = []
    with torch.inference_mode():
        for text in documents:
            total = 0.0
            windows = get_rolling_token_windows(lm.tok_encode(text), lm.prefix_token_id, lm.max_length, 1)
            for context, continuation in map(make_disjoint_window, windows):
                ids = torch.tensor([(context + continuation)[:-1]])
                logprobs = torch.log_softmax(lm.model(input_ids=ids).logits[0, -len(continuation) :].float(), dim=-1)
                total += float(logprobs.gather(1, torch.tensor(continuation)[:, None]).sum())
            totals.append(total)
    return totals


def worker(args: argparse.Namespace) -> None:
    """Load one side's model in this fresh process, then time the rolling log-likelihoods alone."""
    import torch
    from lm_eval.api.instance import Instance

    from evalsuite.backends.transformers import TransformersLM

    torch.set_num_threads(args.threads)
    model = str(args.model)
    if args.worker == "hf":
        from lm_eval.models.huggingface import HFLM

        load_s, lm = timed(lambda: HFLM(pretrained=model, device="cpu", dtype="float32", batch_size=args.hf_batch_size))
    else:
        load_s, lm = timed(lambda: TransformersLM(model, dtype="float32"))
    documents = wikitext_documents(lm, args.limit)
    requests = [Instance("loglikelihood_rolling", {}, (text,), 0) for text in documents]
    if args.worker == "plain":
        compute_s, scores = timed(lambda: plain_loop(lm, documents))
    else:
        compute_s, scores = timed(lambda: lm.loglikelihood_rolling(requests, disable_tqdm=True))
    tokens = sum(len(lm.tok_encode(text)) for text in documents)
    write_result(args.result, load_s, {"wikitext": compute_s}, {"wikitext": [float(s) for s in scores]}, documents=len(documents), tokens=tokens)


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    model = args.model or build_shape("llama-110m")
    common = ["--model", str(model), "--limit", str(args.limit), "--threads", str(args.threads), "--hf-batch-size", str(args.hf_batch_size)]
    sides = [Side(label, module_command("bench_perplexity", "--worker", key, *common)) for key, label in SIDES.items()]
    measurement = alternate(sides, args.runs)
    first = measurement.samples[0]
    print(f"\nWikiText-2: {first.extra['documents']} articles, {first.extra['tokens']} tokens, {model}")
    print(summary_table(measurement))
    reference = measurement.of(SIDES["hf"])
    for key in ("evalsuite", "plain"):
        worst = max(
            abs(a - b) / abs(b)
            for ours, theirs in zip(measurement.of(SIDES[key]), reference, strict=True)
            for a, b in zip(ours.scores["wikitext"], theirs.scores["wikitext"], strict=True)
        )
        print(f"{SIDES[key]}: max relative difference to HFLM (same rounds) {worst:.1e}")
    print(f"token perplexity {math.exp(-sum(reference[0].scores['wikitext']) / first.extra['tokens']):.1f}")
    print(conditions(measurement), flush=True)
    if args.json:
        args.json.write_text(json.dumps([vars(s) | {"scores": None} for s in measurement.samples], indent=1))


if __name__ == "__main__":
    main()
