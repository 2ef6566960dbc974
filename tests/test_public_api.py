"""The Python API used as a notebook would: run, read, rescore, board, ratings — no CLI.

Values are checked against what is independently stored (the sample rows, read with
``sqlite3``) and against the CLI's own output for the same database.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import evalsuite
from evalsuite.arena import voting
from evalsuite.cli.app import app
from evalsuite.store import arena_queries
from evalsuite.store.db import open_database


def test_a_notebook_runs_reads_rescores_and_ranks(tmp_path: Path) -> None:
    db = str(tmp_path / "notebook.db")
    run = evalsuite.run("demo/pico-s", ["pubmedqa"], limit=8, db=db, dtype="float32", show_progress=False)

    acc = run.metrics.set_index("metric").loc["acc"]
    with sqlite3.connect(db) as connection:
        correct, n = connection.execute("SELECT SUM(correct), COUNT(*) FROM sample WHERE run_id = ? AND task = 'pubmedqa'", (run.run_id,)).fetchone()
    assert (acc["task"], acc["n_samples"], n) == ("pubmedqa", 8, 8)
    assert acc["value"] == pytest.approx(correct / n, abs=1e-12)

    listed = evalsuite.runs(db=db)
    assert listed[["id", "model", "status"]].to_dict("records") == [{"id": run.run_id, "model": "demo/pico-s", "status": "complete"}]
    assert evalsuite.results(run.run_id, db=db).equals(run.metrics)

    rescored = evalsuite.rescore(run.run_id, db=db)
    assert rescored[["task", "metric", "value"]].equals(run.metrics[["task", "metric", "value"]])

    board = evalsuite.leaderboard(db=db)
    (column,) = [name for name in board.columns if name.startswith("pubmedqa") and "acc" in name and not name.endswith("stderr")]
    assert board.loc[0, "Model"] == "demo/pico-s" and board.loc[0, column] == pytest.approx(100 * acc["value"])
    exported = CliRunner().invoke(app, ["results", "export", "--format", "csv", "--db", db])
    assert exported.exit_code == 0, exported.output
    header = next(csv.reader(io.StringIO(exported.stdout)))
    assert header == list(board.columns)  # the CLI's board, column for column


def test_ratings_from_stored_votes_equal_the_clis(tmp_path: Path) -> None:
    db = tmp_path / "arena.db"
    with open_database(db) as database:
        arena_queries.add_prompts(database, [arena_queries.PromptInput(f"question {i}") for i in range(4)])
        for prompt in arena_queries.list_prompts(database):
            for model in ("alpha", "beta", "gamma"):
                arena_queries.add_completion(database, prompt.id, model, f"{model} says {prompt.id}", {"source": "fixed text"})
        rng = np.random.default_rng(3)
        for number in range(30):
            battle = voting.issue_battle(database, f"voter-{number}", rng)
            arena_queries.record_vote(database, battle.token, ("a", "b", "tie")[number % 3], f"voter-{number}")
    ours = evalsuite.ratings(db=str(db), bootstrap=20, seed=1)
    cli = CliRunner().invoke(app, ["arena", "ratings", "--bootstrap", "20", "--seed", "1", "--json", "--db", str(db)])
    assert cli.exit_code == 0, cli.output
    assert ours.to_dict("records") == json.loads(cli.stdout)
    assert sorted(ours["model"]) == ["alpha", "beta", "gamma"] and ours["battles"].sum() == 2 * 30


def test_errors_reach_the_notebook_with_their_hint(tmp_path: Path) -> None:
    db = tmp_path / "missing.db"
    with pytest.raises(evalsuite.EvalsuiteError) as missing:
        evalsuite.runs(db=str(db))
    assert missing.value.hint and not db.exists()  # a reader never creates an empty database
    with pytest.raises(evalsuite.EvalsuiteError, match="--limit must be 1 or more"):
        evalsuite.run("demo/pico-s", ["pubmedqa"], limit=0, db=str(tmp_path / "x.db"))


def test_import_evalsuite_loads_no_heavy_package() -> None:
    code = "import sys, evalsuite; print(sorted(m for m in ('torch', 'lm_eval', 'transformers', 'pandas') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert set(evalsuite.__all__) >= {"run", "rescore", "runs", "results", "leaderboard", "ratings"}
    assert all(getattr(evalsuite, name).__doc__ for name in ("run", "rescore", "runs", "results", "leaderboard", "ratings"))
