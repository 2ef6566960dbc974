"""Suites: named task lists with shots, per-task limits and the scores that count.

Suites are data (``tasks/suites.yaml``); this module only reads and validates them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from evalsuite.errors import TaskFileError
from evalsuite.metrics.normalization import SuiteMetric, random_baseline
from evalsuite.tasks.index import TASKS_ROOT

SUITES_FILE = TASKS_ROOT / "suites.yaml"


@dataclass(frozen=True)
class TaskSpec:
    """One requested task (or group).

    Attributes:
        name: lm-eval task or group name (aliases already resolved).
        num_fewshot: suite default; None = the task's own default.
        limit: at most this many documents (the first ones) of each leaf task; None = all.
    """

    name: str
    num_fewshot: int | None = None
    limit: int | None = None


@dataclass(frozen=True)
class SuiteSpec:
    """A named suite: what to run and how its scores combine (see ``tasks/suites.yaml``).

    ``metrics`` lists the (task, metric, filter) scores that count, each with its benchmark
    label and random baseline for ``evalsuite.metrics.normalization.suite_score``;
    ``average`` is False when the scores have different units (no suite average shown);
    ``benchmark_decimals`` rounds each benchmark's mean before the average (the Nous suite);
    ``backend_args`` are the suite's protocol settings for the model (``--backend-arg``
    values, e.g. the Nous suite's ``add_bos_token: false``), applied unless the user sets
    the same key, so that they enter the run's identity like any other backend argument.
    """

    name: str
    description: str
    tasks: tuple[TaskSpec, ...]
    metrics: tuple[SuiteMetric, ...] = ()
    average: bool = True
    benchmark_decimals: int | None = None
    backend_args: tuple[tuple[str, str], ...] = ()


@lru_cache(maxsize=1)
def _suites_file() -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(SUITES_FILE.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TaskFileError(f"{SUITES_FILE}: cannot be read ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("suites"), dict):
        raise TaskFileError(f"{SUITES_FILE}: expected a mapping with a 'suites' mapping")
    return data


def aliases() -> dict[str, str]:
    """Short names for tasks (``bleu`` -> ``wmt22_en_de``), from ``tasks/suites.yaml``."""
    return dict(_suites_file().get("aliases") or {})


def _suite_metric(raw: Mapping[str, Any], task: str) -> SuiteMetric:
    choices = raw.get("num_choices")
    return SuiteMetric(
        task=str(raw.get("task", task)),
        metric=str(raw["metric"]),
        filter=str(raw.get("filter", "none")),
        benchmark=str(raw.get("benchmark", raw.get("task", task))),
        random_baseline=random_baseline(int(choices)) if choices else 0.0,
    )


def _parse_suite(name: str, raw: Mapping[str, Any]) -> SuiteSpec:
    try:
        specs, metrics = [], []
        for entry in raw["tasks"]:
            specs.append(TaskSpec(str(entry["task"]), entry.get("num_fewshot"), entry.get("limit")))
            if entry.get("score"):
                metrics.append(_suite_metric(entry["score"], str(entry["task"])))
        metrics += [_suite_metric(score, str(score["task"])) for score in raw.get("scores") or []]
    except (KeyError, TypeError, ValueError) as exc:
        raise TaskFileError(f"{SUITES_FILE}: suite '{name}' is malformed ({exc!r})") from exc
    return SuiteSpec(
        name=name,
        description=" ".join(str(raw.get("description", "")).split()),
        tasks=tuple(specs),
        metrics=tuple(metrics),
        average=bool(raw.get("average", True)),
        benchmark_decimals=int(raw["benchmark_decimals"]) if raw.get("benchmark_decimals") is not None else None,
        backend_args=tuple((str(key), _cli_text(value)) for key, value in (raw.get("backend_args") or {}).items()),
    )


def _cli_text(value: Any) -> str:
    """A YAML scalar as the user would type it after ``--backend-arg KEY=`` (YAML's false is ``false``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def suite_names() -> tuple[str, ...]:
    """The suites' names, without parsing them (for `--help`: a malformed suite fails when it is used, not on every command)."""
    try:
        return tuple(_suites_file()["suites"])
    except TaskFileError:
        return ()


def suites() -> dict[str, SuiteSpec]:
    """Every suite defined in ``tasks/suites.yaml``, by name."""
    return {name: _parse_suite(name, raw) for name, raw in _suites_file()["suites"].items()}
