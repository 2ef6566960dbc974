"""Each option of a run is declared once (evalsuite/cli/options.py) and read the same by the CLI, the pod launcher and the API."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, get_args

import pytest
import typer

import evalsuite
from evalsuite.cli import options as cli_options
from evalsuite.cli import run_options
from evalsuite.cli.app import app, run
from evalsuite.cli.runpod import _run_command


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """("arena judge", command) for every leaf command; Typer vendors its own click, so groups are duck-typed."""
    found: list[tuple[str, Any]] = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.extend(_commands(command, (*prefix, name)))
        else:
            found.append((" ".join((*prefix, name)), command))
    return found


def _declaration(param: Any) -> tuple[Any, ...]:
    """What a user sees of an option: its flags, help, value type (None allowed or not), whether it repeats or is a switch."""
    value_type = tuple(kind for kind in get_args(param.type_descriptor.annotation) or (param.type_descriptor.annotation,) if kind is not type(None))
    return (tuple(param.opts), tuple(param.secondary_opts), param.help, value_type, param.multiple, param.is_flag)


def test_a_flag_means_one_thing_everywhere_but_where_options_py_says_why_not() -> None:
    seen: dict[str, dict[tuple[Any, ...], list[str]]] = {}
    exceptions_used: set[tuple[str, str]] = set()
    for path, command in _commands(typer.main.get_command(app)):
        for param in command.params:
            if param.param_type_name != "option" or param.name == "help":
                continue
            flag = param.opts[0]
            if (path, flag) in cli_options.OTHER_MEANINGS:
                exceptions_used.add((path, flag))
                continue
            seen.setdefault(flag, {}).setdefault(_declaration(param), []).append(path)
    twice = {flag: list(variants.values()) for flag, variants in seen.items() if len(variants) > 1}
    assert not twice, f"flags declared twice with different help or type (declare them once in evalsuite/cli/options.py): {twice}"
    assert exceptions_used == set(cli_options.OTHER_MEANINGS), set(cli_options.OTHER_MEANINGS) - exceptions_used  # no stale entry
    shared = ("--backend-arg", "--device", "--dtype", "--revision", "--trust-remote-code", "--base-url", "--api-key-env", "--db")
    for flag in shared:  # the model-loading flags reach every command that loads a model
        assert {"run", "arena generate", "arena judge"} <= {path for paths in seen[flag].values() for path in paths}, flag


def test_cli_run_is_at_most_40_lines() -> None:
    """Issue 21's measure: the `run` command function, signature and decorators included."""
    lines = inspect.getsource(inspect.unwrap(run)).splitlines()
    assert len(lines) <= 40, len(lines)


def test_run_offers_every_declared_option_in_order() -> None:
    command = typer.main.get_command(app).commands["run"]
    assert [param.name for param in command.params] == [option.name for option in cli_options.RUN_OPTIONS]


def test_the_api_builds_the_run_config_the_cli_builds_for_the_same_options(tmp_path: Path) -> None:
    """Same options through `evalsuite run`'s parser and through evalsuite.run()'s keywords: one RunConfig."""
    db, data = str(tmp_path / "x.db"), tmp_path / "data"
    words = ["--model", "demo/pico-s", "--tasks", "pubmedqa,arc_easy", "--limit", "3", "--db", db, "--data-dir", str(data),
             "--backend-arg", "max_length=64", "--gen-kwarg", "max_gen_toks=8", "--apply-chat-template", "--batch-size", "4"]
    from_cli = run_options.parse(_run_command(run), words)
    keywords = {"limit": 3, "db": db, "data_dir": data, "backend_args": {"max_length": 64}, "gen_kwarg": ["max_gen_toks=8"],
                "apply_chat_template": True, "batch_size": 4}
    from_api = run_options.config_from_options(cli_options.api_values(["pubmedqa", "arc_easy"], keywords), "demo/pico-s")
    assert from_api == from_cli
    assert from_cli.model.backend_args == (("max_length", "64"),) and from_cli.model.batch_size == "4"  # the values were really given


def test_the_api_takes_its_defaults_from_the_declarations() -> None:
    values = cli_options.api_values(("pubmedqa",), {})
    declared = {param.name: param.default for param in typer.main.get_command(app).commands["run"].params}
    assert {name: values[name] for name in declared if name != "tasks"} == {name: value for name, value in declared.items() if name != "tasks"}
    assert values["tasks"] == "pubmedqa"


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [("limt", "did you mean 'limit'"), ("backend_arsg", "did you mean 'backend_arg"), ("gpu_sets", "call evalsuite.run once per model")],
)
def test_an_unknown_api_keyword_is_an_error_naming_the_closest_option(tmp_path: Path, keyword: str, expected: str) -> None:
    db = tmp_path / "x.db"
    with pytest.raises(evalsuite.EvalsuiteError) as refused:
        evalsuite.run("demo/pico-s", ["pubmedqa"], db=str(db), **{keyword: 3})
    assert keyword in refused.value.message and expected in refused.value.hint
    assert not db.exists()  # refused before anything was opened
