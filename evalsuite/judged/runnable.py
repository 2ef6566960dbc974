"""Judged tasks behind the runnable-task protocol: the model answers, the run's judge grades (both cached).

:class:`JudgedKind` claims the names in the judged-task registry and builds a run's judged
tasks together, sharing one :class:`~evalsuite.judged.session.RunJudge` (the runner's grader).
The request counts of a judged task are worked out here only (:meth:`JudgedRunnable.request_counts`,
from the task's documents and turns) and its header line beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalsuite.errors import ConfigError
from evalsuite.judged import is_judged, judged_task
from evalsuite.judged import session as judged_session
from evalsuite.judged.base import JudgedTask
from evalsuite.tasks.runnable import Grader, PlannedTask, RunnableTask, TaskRun, TaskScores

if TYPE_CHECKING:
    from evalsuite.identity.run_config import RunConfig
    from evalsuite.tasks.suites import TaskSpec


@dataclass(frozen=True)
class JudgedRunnable:
    """One judged task of a run (see the module docstring); ``name`` as requested."""

    name: str
    task: JudgedTask
    config: RunConfig
    judge: judged_session.RunJudge

    @property
    def grader(self) -> Grader | None:
        return self.judge

    def planned(self) -> PlannedTask:
        source = f"{self.task.data_source()}, judged by {self.config.judge}"
        return PlannedTask(self.task.name, 1, (0,), self._documents(), self.task.available(), source)

    def request_counts(self) -> dict[str, int]:
        """Every answered turn is one request to the model and one to the judge."""
        requests = self.task.turns * self._documents()
        return {f"{self.task.name} (answers)": requests, f"{self.task.name} (judgments)": requests}

    def evaluate(self, run: TaskRun) -> TaskScores:
        outcome, results = judged_session.evaluate(
            self.task, self.config, run.lm, self.judge.opened(), run.run_id, run.report, last=run.last
        )
        samples = outcome.samples if self.config.outputs.log_samples else []
        return TaskScores(results=results, metrics=outcome.metrics, samples=samples, tasks=(self.task.name,))

    def rescore(self, run: TaskRun) -> TaskScores:
        raise ConfigError(
            f"run {run.run_id} has the judged task {self.name}, which is not re-scored from the cache alone (it needs both tokenizers)",
            "run the same `evalsuite run` command again: its answers and judgments come from the cache",
        )

    def _documents(self) -> int:
        return self.task.documents(self.config.selection.limit)


class JudgedKind:
    """The judged-task registry as a kind of runnable task."""

    def claims(self, name: str) -> bool:
        return is_judged(name)

    def build(self, config: RunConfig, specs: Sequence[TaskSpec]) -> list[RunnableTask]:
        tasks = [judged_task(spec.name) for spec in specs]
        judge = judged_session.RunJudge(config, tuple(tasks))
        return [JudgedRunnable(spec.name, task, config, judge) for spec, task in zip(specs, tasks, strict=True)]


KIND = JudgedKind()
