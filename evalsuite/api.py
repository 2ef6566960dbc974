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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalsuite.settings import default_db

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


def run(model: str, tasks: Sequence[str] | None = None, *, show_progress: bool = True, **options: Any) -> RunResult:
    """Evaluate ``model`` on ``tasks`` (or a ``suite``) and store the run, as `evalsuite run` does.

    ``options`` are `evalsuite run`'s options with ``_`` for ``-`` (``limit=20``, ``db="nb.db"``,
    ``apply_chat_template=True``, ``backend_arg=["max_length=512"]``), or ``backend_args``,
    ``gen_kwargs``, ``judge_args`` as mappings; a name that is none of these is an error naming
    the closest one. Unset options take the CLI's defaults (``evalsuite.cli.options``, where both
    read them), the same checks run before the model loads, and an interrupted call is
    resumable with ``resume=RUN_ID``. Cached answers are reused exactly as by the CLI. Progress
    lines go to the ``evalsuite`` logger.
    """
    from evalsuite.cli.options import api_values
    from evalsuite.cli.run_options import config_from_options
    from evalsuite.execution import runner

    config = config_from_options(api_values(tasks, options), model).with_changes(show_progress=show_progress)
    outcome = runner.run(config, report=_log.info)
    assert outcome.run_id is not None  # a real run (not a dry run) always has an id
    return RunResult(run_id=outcome.run_id, db=config.outputs.db, metrics=results(outcome.run_id, db=config.outputs.db))


def rescore(run_id: int, *, db: str | None = None) -> pd.DataFrame:
    """Recompute a stored run's metrics from its cached answers (no model), e.g. after a scoring fix."""
    from evalsuite.execution import runner

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

    from evalsuite.board import rules as board
    from evalsuite.formats import export
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

    from evalsuite.arena.pipeline import RatingRequest, ratings_from_store, voter_kinds
    from evalsuite.arena.report import ReportOptions

    options = ReportOptions(method=method, bootstrap_rounds=bootstrap, seed=seed)  # type: ignore[arg-type]
    request = RatingRequest(voter_kinds=voter_kinds(include_judges), category=category, report=options)
    with _database(db) as database:
        report = ratings_from_store(database, request)
    return pd.DataFrame(report.table.to_json_rows())
