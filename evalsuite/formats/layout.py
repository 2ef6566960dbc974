"""Between lm-eval's results dict and evalsuite's tables.

lm-eval packs scores as ``results[task]["acc,none"]``; we store one row per
(task, metric, filter) with its stderr, and one row per scored document. The
lm-eval layout is rebuilt only for ``--output`` so tools made for lm-eval read
our files unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalsuite.identity import environment
from evalsuite.metrics import normalization, perplexity, translation
from evalsuite.metrics.normalization import SuiteMetric
from evalsuite.store.schema import DATA_SHA256, MetricRecord, SampleRecord

if TYPE_CHECKING:
    from evalsuite.identity.models import ModelSpec
    from evalsuite.identity.run_config import RunConfig
    from evalsuite.tasks.loading import LoadedTasks

TokenCounter = Callable[[str], int]
MERGED_SECTIONS = ("results", "groups", "group_subtasks", "configs", "versions", "n-shot", "higher_is_better", "n-samples")
CORRECTNESS_METRICS = ("acc", "exact_match", "acc_norm", "mc1", "mc2", "f1")


def split_metric_key(key: str) -> tuple[str, str]:
    """``"acc,none"`` -> ``("acc", "none")``; lm-eval's only packed format, undone here."""
    metric, _, filter_name = key.partition(",")
    return metric, filter_name or "none"


def _shots(results: dict[str, Any], task: str) -> int | None:
    """The task's shots; a group's when all its members ran with the same number (lm-eval gives groups none)."""
    shots = _number(results.get("n-shot", {}).get(task))
    if shots is not None:
        return int(shots)
    children = (results.get("group_subtasks") or {}).get(task) or ()
    found = {_shots(results, child) for child in children}
    return found.pop() if len(found) == 1 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


def to_records(
    run_id: int, results: dict[str, Any], loaded: LoadedTasks | None, *, token_count: TokenCounter | None
) -> tuple[list[MetricRecord], list[SampleRecord]]:
    """Metric and sample rows for one `simple_evaluate` result (or an imported results JSON: ``loaded`` None)."""
    metrics = _metric_records(run_id, results)
    samples: list[SampleRecord] = []
    for task, task_samples in (results.get("samples") or {}).items():
        samples.extend(_sample_record(run_id, task, sample) for sample in task_samples)
        output_type = (results.get("configs", {}).get(task) or {}).get("output_type")
        if output_type == "loglikelihood_rolling" and token_count is not None:
            metrics.extend(_token_perplexity(run_id, task, task_samples, token_count, results))
    _add_text_hashes(metrics, results)
    return metrics, samples


def _add_text_hashes(metrics: list[MetricRecord], results: dict[str, Any]) -> None:
    """Mark each score of a ``--text-file`` task with the sha256 of the file's text: two files are two
    different tasks under one name, and the board keeps their scores apart by this hash."""
    for metric in metrics:
        digest = _text_sha256(results, metric.task)
        if digest is not None:
            metric.details = {**(metric.details or {}), DATA_SHA256: digest}


def _text_sha256(results: dict[str, Any], task: str) -> str | None:
    """sha256 of the UTF-8 text a ``--text-file`` task scored (its one document, as logged; else the file)."""
    kwargs = ((results.get("configs") or {}).get(task) or {}).get("dataset_kwargs") or {}
    if not kwargs.get("text_file"):
        return None
    pages = [str((sample.get("doc") or {}).get("page", "")) for sample in (results.get("samples") or {}).get(task) or ()]
    if not pages:
        try:
            pages = [Path(kwargs["text_file"]).read_text(encoding="utf-8")]
        except (OSError, UnicodeDecodeError):
            return None  # an imported run whose file is not here: nothing to hash
    return hashlib.sha256("".join(pages).encode("utf-8")).hexdigest()


def _parents(results: dict[str, Any]) -> dict[str, str]:
    """Task or sub-group -> the group it ran under (lm-eval's ``group_subtasks``)."""
    return {child: group for group, children in (results.get("group_subtasks") or {}).items() for child in children or ()}


def _doc_counts(results: dict[str, Any], task: str) -> tuple[int | None, int | None]:
    """(documents scored, documents the task has); a group sums its leaves, so a limited group shows as limited."""
    counts = (results.get("n-samples") or {}).get(task)
    if counts:
        return counts.get("effective"), counts.get("original")
    children = (results.get("group_subtasks") or {}).get(task)
    if not children:
        return None, None
    scored, total = zip(*(_doc_counts(results, child) for child in children))
    if any(n is None for n in scored) or any(n is None for n in total):
        return None, None
    return sum(scored), sum(total)


def _task_version(results: dict[str, Any], task: str) -> str | None:
    version = (results.get("versions") or {}).get(task)
    return None if version is None else str(version)


def _metric_records(run_id: int, results: dict[str, Any]) -> list[MetricRecord]:
    records: list[MetricRecord] = []
    groups = set(results.get("groups", {})) | set(results.get("group_subtasks", {}))
    sections = {**results.get("results", {}), **results.get("groups", {})}
    parents = _parents(results)
    for task, values in sections.items():
        higher = results.get("higher_is_better", {}).get(task, {})
        n_samples, n_total = _doc_counts(results, task)
        for key, raw in values.items():
            if key == "alias" or "," not in key or "_stderr," in key:
                continue
            metric, filter_name = split_metric_key(key)
            stderr = values.get(f"{metric}_stderr,{filter_name}")
            signature = _sacrebleu_signature(metric)
            records.append(
                MetricRecord(
                    run_id=run_id,
                    task=task,
                    metric=metric,
                    filter=filter_name,
                    value=_number(raw),
                    stderr=_number(stderr),
                    n_samples=n_samples,
                    n_shot=_shots(results, task),
                    higher_is_better=higher.get(metric),
                    is_group=task in groups,
                    details={"sacrebleu_signature": signature} if signature else None,
                    task_version=_task_version(results, task),
                    n_total_docs=n_total,
                    parent_task=parents.get(task),
                )
            )
    return records


@functools.cache
def _sacrebleu_signature(metric: str) -> str | None:
    """Stored with BLEU/chrF/TER scores, which are comparable only under the same signature."""
    return translation.sacrebleu_signature(metric) if metric in translation.SACREBLEU_METRICS else None


def _token_perplexity(
    run_id: int, task: str, samples: list[dict[str, Any]], token_count: TokenCounter, results: dict[str, Any]
) -> list[MetricRecord]:
    """Token perplexity needs the tokenizer, which lm-eval's rolling metrics never see."""
    by_filter: dict[str, tuple[list[float], list[int]]] = {}
    for sample in samples:
        logliks, counts = by_filter.setdefault(sample.get("filter", "none"), ([], []))
        logliks.append(float(sum(_as_float(r) for r in sample["filtered_resps"])))
        counts.append(sum(token_count(args[0]) for args in sample["arguments"]))
    return [
        MetricRecord(
            run_id=run_id,
            task=task,
            metric="token_perplexity",
            filter=filter_name,
            value=perplexity.token_perplexity(logliks, counts),
            n_samples=len(logliks),
            n_shot=_shots(results, task),
            higher_is_better=False,
            details={"tokens": sum(counts)},
            task_version=_task_version(results, task),
            n_total_docs=_doc_counts(results, task)[1],
            parent_task=_parents(results).get(task),
        )
        for filter_name, (logliks, counts) in by_filter.items()
    ]


def _as_float(value: Any) -> float:
    if isinstance(value, (list, tuple)):
        return float(value[0])
    return float(value)


def _sample_record(run_id: int, task: str, sample: dict[str, Any]) -> SampleRecord:
    arguments = [list(args) for args in sample.get("arguments", [])]
    filtered = list(sample.get("filtered_resps", []))
    prompt = str(arguments[0][0]) if arguments and arguments[0] else None
    logliks: list[float] | None = None
    responses: list[str]
    target = sample.get("target")
    if filtered and all(isinstance(r, (list, tuple)) and len(r) == 2 and _number(r[0]) is not None for r in filtered):
        logliks = [float(r[0]) for r in filtered]
        choices = [str(args[1]) for args in arguments if len(args) > 1]
        best = max(range(len(logliks)), key=logliks.__getitem__)
        responses = [choices[best]] if best < len(choices) else []
        if isinstance(target, int) and 0 <= target < len(choices):
            target = choices[target]
    elif filtered and all(_number(r) is not None for r in filtered):
        logliks = [float(r) for r in filtered]
        responses = []
    else:
        responses = [str(r[0] if isinstance(r, (list, tuple)) and r else r) for r in sample.get("resps", [])]
    metric_names = list(sample.get("metrics", []))
    metric_values = {name: _jsonable(sample.get(name)) for name in metric_names}
    if any(not isinstance(r, (list, tuple)) for r in filtered) and logliks is None:
        metric_values["filtered_response"] = [str(r) for r in filtered]
    return SampleRecord(
        run_id=run_id,
        task=task,
        doc_id=int(sample.get("doc_id", 0)),
        filter=str(sample.get("filter", "none")),
        prompt=prompt,
        target=None if target is None else str(target),
        responses=responses,
        logliks=logliks,
        metrics=metric_values,
        correct=_correctness(metric_values),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def _correctness(metric_values: dict[str, Any]) -> bool | None:
    for name in CORRECTNESS_METRICS:
        value = metric_values.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
            return bool(value)
        if isinstance(value, bool):
            return value
    return None


def token_counter(lm: Any, model: ModelSpec) -> TokenCounter | None:
    """How many tokens a rolling request predicts for a text: the backend's own count when it has one."""
    inner = getattr(lm, "inner", lm)
    counter = getattr(inner, "count_tokens", None)
    if callable(counter):
        return counter
    tokenizer = getattr(inner, "tokenizer", None)
    if tokenizer is None:
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(model.path))
        except (OSError, ValueError):
            return None
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def add_suite_normalization(metrics: list[MetricRecord], suite_metrics: Sequence[SuiteMetric]) -> None:
    """Store the leaderboard's random-baseline-normalised score beside each raw suite score."""
    baselines = {item.key: item.random_baseline for item in suite_metrics}
    for record in metrics:
        baseline = baselines.get((record.task, record.metric, record.filter))
        if baseline is not None and record.value is not None:
            record.normalized = normalization.normalize_to_random_baseline(record.value, baseline)


def merge(merged: dict[str, Any], results: dict[str, Any]) -> None:
    """Fold one task's lm-eval result into the run's combined lm-eval layout."""
    for section in MERGED_SECTIONS:
        if section in results:
            merged.setdefault(section, {}).update(results[section])
    for key, value in results.items():
        if key not in MERGED_SECTIONS and key != "samples":
            merged.setdefault(key, value)


def finalize(merged: dict[str, Any], config: RunConfig, model: ModelSpec, run_id: int | None) -> dict[str, Any]:
    """lm-eval's results layout for the whole run, with evalsuite's provenance added."""
    output = {key: merged[key] for key in merged if key != "samples"}
    seeds = config.prompt.seeds
    output["config"] = {
        **(merged.get("config") or {}),
        "model": f"evalsuite-{config.model.backend}",
        "model_args": {"pretrained": model.name, "revision": model.revision, "dtype": config.model.dtype},
        "batch_size": config.model.batch_size,
        "device": config.model.device,
        "random_seed": seeds["random"],
        "numpy_seed": seeds["numpy"],
        "torch_seed": seeds["torch"],
        "fewshot_seed": seeds["fewshot"],
    }
    output["model_name"] = model.name
    output["evalsuite"] = {
        "run_id": run_id,
        "weights_sha256": model.weights_sha256,
        "apply_chat_template": config.prompt.apply_chat_template,
        "system_instruction": config.prompt.system_instruction,
        "versions": environment.package_versions(),
    }
    output["date"] = datetime.now(UTC).timestamp()
    return output
