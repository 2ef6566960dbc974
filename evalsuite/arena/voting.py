"""Issuing battles and reading votes back: the arena's policy over the store's rows.

The store (``evalsuite.store.arena_queries``) reads and writes prompts, answers,
battles and votes; this module decides *which* battle a voter sees — a prompt drawn
uniformly among those with two or more answers, the pair drawn by
:func:`evalsuite.arena.pairing.choose_pair` (pairs with few human votes first, never a
model against itself) — and turns stored votes into the :class:`Battles` the ratings take.
Keeping the policy here keeps the store below the arena: it never imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from evalsuite.arena.battles import Battles, battles_from_records
from evalsuite.arena.pairing import choose_pair
from evalsuite.errors import ArenaError
from evalsuite.redact import mask_secrets
from evalsuite.store import arena_queries
from evalsuite.store.admin_queries import hidden_models
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


VOTER_KIND_NAMES = {"human": "people", "judge": "model judges"}
Remedy = Literal["unhide", "other_kinds", "vote"]


@dataclass(frozen=True)
class Shortage:
    """Why the chosen voter kinds leave nothing to rate: a true sentence, and which remedy fits."""

    message: str
    remedy: Remedy


@dataclass(frozen=True)
class VoteTally:
    """Stored votes per voter kind, and how many of them the ratings may use (no hidden model).

    One reading for every place that must say why there is nothing to rate, or pick
    the voter kind to show first, so the CLI and the ratings page tell the same story.
    """

    stored: Mapping[str, int]
    rated: Mapping[str, int]
    hidden: tuple[str, ...]

    def rated_of(self, kinds: Sequence[str]) -> int:
        return sum(self.rated.get(kind, 0) for kind in kinds)

    def default_kind(self) -> str:
        """People when they have usable votes, else model judges when those have, else people."""
        return next((kind for kind in ("human", "judge") if self.rated.get(kind, 0)), "human")

    def shortage(self, kinds: Sequence[str]) -> Shortage | None:
        """None when ``kinds`` have votes to rate; else what is true about the votes that exist."""
        if self.rated_of(kinds):
            return None
        who = " or ".join(VOTER_KIND_NAMES[kind] for kind in kinds)
        stored = sum(self.stored.get(kind, 0) for kind in kinds)
        if stored:
            return Shortage(f"all {stored} votes by {who} involve a hidden model ({', '.join(self.hidden)})", "unhide")
        others = {kind: n for kind, n in self.rated.items() if kind not in kinds and n}
        if others:
            listed = ", ".join(f"{n} votes by {VOTER_KIND_NAMES.get(kind, kind)}" for kind, n in others.items())
            return Shortage(f"no votes by {who} yet ({listed} are stored)", "other_kinds")
        return Shortage(f"no votes by {who} yet", "vote")


CLI_REMEDIES: dict[Remedy, str] = {
    "unhide": "`evalsuite admin unhide-model NAME` counts a hidden model's votes again",
    "other_kinds": "pass --include-judges to count model-judge votes",
    "vote": "vote on the arena page (`evalsuite leaderboard`) or run `evalsuite arena judge --judge MODEL`",
}


def vote_tally(database: Database) -> VoteTally:
    return VoteTally(
        stored=arena_queries.vote_counts_by_kind(database),
        rated=arena_queries.vote_counts_by_kind(database, rated_only=True),
        hidden=tuple(hidden_models(database)),
    )


def stored_battles(
    database: Database, *, include_judges: bool = False, voter_kinds: Sequence[str] | None = None,
    with_answers: bool = False,
) -> Battles:
    """Stored votes as :class:`Battles` (what the ratings take); ArenaError saying why when there are none.

    Human votes only unless ``include_judges``; ``voter_kinds`` selects kinds explicitly;
    ``with_answers`` also loads the answer texts (leak filter, style control).
    """
    kinds = arena_queries.selected_kinds(include_judges, voter_kinds)
    return battles_from_records(stored_vote_records(database, kinds, with_answers=with_answers), source="vote table")


def stored_vote_records(database: Database, kinds: Sequence[str], *, with_answers: bool = False) -> list[dict[str, Any]]:
    """The stored votes of ``kinds`` as records (:func:`arena_queries.vote_records`); ArenaError saying why when none."""
    records = arena_queries.vote_records(database, voter_kinds=kinds, with_answers=with_answers)
    if not records:
        shortage = vote_tally(database).shortage(kinds) or Shortage("no votes to rate", "vote")
        raise ArenaError(f"{shortage.message} in {mask_secrets(database.url)}", hint=CLI_REMEDIES[shortage.remedy])
    return records
