"""Board views (``evalsuite.board.rules``) as pandas frames for the pages; no rules of their own.

The rules (comparability keys, leaf tasks, suite scores, ranking, number formats) are in
``evalsuite.board.rules``; this module only turns a :class:`~evalsuite.board.rules.BoardView` into the
frames Streamlit shows and the CSV it offers, so the page and `results export` agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from evalsuite.board import rules as board

ARENA = "Arena rating"


def display_frame(
    view: board.BoardView, rows: Sequence[board.Row], arena: Mapping[str, float] | None = None, *, with_lacks: bool = False
) -> pd.DataFrame:
    """The rows as shown: rank, model, the suite score, ``value ± stderr`` strings; arena and size at the end."""
    frame = pd.DataFrame(board.display_records(view, rows), columns=_display_columns(view))
    if with_lacks:  # right after the model, where a reader looks for why it is not ranked
        frame.insert(frame.columns.get_loc(board.MODEL) + 1, board.LACKS, ["; ".join(row.lacks) for row in rows])
    if arena:
        frame[ARENA] = [arena.get(row.model.split(" @")[0]) for row in rows]
    frame[board.PARAMS] = pd.array([row.params for row in rows], dtype="Int64")
    frame[board.RUNS] = [", ".join(map(str, row.runs)) for row in rows]
    return frame


def _display_columns(view: board.BoardView) -> list[str]:
    head = [board.RANK, board.MODEL, view.score_label] if view.score_label else [board.MODEL]
    return [*head, *(column.label for column in view.columns)]


def legend_frame(view: board.BoardView) -> pd.DataFrame:
    """What each column scores and under which settings (shots, documents, version, chat template)."""
    return pd.DataFrame(board.legend(view), columns=["column", "task", "metric", "filter", "scale", "settings"])


def to_csv(view: board.BoardView) -> bytes:
    """The view as CSV (UTF-8) at full precision, stderr in its own columns."""
    return pd.DataFrame(board.view_records(view)).to_csv(index=False).encode("utf-8")
