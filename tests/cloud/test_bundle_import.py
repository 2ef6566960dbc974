"""`results import` of a real `lm_eval` CLI run and of evalsuite bundles: identical numbers, idempotent, clear errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsuite.board import rules as board
from evalsuite.board.rules import ComparabilityKey, comparability_key
from evalsuite.cli.app import app
from evalsuite.identity.models import DEMO_MODELS_DIR
from evalsuite.store import queries
from evalsuite.store.db import open_database
from evalsuite.store.leaderboard_queries import leaderboard_cells
from tests.conftest import evalsuite_ok as _evalsuite

REPO = Path(__file__).resolve().parents[2]
PICO_S = DEMO_MODELS_DIR / "pico-s"
runner = CliRunner()


@pytest.fixture(scope="module")
def lm_eval_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `lm_eval` CLI run of pico-s on the shipped pubmedqa task, with its samples."""
    out = tmp_path_factory.mktemp("lm-eval-cli")
    command = [
        sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={PICO_S},dtype=float32",
        "--tasks", "pubmedqa", "--include_path", str(REPO / "tasks" / "yaml" / "pubmedqa"), "--limit", "5",
        "--device", "cpu", "--output_path", str(out), "--log_samples",
    ]
    subprocess.run(command, check=True, cwd=REPO, capture_output=True, text=True)
    return out


def _metric_rows(db: Path, run_id: int) -> list[dict]:
    with open_database(db, create=False) as database:
        return [m.model_dump(exclude={"id", "run_id"}) for m in queries.get_run(database, run_id).metrics]


def _sample_rows(db: Path, run_id: int) -> list[dict]:
    with open_database(db, create=False) as database:
        return [s.model_dump(exclude={"id", "run_id"}) for s in queries.run_samples(database, run_id)]


def _run_ids(db: Path) -> list[int]:
    with open_database(db, create=False) as database:
        return [r.id for r in queries.list_runs(database)]


def test_import_of_an_lm_eval_cli_run_gives_its_json_numbers_and_twice_is_once(lm_eval_output: Path, tmp_path: Path) -> None:
    db = tmp_path / "home.db"
    first = _evalsuite("results", "import", str(lm_eval_output), "--db", str(db))
    assert first.startswith("imported run 1: ") and "(complete, 2 scores, 5 samples)" in first

    results_file = next(lm_eval_output.rglob("results_*.json"))
    reference = json.loads(results_file.read_text())
    task = reference["results"]["pubmedqa"]
    stored = {(m["metric"], m["filter"]): m for m in _metric_rows(db, 1)}
    expected = {tuple(key.split(",")) for key in task if "," in key and "_stderr," not in key}
    assert set(stored) == expected == {("acc", "none"), ("macro_f1", "none")}
    for (metric, filter_name), row in stored.items():
        assert row["value"] == task[f"{metric},{filter_name}"]
        stderr = task[f"{metric}_stderr,{filter_name}"]
        assert row["stderr"] == (None if stderr == "N/A" else stderr)
        assert row["n_samples"] == reference["n-samples"]["pubmedqa"]["effective"] == 5
        assert row["n_total_docs"] == reference["n-samples"]["pubmedqa"]["original"]
        assert row["n_shot"] == reference["n-shot"]["pubmedqa"]
        assert row["task_version"] == str(reference["versions"]["pubmedqa"])
        assert row["higher_is_better"] is reference["higher_is_better"]["pubmedqa"][metric]

    lines = [json.loads(line) for line in next(lm_eval_output.rglob("samples_pubmedqa_*.jsonl")).read_text().splitlines()]
    samples = {s["doc_id"]: s for s in _sample_rows(db, 1)}
    assert sorted(samples) == sorted(line["doc_id"] for line in lines)
    for line in lines:
        sample = samples[line["doc_id"]]
        assert sample["logliks"] == [float(resp[0]) for resp in line["filtered_resps"]]
        assert sample["prompt"] == line["arguments"]["gen_args_0"]["arg_0"]
        assert sample["correct"] is bool(line["acc"])

    before = (_metric_rows(db, 1), _sample_rows(db, 1))
    again = _evalsuite("results", "import", str(results_file), "--db", str(db))
    assert again.startswith("already imported as run 1: ") and "nothing written" in again
    assert _run_ids(db) == [1]
    assert (_metric_rows(db, 1), _sample_rows(db, 1)) == before


def test_an_lm_eval_import_shares_the_model_row_of_a_local_run_of_the_same_folder(lm_eval_output: Path, tmp_path: Path) -> None:
    db = tmp_path / "home.db"
    _evalsuite("results", "import", str(lm_eval_output), "--db", str(db))
    with open_database(db, create=False) as database:
        model = queries.get_run(database, 1).model
    from evalsuite.identity.models import resolve_model

    local = resolve_model(str(PICO_S))
    assert (model.weights_sha256, model.tokenizer_sha256, model.config_sha256) == (local.weights_sha256, local.tokenizer_sha256, local.config_sha256)

    # Its board column: the key lm-eval's JSON implies (task version, shots, 5 of the task's documents: limited).
    reference = json.loads(next(lm_eval_output.rglob("results_*.json")).read_text())
    with open_database(db, create=False) as database:
        keys = {comparability_key(cell) for cell in leaderboard_cells(database)}
    counts = reference["n-samples"]["pubmedqa"]
    assert keys == {
        ComparabilityKey(
            task_version=str(reference["versions"]["pubmedqa"]), n_shot=reference["n-shot"]["pubmedqa"], n_docs=counts["effective"],
            limited=counts["effective"] < counts["original"], chat_template=bool(reference["chat_template"]),
            scoring=f"lm-eval {reference['config']['model']} (imported)",
        )
    }


def test_an_lm_eval_run_of_a_relative_path_is_named_as_evalsuite_names_the_model(
    lm_eval_output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's `lm_eval ... pretrained=evalsuite/demo_models/pico-s` (relative to the clone): `demo/pico-s`, not the path."""
    data = json.loads(next(lm_eval_output.rglob("results_*.json")).read_text())
    args = data["config"]["model_args"]
    relative = str(PICO_S.relative_to(REPO))
    data["config"]["model_args"] = {**args, "pretrained": relative} if isinstance(args, dict) else args.replace(str(PICO_S), relative)
    results = tmp_path / "results_2026-01-01T00-00-00.000000.json"
    results.write_text(json.dumps(data))
    monkeypatch.chdir(REPO)  # where that lm_eval command ran
    out = _evalsuite("results", "import", str(results), "--db", str(tmp_path / "home.db"))
    assert out.startswith("imported run 1: demo/pico-s (complete, 2 scores, 0 samples)")


@pytest.fixture(scope="module")
def evalsuite_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local run of demo/pico-s (run 1 of origin.db), with its --output results JSON beside the database."""
    db = tmp_path_factory.mktemp("origin") / "origin.db"
    _evalsuite(
        "run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "5", "--dtype", "float32", "--db", str(db),
        "--output", str(db.parent / OUTPUT_JSON),
    )
    return db


OUTPUT_JSON = "output.json"


def test_an_lm_eval_import_joins_the_local_runs_row_in_a_column_of_its_own(lm_eval_output: Path, evalsuite_run: Path, tmp_path: Path) -> None:
    """Same files as the local `demo/pico-s` run: same board row; lm-eval's scoring: its own column, named, never `scoring None`."""
    db = shutil.copy(evalsuite_run, tmp_path / "home.db")
    out = _evalsuite("results", "import", str(lm_eval_output), "--db", str(db))
    assert out.startswith("imported run 2: demo/pico-s (complete, 2 scores, 5 samples)")  # not the folder's path
    with open_database(db, create=False) as database:
        cells = list(leaderboard_cells(database))
        assert queries.get_run(database, 2).model.id == queries.get_run(database, 1).model.id
    view = board.all_tasks_view(cells)
    (row,) = view.rows
    assert row.model == "demo/pico-s" and row.runs == (1, 2)
    acc = [column for column in view.columns if (column.task, column.metric) == ("pubmedqa", "acc")]
    by_run = {row.cells[column.label].run_id: column for column in acc}
    assert sorted(by_run) == [1, 2]  # one column per scoring: the two runs' numbers are never one column
    assert by_run[2].keys[0].scoring == "lm-eval hf (imported)" and "scoring lm-eval hf (imported)" in by_run[2].label
    assert by_run[1].keys[0].scoring and "imported" not in by_run[1].keys[0].scoring
    assert not any("None" in column.label or "None" in column.describe() for column in view.columns)


def test_importing_our_own_output_into_its_database_copies_nothing_and_elsewhere_imports_it(
    evalsuite_run: Path, lm_eval_output: Path, tmp_path: Path
) -> None:
    output = evalsuite_run.parent / OUTPUT_JSON
    home = Path(shutil.copy(evalsuite_run, tmp_path / "home.db"))
    before = _metric_rows(home, 1)
    same = _evalsuite("results", "import", str(output), "--db", str(home))
    assert same.startswith("already stored as run 1: ") and "nothing written" in same
    assert _run_ids(home) == [1] and _metric_rows(home, 1) == before

    other = tmp_path / "other.db"  # its run 1 is another run (an lm-eval import): the file is imported
    _evalsuite("results", "import", str(lm_eval_output), "--db", str(other))
    imported = _evalsuite("results", "import", str(output), "--db", str(other))
    assert imported.startswith("imported run 2: demo/pico-s (complete, 2 scores, 0 samples)")
    scores = {(m["task"], m["metric"], m["value"], m["stderr"]) for m in _metric_rows(other, 2)}
    assert scores == {(m["task"], m["metric"], m["value"], m["stderr"]) for m in before}
    with open_database(other, create=False) as database:
        model = queries.get_run(database, 2).model
    assert model.name == "demo/pico-s" and model.weights_sha256 == json.loads(output.read_text())["evalsuite"]["weights_sha256"]
    again = _evalsuite("results", "import", str(output), "--db", str(other))
    assert again.startswith("already imported as run 2: ")


def test_a_bundle_round_trip_keeps_every_row_and_the_board_key(evalsuite_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    _evalsuite("results", "bundle", "1", "--output", str(folder), "--db", str(evalsuite_run))
    names = sorted(p.name for p in folder.iterdir())
    assert names[0] == "evalsuite_run.json" and names[1].startswith("results_") and names[2].startswith("samples_pubmedqa_")

    home = tmp_path / "home.db"
    out = _evalsuite("results", "import", str(folder), "--db", str(home))
    assert out.startswith("imported run 1: demo/pico-s (complete, 2 scores, 5 samples)")
    assert _metric_rows(home, 1) == _metric_rows(evalsuite_run, 1)
    assert _sample_rows(home, 1) == _sample_rows(evalsuite_run, 1)

    cells = {}
    for db in (evalsuite_run, home):
        with open_database(db, create=False) as database:
            cells[db] = sorted((c.task, c.metric, c.value, comparability_key(c), c.weights_sha256) for c in leaderboard_cells(database))
            identity = queries.get_identity(database, queries.get_run(database, 1).run.identity_id or 0)
            cells[db].append(("identity", identity.key if identity else None))
    assert cells[home] == cells[evalsuite_run] and cells[home][0][3].scoring  # same columns, identity-bearing key

    again = _evalsuite("results", "import", str(folder), "--db", str(home))
    assert again.startswith("already imported as run 1")
    assert _run_ids(home) == [1]


def test_a_json_that_is_not_lm_evals_is_refused_in_one_line(tmp_path: Path) -> None:
    stray = tmp_path / "config.json"
    stray.write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 64}))
    result = runner.invoke(app, ["results", "import", str(stray), "--db", str(tmp_path / "h.db")])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {stray} is not an lm-eval results JSON: it has no \"results\" object of task scores — hint: ")
    assert "Traceback" not in result.output


def test_a_path_with_no_results_is_refused_and_makes_no_database(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing here")
    result = runner.invoke(app, ["results", "import", str(empty), "--db", str(tmp_path / "h.db")])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: no results under {empty}: neither evalsuite_run.json")
    assert not (tmp_path / "h.db").exists()


def test_an_imported_failed_run_says_where_it_came_from_instead_of_a_resume_hint(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from evalsuite.formats import bundle

    folder = tmp_path / "bundle"
    record = bundle.write_failed_bundle(
        folder, model="nobody-org/no-such-model", backend="transformers", config={"model": "nobody-org/no-such-model", "tasks": ["pubmedqa"]},
        error="nobody-org/no-such-model is not on the Hub", log_tail="error: nobody-org/no-such-model is not on the Hub", pod={"id": "pod7"},
        started_at=datetime.now(UTC),
    )
    bundle_id = json.loads(record.read_text())["bundle_id"]
    db = tmp_path / "home.db"
    assert _evalsuite("results", "import", str(folder), "--db", str(db)).startswith("imported run 1: nobody-org/no-such-model (failed,")

    shown = runner.invoke(app, ["results", "show", "1", "--db", str(db)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "--resume" not in shown.stdout  # `evalsuite run --resume 1` here could not continue a run made on a pod
    assert f"imported from bundle {bundle_id}, made on pod pod7: an imported run cannot be resumed here; rerun it on its machine or pod" in shown.stdout

    # The same fact guards `run --resume` and the board export: neither suggests resuming it here.
    resumed = runner.invoke(app, ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "1", "--resume", "1", "--db", str(db)])
    assert resumed.exit_code == 1
    assert f"error: run 1 was imported from bundle {bundle_id}, made on pod pod7: an imported run cannot be resumed here" in resumed.stderr
    assert "hint: rerun it on its machine or pod" in resumed.stderr
    exported = runner.invoke(app, ["results", "export", "--run", "1", "--format", "md", "--db", str(db)])
    assert exported.exit_code == 1 and "--resume" not in exported.stderr
    assert "rerun it on its machine or pod (it was imported)" in exported.stderr
