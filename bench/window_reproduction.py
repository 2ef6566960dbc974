"""Issue 25's reproduction: a tiny random Mistral with a 32-token window on arc_easy_200, evalsuite vs lm-eval ``hf``.

Builds ``MistralConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
num_attention_heads=4, num_key_value_heads=2, sliding_window=32)`` with sharp random
weights (initializer_range 0.2, seed 0) and the demo tokenizer (pico-s), scores the
first ``--limit`` arc_easy_200 questions (lm-eval's ``arc_easy`` prompt) with
evalsuite's ``TransformersLM`` and lm-eval's ``HFLM``, and prints the per-request
differences (worst, and how many exceed 1e-3 nats) and acc on both sides.

It only uses ``TransformersLM``'s public constructor, so it also runs against an
older checkout (``PYTHONPATH=<old checkout> python -m bench.window_reproduction``).

    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python -m bench.window_reproduction --limit 40
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_TOKENIZER = REPO / "evalsuite" / "demo_models" / "pico-s"
ARC = REPO / "tasks" / "data" / "arc_easy" / "test.jsonl"


def save_mistral(directory: Path, window: int) -> Path:
    import torch
    import transformers

    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(DEMO_TOKENIZER / name, directory / name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    config = transformers.MistralConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, sliding_window=window, initializer_range=0.2, max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    transformers.MistralForCausalLM(config).save_pretrained(directory)
    return directory


def arc_docs(limit: int) -> list[tuple[str, list[str], int]]:
    """(prompt, choices, gold index) as lm-eval's arc_easy (and tasks/yaml/arc_easy_200) builds them."""
    docs = []
    with ARC.open() as handle:
        for line, _ in zip(handle, range(limit), strict=False):
            row = json.loads(line)
            choices = row["choices"]
            docs.append((f"Question: {row['question']}\nAnswer:", [" " + t for t in choices["text"]], choices["label"].index(row["answerKey"])))
    return docs


def accuracy(scores: list[float], docs: list[tuple[str, list[str], int]]) -> float:
    hits, position = 0, 0
    for _, choices, gold in docs:
        chunk = scores[position : position + len(choices)]
        hits += chunk.index(max(chunk)) == gold
        position += len(choices)
    return hits / len(docs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--window", type=int, default=32)
    args = parser.parse_args()

    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from evalsuite.backends.transformers import TransformersLM

    docs = arc_docs(args.limit)
    requests = [Instance("loglikelihood", {}, (context, choice), i) for i, (context, choices, _) in enumerate(docs) for choice in choices]
    with tempfile.TemporaryDirectory() as folder:
        model = str(save_mistral(Path(folder), args.window))
        ours = [score for score, _ in TransformersLM(model, dtype="float32").loglikelihood(requests, disable_tqdm=True)]
        theirs = [score for score, _ in HFLM(pretrained=model, device="cpu", dtype="float32", batch_size=8).loglikelihood(requests, disable_tqdm=True)]
    differences = [abs(a - b) for a, b in zip(ours, theirs, strict=True)]
    documents_off, position = 0, 0
    for _, choices, _ in docs:
        documents_off += max(differences[position : position + len(choices)]) > 1e-3
        position += len(choices)
    worst = max(range(len(differences)), key=differences.__getitem__)
    print(f"Mistral window {args.window}, arc_easy_200 first {len(docs)} docs, {len(requests)} requests")
    print(f"requests over 1e-3 nats: {sum(d > 1e-3 for d in differences)}; documents: {documents_off} of {len(docs)}")
    print(f"worst |diff|: {differences[worst]:.3g} nats (request {worst}: evalsuite {ours[worst]:.2f}, lm-eval hf {theirs[worst]:.2f})")
    print(f"acc: evalsuite {accuracy(ours, docs):.3f}, lm-eval hf {accuracy(theirs, docs):.3f}")


if __name__ == "__main__":
    main()
