"""The runnable-task protocol is the runner's only contract with a task.

A third kind of task, defined here and nowhere in the product (a constant-score task with a
grader of its own), is registered in the task-kind table and run by the real runner on a real
SQLite database with the real demo/pico-s: its header line is said, its rows are stored, its
grader's key joins the run's identity and its requests are counted, it dry-runs and re-scores.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from evalsuite.execution import runner, task_lookup
from evalsuite.identity.models import ModelSpec
from evalsuite.identity.run_config import RunConfig
from evalsuite.store.db import Database
from evalsuite.store.schema import MetricRecord
from evalsuite.tasks.runnable import Grader, GraderKey, PlannedTask, RunnableTask, TaskRun, TaskScores
from evalsuite.tasks.suites import TaskSpec

NAME = "constant_answer"
SCORE = 0.75
DOCUMENTS = 4
GRADER_USAGE = (2, 1)  # (computed, cached): the grader's own requests, added to the run's


@dataclass
class FixedGrader:
    """A grader whose key is fixed; it records what the runner asked of it."""

    calls: list[str] = field(default_factory=list)

    def prepare(self, model: ModelSpec) -> GraderKey:
        self.calls.append(f"prepare {model.name}")
        return GraderKey(hash_part="fixed-grader:v1", stored_config={"fixed_grader": "v1"})

    def open(self, database: Database, run_id: int) -> None:
        self.calls.append(f"open {run_id}")

    def usage(self) -> tuple[int, int]:
        return GRADER_USAGE

    def close(self) -> None:
        self.calls.append("close")


@dataclass
class ConstantTask:
    """Every document scores SCORE; the model under test is never asked."""

    name: str
    judge: FixedGrader

    @property
    def grader(self) -> Grader | None:
        return self.judge

    def planned(self) -> PlannedTask:
        return PlannedTask(self.name, 1, (0,), DOCUMENTS, DOCUMENTS, "this test")

    def request_counts(self) -> dict[str, int]:
        return {self.name: DOCUMENTS}

    def evaluate(self, run: TaskRun) -> TaskScores:
        metric = MetricRecord(run_id=run.run_id, task=self.name, metric="score", value=SCORE, n_samples=DOCUMENTS, n_shot=0, higher_is_better=True)
        results = {"results": {self.name: {"alias": self.name, "score,none": SCORE}}, "versions": {self.name: "1"}}
        return TaskScores(results=results, metrics=[metric], tasks=(self.name,))

    def rescore(self, run: TaskRun) -> TaskScores:
        return self.evaluate(run)


@dataclass
class ConstantKind:
    grader: FixedGrader = field(default_factory=FixedGrader)

    def claims(self, name: str) -> bool:
        return name == NAME

    def build(self, config: RunConfig, specs: Sequence[TaskSpec]) -> list[RunnableTask]:
        return [ConstantTask(spec.name, self.grader) for spec in specs]


@pytest.fixture
def constant_kind(monkeypatch: pytest.MonkeyPatch) -> ConstantKind:
    kind = ConstantKind()
    monkeypatch.setattr(task_lookup, "KINDS", [*task_lookup.KINDS, kind])
    return kind


def _row(db: Path, sql: str) -> Any:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchone()


def test_a_third_kind_of_task_runs_through_the_real_runner(constant_kind: ConstantKind, tmp_path: Path) -> None:
    db, output = tmp_path / "r.db", tmp_path / "out.json"
    config = RunConfig.from_flat(model="demo/pico-s", tasks=(NAME,), db=f"sqlite:///{db}", output=output, show_progress=False)
    lines: list[str] = []

    outcome = runner.run(config, report=lines.append)

    assert lines[:2] == ["will run 1 task on demo/pico-s:", f"  {NAME}: 0-shot, all {DOCUMENTS} documents, from this test"]
    assert f"task {NAME}: evaluating" in lines
    status, tasks, stored_config, computed, cached = _row(db, "SELECT status, tasks, config, requests_computed, requests_cached FROM run")
    assert (status, json.loads(tasks)) == ("complete", [NAME])
    assert json.loads(stored_config)["fixed_grader"] == "v1"
    assert (computed, cached) == GRADER_USAGE == (outcome.computed, outcome.cached)  # the model itself was never asked
    assert _row(db, "SELECT task, metric, value, n_samples FROM metric") == (NAME, "score", SCORE, DOCUMENTS)
    assert outcome.results["results"][NAME]["score,none"] == SCORE
    assert json.loads(output.read_text())["results"][NAME]["score,none"] == SCORE
    assert constant_kind.grader.calls == ["prepare demo/pico-s", f"open {outcome.run_id}", "close"]


def test_a_third_kind_of_task_dry_runs_and_rescores(constant_kind: ConstantKind, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    config = RunConfig.from_flat(model="demo/pico-s", tasks=(NAME,), db=f"sqlite:///{db}", show_progress=False)
    dry = runner.dry_run(config, report=lambda _line: None)
    assert dry.request_counts == {NAME: DOCUMENTS}

    run_id = runner.run(config, report=lambda _line: None).run_id
    assert run_id is not None
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM metric")
    rescored = runner.rescore(run_id, f"sqlite:///{db}", report=lambda _line: None)
    assert rescored.results["results"][NAME]["score,none"] == SCORE
    assert _row(db, "SELECT task, metric, value FROM metric") == (NAME, "score", SCORE)
