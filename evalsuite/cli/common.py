"""What every `evalsuite` sub-command shares: error printing, consoles, the --db option."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer._click.exceptions import UsageError  # Typer vendors Click; this is the class its parser raises
from typer.core import TyperGroup

from evalsuite.errors import EvalsuiteError
from evalsuite.redact import mask_secrets

F = TypeVar("F", bound=Callable[..., Any])

DbOption = typer.Option(None, "--db", help="Database path or SQLAlchemy URL \\[default: $EVALSUITE_DB or results/evalsuite.db].")

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
            print_error(exc.message, exc.hint)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            # A run converts Ctrl-C into an error naming its id (and how to resume it); this is Ctrl-C in any
            # other command, which has no run to resume: its writes are whole or not made.
            _console(stderr=True).print(
                "[bold red]interrupted[/] — the command stopped before it finished; nothing was half-written: run it again",
                soft_wrap=True,
            )
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def print_error(message: str, hint: str) -> None:
    """The one error line every command prints: ``error: … — hint: …`` on stderr, secrets masked."""
    # Messages are text, not markup: a judge's "[[rating]]" or a "[backend]" label must print as written.
    shown_message, shown_hint = escape(mask_secrets(message)), escape(mask_secrets(hint))
    _console(stderr=True).print(f"[bold red]error:[/] {shown_message} — [bold]hint:[/] {shown_hint}", markup=True, highlight=False, soft_wrap=True)


def usage_error_text(exc: UsageError) -> tuple[str, str]:
    """A bad flag or value (``--limit 1.5``, ``--lmit``) as the error line's message and hint, not Click's box."""
    command = _command_path(exc.ctx)
    param = getattr(exc, "param", None)
    if not isinstance(exc, typer.BadParameter) or param is None:
        return exc.format_message(), f"see `{command} --help`"
    name = param.opts[-1] if param.param_type_name == "option" else str(param.name).upper()
    value = _rejected_input(exc)
    reason = exc.message.split(",")[0].strip()  # Typer's validator adds a restatement after a comma
    reason = reason[:1].lower() + reason[1:]
    given = f" {value!r}" if value is not None else ""
    return f"invalid value for {name}{given}: {reason}", f"see `{command} --help` for the values {name} takes"


def _command_path(ctx: Any) -> str:
    """`evalsuite results show`, whatever the program was called (`python -m evalsuite.cli.app`, a test runner)."""
    names: list[str] = []
    while ctx is not None and ctx.parent is not None:
        names.insert(0, ctx.info_name)
        ctx = ctx.parent
    return " ".join(["evalsuite", *names])


def _rejected_input(exc: BaseException) -> object | None:
    """The value the user typed, when the validator that refused it (pydantic, under Typer) recorded it."""
    errors = getattr(exc.__cause__, "errors", None)
    if callable(errors):
        found = errors()
        if found and isinstance(found[0], dict):
            return found[0].get("input")
    return None


class OneLineErrors(TyperGroup):
    """The root command: a usage error of any command prints the same one line as a library error, exit 1.

    Click's own handling would print a boxed message and exit 2; one format and one exit status
    for every refusal lets scripts and users read all of them alike.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)


@contextlib.contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    try:
        yield
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group prints its help: not an error
            raise
        print_error(*usage_error_text(exc))
        raise typer.Exit(1) from None


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
