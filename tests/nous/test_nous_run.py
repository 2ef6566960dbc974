"""The Nous suite end to end on demo/pico-m, offline: run, store, averages, AutoEval's summary.

The run and export commands are the README's ("### The Nous suite" section), run as written
(with a fresh --db). The expected summary is made by LLM AutoEval's own code (``../shared/reference/nous-suite/
llm-autoeval_main.py`` and ``llm-autoeval_llm_autoeval_table.py``, executed in place) from the
stored rows, read straight from SQLite, laid out as the fork's result JSON files.
"""

from __future__ import annotations

import builtins
import json
import shlex
import sqlite3
import time
import types
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.tasks.suites import suites
from tests.conftest import evalsuite_ok as _evalsuite

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
LIMIT = "2"
NOUS = suites()["nous"]
BENCHMARK_FILES = {"AGIEval": "agieval", "GPT4All": "gpt4all", "TruthfulQA": "truthfulqa", "Bigbench": "bigbench"}


def _readme_commands() -> list[list[str]]:
    """The evalsuite commands of the README's Nous section, without the leading ``evalsuite``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n### The Nous suite (LLM AutoEval)\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]
    assert all(words[0] == "evalsuite" for words in commands)
    return [words[1:] for words in commands]


@pytest.fixture(scope="module")
def nous_run(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """The README's `evalsuite run ... --suite nous --data-dir ../shared/data --limit 2`, into a fresh database."""
    db = tmp_path_factory.mktemp("nous") / "r.db"
    run = _readme_commands()[0]
    assert run[:1] == ["run"] and run[run.index("--limit") + 1] == LIMIT
    data_dir = run.index("--data-dir") + 1
    assert (REPO / run[data_dir]).resolve() == shared_data.resolve()  # ../shared/data, relative to the checkout
    run[data_dir] = str(shared_data)
    _evalsuite(*run, "--db", str(db))
    return db


def _stored(db: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str], float, str]:
    """Per task ``{metric: value, metric_stderr: stderr}`` (v0.3 result layout), versions, elapsed seconds, model."""
    connection = sqlite3.connect(db)
    results: dict[str, dict[str, Any]] = {}
    versions: dict[str, str] = {}
    rows = connection.execute("SELECT task, metric, value, stderr, task_version FROM metric WHERE run_id = 1 AND filter = 'none' ORDER BY task, metric")
    for task, metric, value, stderr, version in rows:
        results.setdefault(task, {})[metric] = value
        if stderr is not None:
            results[task][f"{metric}_stderr"] = stderr
        versions[task] = version
    (elapsed,) = connection.execute("SELECT duration_s FROM run WHERE id = 1").fetchone()
    (model,) = connection.execute("SELECT model.name FROM run JOIN model ON model.id = run.model_id WHERE run.id = 1").fetchone()
    return results, versions, elapsed, model


def _benchmark_of() -> dict[str, str]:
    return {item.task: item.benchmark for item in NOUS.metrics}


def test_nous_run_stores_every_task_with_the_scores_autoeval_reads(nous_run: Path) -> None:
    results, _, _, _ = _stored(nous_run)
    assert set(results) == {spec.name for spec in NOUS.tasks} and len(results) == 34
    for item in NOUS.metrics:
        assert item.metric in results[item.task], item


def test_suite_averages_equal_autoeval_formula(nous_run: Path) -> None:
    """table.py: per benchmark mean of acc_norm (else acc; Bigbench multiple_choice_grade; TruthfulQA
    mc2) x 100 rounded to 2 decimals; the Nous average the rounded mean of the four."""
    results, _, _, _ = _stored(nous_run)
    grouped: dict[str, list[float]] = {}
    for task, scores in results.items():
        benchmark = _benchmark_of()[task]
        if benchmark == "Bigbench":
            value = scores["multiple_choice_grade"]
        elif benchmark == "TruthfulQA":
            value = scores["mc2"]
        else:
            value = scores["acc_norm"] if "acc_norm" in scores else scores["acc"]
        grouped.setdefault(benchmark, []).append(value)
    expected = {name: round(sum(v) / len(v) * 100, 2) for name, v in grouped.items()}
    expected_average = round(sum(expected.values()) / 4, 2)

    view = json.loads(_evalsuite("results", "export", "--db", str(nous_run), "--view", "nous", "--format", "json"))
    (row,) = view["rows"]
    assert row["nous score"] == expected_average
    columns = {c["column"]: c for c in view["columns"]}
    for benchmark in ("AGIEval", "GPT4All", "Bigbench"):  # labels carry the limit: "AGIEval (n=16, limited)"
        (label,) = [c for c in columns if c.startswith(f"{benchmark} (")]
        assert round(row[label], 2) == expected[benchmark]
        assert columns[label]["scale"] == "percent"
    truthful = next(label for label, c in columns.items() if c["task"] == "truthfulqa_mc")
    assert round(row[truthful], 2) == expected["TruthfulQA"]


def _exec(path: Path, modules: dict[str, Any], name: str) -> dict[str, Any]:
    """Run a reference script in place, answering its own-package imports with ``modules``."""

    def _import(module: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        return modules[module] if module in modules else builtins.__import__(module, globals, locals, fromlist, level)

    namespace: dict[str, Any] = {"__name__": name, "__builtins__": {**vars(builtins), "__import__": _import}}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return namespace


def _autoeval_summary(reference: Path, results_dir: Path, elapsed: float, model: str) -> str:
    table = _exec(reference / "llm-autoeval_llm_autoeval_table.py", {}, "llm_autoeval.table")
    table["BENCHMARK"] = "nous"
    modules = {
        "llm_autoeval.table": types.SimpleNamespace(**table),
        "llm_autoeval.upload": types.SimpleNamespace(upload_to_github_gist=None),  # never called here
    }
    main = _exec(reference / "llm-autoeval_main.py", modules, "llm_autoeval_main")
    main["BENCHMARK"], main["MODEL_ID"] = "nous", model
    summary = main["_make_autoeval_summary"](str(results_dir), elapsed)
    # main() then appends the elapsed time (and uploads the gist):
    return summary + f"\n\nElapsed time: {time.strftime('%H:%M:%S', time.gmtime(elapsed))}"


def test_autoeval_export_equals_llm_autoevals_summary(nous_run: Path, shared_data: Path, tmp_path: Path) -> None:
    results, versions, elapsed, model = _stored(nous_run)
    for benchmark, file in BENCHMARK_FILES.items():
        tasks = [task for task in results if _benchmark_of()[task] == benchmark]
        data = {"results": {t: results[t] for t in tasks}, "versions": {t: versions[t] for t in tasks}}
        (tmp_path / f"{file}.json").write_text(json.dumps(data))
    expected = _autoeval_summary(shared_data.parent / "reference" / "nous-suite", tmp_path, elapsed, model)

    export = _readme_commands()[1]
    assert export == ["results", "export", "--run", "1", "--format", "autoeval"]
    exported = _evalsuite(*export, "--db", str(nous_run))

    # AutoEval's summary, but the Model cell names the demo alias (no Hub page to link) and a line says the run was limited
    lines, wanted = exported.split("\n"), (expected + "\n").split("\n")
    note = next(i for i, line in enumerate(lines) if line.startswith("**Limited run:**"))
    assert lines[note] == f"**Limited run:** 34 task(s) scored on at most {LIMIT} documents (`--limit`); these scores are not comparable with a full run's."
    rest = lines[:note] + lines[note + 2:]  # the note and the blank line after it
    assert rest[3:] == wanted[3:]
    link = "[pico-m](https://huggingface.co/demo/pico-m)"
    header = [0, 2]  # the table's header and its one row (row 1, the alignment line, is as wide as the cells)
    assert [rest[i].replace(" ", "") for i in header] == [wanted[i].replace(" ", "").replace(link, "demo/pico-m") for i in header]
    assert "huggingface.co" not in exported


def test_autoeval_export_needs_one_run(nous_run: Path) -> None:
    result = runner.invoke(app, ["results", "export", "--db", str(nous_run), "--format", "autoeval"])
    assert result.exit_code == 1
    assert "error: the autoeval format summarises one run — hint: pass exactly one --run ID" in result.stderr


@pytest.mark.parametrize("name", [spec.name for spec in NOUS.tasks])
def test_each_nous_task_resolves_alone_by_name(name: str, shared_data: Path, tmp_path: Path) -> None:
    out = _evalsuite(
        "run", "--model", "demo/pico-m", "--tasks", name, "--data-dir", str(shared_data), "--limit", LIMIT, "--dry-run", "--db", str(tmp_path / "r.db")
    )
    assert name in out and "total" in out


def test_a_nous_task_runs_alone(shared_data: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _evalsuite("run", "--model", "demo/pico-m", "--tasks", "bigbench_tracking_shuffled_objects_three_objects",
               "--data-dir", str(shared_data), "--limit", LIMIT, "--db", str(db))  # fmt: skip
    rows = sqlite3.connect(db).execute("SELECT task, metric, value FROM metric").fetchall()
    assert [(task, metric) for task, metric, _ in rows] == [("bigbench_tracking_shuffled_objects_three_objects", "multiple_choice_grade")]
    assert 0.0 <= rows[0][2] <= 1.0


@pytest.mark.parametrize(
    ("task", "dataset", "copy"),
    [
        ("agieval_sat_en", "dmayhem93/agieval-sat-en", "agieval/"),
        ("bigbench_snarks", "https://github.com/dmahan93/lm-evaluation-harness/tree/ca333d9", "bigbench/"),
        ("piqa", "baber/piqa", "piqa/"),
    ],
)
def test_nous_task_offline_without_data_dir_is_one_line_error(task: str, dataset: str, copy: str, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    result = runner.invoke(app, ["run", "--model", "demo/pico-m", "--tasks", task, "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: task '{task}' needs the dataset '{dataset}")
    assert line.endswith(f"— hint: go online, or pass --data-dir DIR (a directory holding {copy}, its local copy)")
    assert not db.exists() or not sqlite3.connect(db).execute("SELECT count(*) FROM run WHERE status = 'complete'").fetchone()[0]
