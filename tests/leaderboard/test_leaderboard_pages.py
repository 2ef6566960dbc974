"""Every page under streamlit.testing's AppTest, on a database filled by real `evalsuite run` calls.

Expected values come from the store (`queries.metric_rows`, `queries.run_samples`)
and from lm-eval's own task scores, not from the leaderboard's code.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from leaderboard_fixtures import DEMO_LIMIT, DEMO_MODELS, DEMO_TASK, DemoDatabase, copy_database, run_app

from evalsuite.store import queries
from evalsuite.store.db import open_database
from evalsuite.store.schema import Vote

LIMITED_SCORE = f"{DEMO_TASK} · acc (n={DEMO_LIMIT}, limited)"

pytestmark = pytest.mark.usefixtures("app_env")


def _metrics(db: Path) -> list[dict]:
    with open_database(db) as database:
        return queries.metric_rows(database)


def _samples(db: Path, run_id: int) -> list:
    with open_database(db) as database:
        return queries.run_samples(database, run_id, DEMO_TASK)


def _shown(value: float, stderr: float) -> str:
    """The Open LLM Leaderboard's cell, computed here from the stored fraction: x 100, two decimals, ± stderr."""
    return f"{value * 100:.2f} ± {stderr * 100:.2f}"


def test_leaderboard_shows_both_demo_models_with_stored_scores_and_stderr(
    demo_db: DemoDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = run_app(demo_db.path, monkeypatch)
    assert app.radio(key="board_view").value == "all tasks"  # no suite with a score is stored
    frame = app.dataframe[0].value.set_index("Model")
    assert set(frame.index) == set(DEMO_MODELS)
    for row in _metrics(demo_db.path):
        if row["task"] == DEMO_TASK and row["metric"] == "acc" and row["filter"] == "none":
            assert frame.loc[row["model"], LIMITED_SCORE] == _shown(row["value"], row["stderr"])
    assert not [c for c in frame.columns if "average" in c.lower() or "score" in c.lower()]  # nothing averaged
    assert "Arena rating" not in frame.columns  # no votes stored
    assert len(app.get("download_button")) == 1
    assert [link.proto.page for link in app.get("page_link")]  # a link to a run page


def test_leaderboard_filters_by_model_name_and_task(demo_db: DemoDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    app = run_app(demo_db.path, monkeypatch)
    app.sidebar.text_input(key="filter_model").input("pico-m").run()
    assert list(app.dataframe[0].value["Model"]) == ["demo/pico-m"]
    app.sidebar.text_input(key="filter_model").input("").run()
    app.sidebar.multiselect(key="filter_tasks").select(DEMO_TASK).run()
    columns = [c for c in app.dataframe[0].value.columns if " · " in c]
    assert columns and all(c.startswith(f"{DEMO_TASK} · ") for c in columns)


def test_quick_suite_view_lists_models_with_what_they_lack(demo_db: DemoDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    app = run_app(demo_db.path, monkeypatch)
    app.radio(key="board_view").set_value("quick").run()
    frame = app.dataframe[0].value.set_index("Model")
    assert "Rank" not in frame.columns and "quick score" not in frame.columns  # average: false, so no score, no rank
    assert "perplexity · word_perplexity: missing" in frame.loc["demo/pico-s", "Lacks"]


def test_charts_page_draws_bars_and_heatmap(demo_db: DemoDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    app = run_app(demo_db.path, monkeypatch, "views/plots.py")
    charts = app.get("vega_lite_chart")
    assert len(charts) == 2  # no suite score in the "all tasks" view: no score-vs-size plot
    assert app.selectbox(key="charts_column").value in app.selectbox(key="charts_column").options


def test_run_page_shows_run_metrics_and_paginated_filterable_samples(
    demo_db: DemoDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = demo_db.run_ids["demo/pico-s"]
    app = run_app(demo_db.path, monkeypatch, "views/run.py", run=str(run_id))
    overview = dict(zip(app.dataframe[0].value["field"], app.dataframe[0].value["value"]))
    assert overview["model"] == "demo/pico-s" and overview["status"] == "complete"
    metrics = app.dataframe[1].value
    stored = {(r["task"], r["metric"], r["filter"]): r["value"] for r in _metrics(demo_db.path) if r["run_id"] == run_id}
    shown = {(t, m, f): v for t, m, f, v in zip(metrics["task"], metrics["metric"], metrics["filter"], metrics["value"])}
    assert shown.keys() == stored.keys()
    assert all(math.isclose(shown[k], stored[k]) for k in stored if stored[k] is not None)
    samples = _samples(demo_db.path, run_id)
    assert any(f"{len(samples)} samples match" in c.value for c in app.caption)
    app.selectbox(key="run_sample_page_size").select(25).run()
    assert len(app.dataframe[2].value) == min(25, len(samples))
    app.checkbox(key="run_sample_wrong").check().run()
    wrong = [s for s in samples if s.correct is False]
    assert any(f"{len(wrong)} samples match" in c.value for c in app.caption)
    if wrong:
        assert list(app.dataframe[2].value["doc_id"]) == [s.doc_id for s in wrong][:25]
        assert app.code[0].value == (wrong[0].prompt or "")


def test_compare_page_pairs_the_demo_runs_and_lists_disagreements(
    demo_db: DemoDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_a, run_b = demo_db.run_ids["demo/pico-s"], demo_db.run_ids["demo/pico-m"]
    app = run_app(demo_db.path, monkeypatch, "views/compare.py", a=str(run_a), b=str(run_b))
    table = app.dataframe[0].value.set_index("task")
    row = table.loc[DEMO_TASK]
    samples_a = {s.doc_id: s.metrics["acc"] for s in _samples(demo_db.path, run_a)}
    samples_b = {s.doc_id: s.metrics["acc"] for s in _samples(demo_db.path, run_b)}
    stored = {(r["run_id"]): r["value"] for r in _metrics(demo_db.path) if r["task"] == DEMO_TASK and r["metric"] == "acc"}
    assert row["metric"] == "acc" and row["n shared"] == len(samples_a) == len(samples_b)
    assert row["A"] == f"{stored[run_a] * 100:.2f}"  # mean of per-sample acc == lm-eval's task acc, x 100 as the board shows it
    assert row["B"] == f"{stored[run_b] * 100:.2f}"
    assert row["A − B"] == f"{(stored[run_a] - stored[run_b]) * 100:.2f}"
    low, high = (float(x) for x in row["95% CI"].strip("[]").split(", "))
    assert low <= float(row["A − B"]) <= high
    assert 0 < row["p (permutation)"] <= 1 and 0 < row["p (bootstrap)"] <= 1
    differing = sorted(d for d in samples_a if samples_a[d] != samples_b[d])
    assert row["disagree"] == len(differing)
    if differing:
        assert list(app.dataframe[1].value["doc_id"]) == differing[:20]


def test_arena_column_appears_once_votes_exist(
    demo_db: DemoDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = copy_database(demo_db.path, tmp_path / "votes.db")
    with open_database(db) as database:
        with database.session() as session:  # pico-m wins 3 of 4 votes
            for outcome in ("a", "a", "a", "b"):
                session.add(Vote(model_a="demo/pico-m", model_b="demo/pico-s", outcome=outcome, voter="t"))
    frame = run_app(db, monkeypatch).dataframe[0].value.set_index("Model")
    # Bradley–Terry with two models: R_m − R_s = 400·log10(3/1), ratings averaging 1000.
    gap = 400 * math.log10(3)
    assert frame.loc["demo/pico-m", "Arena rating"] == pytest.approx(1000 + gap / 2, abs=0.5)
    assert frame.loc["demo/pico-s", "Arena rating"] == pytest.approx(1000 - gap / 2, abs=0.5)
