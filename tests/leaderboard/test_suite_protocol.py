"""A suite's score comes from one run of the suite (issue 20, item 3).

A model has a limited ``--suite nous`` run, an ``--suite open-llm-v1`` run (arc_challenge,
hellaswag and winogrande again, at other shots and n) and later a plain ``--tasks
piqa,openbookqa --limit 20`` run. The board's Nous score must equal the AutoEval export
of the Nous run (and LLM AutoEval's formula, computed here by hand from the stored rows);
the other runs' cells stand apart and never move it. Runs are stored through the store's
functions, as a real run stores them.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsuite.board import rules as board
from evalsuite.cli.app import app
from evalsuite.store import leaderboard_queries as lq
from evalsuite.store import queries
from evalsuite.store.db import open_database
from evalsuite.store.schema import MetricRecord
from evalsuite.tasks.suites import suites

NOUS = suites()["nous"]
MODEL = "org/gpt4all-ish"
V1_TASKS = (("arc_challenge", "acc_norm", 25), ("hellaswag", "acc_norm", 10), ("winogrande", "acc", 5))


def _value(task: str, salt: int) -> float:
    """A score in [0.2, 0.8) that differs per task and per run (deterministic)."""
    return 0.2 + (sum(map(ord, task)) * 7 + salt * 13) % 60 / 100


def _store_run(db: Path, suite: str | None, scores: list[tuple[str, str, int]], n: int, salt: int) -> int:
    with open_database(db) as database:
        model = queries.get_or_create_model(database, name=MODEL, source="test", weights_sha256="sha-gpt4all")
        run = queries.create_run(database, model_id=model.id, backend="transformers", config={}, config_hash=f"{suite}-{salt}",
                                 tasks=sorted({task for task, _, _ in scores}), suite=suite)
        run_id = int(run.id or 0)
        metrics = [
            MetricRecord(run_id=run_id, task=task, metric=metric, value=_value(task, salt), stderr=0.01, n_samples=n,
                         n_total_docs=100, n_shot=shots, higher_is_better=True, task_version="1.0")
            for task, metric, shots in scores
        ]
        queries.save_task_results(database, run_id, [m.task for m in metrics], metrics, [])
        queries.finish_run(database, run_id, computed=1, cached=0)
        return run_id


def _nous_view(db: Path) -> board.BoardView:
    with open_database(db) as database:
        cells = list(lq.leaderboard_cells(database))
    return board.suite_view(cells, NOUS)


def _autoeval_average(db: Path, run_id: int) -> float:
    result = CliRunner().invoke(app, ["results", "export", "--db", str(db), "--run", str(run_id), "--format", "autoeval"])
    assert result.exit_code == 0, result.output
    (average,) = re.findall(r"^Average score: ([0-9.]+)%$", result.stdout, flags=re.MULTILINE)
    return float(average)


def _by_hand(db: Path, run_id: int) -> float:
    """LLM AutoEval's table.py on the run's stored rows: per benchmark mean x 100 rounded to 2, mean of the four rounded."""
    rows = sqlite3.connect(db).execute("SELECT task, metric, value FROM metric WHERE run_id = ?", (run_id,)).fetchall()
    stored = {(task, metric): value for task, metric, value in rows}
    grouped: dict[str, list[float]] = {}
    for item in NOUS.metrics:
        grouped.setdefault(item.benchmark, []).append(stored[item.task, item.metric])
    benchmarks = [round(sum(v) / len(v) * 100, 2) for v in grouped.values()]
    return round(sum(benchmarks) / len(benchmarks), 2)


@pytest.fixture
def two_suites_db(tmp_path: Path) -> tuple[Path, int, int]:
    db = tmp_path / "suites.db"
    nous_run = _store_run(db, "nous", [(i.task, i.metric, 0) for i in NOUS.metrics], n=3, salt=1)
    v1_run = _store_run(db, "open-llm-v1", list(V1_TASKS), n=5, salt=2)
    return db, nous_run, v1_run


def test_the_nous_score_comes_from_the_nous_run_alone(two_suites_db: tuple[Path, int, int]) -> None:
    db, nous_run, v1_run = two_suites_db
    view = _nous_view(db)
    (row,) = view.ranked
    assert row.model == MODEL and row.runs == (nous_run,)
    assert row.score == _autoeval_average(db, nous_run) == _by_hand(db, nous_run)
    assert {cell.run_id for cell in row.cells.values()} == {nous_run}
    (apart,) = view.unranked  # the open-llm-v1 run's cells: their own row and columns, no score, no rank
    assert apart.model == f"{MODEL} (other runs)" and apart.runs == (v1_run,)
    assert apart.score is None and apart.rank is None and "never counted in the nous score" in apart.lacks[0]
    arc = next(label for label, cell in apart.cells.items() if cell.run_id == v1_run and "arc_challenge" in label)
    assert "25-shot" in arc and arc not in row.cells
    assert apart.cells[arc].value == pytest.approx(_value("arc_challenge", 2))


def test_a_later_plain_run_never_moves_the_nous_score(two_suites_db: tuple[Path, int, int]) -> None:
    db, nous_run, _ = two_suites_db
    before = _nous_view(db).ranked[0].score
    plain = _store_run(db, None, [("piqa", "acc_norm", 0), ("openbookqa", "acc_norm", 0)], n=20, salt=3)
    same_settings = _store_run(db, None, [("boolq", "acc", 0)], n=3, salt=4)  # the Nous run's settings, outside the suite
    view = _nous_view(db)
    (row,) = view.ranked
    assert row.score == before == _autoeval_average(db, nous_run)
    assert row.runs == (nous_run,)
    apart = next(r for r in view.unranked if r.model.endswith("(other runs)"))
    assert {plain, same_settings} <= set(apart.runs)


def _autoeval(db: Path, run_id: int) -> str:
    result = CliRunner().invoke(app, ["results", "export", "--db", str(db), "--run", str(run_id), "--format", "autoeval"])
    assert result.exit_code == 0, result.output
    return result.stdout


def _set_source(db: Path, source: str) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE model SET source = ? WHERE name = ?", (source, MODEL))


def test_autoeval_links_only_hub_models_and_says_when_a_run_was_limited(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    full = _store_run(db, "nous", [(i.task, i.metric, 0) for i in NOUS.metrics], n=100, salt=5)  # every document
    _set_source(db, MODEL)  # a Hub model's stored source is its Hub id (ModelSpec.stored_source)
    exported = _autoeval(db, full)
    assert "[gpt4all-ish](https://huggingface.co/org/gpt4all-ish)" in exported and "Limited run" not in exported
    limited = _store_run(db, "nous", [(i.task, i.metric, 0) for i in NOUS.metrics], n=3, salt=6)
    _set_source(db, "/models/gpt4all-ish")  # a local folder (or a demo alias) was run: no Hub page to link to
    exported = _autoeval(db, limited)
    assert "huggingface.co" not in exported
    assert exported.splitlines()[2].split("|")[1].strip() == MODEL
    assert f"**Limited run:** {len(NOUS.metrics)} task(s) scored on at most 3 documents (`--limit`)" in exported
