"""PubMedQA (long abstracts, one-token answers yes/no/maybe): evalsuite TransformersLM vs lm-eval HFLM.

    .venv/bin/python bench/bench_pubmedqa.py [--model DIR] [--limit 12] [--single-token-answers]

With a toy BPE " yes"/" no"/" maybe" may be several tokens each, and then HFLM
runs each abstract once per answer. Real Llama/GPT tokenizers make them one
token each, where HFLM already runs each abstract once; ``--single-token-answers``
swaps in three answers that are one token for this tokenizer, to measure that case.
"""

from __future__ import annotations

import argparse

from _common import loglikelihood_bench, parse_args, pubmedqa_docs
from transformers import AutoTokenizer

CANDIDATES = ["yes", "no", "maybe", "the", "of", "and", "in", "to", "is", "a"]


def single_token_answers(model: str) -> list[str]:
    """Three answers, one token each for this tokenizer, preferring yes/no/maybe."""
    tokenizer = AutoTokenizer.from_pretrained(model)
    answers = [f" {word}" for word in CANDIDATES if len(tokenizer(f" {word}", add_special_tokens=False)["input_ids"]) == 1]
    if len(answers) < 3:
        raise SystemExit(f"the tokenizer of {model} has fewer than three one-token answers among {CANDIDATES}")
    return answers[:3]


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--single-token-answers", action="store_true", help="answers that are one token each (HFLM's fast path)")


def main() -> None:
    args = parse_args(__doc__ or "", default_limit=12, more_options=_options)
    docs = pubmedqa_docs(args.limit)
    title = "PubMedQA loglikelihood"
    if args.single_token_answers:
        answers = single_token_answers(args.model)
        docs = [(context, answers) for context, _ in docs]
        title += f" (one-token answers {answers})"
    loglikelihood_bench(title, docs, args)


if __name__ == "__main__":
    main()
