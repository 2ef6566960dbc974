"""The Python API: what a notebook needs without the CLI — run, rescore, read results, rate.

Each function opens the database it is given (a path or SQLAlchemy URL; default as the
CLI's: ``$EVALSUITE_DB`` or ``results/evalsuite.db``), does one thing, closes it, and
returns plain data: a pandas DataFrame of rows a user can filter and plot. Errors are the
CLI's (:class:`evalsuite.errors.EvalsuiteError` with ``message`` and ``hint``), so a
notebook shows the same one-line reason and fix. Heavy packages (torch, lm-eval) load
only inside :func:`run` and :func:`rescore`, so ``import evalsuite`` stays quick.

Example::

    import evalsuite

    run = evalsuite.run("demo/pico-s", ["pubmedqa"], limit=20, db="nb.db")
    run.metrics[["task", "metric", "value", "stderr"]]
    evalsuite.results(db="nb.db")            # every stored metric row
    evalsuite.leaderboard("quick", db="nb.db")
    evalsuite.ratings(db="nb.db", include_judges=True)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalsuite.config import RunConfig, default_data_dir, default_db

if TYPE_CHECKING:
    import pandas as pd

    from evalsuite.store.db import Database

_log = logging.getLogger("evalsuite")


@dataclass(frozen=True)
class RunResult:
    """A stored run: its id, the database it is in, and its metric rows (one per task · metric · filter)."""

    run_id: int
    db: str
    metrics: pd.DataFrame


@contextmanager
def _database(db: str | None, *, create: bool = False) -> Iterator[Database]:
    """Readers never create a database: a mistyped path is an error, not an empty file."""
    from evalsuite.store.db import open_database

    with open_database(db or default_db(), create=create) as database:
        yield database


def run(
    model: str,
    tasks: Sequence[str] | None = None,
    *,
    suite: str | None = None,
    limit: int | None = None,
    num_fewshot: int | None = None,
    db: str | None = None,
    data_dir: str | Path | None = None,
    backend: str = "transformers",
    device: str = "auto",
    dtype: str = "auto",
    batch_size: str | int = "auto",
    seed: int | None = None,
    revision: str | None = None,
    backend_args: Mapping[str, Any] | None = None,
    show_progress: bool = True,
    **options: Any,
) -> RunResult:
    """Evaluate ``model`` on ``tasks`` (or a ``suite``) and store the run, as `evalsuite run` does.

    Every keyword of :class:`evalsuite.config.RunConfig` is accepted (``options`` takes the
    rest, e.g. ``apply_chat_template=True``); the same checks run before the model loads, and an
    interrupted call is resumable with ``resume=RUN_ID``. Cached answers are reused exactly
    as by the CLI. Progress lines go to the ``evalsuite`` logger.
    """
    from evalsuite import runner

    config = RunConfig(
        model=model, tasks=tuple(tasks or ()), suite=suite, limit=limit, num_fewshot=num_fewshot,
        db=db or default_db(), data_dir=Path(data_dir) if data_dir is not None else default_data_dir(),
        backend=backend, device=device, dtype=dtype, batch_size=str(batch_size), seed=seed, revision=revision,
        backend_args=tuple((key, str(value)) for key, value in (backend_args or {}).items()),
        show_progress=show_progress, **options,
    )
    outcome = runner.run(config, report=_log.info)
    assert outcome.run_id is not None  # a real run (not a dry run) always has an id
    return RunResult(run_id=outcome.run_id, db=config.db, metrics=results(outcome.run_id, db=config.db))


def rescore(run_id: int, *, db: str | None = None) -> pd.DataFrame:
    """Recompute a stored run's metrics from its cached answers (no model), e.g. after a scoring fix."""
    from evalsuite import runner

    runner.rescore(run_id, db or default_db(), report=_log.info)
    return results(run_id, db=db)


def runs(*, db: str | None = None, status: str | None = None, model: str | None = None) -> pd.DataFrame:
    """Stored runs, newest first (`evalsuite results list`): id, model, backend, status, tasks, times."""
    import pandas as pd

    from evalsuite.store import queries

    with _database(db) as database:
        summaries = queries.list_runs(database, status=status, model=model)
    return pd.DataFrame([vars(summary) for summary in summaries])


def results(run_id: int | Sequence[int] | None = None, *, db: str | None = None) -> pd.DataFrame:
    """Stored metric rows (run, model, task, metric, filter, value, stderr, n_samples, n_shot, ...).

    All runs by default, one id or several; an id that is not stored is an error.
    """
    import pandas as pd

    from evalsuite.store import queries

    ids = None if run_id is None else [run_id] if isinstance(run_id, int) else list(run_id)
    with _database(db) as database:
        for one in ids or ():
            queries.get_run(database, one)  # "no run with id N" rather than an empty frame
        rows = queries.metric_rows(database, ids)
    return pd.DataFrame(rows)


def leaderboard(view: str = "all", *, db: str | None = None) -> pd.DataFrame:
    """The board as the app shows it: ``"all"`` (one column per task · metric) or a suite's view.

    The board's rules apply (never an average over different scales or task sets; a limited
    run in its own column); the frame is `evalsuite results export --format csv`'s rows.
    """
    import pandas as pd

    from evalsuite import board, export
    from evalsuite.store import leaderboard_queries

    name = export.check_view(view)
    with _database(db) as database:
        cells = list(leaderboard_queries.leaderboard_cells(database, leaderboard_queries.BoardFilter()))
    return pd.DataFrame(board.view_records(export.build_view(cells, name)))


def ratings(
    *,
    db: str | None = None,
    method: str = "bt",
    bootstrap: int = 100,
    seed: int = 0,
    include_judges: bool = False,
    category: str | None = None,
) -> pd.DataFrame:
    """Arena ratings from stored votes (`evalsuite arena ratings --json`): model, rating, CI, rank, battles.

    People's votes only unless ``include_judges``; ``method`` is ``"bt"`` (Bradley–Terry) or ``"elo"``.
    Like the CLI, votes on answers that name their model or maker are left out (``evalsuite.arena.leaks``).
    """
    import pandas as pd

    from evalsuite.arena import voting
    from evalsuite.arena.battles import filter_battles
    from evalsuite.arena.report import ReportOptions, rating_report

    with _database(db) as database:
        battles = voting.stored_battles(database, include_judges=include_judges, with_answers=True)
    options = ReportOptions(method=method, bootstrap_rounds=bootstrap, seed=seed)  # type: ignore[arg-type]
    report = rating_report(filter_battles(battles, category=category), options)
    return pd.DataFrame(report.table.to_json_rows())
