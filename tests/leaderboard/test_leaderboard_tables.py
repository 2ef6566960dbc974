"""The wide leaderboard table: averages, stderr columns, labels and CSV, worked by hand."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from board_ui import tables

from evalsuite.store.leaderboard_queries import BoardCell


def _cell(model: str, task: str, metric: str, value: float, *, model_id: int = 1, sha: str = "a" * 64,
          higher: bool | None = True, normalized: float | None = None, stderr: float | None = 0.01,
          run_id: int = 1, params: int | None = 1000) -> BoardCell:
    return BoardCell(model_id, model, sha, params, run_id, "transformers", None, task, metric, "none", value, stderr,
                     normalized, higher, 20, False)


def test_average_uses_only_higher_is_better_scores_and_counts_coverage() -> None:
    cells = [
        _cell("small", "arc", "acc", 0.4), _cell("small", "boolq", "acc", 0.6),
        _cell("small", "wiki", "word_perplexity", 35.0, higher=False),
        _cell("big", "arc", "acc", 0.9, model_id=2, sha="b" * 64, run_id=2),
    ]
    board = tables.build_board(cells)
    frame = board.frame.set_index(tables.MODEL)
    assert frame.loc["small", tables.AVERAGE] == pytest.approx((0.4 + 0.6) / 2)
    assert frame.loc["big", tables.AVERAGE] == pytest.approx(0.9)
    assert frame.loc["small", tables.COVERAGE] == "2/2"
    assert frame.loc["big", tables.COVERAGE] == "1/2"
    assert list(board.frame[tables.MODEL]) == ["big", "small"]  # best average first
    assert frame.loc["small", "± arc · acc"] == pytest.approx(0.01)
    assert tables.NORMALISED not in frame.columns
    assert board.latest_run == {"small": 1, "big": 2}


def test_normalised_average_and_arena_column_appear_when_data_exists() -> None:
    cells = [_cell("m", "arc", "acc_norm", 0.5, normalized=33.3), _cell("m", "mmlu", "acc", 0.4, normalized=20.0)]
    board = tables.build_board(cells, arena={"m": 1012.5})
    row = board.frame.iloc[0]
    assert row[tables.NORMALISED] == pytest.approx((33.3 + 20.0) / 2)
    assert row[tables.ARENA] == pytest.approx(1012.5)


def test_same_name_with_other_weights_gets_its_own_labelled_row() -> None:
    cells = [_cell("m", "arc", "acc", 0.5), _cell("m", "arc", "acc", 0.7, model_id=2, sha="beef" * 16, run_id=2)]
    labels = set(tables.build_board(cells).frame[tables.MODEL])
    assert labels == {"m @aaaaaaaa", "m @beefbeef"}


def test_csv_round_trips_every_shown_value() -> None:
    board = tables.build_board([_cell("m", "arc", "acc", 0.123456789), _cell("m", "boolq", "acc", 0.5)])
    parsed = pd.read_csv(io.BytesIO(tables.to_csv(board)))
    assert list(parsed.columns) == list(board.frame.columns)
    assert parsed.loc[0, "arc · acc"] == pytest.approx(0.123456789)


def test_empty_board_has_no_rows() -> None:
    board = tables.build_board([])
    assert board.frame.empty and board.score_columns == []
