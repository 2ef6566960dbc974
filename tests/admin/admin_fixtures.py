"""A small results database for the admin tests, written through the store's own writers.

Three models: ``alpha`` and ``beta`` each with a complete run (metrics, samples, cached
answers), ``gamma`` with a run still running (fresh heartbeat); and an arena where all
three answered two prompts (fixed texts). Rows are counted back with plain SQL
(:func:`count_rows`), independently of the readers under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from evalsuite.store import arena_queries, queries
from evalsuite.store.arena_queries import PromptInput
from evalsuite.store.db import database_url, open_database
from evalsuite.store.schema import MetricRecord, SampleRecord

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "leaderboard" / "app.py"
MODELS = ("alpha", "beta", "gamma")
TASK = "admin_task"
SAMPLES_PER_RUN = {"alpha": 3, "beta": 4, "gamma": 2}
PROMPTS = (PromptInput("Name a colour.", "writing"), PromptInput("What is 2 plus 2?", "math"))
TABLES = ("model", "run", "run_attempt", "metric", "sample", "request_cache", "prompt", "completion", "battle", "vote", "hidden_model")


@dataclass(frozen=True)
class Filled:
    url: str
    run_ids: dict[str, int]  # model name -> its run


def fill(url: str) -> Filled:
    """Write the runs and the arena described in the module docstring."""
    run_ids = {}
    with open_database(url) as database:
        for index, name in enumerate(MODELS):
            model = queries.get_or_create_model(database, name=name, source="test", weights_sha256=f"{index}" * 64)
            run = queries.create_run(database, model_id=model.id, backend="transformers", config={}, config_hash=name, tasks=[TASK])
            run_id = int(run.id or 0)
            run_ids[name] = run_id
            samples = [
                SampleRecord(run_id=run_id, task=TASK, doc_id=doc, prompt=f"q{doc}", metrics={"acc": 1.0}, correct=True)
                for doc in range(SAMPLES_PER_RUN[name])
            ]
            metric = MetricRecord(run_id=run_id, task=TASK, metric="acc", value=0.25 * (index + 1), higher_is_better=True)
            queries.save_task_results(database, run_id, [TASK], [metric], samples)
            queries.store_responses(database, f"key-{name}", "loglikelihood", {f"{name}-req-{i}": [[-1.0, True]] for i in range(2)}, run_id=run_id)
            if name != "gamma":
                queries.finish_run(database, run_id, computed=2, cached=0)
        arena_queries.add_prompts(database, PROMPTS)
        for prompt in arena_queries.list_prompts(database):
            for name in MODELS:
                arena_queries.add_completion(database, prompt.id, name, f"{name} answers prompt {prompt.id}")
    return Filled(url=url, run_ids=run_ids)


def sql(url: str, query: str, **params: object) -> list[tuple]:
    """Rows of a plain SQL query on a fresh engine (not the code under test)."""
    engine = create_engine(database_url(url))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query), params)]
    finally:
        engine.dispose()


def count_rows(url: str) -> dict[str, int]:
    engine = create_engine(database_url(url))
    try:
        with engine.connect() as connection:
            return {table: int(connection.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one()) for table in TABLES}
    finally:
        engine.dispose()
