"""A hidden model is left out by every public reader: the board, the arena's pairing, the ratings.

One case per reader, so a new public query is one line in READERS. Each case reads the
admin fixture database (admin_fixtures.fill: alpha and beta with complete runs and samples,
gamma still running, all three answering two arena prompts) plus a third prompt only alpha
and beta answered and one human vote per pair; then hides beta and reads again. The
expected values are what the fixture holds, written out by hand.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from admin_fixtures import MODELS, Filled

from evalsuite.arena import voting
from evalsuite.store import admin_queries, arena_queries
from evalsuite.store import leaderboard_queries as lq
from evalsuite.store.arena_queries import PromptInput
from evalsuite.store.db import Database, open_database

HIDDEN = "beta"
ONLY_TWO = PromptInput("Only alpha and beta answered this.", "writing")
VOTES = (("alpha", "beta"), ("beta", "gamma"), ("alpha", "gamma"))
Reader = Callable[[Database], set[str]]


def _drawn(database: Database) -> set[str]:
    """Models the public vote page draws in 12 battles (seeded)."""
    rng = np.random.default_rng(0)
    drawn: set[str] = set()
    for _ in range(12):
        battle = voting.issue_battle(database, "anon-viewer", rng)
        drawn |= {name for name in MODELS if battle.answer_a.startswith(name) or battle.answer_b.startswith(name)}
    return drawn


def _pairable(database: Database) -> set[str]:
    texts = {prompt.id: prompt.text for prompt in arena_queries.list_prompts(database)}
    return {texts[prompt_id] for prompt_id in arena_queries.pairable_prompt_ids(database)}


def _rated(database: Database) -> set[str]:
    return {record[side] for record in arena_queries.vote_records(database) for side in ("model_a", "model_b")}


ALL, SHOWN = set(MODELS), set(MODELS) - {HIDDEN}
PROMPTS = {"Name a colour.", "What is 2 plus 2?", ONLY_TWO.text}
# reader name -> (reader, what it shows before beta is hidden, what it shows after)
READERS: dict[str, tuple[Reader, set[str], set[str]]] = {
    "board cells": (lambda db: {cell.model for cell in lq.leaderboard_cells(db)}, {"alpha", "beta"}, {"alpha"}),
    "board filter": (lambda db: set(lq.filter_options(db).models), {"alpha", "beta"}, {"alpha"}),
    "run pickers (samples, compare)": (lambda db: {choice.model for choice in lq.run_choices(db, complete_only=False)}, ALL, SHOWN),
    "arena contestants": (lambda db: set(arena_queries.answered_models(db)), ALL, SHOWN),
    "answers to a prompt": (lambda db: {answer.model_name for answer in arena_queries.answers_to(db, 1).values()}, ALL, SHOWN),
    "pairable prompts": (_pairable, PROMPTS, PROMPTS - {ONLY_TWO.text}),
    "battles drawn": (_drawn, ALL, SHOWN),
    "rated votes": (_rated, ALL, SHOWN),
    "rated vote counts": (lambda db: {f"{kind}:{n}" for kind, n in arena_queries.vote_counts_by_kind(db, rated_only=True).items()}, {"human:3"}, {"human:1"}),
}


def _add_pair_prompt_and_votes(database: Database) -> None:
    arena_queries.add_prompts(database, [ONLY_TWO])
    prompt_id = max(prompt.id for prompt in arena_queries.list_prompts(database))
    for name in ("alpha", "beta"):
        arena_queries.add_completion(database, prompt_id, name, f"{name} answers prompt {prompt_id}")
    for model_a, model_b in VOTES:
        battle = voting.issue_battle_for(database, "anon-voter", 1, model_a, model_b)
        arena_queries.record_vote(database, battle.token, "a", "anon-voter")


@pytest.mark.parametrize("reader_name", list(READERS))
def test_a_hidden_model_is_left_out_of_every_public_reader(filled: Filled, reader_name: str) -> None:
    reader, before, after = READERS[reader_name]
    with open_database(filled.url) as database:
        _add_pair_prompt_and_votes(database)
        assert reader(database) == before
        assert admin_queries.hide_model(database, HIDDEN) is True
        assert reader(database) == after
        assert admin_queries.unhide_model(database, HIDDEN) is True
        assert reader(database) == before
