"""Stored scores as JSON, CSV or a Markdown table (for a model card or a gist)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from evalsuite.errors import ConfigError
from evalsuite.store import queries
from evalsuite.store.db import Database

FORMATS = ("json", "csv", "md")
COLUMNS = ("run_id", "model", "backend", "status", "task", "metric", "filter", "value", "stderr", "normalized", "n_samples", "n_shot", "higher_is_better")


def render(database: Database, format: str, *, run_ids: Sequence[int] | None = None) -> str:
    """All metric rows of the chosen runs in one of FORMATS."""
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}", f"choose one of: {', '.join(FORMATS)}")
    rows = queries.metric_rows(database, run_ids)
    if format == "json":
        return json.dumps(rows, indent=2) + "\n"
    if format == "csv":
        return _csv(rows)
    return markdown_table(rows)


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """One row per run, one column per task/metric, `value ± stderr`; filters other than `none` named."""
    columns: list[str] = []
    table: dict[tuple[int, str], dict[str, str]] = {}
    for row in rows:
        if row["value"] is None:
            continue
        label = f"{row['task']} {row['metric']}" + ("" if row["filter"] == "none" else f" ({row['filter']})")
        if label not in columns:
            columns.append(label)
        cell = f"{row['value']:.4f}" + (f" ± {row['stderr']:.4f}" if row["stderr"] is not None else "")
        table.setdefault((row["run_id"], row["model"]), {})[label] = cell
    header = ["run", "model", *columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for (run_id, model), cells in table.items():
        lines.append("| " + " | ".join([str(run_id), model, *(cells.get(c, "") for c in columns)]) + " |")
    return "\n".join(lines) + "\n"
