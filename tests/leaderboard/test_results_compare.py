"""`evalsuite results compare RUN_A RUN_B`: the compare page's paired statistics on the command line.

Real runs of the two demo models; expected means are read straight from the stored samples
(SQLite), the p-value from the significance functions on those arrays. Every per-sample metric
is tested (acc and acc_norm), in the board's unit (x 100); corpus metrics are named as not tested.
"""

from __future__ import annotations

import sqlite3
import statistics
from pathlib import Path

import pytest
from leaderboard_fixtures import DemoDatabase, evalsuite_run
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.metrics.significance import paired_permutation_test


def _per_sample(db: Path, run_id: int, task: str, metric: str) -> dict[int, float]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT doc_id, json_extract(metrics, ?) FROM sample WHERE run_id = ? AND task = ? AND filter = 'none'",
            (f"$.{metric}", run_id, task),
        ).fetchall()
    return {doc: float(value) for doc, value in rows}


def _compare(db: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["results", "compare", *args, "--db", str(db)])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def arc_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("compare") / "arc.db"
    for model in ("demo/pico-s", "demo/pico-m"):
        evalsuite_run(model, db, "--tasks", "arc_easy_200", "--limit", "8")
    return db


def test_compare_tests_every_per_sample_metric_in_the_boards_unit(arc_db: Path) -> None:
    out = _compare(arc_db, "1", "2")
    rows = {line.split("│")[3].strip(): [cell.strip() for cell in line.split("│")[1:-1]]
            for line in out.splitlines() if line.startswith("│") and "arc_easy_200" in line}
    assert set(rows) == {"acc", "acc_norm"}  # not only the first metric
    for metric, row in rows.items():
        a, b = _per_sample(arc_db, 1, "arc_easy_200", metric), _per_sample(arc_db, 2, "arc_easy_200", metric)
        shared = sorted(a.keys() & b.keys())
        assert row[3] == str(len(shared)) == "8"
        assert row[4] == f"{statistics.fmean(a[d] for d in shared) * 100:.2f}"  # x 100, as the board shows
        assert row[5] == f"{statistics.fmean(b[d] for d in shared) * 100:.2f}"
        perm = paired_permutation_test([a[d] for d in shared], [b[d] for d in shared], rounds=10_000, seed=0)
        assert row[9].rstrip(" *") == f"{perm.p_value:.4f}"
        assert row[10] == str(sum(a[d] != b[d] for d in shared))


def test_compare_names_corpus_metrics_and_refuses_unknown_runs(mixed_db: DemoDatabase) -> None:
    full, limited = mixed_db.run_ids["demo/pico-s #3"], mixed_db.run_ids["demo/pico-s #4"]  # both scored perplexity
    out = _compare(mixed_db.path, str(full), str(limited))
    assert "perplexity [none]: not tested, no per-sample score (a corpus metric such as perplexity or BLEU)" in out
    missing = CliRunner().invoke(app, ["results", "compare", "1", "999", "--db", str(mixed_db.path)])
    assert missing.exit_code == 1 and "error: no run with id 999" in missing.output and "Traceback" not in missing.output
