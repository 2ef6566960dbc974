"""The store side of a public arena, on SQLite and PostgreSQL: the per-voter vote limit,
deleting a run, hiding a model from the board, the arena's pairing and its ratings.

Expected rows are counted with plain SQL (admin_fixtures.sql / count_rows); expected
waits are worked out by hand from the injected clock.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from admin_fixtures import MODELS, SAMPLES_PER_RUN, Filled, count_rows, sql

from evalsuite.arena import voting
from evalsuite.errors import AdminError, ArenaError
from evalsuite.store import admin_queries, arena_queries
from evalsuite.store import leaderboard_queries as lq
from evalsuite.store.db import open_database

T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def _battles(database, voter: str, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [voting.issue_battle(database, voter).token for _ in range(count)]


def test_votes_over_the_limit_are_refused_with_the_wait_until_the_minute_passes(filled: Filled) -> None:
    with open_database(filled.url) as database:
        tokens = _battles(database, "anon-1", 5)
        for second, token in enumerate(tokens[:3]):  # votes at T0, T0+1 s, T0+2 s
            arena_queries.record_vote(database, token, "a", "anon-1", votes_per_minute=3, now=T0 + timedelta(seconds=second))
        with pytest.raises(ArenaError, match="at most 3 per minute") as refused:
            arena_queries.record_vote(database, tokens[3], "b", "anon-1", votes_per_minute=3, now=T0 + timedelta(seconds=10))
        assert refused.value.hint.startswith("wait 50 s")  # the T0 vote leaves the window at T0+60 s
        assert sql(filled.url, "SELECT COUNT(*) FROM vote") == [(3,)]
        assert sql(filled.url, "SELECT voted FROM battle WHERE token = :t", t=tokens[3]) == [(False,)]  # still open
        other = _battles(database, "anon-2", 1)[0]  # another voter is not limited by anon-1's votes
        arena_queries.record_vote(database, other, "a", "anon-2", votes_per_minute=3, now=T0 + timedelta(seconds=10))
        with pytest.raises(ArenaError, match="at most 3 per minute"):  # T0's vote is still inside (T0-0.5, T0+59.5]
            arena_queries.record_vote(database, tokens[3], "b", "anon-1", votes_per_minute=3, now=T0 + timedelta(seconds=59.5))
        vote = arena_queries.record_vote(database, tokens[3], "b", "anon-1", votes_per_minute=3, now=T0 + timedelta(seconds=60.5))
        assert vote.outcome == "b"  # T0's vote has left the window: the same battle can be voted on now
        with pytest.raises(ArenaError, match="at most 3 per minute") as again:  # T0+1, T0+2 and T0+60.5 are inside
            arena_queries.record_vote(database, tokens[4], "a", "anon-1", votes_per_minute=3, now=T0 + timedelta(seconds=60.9))
        assert again.value.hint.startswith("wait 1 s")  # T0+1 leaves at T0+61: 0.1 s, rounded up
        arena_queries.record_vote(database, tokens[4], "a", "anon-1", now=T0 + timedelta(seconds=61))  # no limit passed: none applied
    assert sql(filled.url, "SELECT voter, COUNT(*) FROM vote GROUP BY voter ORDER BY voter") == [("anon-1", 5), ("anon-2", 1)]


def test_voters_racing_past_the_limit_store_exactly_the_limit(filled: Filled) -> None:
    limit, threads_count = 4, 10
    with open_database(filled.url) as database:
        tokens = _battles(database, "anon-racer", threads_count)
        barrier = threading.Barrier(threads_count)
        outcomes: list[str] = []

        def vote(token: str) -> None:
            barrier.wait()
            try:
                arena_queries.record_vote(database, token, "tie", "anon-racer", votes_per_minute=limit)
                outcomes.append("stored")
            except ArenaError as error:
                outcomes.append("limited" if "per minute" in error.message else error.message)

        threads = [threading.Thread(target=vote, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert sorted(outcomes) == ["limited"] * (threads_count - limit) + ["stored"] * limit
    assert sql(filled.url, "SELECT COUNT(*) FROM vote") == [(limit,)]
    assert sql(filled.url, "SELECT COUNT(*) FROM battle WHERE voted = :v", v=True) == [(limit,)]


def test_deleting_a_run_removes_exactly_its_rows_keeps_the_cache_and_spares_running_runs(filled: Filled) -> None:
    before = count_rows(filled.url)
    alpha, beta = filled.run_ids["alpha"], filled.run_ids["beta"]
    with open_database(filled.url) as database:
        deleted = admin_queries.delete_run(database, alpha)
        assert (deleted.model, deleted.status, deleted.metrics, deleted.samples, deleted.attempts) == (
            "alpha", "complete", 1, SAMPLES_PER_RUN["alpha"], 1
        )
        after = count_rows(filled.url)
        expected = {**before, "run": before["run"] - 1, "run_attempt": before["run_attempt"] - 1, "metric": before["metric"] - 1,
                    "sample": before["sample"] - SAMPLES_PER_RUN["alpha"]}
        assert after == expected  # request_cache, models and the arena untouched
        for table in ("metric", "sample", "run_attempt"):
            assert sql(filled.url, f"SELECT COUNT(*) FROM {table} WHERE run_id = :r", r=alpha) == [(0,)]
        assert sql(filled.url, "SELECT COUNT(*) FROM sample WHERE run_id = :r", r=beta) == [(SAMPLES_PER_RUN["beta"],)]
        assert sql(filled.url, "SELECT computed_by_run_id FROM request_cache WHERE model_key = 'key-alpha'") == [(None,), (None,)]
        assert sql(filled.url, "SELECT computed_by_run_id FROM request_cache WHERE model_key = 'key-beta'") == [(beta,), (beta,)]

        gamma = filled.run_ids["gamma"]  # still running: deleted only when forced
        with pytest.raises(AdminError, match=f"run {gamma} is still running") as refused:
            admin_queries.delete_run(database, gamma)
        assert "--force" in refused.value.hint
        assert sql(filled.url, "SELECT COUNT(*) FROM sample WHERE run_id = :r", r=gamma) == [(SAMPLES_PER_RUN["gamma"],)]
        assert admin_queries.delete_run(database, gamma, force=True).samples == SAMPLES_PER_RUN["gamma"]
        with pytest.raises(AdminError, match=f"no run with id {gamma}"):
            admin_queries.delete_run(database, gamma)
    assert sql(filled.url, "SELECT COUNT(*) FROM run WHERE id = :r", r=gamma) == [(0,)]


def _visible(database) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """What the public readers show of each model."""
    rng = np.random.default_rng(0)
    drawn = set()
    for _ in range(12):
        battle = voting.issue_battle(database, "anon-viewer", rng)
        drawn |= {name for name in MODELS if battle.answer_a.startswith(name) or battle.answer_b.startswith(name)}
    return {
        "board": sorted({cell.model for cell in lq.leaderboard_cells(database)}),
        "filter": lq.filter_options(database).models,
        "pickers": sorted({choice.model for choice in lq.run_choices(database, complete_only=False)}),
        "arena": arena_queries.answered_models(database),
        "drawn": sorted(drawn),
        "rated": sorted({r["model_a"] for r in arena_queries.vote_records(database)} | {r["model_b"] for r in arena_queries.vote_records(database)}),
    }


def test_a_hidden_model_leaves_the_board_the_pairing_and_the_ratings_and_comes_back(filled: Filled) -> None:
    with open_database(filled.url) as database:
        for model_a, model_b in (("alpha", "beta"), ("beta", "gamma"), ("alpha", "gamma")):
            keys = sorted(arena_queries.answers_to(database, 1))
            assert model_a in keys and model_b in keys
            battle = voting.issue_battle_for(database, "anon-3", 1, model_a, model_b)
            arena_queries.record_vote(database, battle.token, "a", "anon-3")
        shown = _visible(database)
        assert shown == {
            "board": ["alpha", "beta"], "filter": ["alpha", "beta"], "pickers": ["alpha", "beta", "gamma"],
            "arena": list(MODELS), "drawn": list(MODELS), "rated": list(MODELS),
        }
        version = lq.board_version(database)
        rows = count_rows(filled.url)

        assert admin_queries.hide_model(database, "beta") is True
        assert admin_queries.hide_model(database, "beta") is False  # already hidden
        assert _visible(database) == {
            "board": ["alpha"], "filter": ["alpha"], "pickers": ["alpha", "gamma"],
            "arena": ["alpha", "gamma"], "drawn": ["alpha", "gamma"], "rated": ["alpha", "gamma"],
        }
        assert [(r["model_a"], r["model_b"]) for r in arena_queries.vote_records(database)] == [("alpha", "gamma")]
        assert {c.model for c in lq.run_choices(database, complete_only=False, include_hidden=True)} == set(MODELS)
        assert lq.board_version(database) != version
        assert admin_queries.hidden_models(database) == ["beta"]
        battles_while_hidden = 12
        assert count_rows(filled.url) == {**rows, "hidden_model": 1, "battle": rows["battle"] + battles_while_hidden}

        assert admin_queries.unhide_model(database, "beta") is True
        assert admin_queries.unhide_model(database, "beta") is False
        assert _visible(database) == shown
        assert lq.board_version(database) == version
        with pytest.raises(AdminError, match="no model named 'bet'") as unknown:
            admin_queries.hide_model(database, "bet")
        assert "beta" in unknown.value.hint
