"""The run header's facts for a group served from local copies, counted independently from the files."""

from __future__ import annotations

import csv
from pathlib import Path

from evalsuite.execution import plan as run_plan
from evalsuite.tasks.loading import load_tasks
from evalsuite.tasks.suites import TaskSpec


def _csv_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1  # minus the header row


def test_group_from_local_copies_is_one_line_with_its_totals(shared_data: Path) -> None:
    subjects = sorted((shared_data / "mmlu" / "test").glob("*_test.csv"))
    loaded = load_tasks([TaskSpec("mmlu", num_fewshot=5)], data_dir=shared_data)
    (planned,) = run_plan.plan([loaded], limit=2)
    assert planned.leaves == len(subjects) == 57
    assert planned.documents == 2 * len(subjects)
    assert planned.available == sum(_csv_rows(path) for path in subjects) == 14042
    assert planned.line() == (f"mmlu: 5-shot, 114 of 14042 documents in 57 tasks, from local copy, 57 files under {(shared_data / 'mmlu' / 'test').resolve()}")


def test_suite_limit_applies_unless_the_run_gives_one(shared_data: Path) -> None:
    loaded = load_tasks([TaskSpec("arc_easy", num_fewshot=0, limit=7)], data_dir=shared_data)
    test_file = (shared_data / "arc" / "ARC-Easy-Test.jsonl").resolve()
    rows = sum(1 for line in test_file.read_text(encoding="utf-8").splitlines() if line.strip())
    assert run_plan.plan([loaded], limit=None)[0].line() == f"arc_easy: 0-shot, 7 of {rows} documents, from local copy {test_file}"
    assert run_plan.plan([loaded], limit=3000)[0].line() == f"arc_easy: 0-shot, all {rows} documents, from local copy {test_file}"
    assert run_plan.header_lines(run_plan.plan([loaded], limit=None), "demo/pico-m")[0] == "will run 1 task on demo/pico-m:"
