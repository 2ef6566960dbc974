"""Every command and option explains itself (a command without help text fails here)."""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.testing import CliRunner

from evalsuite.cli.app import app


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


def test_no_help_text_loses_words_to_rich_markup() -> None:
    """A help string's `[default: …]` or `[[A]]` was read as Rich markup and dropped, leaving "… ." (issue 20)."""
    from rich.text import Text

    runner = CliRunner()
    root = typer.main.get_command(app)
    for path, command in _commands(root):
        texts = [command.help or ""] + [p.help or "" for p in command.params if getattr(p, "help", None)]
        for text in texts:
            assert Text.from_markup(text).plain == text.replace("\\[", "["), f"`evalsuite {' '.join(path)}`: {text!r}"
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "400"}).output
        assert not [line for line in shown.splitlines() if " . " in line or line.rstrip(" │").endswith(" .")], (path, shown)


def test_run_help_names_every_registered_suite_and_backend() -> None:
    from evalsuite.backends.registry import REGISTRY
    from evalsuite.tasks.suites import suites

    shown = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "400"}).output
    suite_line = next(line for line in shown.splitlines() if line.startswith("│ --suite "))
    backend_line = next(line for line in shown.splitlines() if line.startswith("│ --backend "))
    assert "nous" in suites()  # the suite the old hand-written list left out
    for name in suites():
        assert f" {name}," in suite_line or f" {name} (" in suite_line, suite_line
    for name in REGISTRY:
        assert f"{name} (" in backend_line, backend_line


def _option_line(shown: str, flag: str) -> str:
    """The help line of ``flag`` (a required option's line starts with `*`)."""
    return next(line for line in shown.splitlines() if line.lstrip("│ *").startswith(f"{flag} "))


def test_judge_and_arena_backend_help_names_every_backend_the_registry_offers_them() -> None:
    """--judge-backend (run) and --backend (arena generate, arena judge): every backend the registry offers the arena."""
    from evalsuite.backends.registry import REGISTRY

    arena_backends = [name for name, backend in REGISTRY.items() if backend.capabilities.arena]
    assert {"transformers", "vllm", "openai"} <= set(arena_backends)
    for path, flag in ((["run"], "--judge-backend"), (["arena", "generate"], "--backend"), (["arena", "judge"], "--backend")):
        line = _option_line(CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "400"}).output, flag)
        for name in REGISTRY:
            assert bool(re.search(rf"\b{name}\b", line)) == (name in arena_backends), (path, name, line)
