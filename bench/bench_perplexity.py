"""WikiText perplexity (rolling windows): evalsuite TransformersLM vs lm-eval HFLM vs a plain transformers loop.

The plain loop is what one writes by hand: for each of lm-eval's rolling windows,
one forward pass, full-vocabulary log-softmax, gather the targets. All three
must give the same per-document log-likelihoods.

    .venv/bin/python bench/bench_perplexity.py [--model DIR] [--limit 6000]   # --limit: tokens
"""

from __future__ import annotations

import json
import math

import torch
from _common import DATA, Contender, parameter_count, parse_args, report, time_alternately
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

from evalsuite.backends.transformers import TransformersLM


def wikitext_documents(lm: TransformersLM, token_limit: int) -> list[str]:
    """Whole WikiText-2 test articles (split at ' = Title = ' rows) until token_limit tokens."""
    path = DATA / "wikitext2" / "wikitext-2-raw-v1_test_rows.jsonl"
    rows = [json.loads(line)["text"] for line in path.open()]
    starts = [i for i, row in enumerate(rows) if row.startswith(" = ") and not row.startswith(" = =")]
    documents, total = [], 0
    for start, end in zip(starts, starts[1:] + [len(rows)], strict=True):
        text = "".join(rows[start:end])
        documents.append(text)
        total += lm.count_tokens(text)
        if total >= token_limit:
            break
    return documents


def plain_loop(lm: TransformersLM, documents: list[str]) -> list[float]:
    """One window per forward pass, full logits, as a hand-written transformers loop does."""
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


def main() -> None:
    args = parse_args(__doc__ or "", default_limit=6000)
    ours = TransformersLM(args.model, dtype="float32")
    hf = HFLM(pretrained=args.model, device="cpu", dtype="float32", batch_size=args.hf_batch_size)
    documents = wikitext_documents(ours, args.limit)
    requests = [Instance("loglikelihood_rolling", {}, (text,), 0) for text in documents]
    tokens = sum(ours.count_tokens(text) for text in documents)
    all_windows = [
        window
        for text in documents
        for window in get_rolling_token_windows(ours.tok_encode(text), ours.prefix_token_id, ours.max_length, 1)
    ]
    windows = len(all_windows)
    fed = sum(len(context) for context, _ in all_windows)  # a window feeds its input, predicting each next token
    contenders = [
        Contender("evalsuite TransformersLM", lambda: ours.loglikelihood_rolling(requests, disable_tqdm=True), fed),
        Contender(f"lm-eval HFLM (bs={args.hf_batch_size})", lambda: hf.loglikelihood_rolling(requests, disable_tqdm=True), fed),
        Contender("plain transformers loop", lambda: plain_loop(ours, documents), fed),
    ]
    best = time_alternately(contenders, args.repeats)
    report("WikiText perplexity (rolling loglikelihood)", contenders, best, parameter_count(ours.model), tokens)
    reference = best[contenders[1].name][1]
    for contender in (contenders[0], contenders[2]):
        got = best[contender.name][1]
        worst = max(abs(a - b) / abs(b) for a, b in zip(got, reference, strict=True))
        print(f"{contender.name}: max relative difference to HFLM {worst:.1e}")
    word_ppl = math.exp(-sum(reference) / tokens)
    print(f"{len(documents)} documents, {tokens} tokens, {windows} windows; token perplexity {word_ppl:.1f}")


if __name__ == "__main__":
    main()
