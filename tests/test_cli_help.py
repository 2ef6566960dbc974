"""Every command and option explains itself (a command without help text fails here)."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from evalsuite.cli import app


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, command) for every command; Typer vendors its own click, so groups are duck-typed."""
    found: list[tuple[tuple[str, ...], Any]] = []
    for name, command in group.commands.items():
        found.append(((*prefix, name), command))
        if hasattr(command, "commands"):
            found.extend(_commands(command, (*prefix, name)))
    return found


def test_every_command_and_option_has_help_text() -> None:
    root = typer.main.get_command(app)
    commands = _commands(root)
    assert {("run",), ("tasks",), ("results", "list"), ("results", "show"), ("results", "export"), ("rescore",), ("leaderboard",)} <= {path for path, _ in commands}
    for path, command in commands:
        assert command.help, f"`evalsuite {' '.join(path)}` has no help text"
        for parameter in command.params:
            if parameter.param_type_name == "option" and parameter.name != "help":
                assert parameter.help, f"option {parameter.opts} of `evalsuite {' '.join(path)}` has no help text"


def test_help_renders_for_every_command() -> None:
    runner = CliRunner()
    root = typer.main.get_command(app)
    for path, _ in _commands(root):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output
