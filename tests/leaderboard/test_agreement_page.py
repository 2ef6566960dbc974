"""The "Metric agreement" page under AppTest: its tables hold the numbers `evalsuite.agreement` computes.

The expected values come from calling the agreement functions directly on the same
database and data (the functions themselves are checked against scipy in tests/agreement/).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from arena_agreement_db import MODELS, answered_db, cast_votes, store_score
from leaderboard_fixtures import run_app

from evalsuite.agreement import arena, summeval
from evalsuite.metrics import agreement
from evalsuite.store.db import open_database
from leaderboard.board_ui.common import escape_markdown

pytestmark = pytest.mark.usefixtures("app_env")

PAGE = "views/agreement.py"
DOCUMENTS = 2
ROUNDS = 20
JUDGE = "test/judge"
ACCURACY = {"alpha-7b": 0.61, "beta-13b": 0.55, "gamma-3b": 0.30}


def _arena_db(path: Path) -> Path:
    """People and a judge on the same battles; accuracy of the three models on the board."""
    answered_db(path)
    people = [(1, "alpha-7b", "beta-13b", "a")] * 2 + [(1, "alpha-7b", "beta-13b", "b"), (1, "beta-13b", "gamma-3b", "a"),
              (1, "beta-13b", "gamma-3b", "b"), (1, "alpha-7b", "gamma-3b", "a"), (2, "alpha-7b", "gamma-3b", "tie")]
    with open_database(path) as database:
        cast_votes(database, people)
        cast_votes(database, [(1, "beta-13b", "alpha-7b", "b"), (1, "gamma-3b", "beta-13b", "tie"), (2, "alpha-7b", "gamma-3b", "a")],
                   voter=JUDGE, kind="judge")
        for model in MODELS:
            store_score(database, model, "arc_easy", "acc", ACCURACY[model], True)
    return path


def _same(shown: object, expected: float | None) -> bool:
    return (expected is None and (shown is None or (isinstance(shown, float) and math.isnan(shown)))) or shown == pytest.approx(expected)


def test_page_shows_the_summeval_and_arena_tables_as_computed(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _arena_db(tmp_path / "agreement.db")
    monkeypatch.setenv("EVALSUITE_DATA_DIR", str(shared_data))
    app = run_app(db, monkeypatch, PAGE)
    app.number_input(key="agreement_documents").set_value(DOCUMENTS).run()
    app.number_input(key="agreement_rounds").set_value(ROUNDS).run()
    assert not app.exception, app.exception
    frames = [element.value for element in app.dataframe]
    assert len(frames) == 6  # four SummEval tables, then judges, then board columns

    data = summeval.load(shared_data, DOCUMENTS)
    scores, unavailable = summeval.automatic_metrics(data, with_bertscore=False)
    cells = summeval.agreement_cells(scores, data.human, rounds=ROUNDS, seed=0)
    tables = [(level, method) for level in agreement.LEVELS for method in agreement.METHODS]
    for frame, (level, method) in zip(frames[:4], tables, strict=True):
        shown = frame.set_index("metric")
        assert list(shown.index) == list(scores)
        for cell in cells:
            if (cell.level, cell.method) == (level, method):
                assert _same(shown.loc[cell.metric, cell.dimension], cell.correlation.value), (level, method, cell)
                if cell.correlation.low is not None and cell.correlation.high is not None:
                    assert shown.loc[cell.metric, f"{cell.dimension} 95% CI"] == f"[{cell.correlation.low:.2f}, {cell.correlation.high:.2f}]"
    reason = unavailable[summeval.BERTSCORE]
    assert any(caption.value == escape_markdown(f"{summeval.BERTSCORE}: unavailable — {reason}") for caption in app.caption)

    with open_database(db) as database:
        (judge,) = arena.judge_agreement(database)
        benchmarks = arena.benchmark_agreement(database)
    row = frames[4].set_index("judge").loc[JUDGE]
    assert (row["battles"], row["vote pairs"], row["pairs w/o tie"]) == (judge.battles, judge.agreement.pairs, judge.agreement.pairs_without_ties)
    assert row["agreement w/ tie"] == pytest.approx(judge.agreement.with_ties)
    assert row["agreement w/o tie"] == pytest.approx(judge.agreement.without_ties)
    assert judge.battles == 3 and judge.agreement.pairs > 0  # the fixture really has shared battles
    columns = frames[5].set_index("board column")
    assert list(columns.index) == [bench.column for bench in benchmarks]
    for bench in benchmarks:
        assert columns.loc[bench.column, "models"] == bench.models == 3
        assert columns.loc[bench.column, "Spearman ρ"] == pytest.approx(bench.spearman)
        assert columns.loc[bench.column, "Kendall τ-b"] == pytest.approx(bench.kendall)
