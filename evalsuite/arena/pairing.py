"""Which two models to show next in the arena.

Uniform pairing wastes votes on pairs that already have thousands; a pair's
uncertainty shrinks like ``1/sqrt(n)``, so we favour pairs with few votes, gently:

    weight(pair) = min( (n + offset) ** -exponent,  max_weight_ratio * median weight )

with ``offset = 50``, ``exponent = 0.4`` (n = votes for that unordered pair so far).
The offset keeps brand-new pairs from being sampled almost exclusively; the
**cap** -- no pair weighs more than ``max_weight_ratio`` (4) times the median pair --
stops a newly added model, whose pairs all start at n = 0, from crowding out
everything else once the established pairs have tens of thousands of votes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from evalsuite.arena.battles import Battles
from evalsuite.errors import ArenaError

VOTE_OFFSET = 50.0
WEIGHT_EXPONENT = 0.4
MAX_WEIGHT_RATIO = 4.0

Pair = tuple[str, str]


def _unique_models(models: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(models))
    if len(unique) < 2:
        raise ArenaError(
            f"need at least two different models to pair, got {len(unique)}",
            hint="generate arena answers for at least two models",
        )
    return unique


def _votes_per_pair(pair_counts: Mapping[Pair, int]) -> dict[frozenset[str], int]:
    """Sum counts over both orientations of each unordered pair."""
    votes: dict[frozenset[str], int] = {}
    for (x, y), n in pair_counts.items():
        if n < 0:
            raise ArenaError(
                f"negative vote count {n} for pair ({x}, {y})",
                hint="pass the number of votes recorded for each pair",
            )
        key = frozenset((x, y))
        votes[key] = votes.get(key, 0) + int(n)
    return votes


def pair_weights(
    models: Sequence[str],
    pair_counts: Mapping[Pair, int],
    *,
    offset: float = VOTE_OFFSET,
    exponent: float = WEIGHT_EXPONENT,
    max_weight_ratio: float = MAX_WEIGHT_RATIO,
) -> dict[Pair, float]:
    """Probability of showing each unordered pair next (sums to 1).

    Keys are ``(x, y)`` in the order ``models`` lists them; pairs missing from
    ``pair_counts`` have 0 votes, and counts for models not in ``models`` are ignored.
    """
    names = _unique_models(models)
    votes = _votes_per_pair(pair_counts)
    pairs = [(x, y) for i, x in enumerate(names) for y in names[i + 1 :]]
    n = np.array([votes.get(frozenset(p), 0) for p in pairs], dtype=float)
    raw = (n + offset) ** -exponent
    capped = np.minimum(raw, max_weight_ratio * np.median(raw))
    probabilities = capped / capped.sum()
    return dict(zip(pairs, probabilities.tolist()))


def choose_pair(
    models: Sequence[str],
    pair_counts: Mapping[Pair, int],
    rng: np.random.Generator | None = None,
    **weight_options: float,
) -> Pair:
    """Draw the next pair to show, left/right order random (never one model twice).

    Args:
        models: models that have answers for the prompt.
        pair_counts: votes so far per pair, either orientation.
        rng: injected for reproducibility (``np.random.default_rng(seed)``).
        weight_options: ``offset``, ``exponent``, ``max_weight_ratio`` overrides.
    """
    generator = rng if rng is not None else np.random.default_rng()
    weights = pair_weights(models, pair_counts, **weight_options)
    pairs = list(weights)
    x, y = pairs[generator.choice(len(pairs), p=np.fromiter(weights.values(), float))]
    return (y, x) if generator.random() < 0.5 else (x, y)


def pair_counts_from_battles(battles: Battles) -> dict[Pair, int]:
    """Votes per unordered pair, keyed ``(a, b)`` with names in sorted order."""
    lo = np.minimum(battles.model_a, battles.model_b).astype(np.int64)
    hi = np.maximum(battles.model_a, battles.model_b).astype(np.int64)
    n = len(battles.models)
    keys, counts = np.unique(lo * n + hi, return_counts=True)
    return {
        (battles.models[k // n], battles.models[k % n]): int(c)
        for k, c in zip(keys.tolist(), counts.tolist())
    }
