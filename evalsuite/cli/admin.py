"""`evalsuite admin …`: the operator's writes (delete a run, hide or show a model), through ``evalsuite.board.admin``.

Parsing and printing only. Where ``EVALSUITE_ADMIN_TOKEN`` is set these commands need
``--admin-token`` with the same value (see ``evalsuite.board.admin`` for the rule).
"""

from __future__ import annotations

import typer

from evalsuite.cli.common import DbOption, console, handles_errors
from evalsuite.cli.options import AdminTokenOption
from evalsuite.settings import default_db
from evalsuite.store.db import Database

admin_app = typer.Typer(
    help="Operator writes: delete a run, hide or show a model (needs --admin-token where EVALSUITE_ADMIN_TOKEN is set).",
    no_args_is_help=True,
)

def _open(db: str | None) -> Database:
    from evalsuite.store.db import open_database

    return open_database(db or default_db(), create=False)  # an operator's write to a missing database is a typo


@admin_app.command("delete-run")
@handles_errors
def delete_run(
    run_id: int = typer.Argument(..., help="Run id from `evalsuite results list`."),
    force: bool = typer.Option(False, "--force", help="Delete it even while it is still running."),
    admin_token: str | None = AdminTokenOption,
    db: str | None = DbOption,
) -> None:
    """Delete a run with its metrics, samples and attempts (the request cache is kept)."""
    from evalsuite.board import admin

    admin.require_admin(admin_token, web=False)  # before opening: a refused token touches nothing
    with _open(db) as database:
        deleted = admin.delete_run(database, admin_token, run_id, force=force)
    console.print(
        f"deleted run {deleted.run_id} ({deleted.model}, {deleted.status}): {deleted.metrics} metrics, "
        f"{deleted.samples} samples, {deleted.attempts} attempts; cached answers kept",
        markup=False, highlight=False, soft_wrap=True,
    )


@admin_app.command("hide-model")
@handles_errors
def hide_model(
    name: str = typer.Argument(..., help="Model name as stored (every run and arena answer under it)."),
    admin_token: str | None = AdminTokenOption,
    db: str | None = DbOption,
) -> None:
    """Hide a model from the leaderboard, the arena's pairing and its ratings (its rows stay)."""
    _set_hidden(name, admin_token, db, hide=True)


@admin_app.command("unhide-model")
@handles_errors
def unhide_model(
    name: str = typer.Argument(..., help="A hidden model's name (see `evalsuite admin hidden`)."),
    admin_token: str | None = AdminTokenOption,
    db: str | None = DbOption,
) -> None:
    """Show a hidden model again, with every run and vote it had."""
    _set_hidden(name, admin_token, db, hide=False)


def _set_hidden(name: str, admin_token: str | None, db: str | None, *, hide: bool) -> None:
    """hide-model and unhide-model: the token is checked before the database is opened, so a refusal creates nothing."""
    from evalsuite.board import admin

    admin.require_admin(admin_token, web=False)
    with _open(db) as database:
        change = admin.hide_model if hide else admin.unhide_model
        changed = change(database, admin_token, name)
    if hide:
        message = f"hid {name}" if changed else f"{name} was already hidden"
    else:
        message = f"{name} is shown again" if changed else f"{name} was not hidden"
    console.print(message, markup=False, highlight=False, soft_wrap=True)


@admin_app.command("hidden")
@handles_errors
def hidden(db: str | None = DbOption) -> None:
    """List the hidden models, one per line."""
    from evalsuite.store import admin_queries

    with _open(db) as database:
        names = admin_queries.hidden_models(database)
    for name in names:
        console.print(name, markup=False, highlight=False, soft_wrap=True)
