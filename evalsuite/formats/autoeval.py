"""LLM AutoEval's Markdown summary of one stored run (``results export --format autoeval``).

LLM AutoEval (mlabonne/llm-autoeval) posts this summary to a gist after a ``nous`` run; users
paste it into model cards. Its layout, reproduced here from stored scores:

* a one-row table: ``Model`` (a link to the model on the Hub; a demo alias, local folder or
  endpoint is named, not linked) and one column per benchmark of the
  suite (``AGIEval``, ``GPT4All``, ``TruthfulQA``, ``Bigbench``), then ``Average``;
* per benchmark ``### NAME``, a table ``Task | Version | Metric | Value | ± | Stderr`` (tasks in name
  order, each metric of a task on its own row, the task name and version only on its first row;
  values and stderrs x 100 with two decimals; a metric without stderr is printed as stored), then
  ``Average: X%``;
* ``Average score: X%`` and ``Elapsed time: HH:MM:SS``.

Unlike AutoEval (which always runs every document), a run limited with ``--limit`` says so in a
line under the first table.

Which tasks make a benchmark and which score counts come from the suite (``tasks/suites.yaml``);
the averages are :func:`evalsuite.metrics.normalization.suite_score` with the suite's rounding
(AutoEval rounds each benchmark to 2 decimals, then averages them). Tables are written by
``pytablewriter`` (an lm-eval dependency), as AutoEval writes them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from evalsuite.errors import ConfigError
from evalsuite.metrics.normalization import suite_score
from evalsuite.store.queries import RunDetail
from evalsuite.store.schema import MetricRecord, ModelRecord
from evalsuite.tasks.suites import SuiteSpec

DEFAULT_SUITE = "nous"
HUB_URL = "https://huggingface.co/"
NOT_AVAILABLE = "Error: no stored scores"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    from pytablewriter import MarkdownTableWriter

    writer = MarkdownTableWriter()
    writer.headers = list(headers)
    writer.value_matrix = [list(row) for row in rows]
    return str(writer.dumps())


def _task_rows(task: str, version: str, metrics: Sequence[MetricRecord]) -> list[list[object]]:
    rows: list[list[object]] = []
    for metric in metrics:
        value = float(metric.value) if metric.value is not None else float("nan")
        if metric.stderr is not None:
            rows.append([task, version, metric.metric, f"{value * 100:.2f}", "±", f"{metric.stderr * 100:.2f}"])
        else:
            rows.append([task, version, metric.metric, f"{value:.2f}", "", ""])
        task, version = "", ""
    return rows


def _benchmarks(suite: SuiteSpec) -> dict[str, list[str]]:
    """Benchmark label -> its tasks, in the suite's order of benchmarks."""
    grouped: dict[str, list[str]] = {}
    for item in suite.metrics:
        grouped.setdefault(item.benchmark or item.task, [])
        if item.task not in grouped[item.benchmark or item.task]:
            grouped[item.benchmark or item.task].append(item.task)
    return grouped


def _elapsed_seconds(detail: RunDetail) -> float:
    run = detail.run
    if run.duration_s is not None:
        return float(run.duration_s)
    finished: datetime | None = run.finished_at
    return (finished - run.started_at).total_seconds() if finished is not None else 0.0


def _model_cell(model: ModelRecord) -> str:
    """A link to the model on the Hub, as AutoEval writes it, only for a Hub model (its stored source is its
    Hub id); a demo alias, local folder or endpoint is named as it was run, never linked to a Hub page."""
    if model.source != model.name:
        return model.name
    return f"[{model.name.split('/')[-1]}]({HUB_URL}{model.name})"


def _limited_note(stored: Sequence[MetricRecord], suite: SuiteSpec) -> str:
    """A line saying the run scored fewer documents than its tasks have (``--limit``), or nothing."""
    tasks = {item.task for item in suite.metrics}
    limited = [m for m in stored if m.task in tasks and m.n_samples is not None and m.n_total_docs is not None
               and m.n_samples < m.n_total_docs]
    if not limited:
        return ""
    most = max(int(m.n_samples or 0) for m in limited)
    return (
        f"**Limited run:** {len({m.task for m in limited})} task(s) scored on at most {most} documents (`--limit`); "
        "these scores are not comparable with a full run's.\n\n"
    )


def render(detail: RunDetail, suite: SuiteSpec) -> str:
    """The summary AutoEval writes for ``suite``'s benchmarks, from one run's stored scores."""
    stored = [m for m in detail.metrics if m.filter == "none" and m.value is not None]
    by_task: dict[str, list[MetricRecord]] = {}
    for metric in sorted(stored, key=lambda m: (m.task, m.metric)):
        by_task.setdefault(metric.task, []).append(metric)
    if not any(item.task in by_task for item in suite.metrics):
        raise ConfigError(
            f"run {detail.run.id} has no score of the suite '{suite.name}'",
            f"the autoeval format summarises a `--suite {suite.name}` run; export other runs with --format md",
        )
    raw = {(m.task, m.metric, m.filter): float(m.value) for m in stored if m.value is not None}
    score = suite_score(suite.metrics, raw, benchmark_decimals=suite.benchmark_decimals)
    sections, averages = [], {}
    for benchmark, tasks in _benchmarks(suite).items():
        present = [task for task in sorted(tasks) if task in by_task]
        rows = [row for task in present for row in _task_rows(task, _version(by_task[task]), by_task[task])]
        table = _table(["Task", "Version", "Metric", "Value", "", "Stderr"], rows) if rows else ""
        average: float | str = score.benchmarks.get(benchmark, NOT_AVAILABLE)
        averages[benchmark] = average
        sections.append(f"### {benchmark}\n{table}\nAverage: {average}%\n\n")
    summary = "".join(sections)
    if score.average is not None:
        summary += f"Average score: {score.average}%"
        averages["Average"] = score.average
    else:
        summary += "Average score: Not available due to errors"
    header = _table(["Model", *averages], [[_model_cell(detail.model), *averages.values()]])
    elapsed = time.strftime("%H:%M:%S", time.gmtime(_elapsed_seconds(detail)))
    return f"{header}\n{_limited_note(stored, suite)}{summary}\n\nElapsed time: {elapsed}\n"


def _version(metrics: Sequence[MetricRecord]) -> str:
    versions = [m.task_version for m in metrics if m.task_version is not None]
    return versions[0] if versions else "N/A"
