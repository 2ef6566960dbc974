"""`evalsuite cache`: manage the request cache (the stored model answers runs reuse)."""

from __future__ import annotations

import typer

from evalsuite.cli.common import DbOption, console, handles_errors
from evalsuite.settings import default_db

cache_app = typer.Typer(help="Manage the request cache: the model answers that runs and rescore reuse.", no_args_is_help=True)


@cache_app.command("clear")
@handles_errors
def cache_clear(
    model: str | None = typer.Option(None, "--model", "-m", help="Only this model's answers (its name as stored, e.g. demo/pico-s) \\[default: all]."),
    db: str | None = DbOption,
) -> None:
    """Delete cached answers so the next run computes them again; runs and scores are kept."""
    from evalsuite.backends.cache import clear_cache

    removed = clear_cache(db or default_db(), model)
    scope = f" of {model}" if model else ""
    console.print(f"removed {removed} cached answer{'' if removed == 1 else 's'}{scope}", highlight=False)
