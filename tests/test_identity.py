"""One model identity, one cache key: every edit that can move a number forces recomputation.

Each test runs a real copy of demo/pico-s on 2 PubMedQA questions (6 loglikelihood
requests) and counts what the second run computed versus served from the cache.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.execution import runner
from evalsuite.identity import model_identity as identity
from evalsuite.identity.model_identity import ModelIdentity, build_identity
from evalsuite.identity.models import DEMO_MODELS_DIR, resolve_model
from evalsuite.identity.run_config import RunConfig

REQUESTS = 2 * 3  # pubmedqa: three choices per question


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """A private copy of demo/pico-s whose files a test may edit."""
    copy = tmp_path / "pico-copy"
    shutil.copytree(DEMO_MODELS_DIR / "pico-s", copy)
    return copy


def _run(model: Path | str, db: Path, **changes: object) -> runner.RunOutcome:
    config = RunConfig.from_flat(model=str(model), tasks=("pubmedqa",), limit=2, db=str(db), show_progress=False, **changes)
    return runner.run(config, report=lambda _line: None)


def _edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, indent=2))


def test_unchanged_model_is_served_from_the_cache(model_copy: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    first, second = _run(model_copy, db), _run(model_copy, db)
    assert (first.computed, first.cached) == (REQUESTS, 0)
    assert (second.computed, second.cached) == (0, REQUESTS)
    assert second.results["results"] == first.results["results"]


def test_config_edit_forces_recomputation(model_copy: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _run(model_copy, db)
    config = json.loads((model_copy / "config.json").read_text())
    _edit_json(model_copy / "config.json", max_position_embeddings=int(config["max_position_embeddings"]) // 2)
    after = _run(model_copy, db)
    assert (after.computed, after.cached) == (REQUESTS, 0)


def test_rope_scaling_edit_forces_recomputation(model_copy: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _run(model_copy, db)
    _edit_json(model_copy / "config.json", rope_scaling={"rope_type": "linear", "factor": 2.0})
    after = _run(model_copy, db)
    assert (after.computed, after.cached) == (REQUESTS, 0)


def test_tokenizer_edit_forces_recomputation(model_copy: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _run(model_copy, db)
    tokenizer_config = json.loads((model_copy / "tokenizer_config.json").read_text())
    _edit_json(model_copy / "tokenizer_config.json", model_max_length=int(tokenizer_config.get("model_max_length", 512)) // 2)
    after = _run(model_copy, db)
    assert (after.computed, after.cached) == (REQUESTS, 0)


def test_generation_config_edit_forces_recomputation(model_copy: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _run(model_copy, db)
    _edit_json(model_copy / "generation_config.json", repetition_penalty=1.3)
    assert _run(model_copy, db).computed == REQUESTS


def test_scoring_version_bump_forces_recomputation(model_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "r.db"
    _run(model_copy, db)
    monkeypatch.setattr(identity, "SCORING_VERSION", identity.SCORING_VERSION + 1)
    after = _run(model_copy, db)
    assert (after.computed, after.cached) == (REQUESTS, 0)


def test_no_cache_recomputes_and_records_the_new_answers(model_copy: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    first = _run(model_copy, db)
    fresh = _run(model_copy, db, no_cache=True)
    assert (fresh.computed, fresh.cached) == (REQUESTS, 0)
    assert fresh.results["results"] == first.results["results"]
    with sqlite3.connect(db) as connection:
        owners = connection.execute("SELECT computed_by_run_id, count(*) FROM request_cache GROUP BY 1").fetchall()
    assert owners == [(fresh.run_id, REQUESTS)]


def test_identity_is_stored_as_columns_and_linked_from_the_run(model_copy: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    outcome = _run(model_copy, db, dtype="float32", backend_args=(("max_length", "256"),))
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute(
            "SELECT model_identity.* FROM run JOIN model_identity ON run.identity_id = model_identity.id WHERE run.id = ?",
            (outcome.run_id,),
        ).fetchone()
        cache_keys = {k for (k,) in connection.execute("SELECT DISTINCT model_key FROM request_cache")}
    assert row["dtype"] == "float32" and row["max_length"] == 256 and row["device"] == "cpu"
    assert row["scoring_version"] == identity.SCORING_VERSION and row["lm_eval_version"]
    assert json.loads(row["backend_args"]) == [["max_length", "256"]]
    spec = resolve_model(str(model_copy))
    assert (row["weights_sha256"], row["tokenizer_sha256"], row["config_sha256"]) == (
        spec.weights_sha256, spec.tokenizer_sha256, spec.config_sha256,
    )
    columns = {f.name: row[f.name] for f in fields(ModelIdentity)} | {"backend_args": json.loads(row["backend_args"])}
    rebuilt = ModelIdentity.from_columns(SimpleNamespace(**columns))
    assert cache_keys == {row["key"]} == {rebuilt.key}


def test_key_changes_with_every_number_changing_setting_but_not_batch_size(model_copy: Path) -> None:
    spec = resolve_model(str(model_copy))
    base = RunConfig.from_flat(model=str(model_copy), tasks=("pubmedqa",))
    key = build_identity(base, spec, "cpu").key
    assert build_identity(base.with_changes(batch_size="7"), spec, "cpu").key == key
    assert build_identity(base, spec, "cuda:1").key == build_identity(base, spec, "cuda:0").key
    variants = [
        (base.with_changes(dtype="float32"), "cpu"),
        (base.with_changes(backend="hf"), "cpu"),
        (base.with_changes(backend_args=(("max_length", "128"),)), "cpu"),
        (base.with_changes(apply_chat_template=True), "cpu"),
        (base.with_changes(system_instruction="Be brief."), "cpu"),
        (base, "cuda"),
    ]
    keys = {build_identity(config, spec, device).key for config, device in variants}
    assert key not in keys and len(keys) == len(variants)


def test_chat_template_text_is_part_of_the_identity(model_copy: Path) -> None:
    chat = RunConfig.from_flat(model=str(model_copy), tasks=("pubmedqa",), apply_chat_template=True)
    before = build_identity(chat, resolve_model(str(model_copy)), "cpu")
    (model_copy / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    after = build_identity(chat, resolve_model(str(model_copy)), "cpu")
    assert before.chat_template_sha256 != after.chat_template_sha256 and before.key != after.key


def test_cache_clear_removes_only_that_models_entries(model_copy: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _run(model_copy, db)
    other = _run("demo/pico-m", db)
    assert other.computed == REQUESTS
    result = CliRunner().invoke(app, ["cache", "clear", "--model", str(model_copy), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert f"removed {REQUESTS} cached answers of {model_copy}" in result.stdout
    assert (_run("demo/pico-m", db).cached, _run(model_copy, db).computed) == (REQUESTS, REQUESTS)


def test_cache_clear_refuses_a_missing_database_and_an_unknown_model(tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["cache", "clear", "--db", str(tmp_path / "typo.db")])
    assert missing.exit_code == 1 and "no database at" in missing.stderr and "Traceback" not in missing.output
    assert not (tmp_path / "typo.db").exists()
    db = tmp_path / "r.db"
    _run("demo/pico-s", db)
    unknown = CliRunner().invoke(app, ["cache", "clear", "--model", "demo/pico-x", "--db", str(db)])
    assert unknown.exit_code == 1 and "no model named 'demo/pico-x'" in unknown.stderr and "demo/pico-s" in unknown.stderr
    everything = CliRunner().invoke(app, ["cache", "clear", "--db", str(db)])
    assert everything.exit_code == 0 and f"removed {REQUESTS} cached answers" in everything.stdout


def test_results_show_names_the_runs_cached_answers_came_from(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _run("demo/pico-s", db)
    second = _run("demo/pico-s", db)
    shown = CliRunner().invoke(app, ["results", "show", str(second.run_id), "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    assert f"requests: 0 computed, {REQUESTS} from cache" in shown.stdout
    assert f"from earlier runs — run 1: {REQUESTS}" in shown.stdout


def test_rescore_reads_the_answers_under_the_runs_stored_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rescoring needs no model: it rebuilds the key from the stored identity, even after a version bump."""
    db = tmp_path / "r.db"
    first = _run("demo/pico-s", db)
    monkeypatch.setattr(identity, "SCORING_VERSION", identity.SCORING_VERSION + 1)
    assert first.run_id is not None
    rescored = runner.rescore(first.run_id, str(db), report=lambda _line: None)
    assert rescored.cached == REQUESTS
    assert rescored.results["results"]["pubmedqa"] == first.results["results"]["pubmedqa"]
