"""Check the store on a PostgreSQL server (not part of the test suite: CI has no PostgreSQL).

Usage (an empty database; needs ``pip install 'psycopg[binary]'``)::

    python scripts/check_store_postgres.py 'postgresql+psycopg://user@host/empty_db'

Eight processes open the new database at once (schema creation under
``pg_advisory_lock``), each adds the same model, a run and the same cached answers
(race-free inserts); then the schema is compared with the SQLModel tables, and a run
whose heartbeat stopped is shown as interrupted and resumed as a second attempt.
Exits 1 on the first check that fails.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from multiprocessing.synchronize import Barrier

PROCESSES = 8


def _first_run(barrier: Barrier, url: str) -> None:
    from evalsuite.store import queries
    from evalsuite.store.db import open_database

    barrier.wait()
    with open_database(url) as database:
        model = queries.get_or_create_model(database, name="m", source="s", weights_sha256="0" * 64, tokenizer_sha256="t", config_sha256="c")
        run = queries.create_run(database, model_id=model.id, backend="hf", config={}, config_hash="h", tasks=["t"])
        queries.store_responses(database, "k", "loglikelihood", {f"r{i}": [1.0, True] for i in range(20)}, run_id=run.id)
        queries.finish_run(database, int(run.id or 0), computed=20, cached=0)


def _check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        raise SystemExit(1)


def main(url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    processes = [context.Process(target=_first_run, args=(barrier, url)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    _check([p.exitcode for p in processes] == [0] * PROCESSES, f"{PROCESSES} processes opened a new database at once")

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    from evalsuite.store import liveness, queries
    from evalsuite.store.db import open_database

    with open_database(url, create=False) as database:
        runs = queries.list_runs(database)
        _check(len(runs) == PROCESSES and {r.status for r in runs} == {"complete"}, "every run complete")
        _check(queries.count_cached(database, "k") == 20, "shared answers stored once")
        with database.engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), SQLModel.metadata)
        _check(drift == [], f"schema matches the tables {drift}")

        os.environ[liveness.ENV_INTERVAL], os.environ[liveness.ENV_TIMEOUT] = "0.4", "1"
        model = queries.get_or_create_model(database, name="m", source="s", weights_sha256="0" * 64, tokenizer_sha256="t", config_sha256="c")
        run = queries.create_run(database, model_id=model.id, backend="hf", config={}, config_hash="silent", tasks=["t"])
        time.sleep(1.5)
        status = next(s.status for s in queries.list_runs(database) if s.id == run.id)
        _check(status == "interrupted", "a silent run shows as interrupted")
        start = queries.reopen_run(database, int(run.id or 0))
        outcomes = [a.outcome for a in queries.run_attempts(database, start.run_id)]
        _check(start.attempt == 2 and outcomes == ["interrupted", "running"], "resumed as a second attempt")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
