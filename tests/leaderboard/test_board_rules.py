"""The leaderboard's rules (evalsuite.board.rules) on real databases, shared by the app and `results export`.

Expected values are computed here from the stored rows (`queries.metric_rows`), never by
the board's own code: the Open LLM v1 formula by hand, limited/full runs by run id.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

import pandas as pd
import pytest
from leaderboard_fixtures import DEMO_LIMIT, DemoDatabase, run_app
from typer.testing import CliRunner

from evalsuite.board import rules as board
from evalsuite.cli.app import app
from evalsuite.metrics.normalization import SuiteMetric
from evalsuite.store import leaderboard_queries as lq
from evalsuite.store import queries
from evalsuite.store.db import open_database
from evalsuite.store.schema import MetricRecord
from evalsuite.tasks.suites import SuiteSpec, TaskSpec, suites
from leaderboard.board_ui import charts

V1_SCORES = (  # (task, metric, filter) of the Open LLM Leaderboard v1, as tasks/suites.yaml declares them
    ("arc_challenge", "acc_norm", "none", 25), ("hellaswag", "acc_norm", "none", 10), ("mmlu", "acc", "none", 5),
    ("truthfulqa_mc2", "acc", "none", 0), ("winogrande", "acc", "none", 5), ("gsm8k", "exact_match", "strict-match", 5),
)


def _cells(db: Path) -> list[lq.BoardCell]:
    with open_database(db) as database:
        return list(lq.leaderboard_cells(database))


def _rows(db: Path) -> list[dict]:
    with open_database(db) as database:
        return queries.metric_rows(database)


def _stored(db: Path, model: str, task: str, metric: str, *, limited: bool) -> dict:
    """The stored row of ``model``'s full (or limited) run of ``task`` (full runs scored the task's every document)."""
    with open_database(db) as database:
        runs = {s.id: s for s in queries.list_runs(database)}
    found = [
        r for r in _rows(db)
        if r["model"] == model and r["task"] == task and r["metric"] == metric and (len(runs[r["run_id"]].tasks or []) > 1) == limited
    ]
    assert len(found) == 1, found
    return found[0]


def _export(db: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["results", "export", "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


# ---------------------------------------------------------------- scales, limits, missing tasks


def test_mixed_scales_are_never_averaged(mixed_db: DemoDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = _cells(mixed_db.path)
    every = board.all_tasks_view(cells)
    scales = {column.label.split(" (")[0]: column.scale for column in every.columns}
    assert scales["perplexity · word_perplexity"] is board.Scale.UNBOUNDED
    assert scales["wmt22_en_de · bleu"] is board.Scale.PERCENT
    assert scales["pubmedqa · acc"] is board.Scale.FRACTION
    quick = board.suite_view(cells, suites()["quick"])
    for view in (every, quick):
        assert view.score_label is None and all(row.score is None and row.rank is None for row in view.rows)
    frame = run_app(mixed_db.path, monkeypatch).dataframe[0].value
    assert not [c for c in frame.columns if "average" in c.lower() or "score" in c.lower()]
    assert "score" not in _export(mixed_db.path, "--view", "quick", "--format", "csv").splitlines()[0].lower()


def test_a_limited_run_never_hides_a_full_run(mixed_db: DemoDatabase) -> None:
    full = _stored(mixed_db.path, "demo/pico-s", "perplexity", "word_perplexity", limited=False)
    limited = _stored(mixed_db.path, "demo/pico-s", "perplexity", "word_perplexity", limited=True)
    assert full["n_samples"] == 8 and limited["n_samples"] == 2 and full["run_id"] < limited["run_id"]
    every = board.all_tasks_view(_cells(mixed_db.path))
    pico_s = next(row for row in every.rows if row.model == "demo/pico-s")
    columns = {c.label: c for c in every.columns if c.task == "perplexity" and c.metric == "word_perplexity"}
    assert set(columns) == {"perplexity · word_perplexity (n=8)", "perplexity · word_perplexity (n=2, limited)"}
    assert pico_s.cells["perplexity · word_perplexity (n=8)"].value == pytest.approx(full["value"])
    assert pico_s.cells["perplexity · word_perplexity (n=2, limited)"].value == pytest.approx(limited["value"])
    quick = board.suite_view(_cells(mixed_db.path), suites()["quick"])  # the suite prefers the full run
    chosen = next(row for row in quick.rows if row.model == "demo/pico-s").cells["perplexity · word_perplexity"]
    assert chosen.run_id == full["run_id"] and chosen.value == pytest.approx(full["value"])
    pubmedqa = next(c for c in quick.columns if c.task == "pubmedqa")
    assert pubmedqa.label == f"pubmedqa · acc (n={DEMO_LIMIT}, limited)"  # limited columns always say so


def test_a_model_missing_a_task_is_listed_unranked_with_what_it_lacks(mixed_db: DemoDatabase) -> None:
    cells = _cells(mixed_db.path)
    quick = board.suite_view(cells, suites()["quick"])
    assert [row.model for row in quick.ranked] == ["demo/pico-s"]
    (pico_m,) = quick.unranked
    assert pico_m.model == "demo/pico-m"
    assert pico_m.lacks == (
        "perplexity · word_perplexity: missing", "wmt22_en_de · bleu: missing", "arc_easy_200 · acc_norm: missing",
    )
    scored = SuiteSpec(  # a suite with a score: made only by a run of the suite, and no run here is one
        name="two", description="", tasks=(TaskSpec("pubmedqa"), TaskSpec("wmt22_en_de")), average=True,
        metrics=(SuiteMetric("pubmedqa", "acc"), SuiteMetric("arc_easy_200", "acc_norm")),
    )
    view = board.suite_view(cells, scored)
    assert view.ranked == []  # pico-s has both scores, but from two plain runs: never averaged into a score
    assert [(row.model, row.score, row.runs) for row in view.unranked] == [
        ("demo/pico-m (other runs)", None, (mixed_db.run_ids["demo/pico-m #2"],)),
        ("demo/pico-s (other runs)", None, (mixed_db.run_ids["demo/pico-s #1"], mixed_db.run_ids["demo/pico-s #4"])),
    ]


def test_a_group_and_its_subtasks_are_counted_once(group_db: Path) -> None:
    cells = _cells(group_db)
    leaves = [c for c in cells if c.metric == "acc" and not c.is_group]
    assert len(leaves) == 57 and all(c.n_samples == 1 and c.parent_task for c in leaves)
    every = board.all_tasks_view(cells)
    assert [c.label for c in every.columns if c.task.startswith("mmlu")] == ["mmlu · acc (n=57, limited)"]
    expanded = board.all_tasks_view(cells, expand_groups=True)
    assert len({c.task for c in expanded.columns if c.task.startswith("mmlu")}) == 1 + 4 + 57  # shown on request only
    group = next(c for c in cells if c.task == "mmlu" and c.metric == "acc")
    assert group.value == pytest.approx(statistics.fmean(c.value for c in leaves))  # one document each: plain mean
    v1 = board.suite_view(cells, suites()["open-llm-v1"])
    (row,) = v1.unranked
    assert row.cells["mmlu · acc (n=57, limited)"].value == pytest.approx(group.value)
    assert row.model == "demo/pico-s (other runs)" and row.score is None  # a plain --tasks run: no v1 score


# ---------------------------------------------------------------- the Open LLM v1 score


@pytest.fixture
def v1_db(tmp_path: Path) -> Path:
    """Two models with all six Open LLM v1 scores (full runs), one with five, stored through the store's functions."""
    path = tmp_path / "v1.db"
    with open_database(path) as database:
        values = {"org/a": (0.61, 0.72, 0.45, 0.38, 0.66, 0.12), "org/b": (0.55, 0.80, 0.51, 0.42, 0.70, 0.30),
                  "org/c": (0.90, 0.90, 0.90, 0.90, 0.90, None)}
        for name, scores in values.items():
            model = queries.get_or_create_model(database, name=name, source="test", weights_sha256=f"sha-{name}")
            run = queries.create_run(database, model_id=model.id, backend="transformers", config={}, config_hash=name,
                                     tasks=[s[0] for s in V1_SCORES], suite="open-llm-v1")
            metrics = [
                MetricRecord(run_id=run.id, task=task, metric=metric, filter=filter_name, value=value, stderr=0.01,
                             n_samples=100, n_total_docs=100, n_shot=shots, higher_is_better=True, task_version="1.0")
                for (task, metric, filter_name, shots), value in zip(V1_SCORES, scores) if value is not None
            ]
            queries.save_task_results(database, int(run.id or 0), [m.task for m in metrics], metrics, [])
            queries.finish_run(database, int(run.id or 0), computed=1, cached=0)
    return path


def _hand_v1(db: Path, model: str) -> float:
    """Open LLM Leaderboard v1: the mean of the six raw scores, times 100."""
    wanted = {(t, m, f) for t, m, f, _ in V1_SCORES}
    values = [r["value"] for r in _rows(db) if r["model"] == model and (r["task"], r["metric"], r["filter"]) in wanted]
    assert len(values) == 6
    return sum(values) / 6 * 100


def test_open_llm_v1_score_equals_the_formula_on_stored_values(v1_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    view = board.suite_view(_cells(v1_db), suites()["open-llm-v1"])
    expected = {model: _hand_v1(v1_db, model) for model in ("org/a", "org/b")}
    assert [(row.rank, row.model) for row in view.ranked] == [(1, "org/b"), (2, "org/a")]
    for row in view.ranked:
        assert row.score == pytest.approx(expected[row.model], abs=1e-9)
    assert [(row.model, row.lacks) for row in view.unranked] == [("org/c", ("gsm8k · exact_match [strict-match]: missing",))]
    app_test = run_app(v1_db, monkeypatch)  # the app opens on the suite with a score
    shown = app_test.dataframe[0].value.set_index("Model")
    assert shown.loc["org/b", "open-llm-v1 score"] == f"{expected['org/b']:.2f}"
    assert shown.loc["org/a", "arc_challenge · acc_norm"] == "61.00 ± 1.00"
    assert list(app_test.dataframe[1].value["Model"]) == ["org/c"]


def test_export_uses_the_same_rules_as_the_board(v1_db: Path, mixed_db: DemoDatabase) -> None:
    exported = json.loads(_export(v1_db, "--view", "open-llm-v1", "--format", "JSON"))
    expected = board.view_records(board.suite_view(_cells(v1_db), suites()["open-llm-v1"]))
    assert exported["rows"] == json.loads(json.dumps(expected))
    assert exported["rows"][0]["open-llm-v1 score"] == pytest.approx(_hand_v1(v1_db, "org/b"), abs=1e-9)  # full precision
    table = list(csv.DictReader(io.StringIO(_export(v1_db, "--view", "open-llm-v1", "--format", "csv"))))
    assert float(table[1]["open-llm-v1 score"]) == pytest.approx(_hand_v1(v1_db, "org/a"), abs=1e-9)
    assert table[2]["Lacks"] == "gsm8k · exact_match [strict-match]: missing" and table[2]["Rank"] == ""
    md = _export(v1_db, "--view", "open-llm-v1", "--format", "Md")
    assert f"| 1 | org/b | {_hand_v1(v1_db, 'org/b'):.2f} | 55.00 ± 1.00 |" in md
    every = _export(mixed_db.path, "--format", "md")
    assert "perplexity · word_perplexity (n=8)" in every and "perplexity · word_perplexity (n=2, limited)" in every


def test_export_refuses_unknown_runs_and_writes_like_every_writer(v1_db: Path, tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["results", "export", "--db", str(v1_db), "--run", "999"])
    assert missing.exit_code == 1 and "error: no run with id 999" in missing.output and "Traceback" not in missing.output
    folder = CliRunner().invoke(app, ["results", "export", "--db", str(v1_db), "--output", str(tmp_path)])
    assert folder.exit_code == 1 and f"error: --output {tmp_path} is a directory" in folder.output
    target = tmp_path / "new" / "folder" / "board.md"
    written = CliRunner().invoke(app, ["results", "export", "--db", str(v1_db), "-f", "MD", "--output", str(target)])
    assert written.exit_code == 0 and target.read_text().startswith("## all tasks")
    bad = CliRunner().invoke(app, ["results", "export", "--db", str(v1_db), "--format", "xml"])
    assert bad.exit_code == 1 and "unknown export format 'xml'" in bad.output


# ---------------------------------------------------------------- display


def test_heatmap_colours_each_column_on_its_own_scale() -> None:
    long = pd.DataFrame({
        "column": ["acc"] * 2 + ["bleu"] * 2 + ["word_perplexity"] * 2,
        "value": [30.0, 60.0, 10.0, 40.0, 100.0, 50.0],
        "higher_is_better": [True, True, True, True, False, False],
    })
    assert charts.column_positions(long).tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]  # lower perplexity is better
    chart = charts.heatmap(long.assign(model=["a", "b"] * 3, stderr=None, text="", run_id=1, percent=True), ["acc", "bleu", "word_perplexity"])
    assert chart.layer[0].encoding.color.shorthand == "position:Q"


def test_scores_display_as_the_open_llm_leaderboard() -> None:
    acc = board.Cell(0.123456, 0.0101)
    assert board.format_cell(acc, board.metric_scale("acc_norm")) == "12.35 ± 1.01"
    assert board.format_cell(board.Cell(27.3456, 1.2), board.metric_scale("bleu")) == "27.35 ± 1.20"
    assert board.format_cell(board.Cell(1234.5678), board.metric_scale("word_perplexity")) == "1234.57"
    assert board.metric_scale("prompt_level_strict_acc") is board.Scale.FRACTION


def test_open_llm_v2_score_is_the_mean_of_benchmark_means_of_normalised_scores(tmp_path: Path) -> None:
    v2 = suites()["open-llm-v2"]
    with open_database(tmp_path / "v2.db") as database:
        model = queries.get_or_create_model(database, name="org/v2", source="test", weights_sha256="sha-v2")
        run = queries.create_run(database, model_id=model.id, backend="transformers", config={}, config_hash="v2",
                                 tasks=["leaderboard"], suite="open-llm-v2")
        run_id = int(run.id or 0)
        by_benchmark: dict[str, list[float]] = {}
        metrics = []
        for index, item in enumerate(v2.metrics):
            raw = 0.2 + 0.6 * ((index * 37) % 11) / 10
            choices = round(1 / item.random_baseline) if item.random_baseline else None
            normalised = max(0.0, (raw - 1 / choices) / (1 - 1 / choices)) * 100 if choices else raw * 100  # by hand
            by_benchmark.setdefault(item.benchmark, []).append(normalised)
            metrics.append(MetricRecord(run_id=run_id, task=item.task, metric=item.metric, filter=item.filter, value=raw,
                                        normalized=normalised, n_samples=10, n_total_docs=10, n_shot=0, higher_is_better=True))
        queries.save_task_results(database, run_id, sorted({m.task for m in metrics}), metrics, [])
        queries.finish_run(database, run_id, computed=1, cached=0)
        cells = list(lq.leaderboard_cells(database))
    view = board.suite_view(cells, v2)
    expected = statistics.fmean(statistics.fmean(values) for values in by_benchmark.values())
    assert [c.label for c in view.columns][:2] == ["IFEval", "BBH"] and len(view.columns) == 6
    (row,) = view.ranked
    assert row.score == pytest.approx(expected, abs=1e-9)
    assert row.cells["BBH"].value == pytest.approx(statistics.fmean(by_benchmark["BBH"]), abs=1e-9)
