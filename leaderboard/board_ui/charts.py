"""Altair charts of a board view (``evalsuite.board.rules``): per-column bars, heatmap, score vs size.

Values are shown as the board shows them (fractions x 100). Error bars are 95 % normal
intervals, value ± 1.96 · stderr, where a stderr is stored. The heatmap colours each
column on its own scale (worst to best within the column, direction-aware), so accuracy,
chrF, BLEU and perplexity never share one colour scale.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from evalsuite.board import rules as board

Z_95 = 1.959963984540054

alt.data_transformers.disable_max_rows()  # data goes to Streamlit as Arrow, not inline JSON


def long_frame(view: board.BoardView) -> pd.DataFrame:
    """One row per (model, column) with a value: shown value, stderr, run, and the cell as text."""
    records = []
    for row in view.rows:
        for column in view.columns:
            cell = row.cells.get(column.label)
            if cell is None or cell.value is None:
                continue
            records.append({
                "model": row.model, "column": column.label,
                "value": board.display_value(cell.value, column.scale),
                "stderr": board.display_value(cell.stderr, column.scale),
                "text": board.format_cell(cell, column.scale), "run_id": cell.run_id,
                "higher_is_better": column.higher_is_better is not False,
                "percent": column.scale in (board.Scale.FRACTION, board.Scale.PERCENT),  # shown on 0–100
            })
    return pd.DataFrame.from_records(
        records, columns=["model", "column", "value", "stderr", "text", "run_id", "higher_is_better", "percent"]
    )


def column_positions(long: pd.DataFrame) -> pd.Series:
    """Per cell, 0 (worst in its column) to 1 (best in its column); 0.5 when the column has one value."""
    grouped = long.groupby("column")["value"]
    low, high = grouped.transform("min"), grouped.transform("max")
    span = (high - low).where(high > low)
    position = ((long["value"] - low) / span).fillna(0.5)
    return position.where(long["higher_is_better"], 1.0 - position)


def task_bars(long: pd.DataFrame, column: str) -> alt.LayerChart | alt.FacetChart:
    """One bar per model for one column, with ±1.96·stderr error bars."""
    data = long.loc[long["column"] == column, ["model", "value", "stderr", "text", "percent"]].copy()
    scale = alt.Scale(domain=[0, 100]) if bool(data["percent"].all()) else alt.Scale(zero=True)
    data["stderr"] = data["stderr"].fillna(0.0)
    data["low"] = data["value"] - Z_95 * data["stderr"]
    data["high"] = data["value"] + Z_95 * data["stderr"]
    order = data.sort_values("value", ascending=False)["model"].tolist()
    base = alt.Chart(data).encode(y=alt.Y("model:N", sort=order, title="model"))
    bars = base.mark_bar().encode(
        x=alt.X("value:Q", title=column, scale=scale, axis=alt.Axis(format=".2~f")),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("text:N", title=column)],
    )
    errors = base.mark_errorbar(ticks=True, clip=True).encode(x=alt.X("low:Q", title=column, scale=scale), x2="high:Q")
    return alt.layer(bars, errors).properties(height=max(120, 22 * len(order)))


def heatmap(long: pd.DataFrame, columns: list[str]) -> alt.LayerChart | alt.FacetChart:
    """Models × columns; colour = place within the column (best = 1), the cell text = the shown score."""
    data = long.loc[long["column"].isin(columns)].copy()
    data["position"] = column_positions(data)
    base = alt.Chart(data).encode(
        x=alt.X("column:N", title=None, sort=columns, axis=alt.Axis(labelAngle=-35, labelLimit=320, labelOverlap=False)),
        y=alt.Y("model:N", title="model", sort="ascending"),
    )
    rects = base.mark_rect().encode(
        color=alt.Color(
            "position:Q", scale=alt.Scale(scheme="viridis", domain=[0, 1]),
            legend=alt.Legend(title="within column", values=[0, 1], labelExpr="datum.value == 0 ? 'worst' : 'best'"),
        ),
        tooltip=["model:N", "column:N", alt.Tooltip("text:N", title="score"), "run_id:Q"],
    )
    labels = base.mark_text(fontSize=11).encode(
        text="text:N", color=alt.condition("datum.position > 0.6", alt.value("black"), alt.value("white"))
    )
    return alt.layer(rects, labels).properties(height=alt.Step(28))


def score_vs_size(frame: pd.DataFrame, model_column: str, score_column: str, params_column: str) -> alt.Chart:
    """Score against parameter count (log scale); models with unknown size are left out."""
    data = frame[[model_column, score_column, params_column]].dropna()
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
