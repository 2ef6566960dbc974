"""Issuing battles and reading votes back: the arena's policy over the store's rows.

The store (``evalsuite.store.arena_queries``) reads and writes prompts, answers,
battles and votes; this module decides *which* battle a voter sees — a prompt drawn
uniformly among those with two or more answers, the pair drawn by
:func:`evalsuite.arena.pairing.choose_pair` (pairs with few human votes first, never a
model against itself) — and turns stored votes into the :class:`Battles` the ratings take.
Keeping the policy here keeps the store below the arena: it never imports it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evalsuite.arena.battles import Battles, battles_from_records
from evalsuite.arena.pairing import choose_pair
from evalsuite.errors import ArenaError
from evalsuite.store import arena_queries
from evalsuite.store.arena_queries import IssuedBattle
from evalsuite.store.db import Database


def issue_battle(database: Database, voter: str, rng: np.random.Generator | None = None) -> IssuedBattle:
    """Draw a prompt and two models that answered it, store the battle, return its token and texts."""
    generator = rng if rng is not None else np.random.default_rng()
    counts = arena_queries.pair_vote_counts(database)
    prompt_ids = arena_queries.pairable_prompt_ids(database)
    if not prompt_ids:
        raise ArenaError(
            "no prompt has answers from two different models yet",
            hint="run `evalsuite arena generate --model A` for at least two models",
        )
    prompt_id = prompt_ids[int(generator.integers(len(prompt_ids)))]
    answers = arena_queries.answers_to(database, prompt_id)
    model_a, model_b = choose_pair(sorted(answers), counts, generator)
    return arena_queries.store_battle(database, voter, answers[model_a], answers[model_b])


def issue_battle_for(database: Database, voter: str, prompt_id: int, model_a: str, model_b: str) -> IssuedBattle:
    """Store a battle for a given prompt and pair of model keys (the judge's way in); same token rules."""
    if model_a == model_b:
        raise ArenaError(f"model {model_a!r} cannot battle itself", hint="pick two different models")
    answers = arena_queries.answers_to(database, prompt_id, (model_a, model_b))
    for model in (model_a, model_b):
        if model not in answers:
            raise ArenaError(
                f"model {model!r} has no answer to prompt {prompt_id}",
                hint=f"run `evalsuite arena generate --model {model}` first",
            )
    return arena_queries.store_battle(database, voter, answers[model_a], answers[model_b])


def stored_battles(
    database: Database, *, include_judges: bool = False, voter_kinds: Sequence[str] | None = None,
    with_answers: bool = False,
) -> Battles:
    """Stored votes as :class:`Battles` (what the ratings take); ArenaError when there are none.

    Human votes only unless ``include_judges``; ``voter_kinds`` selects kinds explicitly;
    ``with_answers`` also loads the answer texts (leak filter, style control).
    """
    records = arena_queries.vote_records(
        database, include_judges=include_judges, voter_kinds=voter_kinds, with_answers=with_answers
    )
    if not records:
        which = "judge or human" if include_judges else "human"
        raise ArenaError(
            f"no {which} votes recorded in {database.url}",
            hint="vote on the arena page (`evalsuite leaderboard`), run `evalsuite arena judge`, or pass --include-judges",
        )
    return battles_from_records(records, source="vote table")
