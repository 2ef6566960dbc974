"""What the CLI says when things go wrong or need saying (issue 20: item 6 and the message items).

Each test asserts the exact new line, against a real database, real tiny models and the real CLI.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from evalsuite.cli import app
from evalsuite.models import DEMO_MODELS_DIR

runner = CliRunner()


def _runs(db: Path) -> list[tuple[str, str | None]]:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT status, error FROM run ORDER BY id").fetchall()


def test_config_that_does_not_match_the_weights_is_a_user_error_stored_as_failed(tmp_path: Path) -> None:
    """A copy of a model whose config.json says hidden_size 2x: one error line naming a tensor, the run failed."""
    model = tmp_path / "pico-doubled"
    shutil.copytree(DEMO_MODELS_DIR / "pico-s", model)
    config = json.loads((model / "config.json").read_text())
    hidden = config["hidden_size"]
    config["hidden_size"] = 2 * hidden
    (model / "config.json").write_text(json.dumps(config))
    db = tmp_path / "r.db"
    result = runner.invoke(app, ["run", "--model", str(model), "--tasks", "pubmedqa", "--limit", "1", "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    vocab = config["vocab_size"]
    expected = (
        f"the config.json of {str(model)!r} does not match its weights: "
        f"model.embed_tokens.weight is [{vocab}, {hidden}] "
        f"in the weights but [{vocab}, {2 * hidden}] by the config"
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == [f"error: {expected} — hint: use the config.json saved with these weights (hidden_size, layer, head and vocabulary counts set every tensor's shape)"]
    [(status, error)] = _runs(db)
    assert status == "failed" and error is not None and error.startswith(expected)


def test_a_value_of_the_wrong_type_is_one_error_line_exit_1(tmp_path: Path) -> None:
    """`--limit 1.5` was Typer's boxed message with exit 2; now the one line every refusal uses, exit 1."""
    result = runner.invoke(app, ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--limit", "1.5", "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 1, result.output
    assert result.stderr == "error: invalid value for --limit '1.5': input should be a valid integer — hint: see `evalsuite run --help` for the values --limit takes\n"
    assert not (tmp_path / "r.db").exists()


def test_an_unknown_option_of_a_nested_command_is_one_error_line() -> None:
    result = runner.invoke(app, ["arena", "ratings", "--include-judge"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: No such option: --include-judge") and result.stderr.endswith("— hint: see `evalsuite arena ratings --help`\n")
    assert "╭" not in result.output


def test_version() -> None:
    from importlib import metadata

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"evalsuite {metadata.version('evalsuite')}\n"
