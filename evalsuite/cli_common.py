"""What every `evalsuite` sub-command shares: error printing, consoles, the --db option."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from evalsuite.errors import EvalsuiteError

F = TypeVar("F", bound=Callable[..., Any])

DbOption = typer.Option(None, "--db", help="Database path or SQLAlchemy URL [default: $EVALSUITE_DB or results/evalsuite.db].")

PIPE_WIDTH = 200  # piped or captured output: wide enough that tables never truncate model names


def _console(stderr: bool = False) -> Console:
    """A console made at print time, so a pipe (or a test runner) gets full-width tables."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else PIPE_WIDTH)


def handles_errors(command: F) -> F:
    """Turn user errors into one line on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EvalsuiteError as exc:
            # Messages are text, not markup: a judge's "[[rating]]" or a "[backend]" label must print as written.
            message, hint = escape(exc.message), escape(exc.hint)
            _console(stderr=True).print(f"[bold red]error:[/] {message} — [bold]hint:[/] {hint}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            # A run converts Ctrl-C into an error naming its id; this is Ctrl-C anywhere else.
            _console(stderr=True).print(
                "[bold red]interrupted[/] — what was already stored is kept; `evalsuite results list` shows any unfinished run and its id for --resume",
                soft_wrap=True,
            )
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


class _LazyConsole:
    """`console.print(...)` that picks the stream's width at print time (see `_console`)."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr

    def print(self, *objects: Any, **kwargs: Any) -> None:
        _console(self._stderr).print(*objects, **kwargs)


console = _LazyConsole(stderr=False)
err_console = _LazyConsole(stderr=True)


def report_progress(line: str) -> None:
    """One progress line of a run on stderr, dimmed: printed as given (a path with `[` is not markup),
    never wrapped (a test or a log reader sees each line whole)."""
    _console(stderr=True).print(line, style="dim", markup=False, highlight=False, soft_wrap=True)
