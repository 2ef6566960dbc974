"""Figures for the arena's abuse resistance: style-control recovery, plain-BT agreement, outlier error rates, speed.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python bench/arena_abuse_figures.py`` (about a minute on 2 cores).
Simulations only (no download): battles drawn from the models the methods assume, with known truth.
"""

from __future__ import annotations

import math
import time

import numpy as np

from evalsuite.arena.battles import Battles, battles_from_records
from evalsuite.arena.outliers import flag_outlier_voters
from evalsuite.arena.ratings import bradley_terry
from evalsuite.arena.style import compute_style_control

POINTS = 400.0 / math.log(10.0)


def planted(n: int, n_models: int, beta: np.ndarray, seed: int) -> tuple[Battles, np.ndarray]:
    """Battles from σ(θ_a − θ_b + β·z) where longer/more formatted models are not the stronger ones."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 0.7, n_models)
    mean_tokens = np.exp(rng.normal(5.5, 0.6, n_models))
    mean_headers = rng.uniform(0.2, 3.0, n_models)
    a = rng.integers(0, n_models, n)
    b = (a + rng.integers(1, n_models, n)) % n_models

    def counts(models: np.ndarray) -> np.ndarray:
        return np.column_stack([
            (mean_tokens[models] * rng.lognormal(0.0, 0.8, n)).astype(int), rng.poisson(mean_headers[models]),
            rng.poisson(1.5, n), rng.poisson(1.0, n),
        ]).astype(float)

    ca, cb = counts(a), counts(b)
    ratio = (ca - cb) / (ca + cb + 1.0)
    z = (ratio - ratio.mean(axis=0)) / ratio.std(axis=0)
    a_won = rng.random(n) < 1.0 / (1.0 + np.exp(-(theta[a] - theta[b] + z @ beta)))
    names = [f"m{i:03d}" for i in range(n_models)]
    battles = battles_from_records([
        {"model_a": names[x], "model_b": names[y], "winner": "model_a" if w else "model_b"}
        for x, y, w in zip(a.tolist(), b.tolist(), a_won.tolist())
    ])
    return Battles(**{**vars(battles), "style_a": ca, "style_b": cb}), theta


def style_recovery() -> None:
    beta = np.array([0.6, 0.3, 0.0, 0.0])
    print("style control recovery (planted beta = tokens 0.6, headers 0.3, lists 0, bold 0)")
    for n, n_models in ((20_000, 5), (200_000, 50)):
        battles, theta = planted(n, n_models, beta, seed=1)
        start = time.perf_counter()
        result = compute_style_control(battles, bootstrap_rounds=0)
        seconds = time.perf_counter() - start
        truth = 1000.0 + POINTS * (theta - theta.mean())
        order = [int(m[1:]) for m in battles.models]
        style_err = np.abs(np.array([result.table[m].rating for m in battles.models]) - truth[order])
        plain = bradley_terry(battles)
        plain_err = np.abs(np.array([plain[m] for m in battles.models]) - truth[order])
        coef = ", ".join(f"{k} {v:+.3f}" for k, v in result.coefficients.items())
        print(f"  n={n:>7} models={n_models:>3}: beta_hat {coef}; rating error max/mean "
              f"style {style_err.max():.1f}/{style_err.mean():.1f} vs plain {plain_err.max():.1f}/{plain_err.mean():.1f} "
              f"points; fit {seconds:.2f} s")
    zero = Battles(**{**vars(battles), "style_a": np.zeros((len(battles), 4)), "style_b": np.zeros((len(battles), 4))})
    flat = compute_style_control(zero, bootstrap_rounds=0)
    plain = bradley_terry(zero)
    diff = max(abs(flat.table[m].rating - plain[m]) for m in zero.models)
    print(f"  features carrying nothing (n={len(zero)}): max |style-controlled - bradley_terry| = {diff:.2e} points")


def electorate(rng: np.random.Generator, contrarian: bool) -> Battles:
    strength = np.array([1.2, 0.6, 0.0, -0.5, -1.3])
    records = []
    voters = [(f"honest-{v}", int(rng.integers(30, 120)), False) for v in range(15)]
    voters += [("contrarian", 40, True)] if contrarian else []
    for voter, n, against in voters:
        for _ in range(n):
            a, b = rng.choice(5, 2, replace=False)
            p_a = 1.0 / (1.0 + np.exp(strength[b] - strength[a]))
            a_won = (p_a < 0.5) == (rng.random() < 0.85) if against else rng.random() < p_a
            records.append({"model_a": f"m{a}", "model_b": f"m{b}", "voter": voter,
                            "winner": "model_a" if a_won else "model_b"})
    return battles_from_records(records)


def outlier_rates(trials: int = 100) -> None:
    rng = np.random.default_rng(0)
    false_alarm = sum(bool(flag_outlier_voters(electorate(rng, False)).flagged) for _ in range(trials))
    caught = 0
    for _ in range(trials):
        flagged = {c.voter for c in flag_outlier_voters(electorate(rng, True)).flagged}
        caught += flagged == {"contrarian"}
    print(f"outlier voters over {trials} simulated electorates of 15 honest voters (30-120 votes each):")
    print(f"  any honest voter flagged: {false_alarm}/{trials}; contrarian (85% underdog, 40 votes) flagged alone: {caught}/{trials}")


if __name__ == "__main__":
    style_recovery()
    outlier_rates()
