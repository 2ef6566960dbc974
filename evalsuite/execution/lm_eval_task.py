"""lm-eval tasks behind the runnable-task protocol: a YAML task, a group, or --text-file perplexity.

One :class:`LmEvalTask` per requested spec: loaded through :mod:`evalsuite.tasks.loading`
(on first use, so the run header loads the tasks before the model does), evaluated by
lm-eval's ``simple_evaluate`` over the cached model, and turned into stored rows by
:mod:`evalsuite.formats.layout`. It lives with the run (not in ``tasks/``) because it needs
both the header's facts (:mod:`evalsuite.execution.plan`) and the results layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from evalsuite.backends.cache import MissingFromCache
from evalsuite.errors import ConfigError, EvalsuiteError
from evalsuite.execution import plan as run_plan
from evalsuite.formats import layout as results_layout
from evalsuite.identity import environment
from evalsuite.identity.run_config import RunConfig
from evalsuite.store import faults
from evalsuite.tasks.loading import LoadedTasks, TaskSpec, load_tasks, request_counts, suites
from evalsuite.tasks.runnable import Grader, PlannedTask, RunnableTask, TaskRun, TaskScores


@dataclass
class LmEvalTask:
    """One requested lm-eval task or group of a run (see the module docstring)."""

    spec: TaskSpec
    config: RunConfig

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def grader(self) -> Grader | None:
        return None  # lm-eval's own metrics score the answers

    @cached_property
    def loaded(self) -> LoadedTasks:
        """lm-eval's task objects, built once (a bad task fails here, before the model loads)."""
        config = self.config
        return load_tasks(
            [self.spec], data_dir=config.selection.data_dir, text_file=config.selection.text_file, num_fewshot=config.selection.num_fewshot,
            include_path=list(config.selection.include_path),
        )

    def planned(self) -> PlannedTask:
        (planned,) = run_plan.plan([self.loaded], self.config.selection.limit)
        return planned

    def request_counts(self) -> dict[str, int]:
        return request_counts(self.loaded, self._limit())

    def evaluate(self, run: TaskRun) -> TaskScores:
        results = self._simple_evaluate(run)
        faults.point("task_scored")
        return self._scores(run, results)

    def rescore(self, run: TaskRun) -> TaskScores:
        """From the cache alone; a --text-file that changed since the run is named as the cause, not the cache."""
        config = self.config
        try:
            results = self._simple_evaluate(run)
        except MissingFromCache as exc:
            if config.selection.text_file is None:
                raise
            raise ConfigError(  # a missing file is refused before this, when the task is loaded
                f"run {run.run_id} measured perplexity on --text-file {config.selection.text_file}, which has changed since "
                f"(its text makes other requests); {exc.message}",
                f"put the file back as it was for run {run.run_id}, or measure the new text with `evalsuite run --text-file {config.selection.text_file}`",
            ) from exc
        return self._scores(run, results)

    def _limit(self) -> int | None:
        """An explicit --limit wins over a suite's per-task limit."""
        return self.config.selection.limit if self.config.selection.limit is not None else self.spec.limit

    def _simple_evaluate(self, run: TaskRun) -> dict[str, Any]:
        import lm_eval

        config, seeds = self.config, self.config.prompt.seeds
        results = environment.without_git_noise(lm_eval.simple_evaluate)(
            model=run.lm,
            tasks=self.loaded.tasks,
            task_manager=self.loaded.manager,
            num_fewshot=None,  # load_tasks already set each task's shots (CLI > suite > task default)
            limit=self._limit(),
            log_samples=True,
            apply_chat_template=config.prompt.apply_chat_template,
            fewshot_as_multiturn=config.prompt.multiturn_fewshot,
            system_instruction=config.prompt.system_instruction,
            gen_kwargs=config.prompt.generation_kwargs() or None,  # decoded and checked, as lm-eval's CLI parses them
            random_seed=seeds["random"],
            numpy_random_seed=seeds["numpy"],
            torch_random_seed=seeds["torch"],
            fewshot_random_seed=seeds["fewshot"],
        )
        if results is None:
            raise EvalsuiteError(f"lm-eval returned no results for {self.spec.name}")
        return dict(results)

    def _scores(self, run: TaskRun, results: dict[str, Any]) -> TaskScores:
        """lm-eval's results as metric and sample rows (suite-normalized scores added)."""
        counter = results_layout.token_counter(run.lm, run.model)
        metrics, samples = results_layout.to_records(run.run_id, results, self.loaded, token_count=counter)
        if self.config.selection.suite is not None:
            results_layout.add_suite_normalization(metrics, suites()[self.config.selection.suite].metrics)
        if not self.config.outputs.log_samples:
            samples = []
        faults.point("metrics_built")
        tasks = tuple(sorted({m.task for m in metrics} | {s.task for s in samples}))
        return TaskScores(results=results, metrics=metrics, samples=samples, tasks=tasks)


class LmEvalKind:
    """lm-eval's catalogue: every name no other kind claims (unknown names fail in select_tasks)."""

    def claims(self, name: str) -> bool:
        return True

    def build(self, config: RunConfig, specs: Sequence[TaskSpec]) -> list[RunnableTask]:
        return [LmEvalTask(spec, config) for spec in specs]


KIND = LmEvalKind()
