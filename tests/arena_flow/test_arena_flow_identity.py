"""Arena answers belong to a model identity, not a name; and what generate/prompts drop, they say.

Real models: copies of the shipped demo/pico-s, with their weights changed in place so two
different weight sets live under one folder name, and one copy whose final norm is zeroed
(all logits 0, so greedy decoding emits token 0, the special ``<s>``, which decodes to "").
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import torch
from arena_flow_fixtures import write_jsonl
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from evalsuite.arena import voting
from evalsuite.arena.contestant import answer_model_key
from evalsuite.arena.ratings import compute_ratings
from evalsuite.cli.app import app
from evalsuite.identity.models import DEMO_MODELS_DIR, resolve_model
from evalsuite.store import arena_queries
from evalsuite.store.db import open_database

GENERATE = ["--max-tokens", "4", "--device", "cpu"]


def _sql(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


def _copy_demo(target: Path) -> Path:
    shutil.copytree(DEMO_MODELS_DIR / "pico-s", target)
    return target


def _rewrite_weights(folder: Path, change: str) -> None:
    """Replace model.safetensors in place: ``noise`` shifts every tensor, ``silence`` zeroes the final norm."""
    path = folder / "model.safetensors"
    tensors = load_file(path)
    generator = torch.Generator().manual_seed(7)
    for name, tensor in tensors.items():
        if change == "noise":
            tensors[name] = tensor + 0.05 * torch.randn(tensor.shape, generator=generator)
        elif name == "model.norm.weight":
            tensors[name] = torch.zeros_like(tensor)
    save_file(tensors, str(path), metadata={"format": "pt"})


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_new_weights_under_an_old_name_answer_again_and_are_rated_apart(tmp_path: Path) -> None:
    folder = _copy_demo(tmp_path / "models" / "my-model")
    db = str(tmp_path / "arena.db")
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Name a river."}, {"prompt": "What is 2 + 3?"}])
    _invoke("arena", "prompts", "add", str(prompts), "--db", db)
    first = _invoke("arena", "generate", "--model", str(folder), *GENERATE, "--db", db)
    assert "2 answers generated and stored; 0 prompts still unanswered" in first
    old_key = answer_model_key(resolve_model(str(folder)))

    _rewrite_weights(folder, "noise")
    new_key = answer_model_key(resolve_model(str(folder)))
    assert new_key != old_key
    second = _invoke("arena", "generate", "--model", str(folder), *GENERATE, "--db", db)
    assert "2 answers generated and stored; 0 prompts still unanswered" in second  # the new weights answer again
    rows = _sql(Path(db), "SELECT prompt_id, model_name, model_key FROM completion ORDER BY id")
    assert [(p, k) for p, _, k in rows] == [(1, old_key), (2, old_key), (1, new_key), (2, new_key)]
    assert {name for _, name, _ in rows} == {str(folder)}

    with open_database(db) as database:
        rng = np.random.default_rng(0)
        shown = []
        for _ in range(4):
            battle = voting.issue_battle(database, "voter-1", rng)
            vote = arena_queries.record_vote(database, battle.token, "a", "voter-1")
            shown.append((vote.model_a, vote.model_b))
        keys = set(_sql(Path(db), "SELECT model_a_key, model_b_key FROM vote"))
        battles = voting.stored_battles(database)
    labels = {f"{folder}@{old_key[:8]}", f"{folder}@{new_key[:8]}"}
    assert keys <= {(old_key, new_key), (new_key, old_key)} and len(keys) >= 1
    assert all(set(pair) == labels for pair in shown)  # the reveal names each identity apart
    assert set(battles.models) == labels
    table = compute_ratings(battles, "bt", bootstrap_rounds=0)
    assert {row.model for row in table.rows} == labels and all(row.battles == 4 for row in table.rows)


def test_a_judge_with_a_contestants_weights_under_another_name_skips_that_pair(tmp_path: Path) -> None:
    db = str(tmp_path / "arena.db")
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Name a river."}])
    _invoke("arena", "prompts", "add", str(prompts), "--db", db)
    _invoke("arena", "generate", "--model", "demo/pico-s", *GENERATE, "--db", db)
    _invoke("arena", "generate", "--model", "demo/pico-m", *GENERATE, "--db", db)
    twin = _copy_demo(tmp_path / "renamed-pico-s")  # same files as demo/pico-s: the same identity
    output = _invoke("arena", "judge", "--judge", str(twin), "--device", "cpu", "--db", db)
    assert "judged 0 battles" in output and "skipped 1 pairs with its own answers" in output


def test_generate_warns_with_a_count_when_answers_are_empty(tmp_path: Path) -> None:
    silent = _copy_demo(tmp_path / "silent")
    _rewrite_weights(silent, "silence")
    db = str(tmp_path / "arena.db")
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Name a river."}, {"prompt": "Name a lake."}])
    _invoke("arena", "prompts", "add", str(prompts), "--db", db)
    output = _invoke("arena", "generate", "--model", str(silent), *GENERATE, "--db", db)
    assert "2 answers generated and stored" in output
    assert "warning: 2 of 2 answers are empty" in " ".join(output.split())
    assert _sql(Path(db), "SELECT text FROM completion") == [("",), ("",)]


def test_a_prompt_longer_than_the_context_is_not_answered_and_is_counted(tmp_path: Path) -> None:
    db = str(tmp_path / "arena.db")
    long_prompt = "Summarise: " + "river lake sea " * 1200  # > 2048 tokens of the demo tokenizer
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Name a river."}, {"prompt": long_prompt}])
    _invoke("arena", "prompts", "add", str(prompts), "--db", db)
    output = " ".join(_invoke("arena", "generate", "--model", "demo/pico-s", *GENERATE, "--db", db).split())
    assert "1 answers generated and stored; 1 prompts still unanswered" in output
    assert "warning: 1 prompts not answered: with --max-tokens 4 they do not fit the model's 2048-token context" in output
    assert _sql(Path(db), "SELECT prompt_id FROM completion") == [(1,)]


def test_prompts_add_says_how_many_duplicates_in_the_file_were_dropped(tmp_path: Path) -> None:
    rows = [{"prompt": "Name a river.", "category": "geo"}, {"prompt": "Name a lake."}, {"text": "Name a river.", "category": "x"}]
    prompts = write_jsonl(tmp_path / "p.jsonl", rows + [rows[1]])
    output = " ".join(_invoke("arena", "prompts", "add", str(prompts), "--db", str(tmp_path / "a.db")).split())
    assert "added 2 prompts (0 already stored); 2 prompts in total" in output
    assert "warning: 2 duplicate prompts in the input were dropped" in output
    assert _sql(tmp_path / "a.db", "SELECT text, category FROM prompt ORDER BY id") == [("Name a river.", "geo"), ("Name a lake.", None)]
