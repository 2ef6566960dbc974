"""`evalsuite run` with several models: each its own run, failures recorded, the queue goes on, a summary at the end."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.errors import ConfigError, UnknownModelError
from evalsuite.execution.queue import model_list, read_models_file
from evalsuite.identity.models import resolve_model
from evalsuite.store import queries
from evalsuite.store.db import open_database
from tests.queue_helpers import mismatched_copy, summary_rows

QUEUE_TASK = ("--tasks", "pubmedqa", "--limit", "1")




def test_queue_continues_past_failing_models_and_summarises(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # short relative model paths keep the summary's rows on one line each
    broken = mismatched_copy(Path("."))
    missing = "no-such-model"
    models = ["demo/pico-s", missing, str(broken), "demo/pico-m"]
    args = ["run", *(part for model in models for part in ("--model", model)), *QUEUE_TASK, "--db", db_url]
    result = CliRunner().invoke(app, args)

    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"2 of 4 models complete; failed: {missing}, {broken}" in result.stderr
    with open_database(db_url, create=False) as database:
        stored = {run.model: run for run in queries.list_runs(database)}
        details = {model: queries.get_run(database, run.id) for model, run in stored.items()}
    # Two complete runs and one failed run (it failed after its row was stored); the missing model stored nothing.
    assert {model: run.status for model, run in stored.items()} == {"demo/pico-s": "complete", "demo/pico-m": "complete", str(broken): "failed"}
    rows = summary_rows(result.stdout)
    assert list(rows) == models
    for model in ("demo/pico-s", "demo/pico-m"):
        run_id, status, _seconds, numbers = rows[model]
        acc = next(m for m in details[model].metrics if m.metric == "acc")
        assert (run_id, status, numbers) == (str(stored[model].id), "complete", f"pubmedqa acc {acc.value:.4f}")
    with pytest.raises(UnknownModelError) as unknown:  # what resolving the missing model alone says
        resolve_model(missing)
    assert rows[missing] == ["—", "failed", rows[missing][2], unknown.value.message]
    assert rows[str(broken)][:2] == [str(stored[str(broken)].id), "failed"]
    assert "does not match its weights" in rows[str(broken)][3] and details[str(broken)].run.error


def test_models_file_lists_models_with_comments(tmp_path: Path) -> None:
    path = tmp_path / "models.txt"
    path.write_text("# the small ones\ndemo/pico-s\n\n   demo/pico-m   # medium\n#demo/skipped\n", encoding="utf-8")
    assert read_models_file(path) == ("demo/pico-s", "demo/pico-m")
    assert model_list(["hub/first"], path) == ("hub/first", "demo/pico-s", "demo/pico-m")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("", "lists no models"),
        ("# only a comment\n\n", "lists no models"),
        ("demo/pico-s demo/pico-m\n", "line 1: 'demo/pico-s demo/pico-m' is more than one word"),
        (b"demo/pico-s\n\xff\xfe\n", "cannot be read as UTF-8 text"),
    ],
    ids=["missing", "empty", "only-comments", "two-words", "not-utf8"],
)
def test_bad_models_file_is_refused_before_anything_runs(tmp_path: Path, content: str | bytes | None, message: str) -> None:
    path = tmp_path / "models.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    db = tmp_path / "results.db"
    result = CliRunner().invoke(app, ["run", "--models-file", str(path), *QUEUE_TASK, "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: --models-file {path}") and message in result.stderr, result.stderr
    assert "Traceback" not in result.output and not db.exists()


def test_queue_refuses_a_model_twice_a_directory_and_one_run_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model listed twice: demo/pico-s"):
        model_list(["demo/pico-s", "demo/pico-m", "demo/pico-s"], None)
    with pytest.raises(ConfigError, match="is a directory"):
        read_models_file(tmp_path)
    with pytest.raises(ConfigError, match="no model given"):
        model_list([], None)
    db = tmp_path / "results.db"
    for extra, message in ((["--resume", "3"], "--resume applies to one model"), (["--dry-run"], "--dry-run applies to one model")):
        result = CliRunner().invoke(app, ["run", "-m", "demo/pico-s", "-m", "demo/pico-m", *QUEUE_TASK, "--db", str(db), *extra])
        assert result.exit_code == 1 and result.stderr.startswith(f"error: {message}"), result.output
    assert not db.exists()


def test_gpu_sets_is_refused_with_the_ray_way(tmp_path: Path) -> None:
    """The GPU-set worker pool is gone: Ray places the queue (tests/ray/test_model_queue_ray.py)."""
    db = tmp_path / "results.db"
    result = CliRunner().invoke(app, ["run", "-m", "demo/pico-s", "-m", "demo/pico-m", *QUEUE_TASK, "--gpu-sets", "0", "--gpu-sets", "1", "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: --gpu-sets 0 --gpu-sets 1: the GPU-set worker pool is replaced by Ray — hint: run the queue with --executor ray")
    assert "Traceback" not in result.output and not db.exists()
