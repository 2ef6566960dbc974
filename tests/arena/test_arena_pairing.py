"""Pair sampling: never a self-pair, favours under-voted pairs, frequencies match weights."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.stats import chisquare

from evalsuite.arena.battles import Battle, Battles
from evalsuite.arena.pairing import choose_pair, pair_counts_from_battles, pair_weights
from evalsuite.errors import ArenaError

MODELS = ["a", "b", "c", "d"]
COUNTS = {("a", "b"): 5000, ("c", "a"): 800, ("a", "d"): 0, ("b", "c"): 30,
          ("d", "b"): 120, ("c", "d"): 2000}


def test_never_pairs_a_model_with_itself_and_both_sides_occur() -> None:
    rng = np.random.default_rng(0)
    draws = [choose_pair(MODELS, COUNTS, rng) for _ in range(2000)]
    assert all(x != y for x, y in draws)
    assert {("a", "d"), ("d", "a")} <= set(draws)


def test_under_voted_pairs_are_chosen_more_often() -> None:
    rng = np.random.default_rng(1)
    seen = Counter(frozenset(choose_pair(MODELS, COUNTS, rng)) for _ in range(6000))
    assert seen[frozenset("ad")] > seen[frozenset("cd")] > seen[frozenset("ab")]


def test_frequencies_match_weights_chi_square() -> None:
    # Independent expected weights, straight from the documented formula:
    # w = min((n + 50) ** -0.4, 4 * median w); pairs a-d 0, b-c 30, b-d 120, a-c 800,
    # c-d 2000, a-b 5000 votes.
    votes = {"ab": 5000, "ac": 800, "ad": 0, "bc": 30, "bd": 120, "cd": 2000}
    raw = {p: (n + 50) ** -0.4 for p, n in votes.items()}
    cap = 4 * float(np.median(list(raw.values())))
    weight = {p: min(w, cap) for p, w in raw.items()}
    expected_p = np.array([weight[p] for p in votes]) / sum(weight.values())

    rng = np.random.default_rng(2)
    n_draws = 20_000
    seen = Counter("".join(sorted(choose_pair(MODELS, COUNTS, rng))) for _ in range(n_draws))
    observed = np.array([seen[p] for p in votes])
    assert chisquare(observed, expected_p * n_draws).pvalue > 0.001
    np.testing.assert_allclose(list(pair_weights(MODELS, COUNTS).values()), expected_p)


def test_cap_limits_new_model_pairs() -> None:
    models = [f"m{i}" for i in range(6)] + ["new"]
    counts = {(f"m{i}", f"m{j}"): 100_000 for i in range(6) for j in range(i + 1, 6)}
    weights = pair_weights(models, counts)
    new_pair, old_pair = weights[("m0", "new")], weights[("m0", "m1")]
    # Uncapped the ratio would be (100050 / 50) ** 0.4 = 20.9; the cap holds it at 4x the
    # median pair (the median is an old pair here).
    assert new_pair / old_pair == pytest.approx(4.0)


def test_seeded_rng_reproduces_draws() -> None:
    first = [choose_pair(MODELS, COUNTS, np.random.default_rng(9)) for _ in range(3)]
    again = [choose_pair(MODELS, COUNTS, np.random.default_rng(9)) for _ in range(3)]
    assert first == again


def test_fewer_than_two_models_raises() -> None:
    with pytest.raises(ArenaError, match="at least two different models"):
        choose_pair(["a", "a"], {})


def test_pair_counts_from_battles_merges_orientations() -> None:
    battles = Battles.from_battles([
        Battle("x", "y", "tie"), Battle("y", "x", "model_a"), Battle("x", "z", "model_b"),
    ])
    assert pair_counts_from_battles(battles) == {("x", "y"): 2, ("x", "z"): 1}
