"""`evalsuite results import | bundle | pull`: runs in and out of the database as bundles (see evalsuite.formats.bundle)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from evalsuite.cli.common import DbOption, _console, handles_errors
from evalsuite.settings import default_db

if TYPE_CHECKING:
    from evalsuite.formats.bundle import ImportOutcome


def register(results_app: typer.Typer) -> None:
    """Add the bundle commands to `evalsuite results`."""
    results_app.command("import")(results_import)
    results_app.command("bundle")(results_bundle)
    results_app.command("pull")(results_pull)


@handles_errors
def results_import(
    path: Path = typer.Argument(..., help="An evalsuite bundle folder, an lm-eval --output_path folder, or a results_*.json written by lm_eval."),
    db: str | None = DbOption,
) -> None:
    """Import runs made elsewhere (a pod, another machine, the lm_eval CLI); importing twice changes nothing."""
    from evalsuite.formats import bundle
    from evalsuite.store.db import open_database

    bundle.find_results(path)  # a path with no results fails before a database is made
    with open_database(db or default_db()) as database:
        outcomes = bundle.import_path(database, path)
    for outcome in outcomes:
        _print_outcome(outcome)


def _print_outcome(outcome: ImportOutcome) -> None:
    if outcome.created:
        line = (
            f"imported run {outcome.run_id}: {outcome.model} ({outcome.status}, {outcome.metrics} scores, "
            f"{outcome.samples} samples) from {outcome.source}"
        )
    elif outcome.made_here:
        line = f"already stored as run {outcome.run_id}: {outcome.source} is that run's --output (nothing written)"
    else:
        line = f"already imported as run {outcome.run_id}: {outcome.source} (nothing written)"
    _console().print(line, highlight=False, soft_wrap=True, markup=False)


@handles_errors
def results_bundle(
    run_id: int = typer.Argument(..., help="Run id from `evalsuite results list`."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder to write the bundle into (made if missing)."),
    db: str | None = DbOption,
) -> None:
    """Write a stored run as a bundle: lm-eval's results and samples files plus evalsuite's run record."""
    from evalsuite.formats import bundle
    from evalsuite.store.db import open_database

    with open_database(db or default_db(), create=False) as database:
        record = bundle.write_bundle(database, run_id, output)
    _console(stderr=True).print(f"wrote run {run_id} as a bundle in {record.parent}", highlight=False, soft_wrap=True, markup=False)


@handles_errors
def results_pull(
    repo: str = typer.Argument(..., help="A Hugging Face dataset repository, ORG/REPO, that pods pushed bundles to (--push-to-hub)."),
    db: str | None = DbOption,
    token_env: str = typer.Option("HF_TOKEN", "--token-env", help="Environment variable holding the Hub token."),
) -> None:
    """Import every bundle in a Hub dataset repository that is not imported yet."""
    from evalsuite.cloud import transports
    from evalsuite.store.db import open_database

    with open_database(db or default_db()) as database:
        outcomes = transports.pull_from_hub(database, repo, token_env=token_env)
    if not outcomes:
        _console().print(f"nothing new in {repo}", highlight=False, markup=False)
    for outcome in outcomes:
        _print_outcome(outcome)
