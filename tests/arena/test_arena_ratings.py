"""Ratings checked against hand arithmetic, scikit-learn, raw-row resampling and the truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from evalsuite.arena.battles import Battles, battles_from_records
from evalsuite.arena.ratings import (
    EloParams,
    _elo_lockstep,
    _fit_bt_logits,
    _online_elo_array,
    bootstrap_bradley_terry,
    bradley_terry,
    compute_ratings,
    observed_win_rates,
    online_elo,
    pair_battle_counts,
    predicted_win_rates,
    rank_by_intervals,
)
from evalsuite.errors import ArenaError

TRUE_RATINGS = {"m0": 1250.0, "m1": 1120.0, "m2": 1040.0, "m3": 980.0, "m4": 880.0, "m5": 730.0}


def synthetic_battles(
    true: dict[str, float], n: int, seed: int, tie_rate: float = 0.0
) -> Battles:
    """Battles drawn from the Bradley–Terry model itself (uniform random pairs)."""
    rng = np.random.default_rng(seed)
    names = list(true)
    r = np.array([true[m] for m in names])
    a = rng.integers(0, len(names), n)
    b = (a + rng.integers(1, len(names), n)) % len(names)
    p_a = 1.0 / (1.0 + 10.0 ** ((r[b] - r[a]) / 400.0))
    a_won = rng.random(n) < p_a
    tie = rng.random(n) < tie_rate
    winner = np.where(tie, "tie", np.where(a_won, "model_a", "model_b")).astype(object)
    winner[tie & (rng.random(n) < 0.3)] = "tie (bothbad)"
    records = [
        {"model_a": names[x], "model_b": names[y], "winner": str(w), "tstamp": float(t)}
        for t, (x, y, w) in enumerate(zip(a, b, winner))
    ]
    return battles_from_records(records)


@pytest.fixture(scope="module")
def true_battles() -> Battles:
    return synthetic_battles(TRUE_RATINGS, 20_000, seed=7)


@pytest.fixture(scope="module")
def tied_battles() -> Battles:
    return synthetic_battles(TRUE_RATINGS, 3_000, seed=11, tie_rate=0.2)


def test_bt_recovers_true_ratings_inside_bootstrap_intervals(true_battles: Battles) -> None:
    # 6 intervals at once: at 95% each, all six cover only ~74% of the time even for a
    # perfect method, so check simultaneous coverage with 99% intervals (~94%).
    table = compute_ratings(true_battles, "bt", bootstrap_rounds=200, seed=0, ci_level=0.99)
    centre = 1000.0 - np.mean(list(TRUE_RATINGS.values()))  # BT ratings average 1000
    for model, rating in TRUE_RATINGS.items():
        row = table[model]
        assert row.lower <= rating + centre <= row.upper, (model, row)
        assert abs(row.rating - (rating + centre)) < 20.0
    assert [row.model for row in table.rows] == list(TRUE_RATINGS)


def test_bt_matches_sklearn_logistic_regression(tied_battles: Battles) -> None:
    # Independent fit: one ±1 design row per battle (ties: a won-row and a lost-row,
    # weight 1/2 each), unregularised logistic regression without intercept.
    n_battles, n_models = len(tied_battles), len(tied_battles.models)
    rows = np.arange(n_battles)
    design = np.zeros((n_battles, n_models))
    design[rows, tied_battles.model_a] = 1.0
    design[rows, tied_battles.model_b] = -1.0
    decided = tied_battles.winner < 2
    a_won = (tied_battles.winner == 0).astype(float)
    x = np.vstack([design[decided], design[~decided], design[~decided]])
    y = np.concatenate([a_won[decided], np.ones((~decided).sum()), np.zeros((~decided).sum())])
    weight = np.concatenate([np.ones(decided.sum()), np.full(2 * (~decided).sum(), 0.5)])
    # C=inf is sklearn >= 1.8's spelling of penalty=None (no regularisation).
    fit = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=100_000)
    fit.fit(x, y, sample_weight=weight)
    coef = fit.coef_[0] - fit.coef_[0].mean()
    expected = 1000.0 + 400.0 / math.log(10.0) * coef

    ours = bradley_terry(tied_battles)
    for i, model in enumerate(tied_battles.models):
        assert ours[model] == pytest.approx(expected[i], abs=0.01)


def test_online_elo_matches_hand_computed_three_votes() -> None:
    # Listed out of order on purpose: online Elo must follow tstamp (vote order).
    records = [
        {"model_a": "C", "model_b": "A", "winner": "model_b", "tstamp": 3.0},
        {"model_a": "A", "model_b": "B", "winner": "model_a", "tstamp": 1.0},
        {"model_a": "B", "model_b": "C", "winner": "tie", "tstamp": 2.0},
    ]
    # Vote 1, A beats B, both 1000: E_A = 1/(1+10^0) = 0.5
    #   A = 1000 + 4*(1 - 0.5) = 1002,  B = 1000 - 2 = 998
    # Vote 2, B ties C: E_B = 1/(1+10^((1000-998)/400)) = 1/(1+10^0.005)
    #   10^0.005 = e^(0.005*2.302585) = e^0.0115129 = 1.0115795 -> E_B = 1/2.0115795 = 0.4971218
    #   delta = 4*(0.5 - 0.4971218) = 0.0115128:  B = 998.0115128, C = 999.9884872
    # Vote 3, A (model_b) beats C: E_C = 1/(1+10^((1002-999.9884872)/400)) = 1/(1+10^0.0050288)
    #   10^0.0050288 = e^0.0115792 = 1.0116465 -> E_C = 1/2.0116465 = 0.4971052
    #   delta = 4*(0 - 0.4971052) = -1.9884208:  C = 998.0000664, A = 1003.9884208
    ratings = online_elo(battles_from_records(records))
    assert ratings["A"] == pytest.approx(1003.9884208, abs=1e-5)
    assert ratings["B"] == pytest.approx(998.0115128, abs=1e-5)
    assert ratings["C"] == pytest.approx(998.0000664, abs=1e-5)


def test_elo_lockstep_bootstrap_engine_equals_sequential_elo(tied_battles: Battles) -> None:
    b = tied_battles
    score = np.array([1.0, 0.0, 0.5, 0.5])[b.winner]
    sequential = _online_elo_array(b.model_a, b.model_b, score, len(b.models), EloParams())
    identity = np.tile(np.arange(len(b), dtype=np.int32), (3, 1))
    lockstep = _elo_lockstep(b.model_a, b.model_b, score, identity, len(b.models), EloParams())
    np.testing.assert_allclose(lockstep, np.tile(sequential, (3, 1)), atol=1e-9)


@pytest.mark.parametrize("method", ["bt", "elo"])
def test_bootstrap_is_seeded_and_contains_point_estimate(
    tied_battles: Battles, method: str
) -> None:
    first = compute_ratings(tied_battles, method, bootstrap_rounds=60, seed=3)  # type: ignore[arg-type]
    again = compute_ratings(tied_battles, method, bootstrap_rounds=60, seed=3)  # type: ignore[arg-type]
    other = compute_ratings(tied_battles, method, bootstrap_rounds=60, seed=4)  # type: ignore[arg-type]
    assert first.to_json_rows() == again.to_json_rows()
    assert first.to_json_rows() != other.to_json_rows()
    for row in first.rows:
        assert row.lower < row.rating < row.upper


def test_multinomial_bootstrap_matches_resampling_raw_battles(tied_battles: Battles) -> None:
    # Reference: resample the raw battle rows themselves and refit each round.
    rng = np.random.default_rng(5)
    b, n_models = tied_battles, len(tied_battles.models)
    share_a = np.array([1.0, 0.0, 0.5, 0.5])[b.winner]
    reference = []
    with threadpool_limits(limits=1, user_api="blas"):  # as the library does; see ratings.py
        for _ in range(200):
            rows = rng.integers(0, len(b), len(b))
            theta = _fit_bt_logits(n_models, b.model_a[rows], b.model_b[rows],
                                   share_a[rows], 1.0 - share_a[rows])
            reference.append(1000.0 + 400.0 / math.log(10.0) * theta)
    reference_sd = np.std(reference, axis=0)
    ours_sd = bootstrap_bradley_terry(b, rounds=200, seed=5).std(axis=0).to_numpy()
    np.testing.assert_allclose(ours_sd, reference_sd, rtol=0.2)


def test_rank_counts_models_clearly_above() -> None:
    lower = np.array([1100.0, 1090.0, 1000.0, 950.0])
    upper = np.array([1150.0, 1120.0, 1095.0, 990.0])
    # model 0: nobody's lower > 1150 -> 1; model 1: nobody's lower > 1120 -> 1
    # model 2: lower 1100 > 1095 (model 0) -> 2; model 3: 1100, 1090, 1000 > 990 -> 4
    assert rank_by_intervals(lower, upper).tolist() == [1, 1, 2, 4]


def test_win_rate_matrices_and_counts() -> None:
    records = [
        {"model_a": "x", "model_b": "y", "winner": "model_a"},
        {"model_a": "y", "model_b": "x", "winner": "model_a"},
        {"model_a": "x", "model_b": "y", "winner": "tie (bothbad)"},
        {"model_a": "x", "model_b": "z", "winner": "model_a"},
    ]
    battles = battles_from_records(records)
    counts = pair_battle_counts(battles)
    assert counts.loc["x", "y"] == counts.loc["y", "x"] == 3
    assert counts.loc["y", "z"] == 0
    observed = observed_win_rates(battles)
    assert observed.loc["x", "y"] == pytest.approx((1 + 0.5) / 3)  # 1 win, 1 half-tie of 3
    assert observed.loc["y", "x"] == pytest.approx((1 + 0.5) / 3)
    assert observed.loc["x", "z"] == 1.0 and observed.loc["z", "x"] == 0.0
    assert math.isnan(observed.loc["y", "z"])
    predicted = predicted_win_rates({"x": 1400.0, "y": 1000.0})
    assert predicted.loc["x", "y"] == pytest.approx(10 / 11)  # 400 points = 10:1 odds
    assert predicted.loc["x", "y"] + predicted.loc["y", "x"] == pytest.approx(1.0)


def test_anchor_shifts_ratings_and_unknown_anchor_suggests_name(true_battles: Battles) -> None:
    free = bradley_terry(true_battles)
    anchored = bradley_terry(true_battles, anchor={"m3": 1114.0})
    assert anchored["m3"] == pytest.approx(1114.0)
    shift = 1114.0 - free["m3"]
    for model in free:
        assert anchored[model] == pytest.approx(free[model] + shift)
    with pytest.raises(ArenaError, match="anchor model 'm33'") as error:
        compute_ratings(true_battles, anchor={"m33": 1000.0})
    assert "did you mean 'm3'" in error.value.hint


def test_unbeaten_model_raises_unless_regularised() -> None:
    records = [
        {"model_a": "champ", "model_b": "x", "winner": "model_a"},
        {"model_a": "x", "model_b": "y", "winner": "model_a"},
        {"model_a": "y", "model_b": "x", "winner": "model_a"},
    ]
    battles = battles_from_records(records)
    with pytest.raises(ArenaError, match="unbounded"):
        bradley_terry(battles)
    ratings = bradley_terry(battles, l2=1e-2)
    assert ratings["champ"] > ratings["x"] and math.isfinite(ratings["champ"])


def test_json_rows_have_exact_keys(tied_battles: Battles) -> None:
    keys = ["model", "rating", "lower", "upper", "rank", "battles"]
    bt = compute_ratings(tied_battles, "bt", bootstrap_rounds=5)
    assert [list(row) for row in bt.to_json_rows()] == [keys + ["elo_online"]] * 6
    elo = compute_ratings(tied_battles, "elo", bootstrap_rounds=5)
    assert [list(row) for row in elo.to_json_rows()] == [keys] * 6
    bare = compute_ratings(tied_battles, "bt", bootstrap_rounds=0, with_online_elo=False)
    assert all(r["lower"] == r["rating"] == r["upper"] for r in bare.to_json_rows())
    assert sum(r["battles"] for r in bare.to_json_rows()) == 2 * len(tied_battles)


def test_bad_options_raise_arena_error(tied_battles: Battles) -> None:
    with pytest.raises(ArenaError, match="unknown rating method"):
        compute_ratings(tied_battles, "glicko")  # type: ignore[arg-type]
    with pytest.raises(ArenaError, match="bootstrap rounds"):
        compute_ratings(tied_battles, bootstrap_rounds=-1)
