"""`evalsuite arena generate` on the demo models, checked against transformers' own greedy `generate`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from arena_flow_fixtures import DEMO_MODELS, REPO_ROOT, copy_db
from transformers import AutoModelForCausalLM, AutoTokenizer
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.identity.models import demo_models, resolve_model


def _completions(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT prompt.text, completion.model_name, completion.text, completion.settings "
            "FROM completion JOIN prompt ON prompt.id = completion.prompt_id ORDER BY completion.id"
        ).fetchall()


@torch.no_grad()
def _reference_answer(name: str, prompt: str, max_new_tokens: int) -> str:
    """One prompt at a time through the chat template and model.generate (greedy)."""
    path = resolve_model(name).path
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, return_tensors="pt").input_ids
    output = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                            pad_token_id=tokenizer.pad_token_id)
    return str(tokenizer.decode(output[0, ids.shape[1]:], skip_special_tokens=True)).strip()


def test_generate_stores_greedy_chat_answers_for_both_demo_models(generated_db: Path) -> None:
    rows = _completions(generated_db)
    assert sorted({model for _, model, _, _ in rows}) == sorted(DEMO_MODELS)
    assert len(rows) == 6
    for prompt, model, text, settings_json in rows:
        settings = json.loads(settings_json)
        assert settings["greedy"] is True and settings["chat_template"] is True and settings["max_tokens"] == 24
        assert settings["backend"] == "transformers"
        assert settings["weights_sha256"] == resolve_model(model).weights_sha256
        assert text == _reference_answer(model, prompt, 24)


def test_generate_again_answers_nothing_new(generated_db: Path, tmp_path: Path) -> None:
    db = copy_db(generated_db, tmp_path / "again.db")
    result = CliRunner().invoke(app, ["arena", "generate", "--model", "demo/pico-s", "--db", str(db), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "demo/pico-s: 0 answers generated and stored; 0 prompts still unanswered" in result.output
    assert len(_completions(db)) == 6


def test_generate_on_an_empty_prompt_table_loads_mt_bench_first(tmp_path: Path) -> None:
    if "demo/pico-s" not in demo_models():
        pytest.skip("demo/pico-s is not shipped yet")
    db = tmp_path / "fresh.db"
    args = ["arena", "generate", "--model", "demo/pico-s", "--limit", "1", "--max-tokens", "8", "--db", str(db), "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "loaded the 80 MT-Bench prompts" in result.output
    assert "1 answers generated and stored; 79 prompts still unanswered" in result.output
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*) FROM prompt").fetchone() == (80,)
        assert connection.execute("SELECT prompt_id FROM completion").fetchall() == [(1,)]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--max-tokens", "0"], "--max-tokens must be at least 1"), (["--backend", "hf"], "the hf backend scores only"), (["--backend", "nope"], "unknown backend 'nope'"),
     (["--limit", "-1"], "--limit must be 0 or more")],
)
def test_generate_rejects_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["arena", "generate", "--model", "demo/pico-s", *args, "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1 and message in result.output


def test_generate_unknown_model_is_one_error_line(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    CliRunner().invoke(app, ["arena", "prompts", "add", "--mt-bench", "--db", str(db)])
    result = CliRunner().invoke(app, ["arena", "generate", "--model", "demo/nope", "--db", str(db)])
    assert result.exit_code == 1 and result.output.startswith("error: unknown demo model 'demo/nope'")


@pytest.mark.slow
def test_generate_with_vllm_runs_in_a_child_process_and_matches_transformers(generated_db: Path, tmp_path: Path) -> None:
    pytest.importorskip("vllm")
    db = tmp_path / "vllm.db"
    with sqlite3.connect(generated_db) as source, sqlite3.connect(db) as target:
        source.backup(target)
        target.execute("DELETE FROM completion")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1"}
    command = [sys.executable, "-m", "evalsuite.cli.app", "arena", "generate", "--model", "demo/pico-s", "--backend", "vllm",
               "--max-tokens", "24", "--dtype", "float32", "--db", str(db)]
    done = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=540, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "3 answers generated and stored" in done.stdout
    by_transformers = {(p, m): t for p, m, t, _ in _completions(generated_db) if m == "demo/pico-s"}
    vllm_rows = _completions(db)
    assert {(p, m): t for p, m, t, _ in vllm_rows} == by_transformers
    assert all(json.loads(settings)["backend"] == "vllm" for *_, settings in vllm_rows)
