"""A run's task names -> runnable tasks: the one place that knows which kinds of task exist.

The kinds in :data:`KINDS` are asked first, in order; a name none of them claims is
lm-eval's (a task, group, alias or suite of the catalogue, or the --text-file task). The
runner gets :class:`~evalsuite.tasks.runnable.RunnableTask` objects and never asks which
kind it holds.
"""

from __future__ import annotations

from evalsuite.execution import lm_eval_task
from evalsuite.identity.run_config import RunConfig
from evalsuite.judged import runnable as judged_runnable
from evalsuite.tasks.loading import TaskSpec, select_tasks
from evalsuite.tasks.runnable import RunnableTask, TaskKind

KINDS: list[TaskKind] = [judged_runnable.KIND]  # kinds besides lm-eval's, asked in this order
LM_EVAL: TaskKind = lm_eval_task.KIND


def plan_tasks(config: RunConfig) -> list[TaskSpec]:
    """The task list of a run: --tasks, --suite, or a perplexity task over --text-file.

    Names another kind claims (judged tasks, graded by --judge) are taken as given; the rest
    go through lm-eval's catalogue (which expands suites and refuses unknown names). RunConfig
    keeps judged tasks and lm-eval tasks out of one run.
    """
    claimed = [name for name in config.selection.tasks if _claimed(name)]
    others = [name for name in config.selection.tasks if not _claimed(name)]
    needs_catalogue = bool(others or config.selection.suite or config.selection.text_file) or not claimed
    specs = select_tasks(others or None, config.selection.suite, text_file=config.selection.text_file, include_path=config.selection.include_path) if needs_catalogue else []
    return [*specs, *(TaskSpec(name) for name in claimed)]


def runnable_tasks(config: RunConfig) -> list[RunnableTask]:
    """The run's planned tasks in plan order, each kind building its own together (they may share a grader)."""
    specs = plan_tasks(config)
    built: dict[str, RunnableTask] = {}
    for kind in (*KINDS, LM_EVAL):
        mine = [spec for spec in specs if spec.name not in built and kind.claims(spec.name)]
        if mine:
            built.update(zip((spec.name for spec in mine), kind.build(config, mine), strict=True))
    return [built[spec.name] for spec in specs]


def _claimed(name: str) -> bool:
    return any(kind.claims(name) for kind in KINDS)
