"""How fast is the leaderboard with 1,000 runs x 20 tasks and 1,000,000 samples?

Seeds a temporary SQLite database (bulk inserts through SQLAlchemy core into a file
opened with ``evalsuite.store.db.open_database``), then times:

* the board's reads alone (``leaderboard_cells`` + ``filter_options``: SQL GROUP BY
  with max(run id) per model and task), against the naive way a page could do it —
  load every metric row with ``queries.metric_rows`` and pick the latest run per
  model and task in pandas — and prints the ratio;
* the leaderboard page rendered by ``streamlit.testing.v1.AppTest`` (the first run,
  which includes imports and AppTest's one-off scan of installed packages, then
  reruns with Streamlit's data caches cleared so every query runs again);
* the run page (paginated samples of one run) and the compare page (paired tests
  over two runs) on the same database.

Usage:  HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_leaderboard.py [--runs 1000]
        [--tasks 20] [--samples 1000000] [--db PATH (reused if it exists)] [--repeats 5]
Writes the figures to bench/notes/leaderboard.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas  # noqa: F401  (imported up front so the naive timing does not include it)
from sqlalchemy import Table, insert
from sqlmodel import SQLModel

from evalsuite.store import leaderboard_queries as lq
from evalsuite.store import queries
from evalsuite.store.db import Database, open_database
from evalsuite.store.schema import MetricRecord, ModelRecord, RunRecord, SampleRecord

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "leaderboard" / "app.py"
NOTES = ROOT / "bench" / "notes" / "leaderboard.md"
METRICS = ("acc", "acc_norm")
BATCH = 20_000


def _table(record: type[SQLModel]) -> Table:
    return SQLModel.metadata.tables[str(record.__tablename__)]


def _insert(database: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    with database.engine.begin() as connection:
        for start in range(0, len(rows), BATCH):
            connection.execute(insert(table), rows[start : start + BATCH])


def _seed_models_and_runs(
    database: Database, runs: int, runs_per_model: int, tasks: list[str], rng: random.Random
) -> None:
    models = max(1, runs // runs_per_model)
    _insert(database, _table(ModelRecord), [
        {"id": m + 1, "name": f"bench/model-{m:04d}", "source": "bench", "weights_sha256": f"{m:064x}",
         "params": int(10 ** rng.uniform(6, 10)), "created_at": datetime.now(UTC)}
        for m in range(models)
    ])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    _insert(database, _table(RunRecord), [
        {"id": r + 1, "model_id": r % models + 1, "backend": ("transformers", "vllm")[r % 2], "status": "complete",
         "config": {"tasks": tasks}, "config_hash": f"{r:032x}", "tasks": tasks, "suite": ("leaderboard", "quick")[r % 2],
         "seed": 0, "apply_chat_template": False, "requests_computed": 0, "requests_cached": 0,
         "started_at": start + timedelta(minutes=r), "finished_at": start + timedelta(minutes=r, seconds=30),
         "duration_s": 30.0, "schema_version": 1}
        for r in range(runs)
    ])
    _insert(database, _table(MetricRecord), [
        {"run_id": r + 1, "task": task, "metric": metric, "filter": "none", "value": rng.random(),
         "stderr": rng.uniform(0.005, 0.02), "normalized": rng.uniform(0, 100), "n_samples": 1000,
         "higher_is_better": True, "is_group": False}
        for r in range(runs) for task in tasks for metric in METRICS
    ])


def _seed_samples(database: Database, runs: int, tasks: list[str], samples: int, rng: random.Random) -> None:
    per_task = max(1, samples // (runs * len(tasks)))
    for r in range(runs):
        rows = []
        for task in tasks:
            for doc in range(per_task):
                correct = rng.random() < 0.6
                rows.append({
                    "run_id": r + 1, "task": task, "doc_id": doc, "filter": "none",
                    "prompt": f"Question {doc} of {task}: which answer is right? " * 3,
                    "target": "yes", "responses": ["yes" if correct else "no"], "logliks": [-0.5, -1.5],
                    "metrics": {"acc": float(correct), "acc_norm": float(correct)}, "correct": correct,
                })
        _insert(database, _table(SampleRecord), rows)


def seed(path: Path, runs: int, runs_per_model: int, task_count: int, samples: int) -> None:
    with open_database(path) as database:
        rng = random.Random(0)
        tasks = [f"task_{t:02d}" for t in range(task_count)]
        started = time.perf_counter()
        _seed_models_and_runs(database, runs, runs_per_model, tasks, rng)
        _seed_samples(database, runs, tasks, samples, rng)
    print(f"seeded {path} in {time.perf_counter() - started:.0f}s ({path.stat().st_size / 2**20:.0f} MiB)")


def _timed(action: Callable[[], Any], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def _naive_latest(database: Database) -> int:
    """The competitor: every metric row into Python, latest run per (model, task) in pandas."""
    import pandas as pd

    frame = pd.DataFrame(queries.metric_rows(database))
    frame = frame[frame["status"] == "complete"]
    latest = frame.groupby(["model", "task"])["run_id"].transform("max")
    return len(frame[frame["run_id"] == latest])


def _page_times(
    page: str | None, params: dict[str, str], repeats: int
) -> tuple[float, list[float], list[float]]:
    """(first render, renders with data caches cleared, renders with warm caches) of one page in one AppTest.

    AppTest scans every installed package for Streamlit components on its first run
    (1-3 s here, once per server in production), so later runs show the page's own cost.
    """
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(APP), default_timeout=120)
    if page:
        app.switch_page(page)
    for key, value in params.items():
        app.query_params[key] = value
    times = []
    for attempt in range(2 * repeats + 1):
        if attempt <= repeats:
            st.cache_data.clear()
        started = time.perf_counter()
        app.run()
        times.append(time.perf_counter() - started)
        if app.exception:
            raise RuntimeError(f"{page or 'board'} raised: {app.exception[0].value}")
    return times[0], times[1 : repeats + 1], times[repeats + 1 :]


def measure(path: Path, repeats: int) -> dict[str, Any]:
    with open_database(path) as database:
        os.environ["EVALSUITE_DB"] = str(path)
        figures: dict[str, Any] = {}
        cells = lq.BoardCells(rows=[])

        def board_reads() -> None:
            nonlocal cells
            lq.filter_options(database)
            cells = lq.leaderboard_cells(database)

        figures["query_s"] = _timed(board_reads, repeats)
        figures["cells"] = len(cells)
        figures["naive_s"] = _timed(lambda: _naive_latest(database), max(1, repeats // 2))
        figures["board_first_s"], figures["board_s"], figures["board_warm_s"] = _page_times(None, {}, repeats)
        _, figures["run_page_s"], _ = _page_times("views/run.py", {"run": "500"}, max(1, repeats // 2))
        _, figures["compare_page_s"], _ = _page_times("views/compare.py", {"a": "499", "b": "500"}, max(1, repeats // 2))
    return figures


def report(figures: dict[str, Any], args: argparse.Namespace) -> str:
    med = statistics.median
    query, naive = med(figures["query_s"]), med(figures["naive_s"])
    lines = [
        "# Leaderboard page speed",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), "
        f"Python {platform.python_version()}, SQLite file DB; 1-min load average at the end: {os.getloadavg()[0]:.1f} "
        "(other jobs share the CPUs; figures scale roughly with load/CPUs when that exceeds 1).",
        f"Database: {args.runs} complete runs ({args.runs // args.runs_per_model} models x {args.runs_per_model} runs) x "
        f"{args.tasks} tasks x {len(METRICS)} metrics, {args.samples:,} samples.",
        f"Command: `HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_leaderboard.py --runs {args.runs} "
        f"--runs-per-model {args.runs_per_model} "
        f"--tasks {args.tasks} --samples {args.samples} --repeats {args.repeats}`",
        "",
        "| what | median s | all runs s |",
        "|---|---|---|",
        f"| board reads (SQL GROUP BY max(run id)), {figures['cells']} cells | {query:.3f} | {_fmt(figures['query_s'])} |",
        f"| naive: all metric rows via queries.metric_rows + pandas | {naive:.3f} | {_fmt(figures['naive_s'])} |",
        f"| leaderboard page, first AppTest run (imports + AppTest's component scan) | {figures['board_first_s']:.2f} | |",
        f"| leaderboard page, data caches cleared | {med(figures['board_s']):.2f} | {_fmt(figures['board_s'])} |",
        f"| leaderboard page, cached board (data unchanged) | {med(figures['board_warm_s']):.2f} | {_fmt(figures['board_warm_s'])} |",
        f"| run page (run 500, 1 page of samples) | {med(figures['run_page_s']):.2f} | {_fmt(figures['run_page_s'])} |",
        f"| compare page (runs 499 vs 500, paired tests on {args.tasks} tasks) | {med(figures['compare_page_s']):.2f} | {_fmt(figures['compare_page_s'])} |",
        "",
        f"SQL aggregation vs naive load: {naive / query:.1f}x faster.",
        "Page times are `AppTest.run()` wall time (server-side script run; browser rendering not included).",
        "",
    ]
    return "\n".join(lines)


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--runs-per-model", type=int, default=10, help="1 gives one leaderboard row per run")
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--db", type=Path, default=None, help="database file; seeded only if it does not exist")
    parser.add_argument("--no-notes", action="store_true", help="print only; do not write bench/notes/leaderboard.md")
    parser.add_argument("--append", action="store_true", help="append to bench/notes/leaderboard.md instead of replacing it")
    args = parser.parse_args()
    path = args.db or Path(tempfile.mkdtemp(prefix="evalsuite-bench-")) / "board.db"
    if not path.exists():
        seed(path, args.runs, args.runs_per_model, args.tasks, args.samples)
    text = report(measure(path, args.repeats), args)
    print(text)
    if not args.no_notes:
        NOTES.parent.mkdir(parents=True, exist_ok=True)
        previous = NOTES.read_text() if args.append and NOTES.exists() else ""
        NOTES.write_text(previous + ("\n" if previous else "") + text)
        print(f"wrote {NOTES}")


if __name__ == "__main__":
    main()
