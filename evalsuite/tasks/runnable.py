"""The runnable-task protocol: the one contract between the runner and any kind of task.

The runner plans, evaluates, stores and re-scores tasks without asking which kind it holds:
lm-eval tasks (:mod:`evalsuite.execution.lm_eval_task`) and judged tasks such as MT-Bench
(:mod:`evalsuite.judged.runnable`) are adapters behind :class:`RunnableTask`, and
:mod:`evalsuite.execution.task_lookup` builds them from a run's task names through the
:class:`TaskKind` table. A kind that needs a second model besides the one under test (a judge)
hands the runner a :class:`Grader`, one per run, shared by that kind's tasks.

This module holds values and protocols only; it imports nothing that runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from evalsuite.backends.cache import CachedLM
    from evalsuite.identity.models import ModelSpec
    from evalsuite.identity.run_config import RunConfig
    from evalsuite.store.db import Database
    from evalsuite.store.schema import MetricRecord, SampleRecord
    from evalsuite.tasks.suites import TaskSpec


@dataclass(frozen=True)
class PlannedTask:
    """One requested task or group as it will run: a line of the run header.

    Attributes:
        name: what the user asked for (a --text-file task is named as the file).
        leaves: how many lm-eval tasks it expands to (1 for a plain task).
        shots: the distinct few-shot counts of its leaves, ascending.
        documents: documents that will be scored (after the limit), summed over leaves.
        available: documents the task has, summed over leaves.
        source: where the documents are read from, in words.
    """

    name: str
    leaves: int
    shots: tuple[int, ...]
    documents: int
    available: int
    source: str

    def line(self) -> str:
        """`name: 5-shot, 20 of 1000 documents (4 tasks), from <source>`."""
        shots = "/".join(str(s) for s in self.shots) + "-shot"
        docs = f"{self.documents} of {self.available}" if self.documents != self.available else f"all {self.available}"
        noun = "document" if self.available == 1 else "documents"
        group = f" in {self.leaves} tasks" if self.leaves > 1 else ""
        return f"{self.name}: {shots}, {docs} {noun}{group}, from {self.source}"


@dataclass(frozen=True)
class TaskRun:
    """What the runner hands a task to evaluate (or re-score) inside a stored run.

    Attributes:
        run_id: the run the task's rows belong to.
        model: the model under test, resolved.
        lm: the model under test wrapped in the request cache (re-scoring: the cache alone).
        report: progress lines.
        last: the run's last task, after which a task may free the model under test early
            (a judged task does, so a GPU holds the model's engine, then the judge's).
    """

    run_id: int
    model: ModelSpec
    lm: CachedLM
    report: Callable[[str], None]
    last: bool = True


@dataclass(frozen=True)
class TaskScores:
    """A task's scores: the rows the runner stores and lm-eval's results layout for ``--output``.

    Attributes:
        results: lm-eval's results layout (``results``, ``configs``, ``versions``, ...), merged across tasks.
        metrics: metric rows to store.
        samples: sample rows to store (empty without --log-samples).
        tasks: the task names whose stored rows these replace (a group stores its leaves).
    """

    results: dict[str, Any]
    metrics: list[MetricRecord]
    samples: list[SampleRecord] = field(default_factory=list)
    tasks: tuple[str, ...] = ()


@dataclass(frozen=True)
class GraderKey:
    """What a grader adds to a run's identity, so a run graded by another judge is never resumed as this one.

    Attributes:
        hash_part: joined to the model identity's key in the run's config hash (the resume key).
        stored_config: merged into the run's stored config (the board's comparability key reads it).
    """

    hash_part: str
    stored_config: dict[str, Any]


class Grader(Protocol):
    """A second model that grades the answers of the model under test (MT-Bench's judge), one per run."""

    def prepare(self, model: ModelSpec) -> GraderKey:
        """Check and fingerprint the grader once the model is resolved, before anything is stored."""
        ...

    def open(self, database: Database, run_id: int) -> None:
        """Attach to the stored run (its cache and bookkeeping); the grader's model loads only when needed."""
        ...

    def usage(self) -> tuple[int, int]:
        """Requests (computed, served from the cache) so far, added to the run's own."""
        ...

    def close(self) -> None: ...


class RunnableTask(Protocol):
    """One requested task of a run, whatever its kind; built with the run's config (its --limit included)."""

    @property
    def name(self) -> str:
        """The name the user asked for (stored in the run row, said in progress lines)."""
        ...

    @property
    def grader(self) -> Grader | None:
        """The grader this task needs (shared by a run's tasks of one kind), or None."""
        ...

    def planned(self) -> PlannedTask:
        """Its line of the run header: shots, documents and their source (the task loads here, before the model)."""
        ...

    def request_counts(self) -> dict[str, int]:
        """Requests it would send, by name (--dry-run), without any model."""
        ...

    def evaluate(self, run: TaskRun) -> TaskScores:
        """Evaluate the model (requests through the cache) and score it; the runner stores the rows."""
        ...

    def rescore(self, run: TaskRun) -> TaskScores:
        """Score it again from the request cache alone (no model); a ConfigError when the kind cannot."""
        ...


class TaskKind(Protocol):
    """A kind of task other than lm-eval's, registered in :mod:`evalsuite.execution.task_lookup`."""

    def claims(self, name: str) -> bool:
        """Whether ``name`` (as given in --tasks) is a task of this kind."""
        ...

    def build(self, config: RunConfig, specs: Sequence[TaskSpec]) -> list[RunnableTask]:
        """The run's tasks of this kind, one per spec in order (built together: they may share a grader)."""
        ...
