"""Arena voters and a results writer hammering one database: votes/s, latency, errors, lost rows — SQLite vs PostgreSQL.

For each engine and each N in ``--voters`` (default 1, 10, 50, 200) the bench makes a fresh
database (a SQLite file; a new database on a PostgreSQL server on loopback), stores 20 prompts
answered by 4 models, then for ``--seconds`` (default 10) runs:

* N voters, each a thread with its **own connection** (its own ``open_database``), spread over
  processes of at most ``--threads-per-process`` threads (200 voters: 8 processes × 25), each
  voting in a closed loop with no think time: ``voting.issue_battle`` then
  ``arena_queries.record_vote`` — exactly what the arena page calls. A vote's latency is
  that pair of calls;
* one writer process storing metric rows the way a run does (``queries.save_task_results``,
  10 rows per task) in a closed loop.

Afterwards it counts the stored votes and metric rows with plain SQL and compares them with
what the clients were told was stored ("lost" must be 0), and prints a Markdown table with the
machine's cores and 1-minute load average before and after each cell: the machine is shared,
and load moves these figures more than code does.

The PostgreSQL server is a throwaway cluster started here (``evalsuite/devtools/postgres.py``,
max_connections 300, fsync off like the test server) unless ``--postgres-url`` names one (its
maintenance database; the bench creates and drops its own databases on it).

Usage (from the repository root)::

    .venv/bin/python -m bench.bench_store_load
    .venv/bin/python -m bench.bench_store_load --engines postgresql --voters 50 --seconds 5
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

PROMPTS = 20
MODELS = ("alpha", "beta", "gamma", "delta")
METRICS_PER_TASK = 10
SPAWN = multiprocessing.get_context("spawn")  # fresh interpreters: no connection or lock inherited through fork


@dataclass
class ClientReport:
    """What one process's clients saw: successes (votes, or metric rows), latencies (s) and errors by message."""

    kind: str = "voters"
    done: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


# ---------------------------------------------------------------- clients (run in worker processes)


def _voter(db: str, voter: str, start_at: float, stop_at: float, report: ClientReport, lock: threading.Lock) -> None:
    from evalsuite.arena import voting
    from evalsuite.store import arena_queries
    from evalsuite.store.db import open_database

    seen = ClientReport()
    with open_database(db) as database:
        try:
            time.sleep(max(0.0, start_at - time.time()))
            while time.time() < stop_at:
                began = time.perf_counter()
                try:
                    battle = voting.issue_battle(database, voter)
                    arena_queries.record_vote(database, battle.token, "a", voter)
                except Exception as exc:  # noqa: BLE001 (counted and reported: the figure is how many there are)
                    seen.errors[f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"] += 1
                    continue
                seen.latencies.append(time.perf_counter() - began)
                seen.done += 1
        finally:
            with lock:
                report.done += seen.done
                report.latencies.extend(seen.latencies)
                report.errors.update(seen.errors)


def voter_process(db: str, names: list[str], ready: Any, go: Any, results: Any, seconds: float) -> None:
    """Threads of voters in one process; waits for the parent's go so every process starts together."""
    import evalsuite.arena.voting  # noqa: F401  (imported before the clock starts)

    ready.put(len(names))
    start_at = go.get()
    report, lock = ClientReport(), threading.Lock()
    threads = [threading.Thread(target=_voter, args=(db, name, start_at, start_at + seconds, report, lock)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(report)


def writer_process(db: str, run_id: int, ready: Any, go: Any, results: Any, seconds: float) -> None:
    """Stores METRICS_PER_TASK metric rows per task, one task per transaction, as a run does."""
    from evalsuite.store import queries
    from evalsuite.store.db import open_database
    from evalsuite.store.schema import MetricRecord

    with open_database(db) as database:
        report = ClientReport(kind="writer")
        ready.put(1)
        start_at = go.get()
        time.sleep(max(0.0, start_at - time.time()))
        number = 0
        while time.time() < start_at + seconds:
            task = f"load_task_{number}"
            rows = [MetricRecord(run_id=run_id, task=task, metric=f"m{i}", value=i / METRICS_PER_TASK, n_samples=10) for i in range(METRICS_PER_TASK)]
            began = time.perf_counter()
            try:
                queries.save_task_results(database, run_id, [task], rows, [])
            except Exception as exc:  # noqa: BLE001
                report.errors[f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"] += 1
            else:
                report.latencies.append(time.perf_counter() - began)
                report.done += METRICS_PER_TASK
            number += 1
    results.put(report)


# ---------------------------------------------------------------- one cell


def prepare(db: str) -> int:
    """Prompts answered by every model (so any pair can battle), and the run the writer stores into."""
    from evalsuite.store import arena_queries, queries
    from evalsuite.store.arena_queries import PromptInput
    from evalsuite.store.db import open_database

    with open_database(db) as database:
        arena_queries.add_prompts(database, [PromptInput(f"Load prompt {n}?", "load") for n in range(PROMPTS)])
        for prompt in arena_queries.list_prompts(database):
            for model in MODELS:
                arena_queries.add_completion(database, prompt.id, model, f"{model} on {prompt.id}")
        model = queries.get_or_create_model(database, name="load-model", source="bench", weights_sha256="0" * 64)
        run = queries.create_run(database, model_id=model.id, backend="bench", config={}, config_hash="load", tasks=[])
    return int(run.id or 0)


def stored_counts(db: str) -> tuple[int, int]:
    url = "postgresql+psycopg://" + db.removeprefix("postgresql://") if db.startswith("postgresql://") else f"sqlite:///{db}"
    engine = create_engine(url)
    with engine.connect() as connection:
        votes = int(connection.execute(text("SELECT count(*) FROM vote")).scalar() or 0)
        metrics = int(connection.execute(text("SELECT count(*) FROM metric")).scalar() or 0)
    engine.dispose()
    return votes, metrics


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]  # nearest rank


def run_cell(db: str, voters: int, seconds: float, per_process: int) -> dict[str, Any]:
    run_id = prepare(db)
    processes_n = math.ceil(voters / per_process)
    names = [f"voter-{n}" for n in range(voters)]
    groups = [names[i::processes_n] for i in range(processes_n)]
    ready, go, results = SPAWN.Queue(), SPAWN.Queue(), SPAWN.Queue()
    processes = [SPAWN.Process(target=voter_process, args=(db, group, ready, go, results, seconds)) for group in groups]
    processes.append(SPAWN.Process(target=writer_process, args=(db, run_id, ready, go, results, seconds)))
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=300)
    load_before = os.getloadavg()[0]
    start_at = time.time() + 2.0  # time for every voter to open its connection first
    for _ in processes:
        go.put(start_at)
    reports = [results.get(timeout=seconds + 300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    load_after = os.getloadavg()[0]
    (writer,) = [r for r in reports if r.kind == "writer"]
    voter_reports = [r for r in reports if r.kind == "voters"]
    votes = sum(r.done for r in voter_reports)
    latencies = [x for r in voter_reports for x in r.latencies]
    errors = sum((r.errors for r in voter_reports), Counter())
    stored_votes, stored_metrics = stored_counts(db)
    return {
        "voters": voters, "processes": processes_n, "votes": votes, "votes_per_s": votes / seconds,
        "p50_ms": 1000 * percentile(latencies, 0.50), "p99_ms": 1000 * percentile(latencies, 0.99),
        "errors": sum(errors.values()) + sum(writer.errors.values()), "error_kinds": dict(errors + writer.errors),
        "metric_rows_per_s": writer.done / seconds, "writer_p99_ms": 1000 * percentile(writer.latencies, 0.99),
        "lost_votes": votes - stored_votes, "lost_metric_rows": writer.done - stored_metrics,
        "load_before": load_before, "load_after": load_after,
    }


# ---------------------------------------------------------------- the table


def engine_databases(engine: str, server: Any, folder: Path) -> tuple[str, Any]:
    """A fresh database for one cell, and how to throw it away."""
    if engine == "sqlite":
        path = folder / f"load-{time.monotonic_ns()}.db"
        return str(path), lambda: [p.unlink(missing_ok=True) for p in folder.glob(path.name + "*")]
    url = server.create_database()
    return url, lambda: server.drop_database(url)


def row(engine: str, cell: dict[str, Any]) -> str:
    return (
        f"| {engine} | {cell['voters']} | {cell['processes']}×{math.ceil(cell['voters'] / cell['processes'])} | {cell['votes']} "
        f"| {cell['votes_per_s']:.0f} | {cell['p50_ms']:.1f} | {cell['p99_ms']:.1f} | {cell['errors']} "
        f"| {cell['metric_rows_per_s']:.0f} | {cell['writer_p99_ms']:.1f} | {cell['lost_votes']} / {cell['lost_metric_rows']} "
        f"| {cell['load_before']:.1f} → {cell['load_after']:.1f} |"
    )


HEADER = (
    "| engine | voters | processes×threads | votes | votes/s | p50 ms | p99 ms | errors | metric rows/s (writer) | writer p99 ms "
    "| lost votes / rows | load 1-min |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def server_version(url: str) -> str:
    engine = create_engine("postgresql+psycopg://" + url.removeprefix("postgresql://"))
    with engine.connect() as connection:
        version = str(connection.execute(text("SHOW server_version")).scalar()).split()[0]
    engine.dispose()
    return version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--voters", default="1,10,50,200", help="comma-separated numbers of concurrent voters")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per cell")
    parser.add_argument("--threads-per-process", type=int, default=25, help="voter threads per client process")
    parser.add_argument("--postgres-url", default=None, help="a server's maintenance database (default: start a throwaway cluster)")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    counts = [int(n) for n in args.voters.split(",")]
    from evalsuite.devtools.postgres import PostgresServer, start_server

    server = None
    if "postgresql" in engines:
        server = PostgresServer(args.postgres_url) if args.postgres_url else start_server()
    print(f"machine: nproc {os.cpu_count()}, load 1/5/15-min {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{args.seconds:g} s per cell, closed loop (no think time), each voter its own connection")
    if server is not None:
        print(f"PostgreSQL {server_version(server.url)} at {server.host}:{server.port}" + (" (throwaway cluster, fsync off)" if server.folder else ""))
    print(HEADER)
    try:
        with tempfile.TemporaryDirectory(prefix="evalsuite-load-") as folder:
            for engine in engines:
                for voters in counts:
                    db, discard = engine_databases(engine, server, Path(folder))
                    try:
                        cell = run_cell(db, voters, args.seconds, args.threads_per_process)
                    finally:
                        discard()
                    print(row(engine, cell), flush=True)
                    if cell["error_kinds"]:
                        print(f"  errors: {cell['error_kinds']}", flush=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
