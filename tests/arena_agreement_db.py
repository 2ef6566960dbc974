"""A database where people (and model judges) voted on the same battles, and the board holds scores of the same models.

Shared by the agreement command's tests and the leaderboard's agreement page test.
"""

from __future__ import annotations

from pathlib import Path

from evalsuite.arena import voting
from evalsuite.store import arena_queries, queries
from evalsuite.store.arena_queries import PromptInput
from evalsuite.store.db import Database, open_database
from evalsuite.store.schema import MetricRecord

MODELS = ("alpha-7b", "beta-13b", "gamma-3b")
PROMPTS = (PromptInput("Name a prime number larger than 10.", "math"), PromptInput("Write one sentence about rivers.", "writing"))


def answered_db(path: Path) -> Path:
    """Both prompts answered by every model in :data:`MODELS`."""
    with open_database(path) as database:
        arena_queries.add_prompts(database, PROMPTS)
        for prompt in arena_queries.list_prompts(database):
            for number, model in enumerate(MODELS):
                arena_queries.add_completion(database, prompt.id, model, f"Answer {number} to prompt {prompt.id}.", {"source": "fixed test text"})
    return path


def cast_votes(database: Database, votes: list[tuple[int, str, str, str]], voter: str = "person", kind: str = "human") -> None:
    """Each (prompt id, model shown as A, model shown as B, outcome) as a battle issued and voted on.

    People: one person per vote (``voter-0``, ``voter-1``, …); a judge (``kind="judge"``): all by ``voter``.
    """
    for i, (prompt_id, model_x, model_y, outcome) in enumerate(votes):
        name = voter if kind == "judge" else f"{voter}-{i}"
        battle = voting.issue_battle_for(database, name, prompt_id, model_x, model_y)
        arena_queries.record_vote(database, battle.token, outcome, name, voter_kind=kind)


def store_score(database: Database, model: str, task: str, metric: str, value: float, higher: bool) -> None:
    """A complete run of ``model`` whose only score is ``task · metric`` = ``value``."""
    row = queries.get_or_create_model(database, name=model, source="test", weights_sha256=f"sha-{model}")
    run = queries.create_run(database, model_id=row.id, backend="hf", config={}, config_hash=f"hash-{model}-{task}", tasks=[task])
    metric_row = MetricRecord(run_id=run.id, task=task, metric=metric, value=value, higher_is_better=higher, n_samples=10, n_total_docs=10, n_shot=0, task_version="1")
    queries.save_task_results(database, int(run.id or 0), [task], [metric_row], [])
    queries.finish_run(database, int(run.id or 0), computed=0, cached=0)
