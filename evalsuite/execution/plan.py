"""The run header: what `evalsuite run` is about to do, said before any model loads.

A user should see, before minutes of work, which tasks run, with how many shots, on how
many documents, and where each task's documents come from (a shipped file, a local copy
under --data-dir, the Hugging Face Hub, or their own --text-file). This module turns the
loaded lm-eval tasks into those facts (:class:`~evalsuite.tasks.runnable.PlannedTask`, the
record every kind of task gives) and prints the lines for any task's facts.
It reads the built Task objects only; it decides nothing about the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evalsuite.tasks.index import TASKS_ROOT
from evalsuite.tasks.loading import TEXT_FILE_TASK, LoadedTasks
from evalsuite.tasks.runnable import PlannedTask


def plan(loaded: Sequence[LoadedTasks], limit: int | None) -> list[PlannedTask]:
    """One :class:`PlannedTask` per requested spec.

    Args:
        loaded: the tasks as the runner loaded them (one LoadedTasks per spec, or one for all).
        limit: the run's explicit --limit; None means each spec's own (suite) limit.
    """
    planned = []
    for tasks in loaded:
        for spec in tasks.specs:
            leaves = {name: task for name, task in tasks.leaves.items() if _belongs(task, spec.name, tasks)}
            planned.append(_planned(spec.name, leaves, tasks, limit if limit is not None else spec.limit))
    return planned


def header_lines(planned: Sequence[PlannedTask], model: str) -> list[str]:
    """The lines `evalsuite run` prints (stderr) before loading ``model``."""
    count = f"{len(planned)} task" + ("" if len(planned) == 1 else "s")
    return [f"will run {count} on {model}:", *(f"  {task.line()}" for task in planned)]


def _belongs(task: Any, spec_name: str, tasks: LoadedTasks) -> bool:
    """Whether a leaf came from ``spec_name`` (itself, or a member of that group)."""
    if len(tasks.specs) == 1:
        return True
    return str(getattr(task, "task_name", "")) == spec_name or spec_name in _groups_of(task)


def _groups_of(task: Any) -> set[str]:
    groups = getattr(task.config, "group", None) or []
    tags = getattr(task.config, "tag", None) or []
    return {str(g) for g in ([groups] if isinstance(groups, str) else groups)} | {str(t) for t in ([tags] if isinstance(tags, str) else tags)}


def _planned(name: str, leaves: Mapping[str, Any], tasks: LoadedTasks, limit: int | None) -> PlannedTask:
    available = {leaf: len(task.eval_docs) for leaf, task in leaves.items()}
    documents = sum(min(limit, n) if limit is not None else n for n in available.values())
    shots = tuple(sorted({tasks.num_fewshot.get(leaf, 0) for leaf in leaves}))
    shown = name
    if name == TEXT_FILE_TASK:
        text_file = _text_file(next(iter(leaves.values()), None))
        shown = f"{Path(text_file).name} (perplexity of --text-file)" if text_file else name
    return PlannedTask(
        name=shown,
        leaves=len(leaves),
        shots=shots or (0,),
        documents=documents,
        available=sum(available.values()),
        source=_sources([_source(task) for task in leaves.values()]),
    )


def _text_file(task: Any) -> str | None:
    kwargs = (getattr(task.config, "dataset_kwargs", None) or {}) if task is not None else {}
    value = kwargs.get("text_file")
    return str(value) if value else None


def _source(task: Any) -> tuple[str, str]:
    """(kind, where) for one leaf: shipped file, local copy, your file, or a Hub dataset."""
    config = task.config
    kwargs = config.dataset_kwargs or {}
    metadata = config.metadata or {}
    split = config.test_split or config.validation_split or config.training_split
    if kwargs.get("text_file"):
        return "your file", str(kwargs["text_file"])
    local = metadata.get("evalsuite_local_copy")
    if isinstance(local, Mapping) and local:
        return "local copy", str(local.get(split) or next(iter(local.values())))
    files = kwargs.get("data_files")
    if isinstance(files, Mapping) and files:
        base = Path(str(metadata.get("config_source") or ".")).parent
        relative = files.get(split) or next(iter(files.values()))
        path = (base / str(relative)).resolve()
        return ("shipped file" if TASKS_ROOT.resolve() in path.parents else "file"), str(path)
    if config.dataset_path:
        named = f" ({config.dataset_name})" if config.dataset_name else ""
        return "Hugging Face Hub", f"{config.dataset_path}{named}"
    return "task config", str(metadata.get("config_source") or config.task)


def _sources(found: Iterable[tuple[str, str]]) -> str:
    """Several leaves' sources in one phrase: one kind and a shared folder when they agree."""
    found = list(found)
    if not found:
        return "nothing (no tasks)"
    kinds = sorted({kind for kind, _ in found})
    places = sorted({where for _, where in found})
    if len(places) == 1:
        return f"{kinds[0]} {_shown_path(places[0])}" if kinds[0] != "Hugging Face Hub" else f"the Hugging Face Hub: {places[0]}"
    if len(kinds) == 1 and kinds[0] in ("local copy", "shipped file", "file"):
        return f"{kinds[0]}, {len(places)} files under {_shown_path(os.path.commonpath(places))}"
    if kinds == ["Hugging Face Hub"]:
        datasets = sorted({where.split(" (")[0] for where in places})
        return "the Hugging Face Hub: " + ", ".join(datasets)
    return "; ".join(f"{kind} ({sum(1 for k, _ in found if k == kind)} tasks)" for kind in kinds)


def _shown_path(path: str) -> str:
    """A path relative to the working directory when it is inside it (shorter, still exact)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path
