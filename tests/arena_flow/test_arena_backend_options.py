"""`arena generate` and `arena judge` load models through the one backend registry.

Revision, seed and ``--backend-arg`` reach the loaded backend (they were dropped on
the way before): checked by what the loader is handed and by what it changes — which
Hub snapshot answers, the context the loaded model has, sampled answers that repeat
under one seed and change under another. The Hub is a local cache with two commits.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from arena_flow_fixtures import SMALL_PROMPTS, write_jsonl
from typer.testing import CliRunner

from evalsuite.backends import registry
from evalsuite.cli.app import app
from evalsuite.devtools.tiny_models import save_random_llama

REPO = "evalsuite-test/tiny-llama"
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An offline Hugging Face cache holding two commits of one repo (main -> A) with other weights."""
    cache = tmp_path_factory.mktemp("hub")
    repo = cache / f"models--{REPO.replace('/', '--')}"
    for commit, spread in ((COMMIT_A, 0.2), (COMMIT_B, 0.35)):
        save_random_llama(repo / "snapshots" / commit, initializer_range=spread, max_positions=256)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT_A)
    return cache


@pytest.fixture
def hub(hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_cache))
    return hub_cache


class LoaderSpy:
    """Records what the registry's loader is handed by one module, then loads for real."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any, Any]] = []

    def __call__(self, spec: Any, options: Any) -> Any:
        lm = registry.load_backend(spec, options)
        self.calls.append((spec, options, lm))
        return lm


def _spy(monkeypatch: pytest.MonkeyPatch, module: str) -> LoaderSpy:
    spy = LoaderSpy()
    monkeypatch.setattr(f"evalsuite.arena.{module}.load_backend", spy)
    return spy


def _sql(db: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _prompts_db(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    db = tmp_path / "arena.db"
    _invoke("arena", "prompts", "add", str(write_jsonl(tmp_path / "prompts.jsonl", SMALL_PROMPTS)), "--db", str(db))
    return db


def test_generate_hands_revision_seed_and_backend_args_to_the_loader(hub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _prompts_db(tmp_path)
    spy = _spy(monkeypatch, "generate")
    _invoke("arena", "generate", "--model", REPO, "--revision", COMMIT_B, "--seed", "7", "--backend-arg", "max_length=200",
            "--max-tokens", "4", "--limit", "1", "--device", "cpu", "--db", str(db))
    (spec, options, lm), = spy.calls
    assert (options.revision, options.seed, options.args, options.backend) == (COMMIT_B, 7, {"max_length": 200}, "transformers")
    assert spec.path == hub / f"models--{REPO.replace('/', '--')}" / "snapshots" / COMMIT_B and spec.revision == COMMIT_B
    assert lm.max_length == 200  # the backend-arg changed the loaded model's context
    settings = json.loads(_sql(db, "SELECT settings FROM completion")[0][0])
    assert (settings["revision"], settings["seed"], settings["backend_args"]) == (COMMIT_B, 7, {"max_length": 200})


def test_each_revision_is_its_own_contestant_and_main_is_commit_a(hub: Path, tmp_path: Path) -> None:
    db = _prompts_db(tmp_path)
    common = ["--max-tokens", "4", "--device", "cpu", "--db", str(db)]
    _invoke("arena", "generate", "--model", REPO, "--revision", COMMIT_A, *common)
    assert "3 answers generated" in _invoke("arena", "generate", "--model", REPO, "--revision", COMMIT_B, *common)
    assert "0 answers generated" in _invoke("arena", "generate", "--model", REPO, "--revision", "main", *common)
    keys = _sql(db, "SELECT model_key, json_extract(settings, '$.revision'), COUNT(*) FROM completion GROUP BY 1, 2 ORDER BY 2")
    assert [(revision, count) for _, revision, count in keys] == [(COMMIT_A, 3), (COMMIT_B, 3)]
    assert keys[0][0] != keys[1][0]


def test_the_seed_repeats_and_changes_sampled_answers(hub: Path, tmp_path: Path) -> None:
    answers = {}
    for run, seed in (("first", "3"), ("again", "3"), ("other", "4")):
        db = _prompts_db(tmp_path / run)
        _invoke("arena", "generate", "--model", REPO, "--temperature", "1.0", "--seed", seed, "--max-tokens", "12",
                "--device", "cpu", "--db", str(db))
        answers[run] = _sql(db, "SELECT prompt_id, text FROM completion ORDER BY prompt_id")
    assert answers["first"] == answers["again"]
    assert answers["first"] != answers["other"]


def test_judge_takes_revision_seed_and_backend_args(hub: Path, voting_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _spy(monkeypatch, "judge")
    output = _invoke("arena", "judge", "--judge", REPO, "--revision", COMMIT_B, "--seed", "5", "--backend-arg", "max_length=40",
                     "--device", "cpu", "--db", str(voting_db))
    (spec, options, lm), = spy.calls
    assert (options.revision, options.seed, options.args, spec.revision, lm.max_length) == (COMMIT_B, 5, {"max_length": 40}, COMMIT_B, 40)
    # A 40-token context holds no judge prompt: every pair is counted as too long, none judged from a cut prompt.
    assert "judged 0 battles" in output and "9 pairs not judged" in output
    assert _sql(voting_db, "SELECT COUNT(*) FROM vote") == [(0,)]
    output = _invoke("arena", "judge", "--judge", REPO, "--revision", COMMIT_B, "--device", "cpu", "--db", str(voting_db))
    assert "judged 9 battles" in output
    assert _sql(voting_db, "SELECT COUNT(*), MIN(voter) FROM vote") == [(9, REPO)]


def test_judge_refuses_a_backend_arg_the_backend_does_not_take(voting_db: Path) -> None:
    result = CliRunner().invoke(app, ["arena", "judge", "--judge", "demo/pico-s", "--backend-arg", "max_lenght=64", "--db", str(voting_db)])
    assert result.exit_code == 1
    assert "--backend-arg max_lenght is not an option of the transformers backend" in result.output and "max_length" in result.output


def test_run_generate_and_judge_share_one_loader() -> None:
    """No module builds a backend class itself: every load goes through the registry."""
    import evalsuite.arena.generate as generate
    import evalsuite.arena.judge as judge
    import evalsuite.execution.runner as runner

    assert generate.load_backend is judge.load_backend is runner.load_backend is registry.load_backend
    sources = {module.__name__: Path(module.__file__).read_text() for module in (generate, judge, runner)}  # type: ignore[arg-type]
    for name, source in sources.items():
        assert "TransformersLM(" not in source and "VLLMLM(" not in source and "HFLM(" not in source, name
