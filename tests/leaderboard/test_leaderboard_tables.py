"""The page's frames of a board view: labels, arena column, CSV at full precision, worked by hand."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from evalsuite.board import rules as board
from evalsuite.store.leaderboard_queries import BoardCell
from leaderboard.board_ui import tables


def _cell(model: str, task: str, metric: str, value: float, *, model_id: int = 1, sha: str = "a" * 64,
          higher: bool | None = True, stderr: float | None = 0.01, run_id: int = 1, params: int | None = 1000,
          n: int = 20, total: int = 20) -> BoardCell:
    return BoardCell(model_id, model, sha, params, run_id, "transformers", None, task, metric, "none", value, stderr,
                     None, higher, n, False, 0, "1.0", total)


def test_all_tasks_frame_has_no_average_and_formats_each_scale() -> None:
    cells = [
        _cell("small", "arc", "acc", 0.4), _cell("small", "wiki", "word_perplexity", 35.0, higher=False),
        _cell("big", "arc", "acc", 0.9, model_id=2, sha="b" * 64, run_id=2),
    ]
    view = board.all_tasks_view(cells)
    frame = tables.display_frame(view, view.rows).set_index(board.MODEL)
    assert list(frame.index) == ["big", "small"]  # by name: nothing to rank on
    assert frame.loc["small", "arc · acc"] == "40.00 ± 1.00"
    assert frame.loc["small", "wiki · word_perplexity"] == "35.00 ± 0.01"  # perplexity as stored, not x 100
    assert frame.loc["big", "wiki · word_perplexity"] == ""
    assert not [c for c in frame.columns if "average" in c.lower()]
    assert frame.loc["big", board.RUNS] == "2"


def test_arena_column_appears_when_ratings_exist() -> None:
    view = board.all_tasks_view([_cell("m", "arc", "acc_norm", 0.5)])
    frame = tables.display_frame(view, view.rows, arena={"m": 1012.5})
    assert frame.loc[0, tables.ARENA] == pytest.approx(1012.5)


def test_same_name_with_other_weights_gets_its_own_labelled_row() -> None:
    cells = [_cell("m", "arc", "acc", 0.5), _cell("m", "arc", "acc", 0.7, model_id=2, sha="beef" * 16, run_id=2)]
    view = board.all_tasks_view(cells)
    assert {row.model for row in view.rows} == {"m @aaaaaaaa", "m @beefbeef"}


def test_csv_keeps_full_precision_in_the_shown_scale() -> None:
    view = board.all_tasks_view([_cell("m", "arc", "acc", 0.123456789), _cell("m", "boolq", "acc", 0.5)])
    parsed = pd.read_csv(io.BytesIO(tables.to_csv(view)))
    assert parsed.loc[0, "arc · acc"] == pytest.approx(12.3456789, abs=1e-12)
    assert parsed.loc[0, "arc · acc stderr"] == pytest.approx(1.0)


def test_legend_names_each_columns_settings() -> None:
    view = board.all_tasks_view([_cell("m", "arc", "acc", 0.5, n=5, total=1172)])
    legend = tables.legend_frame(view)
    assert legend.loc[0, "column"] == "arc · acc (n=5, limited)"
    assert legend.loc[0, "settings"] == "0-shot · n=5 (limited) · v1.0"


def test_empty_board_has_no_rows() -> None:
    view = board.all_tasks_view([])
    assert view.rows == [] and view.columns == []
    assert tables.display_frame(view, view.rows).empty
