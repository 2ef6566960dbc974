"""Shared helpers for the transformers-backend benchmarks.

Each bench runs evalsuite's ``TransformersLM`` and lm-eval's ``HFLM`` in the
same process, on the same model, data and settings, alternately (A B A B), and
prints wall time, tokens/s, the ratio and how far each run is from the CPU's
matmul limit (FLOPs needed = 2 x parameters x tokens fed to the model).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

# The tests' data loaders and random-Llama builder, so benches score what the fidelity tests check.
from reference_data import DATA, hellaswag_docs, pubmedqa_docs  # noqa: E402, F401
from tiny_models import save_random_llama  # noqa: E402

DEFAULT_MODEL_DIR = Path(os.environ.get("EVALSUITE_BENCH_MODEL", "/tmp/evalsuite_bench/llama-100m"))


def build_random_llama(directory: Path) -> Path:
    """A randomly initialised ~110M Llama (hidden 768, 12 layers, head_dim 64, vocab 32000, window 2048).

    Speed does not depend on the weights, so random ones stand in for a real
    checkpoint of this shape. Built once and reused from ``directory``.
    """
    if (directory / "config.json").exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    return save_random_llama(
        directory, tokenizer_vocab=32000, hidden_size=768, intermediate_size=2048, layers=12, heads=12, kv_heads=12,
        max_positions=2048, initializer_range=0.02, tie_word_embeddings=True,
    )


def parse_args(
    description: str, default_limit: int, more_options: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    if more_options is not None:
        more_options(parser)
    parser.add_argument("--model", default=None, help="model directory (default: a random ~110M Llama)")
    parser.add_argument("--limit", type=int, default=default_limit, help="documents (or tokens for perplexity)")
    parser.add_argument("--hf-batch-size", type=int, default=8, help="HFLM batch_size (lm-eval default is 1)")
    parser.add_argument("--repeats", type=int, default=2, help="alternations A B A B ...")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.model = str(args.model or build_random_llama(DEFAULT_MODEL_DIR))
    return args


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Measured float32 matmul throughput: the practical compute limit of this CPU."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def parameter_count(model: torch.nn.Module) -> int:
    """Parameters doing matmuls per token: all but the input embedding lookup (tied head counted once)."""
    embedding = model.get_input_embeddings().weight
    total = sum(p.numel() for p in model.parameters())
    tied = model.get_output_embeddings().weight is embedding
    return total if tied else total - embedding.numel()


@dataclass
class Contender:
    name: str
    run: Callable[[], Any]
    tokens_fed: int  # tokens this contender feeds through the model


def time_alternately(contenders: list[Contender], repeats: int) -> dict[str, tuple[float, Any]]:
    """Best wall time of each contender over ``repeats`` alternating runs, with its last result."""
    best: dict[str, tuple[float, Any]] = {}
    for _ in range(repeats):
        for contender in contenders:
            start = time.perf_counter()
            result = contender.run()
            elapsed = time.perf_counter() - start
            print(f"  {contender.name}: {elapsed:.2f} s", flush=True)
            if contender.name not in best or elapsed < best[contender.name][0]:
                best[contender.name] = (elapsed, result)
    return best


def report(
    title: str, contenders: list[Contender], best: dict[str, tuple[float, Any]], params: int, task_tokens: int
) -> None:
    """Print time, tokens/s over the task's tokens, ratio to the first baseline, and % of matmul peak."""
    peak = matmul_gflops()
    print(f"\n== {title} ==  machine: {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}, matmul peak {peak:.0f} GFLOP/s, "
          f"{params / 1e6:.0f}M params, {task_tokens} task tokens")
    ours_time = best[contenders[0].name][0]
    for contender in contenders:
        elapsed = best[contender.name][0]
        gflops = 2 * params * contender.tokens_fed / elapsed / 1e9
        print(
            f"{contender.name:>28}: {elapsed:7.2f} s  {task_tokens / elapsed:8.0f} task tok/s  "
            f"fed {contender.tokens_fed:7d} tok  {gflops:5.0f} GFLOP/s ({100 * gflops / peak:3.0f}% of peak)  "
            f"x{elapsed / ours_time:.2f} vs {contenders[0].name}"
        )


def loglikelihood_bench(title: str, docs: list[tuple[str, list[str]]], args: argparse.Namespace) -> None:
    """Time TransformersLM vs HFLM on multiple-choice requests and check they agree."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from evalsuite.backends._scoring import Branch, pack_rows
    from evalsuite.backends.transformers import TransformersLM

    requests = [
        Instance("loglikelihood", {}, (context, choice), i) for context, choices in docs for i, choice in enumerate(choices)
    ]
    ours = TransformersLM(args.model, dtype="float32")
    hf = HFLM(pretrained=args.model, device="cpu", dtype="float32", batch_size=args.hf_batch_size)
    window = ours.max_length
    pairs = ours._encode_requests([r.args for r in requests])
    truncated = [ours._truncate(i, c, x) for i, (c, x) in enumerate(pairs)]
    # HFLM feeds one row per distinct context+continuation[:-1] (its one-token logits cache).
    hf_rows = {c + x[:-1] for c, x in truncated}
    groups: dict[tuple[int, ...], list[Branch]] = {}
    for i, (c, x) in enumerate(truncated):
        groups.setdefault(c, []).append(Branch(i, x))
    contenders = [
        Contender("evalsuite TransformersLM", lambda: ours.loglikelihood(requests, disable_tqdm=True),
                  sum(row.length for row in pack_rows(groups, window))),
        Contender(f"lm-eval HFLM (bs={args.hf_batch_size})", lambda: hf.loglikelihood(requests, disable_tqdm=True),
                  sum(len(row) for row in hf_rows)),
    ]
    best = time_alternately(contenders, args.repeats)
    ours_scores, hf_scores = best[contenders[0].name][1], best[contenders[1].name][1]
    worst = max(abs(a[0] - b[0]) for a, b in zip(ours_scores, hf_scores, strict=True))
    same_greedy = all(a[1] == b[1] for a, b in zip(ours_scores, hf_scores, strict=True))
    task_tokens = sum(len(c) + len(x) for c, x in truncated)
    report(title, contenders, best, parameter_count(ours.model), task_tokens)
    print(f"{len(docs)} docs, {len(requests)} requests; max |loglik difference| = {worst:.2e}; "
          f"is_greedy identical: {same_greedy}")
