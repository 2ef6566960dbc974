"""`evalsuite metrics agreement --dataset arena`: judge vs people on the same battles, arena ratings vs board columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from arena_agreement_db import MODELS, answered_db, cast_votes, store_score
from scipy.stats import kendalltau, spearmanr
from sqlmodel import select
from typer.testing import CliRunner

from evalsuite.agreement import arena
from evalsuite.cli.app import app
from evalsuite.store import arena_queries
from evalsuite.store.db import open_database
from evalsuite.store.schema import Vote


def test_the_demo_judge_agrees_with_people_as_counted_by_hand(tmp_path: Path) -> None:
    db = answered_db(tmp_path / "arena.db")
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
        cast_votes(database, [*same, *extra, (*unjudged, "a")])
        ties = sum(v.outcome == "tie" for v in judged)
        (row,) = arena.judge_agreement(database)
    first_tie = first.outcome == "tie"
    assert row.judge == "demo/pico-judge" and row.battles == 4
    assert (row.agreement.pairs, row.agreement.agree) == (6, 4 + first_tie)
    assert (row.agreement.pairs_without_ties, row.agreement.agree_without_ties) == (4 - ties + (not first_tie), 4 - ties)
    printed = CliRunner().invoke(app, ["metrics", "agreement", "--dataset", "arena", "--db", str(db)], env={"COLUMNS": "200"})
    assert printed.exit_code == 0, printed.output
    assert f"demo/pico-judge │       4 │          6 │            {(4 + first_tie) / 6:.3f}" in printed.output


def test_arena_ratings_against_board_columns_equal_scipy_over_the_shared_models(tmp_path: Path) -> None:
    db = answered_db(tmp_path / "both.db")
    accuracy = {"alpha-7b": 0.61, "beta-13b": 0.55, "gamma-3b": 0.30}
    perplexity = {"alpha-7b": 12.0, "beta-13b": 9.0, "gamma-3b": 30.0}
    with open_database(db) as database:
        # people: alpha beats beta and gamma most of the time, beta beats gamma most of the time (no model unbeaten)
        votes = [("alpha-7b", "beta-13b", "a")] * 3 + [("alpha-7b", "beta-13b", "b")] + [("beta-13b", "gamma-3b", "a")] * 3 \
            + [("beta-13b", "gamma-3b", "b")] + [("alpha-7b", "gamma-3b", "a")] * 3 + [("alpha-7b", "gamma-3b", "b")]
        cast_votes(database, [(1, x, y, o) for x, y, o in votes])
        for model in MODELS:
            store_score(database, model, "arc_easy", "acc", accuracy[model], True)
            store_score(database, model, "wikitext", "word_perplexity", perplexity[model], False)
        store_score(database, "delta-1b", "arc_easy", "acc", 0.9, True)  # on the board only: not a shared model
        ratings = arena.arena_ratings(database)
        rows = {row.column: row for row in arena.benchmark_agreement(database)}
    assert set(ratings) == set(MODELS)
    for label, scores in (("arc_easy · acc", accuracy), ("wikitext · word_perplexity", perplexity)):
        row = next(row for column, row in rows.items() if column.startswith(label.split(" · ")[0]))
        assert row.models == 3
        assert row.spearman == pytest.approx(spearmanr([ratings[m] for m in MODELS], [scores[m] for m in MODELS]).statistic)
        assert row.kendall == pytest.approx(kendalltau([ratings[m] for m in MODELS], [scores[m] for m in MODELS]).statistic)
    assert rows[next(c for c in rows if c.startswith("arc_easy"))].spearman == pytest.approx(1.0)
