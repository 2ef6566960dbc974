"""Outlier voters: a planted contrarian is flagged, honest voters are not; the statistics are exact."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import binom
from statsmodels.stats.multitest import multipletests

from evalsuite.arena.battles import Battles, battles_from_records
from evalsuite.arena.outliers import flag_outlier_voters, holm_adjust, poisson_binomial_cdf
from evalsuite.errors import ArenaError

STRENGTH = np.array([1.2, 0.6, 0.0, -0.5, -1.3])  # natural logits


def _votes(rng: np.random.Generator, voter: str, n: int, contrarian: bool = False) -> list[dict]:
    """Votes drawn from the Bradley–Terry model; a contrarian picks the true underdog 85% of the time."""
    records = []
    for _ in range(n):
        a, b = rng.choice(len(STRENGTH), 2, replace=False)
        p_a = 1.0 / (1.0 + np.exp(STRENGTH[b] - STRENGTH[a]))
        if contrarian:
            underdog_is_a = p_a < 0.5
            a_won = underdog_is_a if rng.random() < 0.85 else not underdog_is_a
        else:
            a_won = rng.random() < p_a
        winner = "tie" if rng.random() < 0.1 else "model_a" if a_won else "model_b"
        records.append({"model_a": f"m{a}", "model_b": f"m{b}", "winner": winner, "voter": voter})
    return records


def _electorate(seed: int, contrarian: bool) -> Battles:
    rng = np.random.default_rng(seed)
    records = [r for v in range(15) for r in _votes(rng, f"honest-{v}", int(rng.integers(30, 120)))]
    if contrarian:
        records += _votes(rng, "contrarian", 40, contrarian=True)
    records += _votes(rng, "newcomer", 4)  # too few votes to test
    return battles_from_records(records)


def test_planted_contrarian_is_flagged_and_honest_voters_are_not() -> None:
    report = flag_outlier_voters(_electorate(seed=5, contrarian=True), min_votes=10)
    assert [check.voter for check in report.flagged] == ["contrarian"]
    assert len(report.checks) == 16 and report.untested_voters == 1
    worst = report.checks[0]
    assert worst.voter == "contrarian" and worst.agreements < worst.expected / 2
    assert "Poisson-binomial" in report.test and "Holm" in report.test


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_no_honest_voter_is_flagged(seed: int) -> None:
    report = flag_outlier_voters(_electorate(seed=seed, contrarian=False), min_votes=10)
    assert report.flagged == ()
    assert all(check.adjusted_p > 0.05 for check in report.checks)


def test_poisson_binomial_cdf_matches_binomial_and_enumeration() -> None:
    p = np.full(30, 0.7)
    for k in (0, 12, 21, 30):
        assert poisson_binomial_cdf(p, k) == pytest.approx(binom.cdf(k, 30, 0.7), rel=1e-12, abs=1e-300)
    mixed = np.array([0.9, 0.55, 0.7, 0.62, 0.99])
    for k in range(6):  # all 32 outcomes enumerated
        total = sum(
            np.prod(np.where(bits, mixed, 1.0 - mixed))
            for bits in itertools.product([0, 1], repeat=5) if sum(bits) <= k
        )
        assert poisson_binomial_cdf(mixed, k) == pytest.approx(total, rel=1e-12)


def test_holm_adjustment_matches_statsmodels() -> None:
    p_values = np.array([0.01, 0.04, 0.03, 0.2, 0.001, 0.04])
    expected = multipletests(p_values, method="holm")[1]
    np.testing.assert_allclose(holm_adjust(p_values), expected)


def test_outlier_check_needs_voter_ids() -> None:
    with pytest.raises(ArenaError, match="no voter ids"):
        flag_outlier_voters(battles_from_records([{"model_a": "x", "model_b": "y", "winner": "model_a"}]))
