"""Stored scores as JSON, CSV or a Markdown table, by the leaderboard's rules.

A *view* is what the leaderboard shows (``evalsuite.board.rules``): ``all`` (every stored score,
leaf tasks and group aggregates, one column per comparable setting) or a suite's name (its
score first, ranked where comparable, the others listed with what they lack). ``rows`` is
the raw dump instead: one row per stored score of every run, whatever its status.
Markdown shows scores as the board does (x 100, two decimals, ``± stderr``); CSV and JSON
keep full precision.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalsuite.board import rules as board
from evalsuite.errors import ConfigError
from evalsuite.identity.run_config import check_writable_output
from evalsuite.store import import_queries, queries
from evalsuite.store import leaderboard_queries as lq
from evalsuite.store.db import Database
from evalsuite.store.schema import RUN_COMPLETE
from evalsuite.tasks.suites import SuiteSpec

FORMATS = ("json", "csv", "md", "autoeval")
ALL_VIEW = "all"
ROWS_VIEW = "rows"
COLUMNS = (
    "run_id", "model", "backend", "status", "task", "metric", "filter", "value", "stderr", "normalized", "n_samples",
    "n_shot", "higher_is_better",
)


def check_format(format: str) -> str:
    """The format name in lower case (``MD`` works), or a ConfigError naming the choices."""
    name = format.strip().lower()
    if name not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}", f"choose one of: {', '.join(FORMATS)}")
    return name


def view_names() -> list[str]:
    """``all``, every suite, and ``rows``."""
    from evalsuite.tasks.suites import suites

    return [ALL_VIEW, *suites(), ROWS_VIEW]


def check_view(view: str) -> str:
    name = view.strip()
    names = view_names()
    if name.lower() in (ALL_VIEW, ROWS_VIEW):
        return name.lower()
    if name not in names:
        raise ConfigError(f"unknown view {view!r}", f"choose one of: {', '.join(names)}")
    return name


def check_runs(database: Database, run_ids: Sequence[int], *, complete_only: bool) -> None:
    """Every requested run exists (and is complete, for the board's views): else a clear error, never ``[]``."""
    for run_id in run_ids:
        run = queries.get_run(database, run_id).run  # raises "no run with id N"
        if complete_only and run.status != RUN_COMPLETE:
            finish = "rerun it on its machine or pod (it was imported)" if import_queries.is_imported(run) else "finish it with `evalsuite run --resume`"
            raise ConfigError(f"run {run_id} is {run.status}; the board's views show complete runs only", f"export its stored rows with --view rows, or {finish}")


def render(database: Database, format: str, *, run_ids: Sequence[int] | None = None, view: str = ALL_VIEW) -> str:
    """The chosen view of the chosen runs (default: every complete run) in one of FORMATS."""
    fmt, name = check_format(format), check_view(view)
    if fmt == "autoeval":
        return render_autoeval(database, run_ids or (), view=name)
    check_runs(database, run_ids or (), complete_only=name != ROWS_VIEW)
    if name == ROWS_VIEW:
        return _render_rows(queries.metric_rows(database, run_ids), fmt)
    cells = list(lq.leaderboard_cells(database, lq.BoardFilter(runs=tuple(run_ids or ()))))
    board_view = build_view(cells, name)
    if fmt == "json":
        return json.dumps(_json_view(board_view), indent=2, default=str) + "\n"
    if fmt == "csv":
        return _csv(board.view_records(board_view))
    return markdown_view(board_view)


def render_autoeval(database: Database, run_ids: Sequence[int], *, view: str = ALL_VIEW) -> str:
    """LLM AutoEval's Markdown summary of ONE complete run, for the suite named by ``view``
    (``all``: the Nous suite), see :mod:`evalsuite.formats.autoeval`."""
    from evalsuite.formats import autoeval as export_autoeval
    from evalsuite.tasks.suites import suites

    if len(run_ids) != 1:
        raise ConfigError(
            "the autoeval format summarises one run", "pass exactly one --run ID (see `evalsuite results list`)"
        )
    if view == ROWS_VIEW:
        raise ConfigError("--view rows has no autoeval layout", "pass a suite as --view (default: nous)")
    check_runs(database, run_ids, complete_only=True)
    suite = suites()[export_autoeval.DEFAULT_SUITE if view == ALL_VIEW else view]
    return export_autoeval.render(queries.get_run(database, run_ids[0]), suite)


def build_view(cells: Sequence[lq.BoardCell], name: str) -> board.BoardView:
    """The "all tasks" view for ``all``, else the named suite's view."""
    from evalsuite.tasks.suites import suites

    if name == ALL_VIEW:
        return board.all_tasks_view(cells)
    return board.suite_view(cells, suites()[name])


def _render_rows(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    if fmt == "csv":
        return _csv(rows, COLUMNS)
    return markdown_rows(rows)


def _csv(rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    buffer = io.StringIO()
    fieldnames = list(columns) if columns else list(rows[0]) if rows else [board.RANK, board.MODEL]
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _json_view(view: board.BoardView) -> dict[str, Any]:
    return {
        "view": view.name,
        "score": view.score_label,
        "notes": view.notes,
        "columns": [
            {**entry, "keys": [vars(key) for key in column.keys]}
            for entry, column in zip(board.legend(view), view.columns)
        ],
        "rows": board.view_records(view),
    }


def _md_escape(text: object) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(_md_escape(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return lines


def markdown_view(view: board.BoardView) -> str:
    """The view as the board shows it: ranked table, unranked models with what they lack, column settings.

    The "all tasks" view has a column per score variant (dozens on a real database), so it is
    cut into one table per suite or benchmark instead (:func:`markdown_all_tasks`).
    """
    if view.name == board.ALL_TASKS:
        return markdown_all_tasks(view)
    ranked = board.display_records(view, view.ranked)
    sample = board.display_records(view, view.rows[:1])
    header = list(sample[0]) if sample else [board.MODEL]
    lines = [f"## {view.name}", ""] + [f"{note}  " for note in view.notes] + [""]
    if view.ranked:
        lines += _md_table(header, [list(r.values()) for r in ranked]) + [""]
    if view.unranked:
        if view.ranked:
            lines += ["Not ranked (lacks a score of this view, or has it under other settings):", ""]
        records = board.display_records(view, view.unranked)
        with_lacks = view.name != board.ALL_TASKS
        unranked_header = header + ([board.LACKS] if with_lacks else [])
        rows = [list(r.values()) + (["; ".join(row.lacks)] if with_lacks else []) for r, row in zip(records, view.unranked)]
        lines += _md_table(unranked_header, rows) + [""]
    lines += ["Column settings:", ""]
    lines += _md_table(["column", "settings"], [[c.label, c.describe()] for c in view.columns])
    return "\n".join(lines) + "\n"


MD_MAX_COLUMNS = 8  # score columns per Markdown table: wider tables do not fit a model card or a terminal
OTHER_TASKS = "other tasks"
COLUMN_SETTINGS = "column settings"


@dataclass(frozen=True)
class ColumnGroup:
    """Columns of the "all tasks" view shown as one Markdown table, under ``title``."""

    title: str
    columns: tuple[board.Column, ...]


def task_groups(suite_specs: Mapping[str, SuiteSpec]) -> dict[str, str]:
    """Task -> the title of its group: the first suite (file order) that lists it, with the benchmark
    it counts towards where the suite names one (``nous · AGIEval``)."""
    titles: dict[str, str] = {}
    for suite in suite_specs.values():
        benchmarks = {m.task: m.benchmark for m in suite.metrics if m.benchmark and m.benchmark != m.task}
        for task in [*(spec.name for spec in suite.tasks), *(m.task for m in suite.metrics)]:
            titles.setdefault(task, f"{suite.name} · {benchmarks[task]}" if task in benchmarks else suite.name)
    return titles


def column_groups(columns: Sequence[board.Column], titles: Mapping[str, str], *, width: int = MD_MAX_COLUMNS) -> list[ColumnGroup]:
    """The columns by group (suites in file order, then tasks of no suite), each cut into tables of at most
    ``width`` columns; a task's variants stay in one table unless the task alone has more."""
    order = list(dict.fromkeys([*titles.values(), OTHER_TASKS]))
    by_title: dict[str, list[list[board.Column]]] = {}
    for column in columns:
        tasks = by_title.setdefault(titles.get(column.task, OTHER_TASKS), [])
        if tasks and tasks[-1][0].task == column.task:
            tasks[-1].append(column)
        else:
            tasks.append([column])
    groups: list[ColumnGroup] = []
    for title in sorted(by_title, key=order.index):
        parts: list[list[board.Column]] = [[]]
        for task_columns in by_title[title]:
            for column in task_columns:
                fits = len(parts[-1]) < width and (column is not task_columns[0] or len(parts[-1]) + len(task_columns) <= width)
                if not fits and parts[-1]:
                    parts.append([])
                parts[-1].append(column)
        for number, part in enumerate(parts, start=1):
            suffix = f" (part {number} of {len(parts)})" if len(parts) > 1 else ""
            groups.append(ColumnGroup(title + suffix, tuple(part)))
    return groups


def markdown_all_tasks(view: board.BoardView) -> str:
    """The "all tasks" view as one table per group of columns (:func:`column_groups`), each with the
    models that have a score in it, then the settings of every column."""
    from evalsuite.tasks.suites import suites

    records = board.display_records(view)
    lines = [f"## {view.name}", ""] + [f"{note}  " for note in view.notes] + [""]
    if not view.columns:
        lines += _md_table([board.MODEL], [[record[board.MODEL]] for record in records]) + [""]
    for group in column_groups(view.columns, task_groups(suites())):
        labels = [column.label for column in group.columns]
        body = [[record[board.MODEL], *(record[label] for label in labels)] for record in records if any(record[label] for label in labels)]
        lines += [f"### {group.title}", ""] + _md_table([board.MODEL, *labels], body) + [""]
    lines += [f"### {COLUMN_SETTINGS}", ""]
    lines += _md_table(["column", "settings"], [[c.label, c.describe()] for c in view.columns])
    return "\n".join(lines) + "\n"


def markdown_rows(rows: list[dict[str, Any]]) -> str:
    """One row per run, one column per task/metric, `value ± stderr` as stored; filters other than `none` named."""
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
    body = [[str(run_id), model, *(cells.get(c, "") for c in columns)] for (run_id, model), cells in table.items()]
    return "\n".join(_md_table(header, body)) + "\n"


def write(path: Path, text: str) -> Path:
    """Write an export by the rule every evalsuite writer follows (``config.check_writable_output``):
    a directory or an unwritable place is refused, missing folders are made."""
    check_writable_output(path, "--output")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write --output {path}: {exc.strerror}", "choose a writable --output path") from exc
    return path
