"""Leaderboard tables from score cells: pure pandas, no Streamlit, so tests can check them.

One row per model, one column per (task, metric[, filter]) with a companion
``± …`` column holding its standard error. Two summary columns:

* ``Average`` — unweighted mean of the row's higher-is-better scores (perplexities and
  other lower-is-better metrics are left out), over the scores the model has; ``Scores``
  says how many of the shown higher-is-better columns that is.
* ``Normalised avg`` — unweighted mean of the stored ``MetricRecord.normalized`` values
  (Open LLM Leaderboard v1/v2 normalisation, 0–100), shown only when some are stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalsuite.store.leaderboard_queries import BoardCell, BoardCells

MODEL = "Model"
AVERAGE = "Average"
NORMALISED = "Normalised avg"
ARENA = "Arena rating"
COVERAGE = "Scores"
PARAMS = "Params"
BACKEND = "Backend"
RUNS = "Runs"
STDERR_PREFIX = "± "


@dataclass(frozen=True)
class BoardTable:
    """The wide leaderboard and what its columns are."""

    frame: pd.DataFrame
    score_columns: list[str]
    higher_is_better: dict[str, bool]
    latest_run: dict[str, int]


def column_key(task: str, metric: str, filter_name: str) -> str:
    """``pubmedqa · acc`` (plus `` [filter]`` when the filter is not ``none``)."""
    suffix = "" if filter_name == "none" else f" [{filter_name}]"
    return f"{task} · {metric}{suffix}"


def cells_frame(cells: BoardCells | Sequence[BoardCell]) -> pd.DataFrame:
    """Long format: one row per cell, plus ``model_label`` and ``column`` keys (vectorised: 40k cells)."""
    rows = cells.rows if isinstance(cells, BoardCells) else list(cells)
    frame = pd.DataFrame.from_records(rows, columns=list(BoardCell._fields), coerce_float=False)
    if frame.empty:
        return frame.assign(model_label=pd.Series(dtype=str), column=pd.Series(dtype=str))
    frame["model_label"] = _model_labels(frame)
    filters = frame["filter"].astype(str)
    suffix = np.where(filters == "none", "", " [" + filters + "]")
    frame["column"] = frame["task"].astype(str) + " · " + frame["metric"].astype(str) + suffix
    return frame


def _model_labels(frame: pd.DataFrame) -> pd.Series:
    """The model name, or ``name @sha8`` when one name has several weights."""
    names = frame["model"].astype(str)
    ids_per_name = frame.groupby("model")["model_id"].nunique()
    ambiguous = names.isin(set(ids_per_name[ids_per_name > 1].index))
    return names.where(~ambiguous, names + " @" + frame["weights_sha256"].astype(str).str[:8])


def build_board(
    cells: BoardCells | Sequence[BoardCell] | pd.DataFrame, arena: Mapping[str, float] | None = None
) -> BoardTable:
    """The wide table, best Average first (``cells`` may already be a `cells_frame`)."""
    long = cells if isinstance(cells, pd.DataFrame) else cells_frame(cells)
    if long.empty:
        return BoardTable(frame=pd.DataFrame(columns=[MODEL, AVERAGE]), score_columns=[], higher_is_better={}, latest_run={})
    columns = sorted(long["column"].unique())
    values = long.pivot_table(index="model_label", columns="column", values="value", aggfunc="first", dropna=False)
    stderrs = long.pivot_table(index="model_label", columns="column", values="stderr", aggfunc="first", dropna=False)
    values = values.reindex(columns=columns)
    stderrs = stderrs.reindex(index=values.index, columns=columns)
    higher = _directions(long)
    better = [c for c in columns if higher.get(c, False)]
    per_model = long.groupby("model_label")
    table = pd.DataFrame(index=values.index)
    table[AVERAGE] = values[better].mean(axis=1) if better else float("nan")
    table[COVERAGE] = values[better].notna().sum(axis=1).astype(str) + f"/{len(better)}"
    if long["normalized"].notna().any():
        table[NORMALISED] = per_model["normalized"].mean()
    if arena:
        names = per_model["model"].first()
        table[ARENA] = [arena.get(names[label]) for label in table.index]
    for column in columns:
        table[column] = values[column]
        table[STDERR_PREFIX + column] = stderrs[column]
    table[PARAMS] = per_model["params"].first()
    table[BACKEND] = _joined(long, "backend")
    table[RUNS] = _joined(long, "run_id")
    table = table.sort_values(AVERAGE, ascending=False, na_position="last")
    table.index.name = MODEL
    latest = per_model["run_id"].max().astype(int).to_dict()
    return BoardTable(frame=table.reset_index(), score_columns=columns, higher_is_better=higher, latest_run=latest)


def _joined(long: pd.DataFrame, column: str) -> pd.Series:
    """Per model, the distinct values of ``column`` joined with ", " (sorted; plain Python: 1k groups)."""
    pairs = long[["model_label", column]].drop_duplicates()
    grouped: dict[str, list[Any]] = {}
    for label, value in zip(pairs["model_label"].tolist(), pairs[column].tolist()):
        grouped.setdefault(label, []).append(value)
    return pd.Series({label: ", ".join(map(str, sorted(values))) for label, values in grouped.items()}, dtype=object)


def _directions(long: pd.DataFrame) -> dict[str, bool]:
    """Whether higher is better per column; unknown directions count as not (kept out of Average)."""
    known = long.dropna(subset=["higher_is_better"]).groupby("column")["higher_is_better"].first()
    return {column: bool(flag) for column, flag in known.items()}


def to_csv(table: BoardTable) -> bytes:
    """The shown table as CSV (UTF-8), full precision."""
    return table.frame.to_csv(index=False).encode("utf-8")
