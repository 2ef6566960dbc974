"""Constants and helpers shared by the arena flow tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from evalsuite.arena import voting
from evalsuite.identity.models import demo_models
from evalsuite.store import arena_queries
from evalsuite.store.arena_queries import PromptInput
from evalsuite.store.db import open_database

REPO_ROOT = Path(__file__).resolve().parents[2]
LEADERBOARD_DIR = REPO_ROOT / "leaderboard"
APP = LEADERBOARD_DIR / "app.py"
DEMO_MODELS = ("demo/pico-s", "demo/pico-m")
UNSAFE_ANSWER = "<script>alert(1)</script> **bold** [link](http://example.invalid) <b>html</b>"
VOTING_MODELS = ("alpha-7b", "beta-13b", "gamma<i>3b</i>")
VOTING_PROMPTS = (
    PromptInput("Name a prime number larger than 10.", "math"),
    PromptInput("Write one sentence about rivers.", "writing"),
    PromptInput("What does HTML stand for?", "stem"),
)
SMALL_PROMPTS = [
    {"prompt": "What is 12 plus 7?", "category": "math"},
    {"text": "Name three colours.", "category": "writing"},
    {"prompt": "Why is the sky blue?"},
]

def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def fill_voting_db(path: Path) -> Path:
    """Three prompts, each answered by the three voting models (fixed texts)."""
    with open_database(path) as database:
        arena_queries.add_prompts(database, VOTING_PROMPTS)
        for prompt in arena_queries.list_prompts(database):
            for number, model in enumerate(VOTING_MODELS):
                text = UNSAFE_ANSWER if "<i>" in model else f"Answer {number} to prompt {prompt.id}."
                arena_queries.add_completion(database, prompt.id, model, text, {"source": "fixed test text"})
    return path


def cast_votes(db: Path, count: int, kind: str) -> None:
    """``count`` votes of ``kind`` on battles the server draws, outcomes a, b, tie in turn."""
    with open_database(db) as database:
        for i in range(count):
            voter = "judge" if kind == "judge" else f"anon-{i}"
            battle = voting.issue_battle(database, voter)
            arena_queries.record_vote(database, battle.token, ("a", "b", "tie")[i % 3], voter, voter_kind=kind)


def vote_on(db: Path, votes: list[tuple[str, str, str]], kind: str = "human") -> None:
    """One vote per (model A, model B, outcome), each on a battle for prompt 1, from a voter of its own."""
    with open_database(db) as database:
        for i, (model_a, model_b, outcome) in enumerate(votes):
            voter = f"{kind}-{i}"
            battle = voting.issue_battle_for(database, voter, 1, model_a, model_b)
            arena_queries.record_vote(database, battle.token, outcome, voter, voter_kind=kind)


def require_demo_models() -> None:
    missing = [name for name in DEMO_MODELS if name not in demo_models()]
    if missing:
        pytest.skip(f"demo models {missing} are not shipped in evalsuite/demo_models/ yet")


def copy_db(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    return target


def table_rows(output: str) -> dict[str, list[str]]:
    """Model -> the cells of its row in a printed rich table (cells split on the box-drawing bars; the header under "Model")."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in re.split("[│┃]", line.strip("│┃ "))]
        if len(cells) > 2 and cells[1]:
            rows[cells[1]] = cells
    return rows
