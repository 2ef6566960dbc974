"""`results export --format md` of the "all tasks" view: one readable table per suite or benchmark, not one wide table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.formats.export import MD_MAX_COLUMNS
from evalsuite.store import queries
from evalsuite.store.db import open_database
from evalsuite.store.schema import MetricRecord
from evalsuite.tasks.suites import suites

OWN_TASKS = tuple(f"my_task_{i:02d}" for i in range(11))  # tasks of no suite
MODELS = {"org/a": 0.25, "org/b": 0.5}  # model -> its base score (every task a little above it)


def _scored_tasks() -> list[tuple[str, str, str]]:
    """Every score of the open-llm-v1 and nous suites (once: both count hellaswag), plus tasks of no suite."""
    wanted = [m.key for name in ("open-llm-v1", "nous") for m in suites()[name].metrics]
    return list(dict.fromkeys(wanted)) + [(task, "acc", "none") for task in OWN_TASKS]


@pytest.fixture
def wide_db(tmp_path: Path) -> Path:
    """Two models, each with 56 scores (the nous and open-llm-v1 suites and 11 tasks of no suite), stored through the store."""
    path = tmp_path / "wide.db"
    with open_database(path) as database:
        scores = _scored_tasks()
        for name, base in MODELS.items():
            model = queries.get_or_create_model(database, name=name, source="test", weights_sha256=f"sha-{name}")
            run = queries.create_run(database, model_id=model.id, backend="transformers", config={}, config_hash=name, tasks=[])
            metrics = [
                MetricRecord(run_id=run.id, task=task, metric=metric, filter=filter_name, value=base + index / 1000, stderr=0.01,
                             n_samples=50, n_total_docs=50, n_shot=0, higher_is_better=True, task_version="1.0")
                for index, (task, metric, filter_name) in enumerate(scores)
                if not (name == "org/b" and task.startswith("agieval"))  # org/b has no AGIEval score: not in that table
            ]
            queries.save_task_results(database, int(run.id or 0), sorted({m.task for m in metrics}), metrics, [])
            queries.finish_run(database, int(run.id or 0), computed=1, cached=0)
    return path


def _tables(markdown: str) -> dict[str, list[list[str]]]:
    """Heading -> the rows (header first) of the table under it."""
    tables: dict[str, list[list[str]]] = {}
    heading = ""
    for line in markdown.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|") and not re.fullmatch(r"\|(---\|)+", line):
            tables.setdefault(heading, []).append([cell.strip() for cell in line.strip("|").split(" | ")])
    return tables


def _export(db: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["results", "export", "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_all_tasks_markdown_is_one_table_per_suite_or_benchmark(wide_db: Path) -> None:
    markdown = _export(wide_db, "--format", "md")
    exported = json.loads(_export(wide_db, "--format", "json"))  # the JSON export is the reference (full precision)
    tables = _tables(markdown)
    scores = {title: rows for title, rows in tables.items() if title != "column settings"}
    assert list(scores) == [
        "open-llm-v1", "nous · AGIEval", "nous · GPT4All", "nous · TruthfulQA",
        "nous · Bigbench (part 1 of 3)", "nous · Bigbench (part 2 of 3)", "nous · Bigbench (part 3 of 3)",
        "other tasks (part 1 of 2)", "other tasks (part 2 of 2)",
    ]
    assert markdown.startswith("## all tasks\n")
    assert list(tables)[-1] == "column settings" and tables["column settings"][0] == ["column", "settings"]
    decimals = {column["column"]: 4 if column["scale"] == "raw" else 2 for column in exported["columns"]}  # as the board shows them
    shown: list[str] = []
    for title, (header, *rows) in scores.items():
        assert header[0] == "Model" and 1 <= len(header) - 1 <= MD_MAX_COLUMNS, title
        shown += header[1:]
        models = ["org/a"] if title == "nous · AGIEval" else ["org/a", "org/b"]
        assert [row[0] for row in rows] == models, title  # every model with a score here, again in each table
        for row in rows:
            record = next(r for r in exported["rows"] if r["Model"] == row[0])
            for label, cell in zip(header[1:], row[1:]):
                places = decimals[label]
                assert cell == f"{record[label]:.{places}f} ± {record[label + ' stderr']:.{places}f}", (title, label)
    assert sorted(shown) == sorted(column["column"] for column in exported["columns"])  # every column exactly once
    assert len(shown) == len(_scored_tasks())
