"""`evalsuite metrics agreement --dataset arena`: judge vs people on the same battles, arena ratings vs board columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy.stats import kendalltau, spearmanr
from sqlmodel import select
from typer.testing import CliRunner

from evalsuite.agreement import arena
from evalsuite.arena import voting
from evalsuite.cli.app import app
from evalsuite.store import arena_queries, queries
from evalsuite.store.arena_queries import PromptInput
from evalsuite.store.db import open_database
from evalsuite.store.schema import MetricRecord, Vote

MODELS = ("alpha-7b", "beta-13b", "gamma-3b")
PROMPTS = (PromptInput("Name a prime number larger than 10.", "math"), PromptInput("Write one sentence about rivers.", "writing"))


def _answered_db(path: Path) -> Path:
    with open_database(path) as database:
        arena_queries.add_prompts(database, PROMPTS)
        for prompt in arena_queries.list_prompts(database):
            for number, model in enumerate(MODELS):
                arena_queries.add_completion(database, prompt.id, model, f"Answer {number} to prompt {prompt.id}.", {"source": "fixed test text"})
    return path


def _person_votes(database, votes: list[tuple[int, str, str, str]]) -> None:  # type: ignore[no-untyped-def]
    for i, (prompt_id, model_x, model_y, outcome) in enumerate(votes):
        battle = voting.issue_battle_for(database, f"person-{i}", prompt_id, model_x, model_y)
        arena_queries.record_vote(database, battle.token, outcome, f"person-{i}", voter_kind="human")


def test_the_demo_judge_agrees_with_people_as_counted_by_hand(tmp_path: Path) -> None:
    db = _answered_db(tmp_path / "arena.db")
    result = CliRunner().invoke(app, ["arena", "judge", "--judge", "demo/pico-judge", "--max-battles", "4", "--device", "cpu", "--db", str(db)])
    assert result.exit_code == 0, result.output
    with open_database(db) as database:
        with database.session() as session:
            judged = session.exec(select(Vote).where(Vote.voter_kind == "judge").order_by(Vote.id)).all()
        assert len(judged) == 4
        # per judged battle a person who names the judge's winner (or tie); on the first, also one who votes tie and one
        # who names the other model; one more vote on a battle the judge never saw (left out)
        same = [(v.prompt_id, v.model_a_key, v.model_b_key, v.outcome) for v in judged]
        first = judged[0]
        opposite = {"a": "b", "b": "a", "tie": "a"}[first.outcome]
        extra = [(first.prompt_id, first.model_a_key, first.model_b_key, "tie"), (first.prompt_id, first.model_a_key, first.model_b_key, opposite)]
        unjudged = next(
            (p.prompt_id, x, y) for p in arena_queries.prompts_with_answers(database) for x in p.answers for y in p.answers
            if x < y and all({x, y} != {v.model_a_key, v.model_b_key} or p.prompt_id != v.prompt_id for v in judged)
        )
        _person_votes(database, [*same, *extra, (*unjudged, "a")])
        ties = sum(v.outcome == "tie" for v in judged)
        (row,) = arena.judge_agreement(database)
    first_tie = first.outcome == "tie"
    assert row.judge == "demo/pico-judge" and row.battles == 4
    assert (row.agreement.pairs, row.agreement.agree) == (6, 4 + first_tie)
    assert (row.agreement.pairs_without_ties, row.agreement.agree_without_ties) == (4 - ties + (not first_tie), 4 - ties)
    printed = CliRunner().invoke(app, ["metrics", "agreement", "--dataset", "arena", "--db", str(db)], env={"COLUMNS": "200"})
    assert printed.exit_code == 0, printed.output
    assert f"demo/pico-judge │       4 │          6 │            {(4 + first_tie) / 6:.3f}" in printed.output


def _store_score(database, model: str, task: str, metric: str, value: float, higher: bool) -> None:  # type: ignore[no-untyped-def]
    row = queries.get_or_create_model(database, name=model, source="test", weights_sha256=f"sha-{model}")
    run = queries.create_run(database, model_id=row.id, backend="hf", config={}, config_hash=f"hash-{model}-{task}", tasks=[task])
    metric_row = MetricRecord(run_id=run.id, task=task, metric=metric, value=value, higher_is_better=higher, n_samples=10, n_total_docs=10, n_shot=0, task_version="1")
    queries.save_task_results(database, int(run.id or 0), [task], [metric_row], [])
    queries.finish_run(database, int(run.id or 0), computed=0, cached=0)


def test_arena_ratings_against_board_columns_equal_scipy_over_the_shared_models(tmp_path: Path) -> None:
    db = _answered_db(tmp_path / "both.db")
    accuracy = {"alpha-7b": 0.61, "beta-13b": 0.55, "gamma-3b": 0.30}
    perplexity = {"alpha-7b": 12.0, "beta-13b": 9.0, "gamma-3b": 30.0}
    with open_database(db) as database:
        # people: alpha beats beta and gamma most of the time, beta beats gamma most of the time (no model unbeaten)
        votes = [("alpha-7b", "beta-13b", "a")] * 3 + [("alpha-7b", "beta-13b", "b")] + [("beta-13b", "gamma-3b", "a")] * 3 \
            + [("beta-13b", "gamma-3b", "b")] + [("alpha-7b", "gamma-3b", "a")] * 3 + [("alpha-7b", "gamma-3b", "b")]
        _person_votes(database, [(1, x, y, o) for x, y, o in votes])
        for model in MODELS:
            _store_score(database, model, "arc_easy", "acc", accuracy[model], True)
            _store_score(database, model, "wikitext", "word_perplexity", perplexity[model], False)
        _store_score(database, "delta-1b", "arc_easy", "acc", 0.9, True)  # on the board only: not a shared model
        ratings = arena.arena_ratings(database)
        rows = {row.column: row for row in arena.benchmark_agreement(database)}
    assert set(ratings) == set(MODELS)
    for label, scores in (("arc_easy · acc", accuracy), ("wikitext · word_perplexity", perplexity)):
        row = next(row for column, row in rows.items() if column.startswith(label.split(" · ")[0]))
        assert row.models == 3
        assert row.spearman == pytest.approx(spearmanr([ratings[m] for m in MODELS], [scores[m] for m in MODELS]).statistic)
        assert row.kendall == pytest.approx(kendalltau([ratings[m] for m in MODELS], [scores[m] for m in MODELS]).statistic)
    assert rows[next(c for c in rows if c.startswith("arc_easy"))].spearman == pytest.approx(1.0)
