"""Altair charts of leaderboard scores; built from the long cell frame of `tables.cells_frame`.

Error bars are 95 % normal intervals, value ± 1.96 · stderr, where a stderr is stored.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

Z_95 = 1.959963984540054

alt.data_transformers.disable_max_rows()  # data goes to Streamlit as Arrow, not inline JSON


def task_bars(long: pd.DataFrame, column: str) -> alt.LayerChart | alt.FacetChart:
    """One bar per model for one score column, with ±1.96·stderr error bars."""
    data = long.loc[long["column"] == column, ["model_label", "value", "stderr"]].copy()
    data["stderr"] = data["stderr"].fillna(0.0)
    data["low"] = data["value"] - Z_95 * data["stderr"]
    data["high"] = data["value"] + Z_95 * data["stderr"]
    order = data.sort_values("value", ascending=False)["model_label"].tolist()
    base = alt.Chart(data).encode(y=alt.Y("model_label:N", sort=order, title="model"))
    bars = base.mark_bar().encode(
        x=alt.X("value:Q", title=column),
        tooltip=[alt.Tooltip("model_label:N", title="model"), "value:Q", "stderr:Q"],
    )
    errors = base.mark_errorbar(ticks=True).encode(x=alt.X("low:Q", title=column), x2="high:Q")
    return alt.layer(bars, errors).properties(height=max(120, 22 * len(order)))


def heatmap(long: pd.DataFrame, columns: list[str]) -> alt.Chart:
    """Models × score columns, coloured by the value (one shared scale: pick comparable columns)."""
    data = long.loc[long["column"].isin(columns), ["model_label", "column", "value", "stderr", "run_id"]]
    data = data.rename(columns={"model_label": "model", "column": "score"})
    return (
        alt.Chart(data)
        .mark_rect()
        .encode(
            x=alt.X("score:N", title="task · metric", sort="ascending"),
            y=alt.Y("model:N", title="model", sort="ascending"),
            color=alt.Color("value:Q", scale=alt.Scale(scheme="viridis")),
            tooltip=["model:N", "score:N", "value:Q", "stderr:Q", "run_id:Q"],
        )
        .properties(height=alt.Step(20))
    )


def score_vs_size(board: pd.DataFrame, model_column: str, score_column: str, params_column: str) -> alt.Chart:
    """Score against parameter count (log scale); models with unknown size are left out."""
    data = board[[model_column, score_column, params_column]].dropna()
    data = data[data[params_column] > 0].rename(columns={model_column: "model", score_column: "score", params_column: "params"})
    return (
        alt.Chart(data)
        .mark_circle(size=80)
        .encode(
            x=alt.X("params:Q", scale=alt.Scale(type="log"), title="parameters"),
            y=alt.Y("score:Q", title=score_column),
            tooltip=["model:N", alt.Tooltip("params:Q", format=","), "score:Q"],
        )
    )
