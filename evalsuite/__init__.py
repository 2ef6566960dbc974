"""evalsuite: evaluate language models on lm-eval tasks, store results in SQLite,
show them on a Streamlit leaderboard, and rate models in a pairwise arena.

The Python API (:mod:`evalsuite.api`) — the same work as the CLI, returning DataFrames::

    import evalsuite
    run = evalsuite.run("demo/pico-s", ["pubmedqa"], limit=20, db="nb.db")
    evalsuite.results(run.run_id, db="nb.db")
"""

from __future__ import annotations

from evalsuite.api import RunResult, leaderboard, ratings, rescore, results, run, runs
from evalsuite.errors import EvalsuiteError
from evalsuite.identity.run_config import RunConfig
from evalsuite.version import __version__

__all__ = [
    "EvalsuiteError",
    "RunConfig",
    "RunResult",
    "__version__",
    "leaderboard",
    "ratings",
    "rescore",
    "results",
    "run",
    "runs",
]
