"""`evalsuite results compare RUN_A RUN_B`: the compare page's paired statistics in the terminal."""

from __future__ import annotations

import typer

from evalsuite.cli.common import DbOption, _console, handles_errors
from evalsuite.settings import default_db


def register(results_app: typer.Typer) -> None:
    results_app.command("compare")(results_compare)


@handles_errors
def results_compare(
    run_a: int = typer.Argument(..., help="Run A (see `evalsuite results list`)."),
    run_b: int = typer.Argument(..., help="Run B."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and permutation draws."),
    db: str | None = DbOption,
) -> None:
    """Is run A better than run B? Per task and metric, paired over the documents both scored."""
    from rich.markup import escape
    from rich.table import Table

    from evalsuite.board import compare as run_compare
    from evalsuite.store.db import open_database

    with open_database(db or default_db(), create=False) as database:
        comparison = run_compare.compare_runs(database, run_a, run_b, seed=seed)
    table = Table(title=f"run {run_a} (A) vs run {run_b} (B)")
    for name in ("task", "filter", "metric", "n", "A", "B", "A − B", "95% CI", "p (bootstrap)", "p (permutation)", "disagree"):
        table.add_column(name, justify="left" if name in ("task", "filter", "metric") else "right")
    for row in comparison.rows:
        boot, perm = row.bootstrap, row.permutation
        mark = " *" if perm.p_value < run_compare.SIGNIFICANCE else ""
        table.add_row(
            escape(row.scores.task), escape(row.scores.filter), escape(row.scores.metric), str(boot.n), row.shown(boot.mean_a), row.shown(boot.mean_b),
            row.shown(boot.difference), f"[{row.shown(boot.ci_low)}, {row.shown(boot.ci_high)}]",
            f"{boot.p_value:.4f}", f"{perm.p_value:.4f}{mark}", str(row.disagree),
        )
    _console().print(table)
    _console().print(
        f"Paired over documents both runs scored; CI: percentile paired bootstrap ({run_compare.BOOTSTRAP_ROUNDS} rounds); "
        f"permutation: sign-flip ({run_compare.PERMUTATION_ROUNDS} rounds or exact); seed {seed}; * p < {run_compare.SIGNIFICANCE}. "
        "Fractions are shown x 100, as on the board."
    )
    for task, filter_name in comparison.untested:
        _console().print(f"{task} [{filter_name}]: not tested, {run_compare.NOT_TESTED}", markup=False)
