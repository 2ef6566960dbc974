"""Outlier voters: flag (never silently drop) voters who disagree with everyone else far beyond chance.

A voter who clicks at random, or always for the underdog, or for one favourite model,
agrees with the other voters much less often than an honest one would.  The test:

1. **Consensus without the voter.** For each voter with at least ``min_votes``
   decisive votes (ties and both-bad say nothing about direction and are left out),
   fit Bradley–Terry on every *other* voter's battles (leave-one-voter-out, so a
   prolific voter cannot make the consensus agree with themself).  A faint ridge
   (``l2``, per battle) keeps it finite if the rest leave some model unbeaten.
2. **Agreement count.** For each of the voter's decisive votes, the consensus gives
   ``q = P(model_a wins)``; the vote *agrees* when it picked the consensus favourite
   (``model_a`` when ``q >= 0.5``).  Under the null hypothesis "this voter votes like
   the consensus", vote i agrees with probability ``p_i = max(q, 1 - q)``,
   independently, so the number of agreements A is Poisson-binomial(p_1..p_n).
   Votes involving a model nobody else rated are not tested.
3. **One-sided exact p-value** ``P(A <= observed)`` (too *little* agreement), from the
   Poisson-binomial distribution computed exactly by convolution.
4. **Holm's step-down correction** over all tested voters controls the chance of
   flagging any honest voter at ``alpha`` (0.05 by default); a voter is flagged when
   the Holm-adjusted p-value is at most ``alpha``.

FastChat's ``outlier_detect`` instead bets against each vote using per-pair win rates
(an anytime-valid e-value, no model fit) and removes the users it flags; we report
them and leave the decision to drop them to the person reading the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from evalsuite.arena.battles import MODEL_A_WINS, TIE, Battles
from evalsuite.arena.ratings import _fit_bt_logits, _single_threaded_blas, collapse_battles
from evalsuite.errors import ArenaError

TEST_DESCRIPTION = (
    "one-sided exact Poisson-binomial test of the voter's agreement with the leave-one-voter-out "
    "Bradley–Terry consensus (decisive votes only), Holm-corrected over the voters tested"
)


@dataclass(frozen=True)
class VoterCheck:
    """One voter's test: decisive votes tested, agreements observed and expected, p-values."""

    voter: str
    votes: int
    agreements: int
    expected: float
    p_value: float
    adjusted_p: float
    flagged: bool


@dataclass(frozen=True)
class OutlierReport:
    """Every voter tested (most suspicious first), the thresholds, and the test used."""

    checks: tuple[VoterCheck, ...]
    alpha: float
    min_votes: int
    untested_voters: int
    test: str = TEST_DESCRIPTION

    @property
    def flagged(self) -> tuple[VoterCheck, ...]:
        return tuple(check for check in self.checks if check.flagged)

    def to_json(self) -> dict[str, object]:
        return {
            "test": self.test, "alpha": self.alpha, "min_votes": self.min_votes,
            "untested_voters": self.untested_voters,
            "voters": [vars(check) for check in self.checks],
        }


def poisson_binomial_cdf(p: np.ndarray, k: int) -> float:
    """``P(sum of independent Bernoulli(p_i) <= k)``, exactly, by convolving one vote at a time."""
    pmf = np.zeros(len(p) + 1)
    pmf[0] = 1.0
    for i, pi in enumerate(p.tolist()):
        pmf[1 : i + 2] = pmf[1 : i + 2] * (1.0 - pi) + pmf[: i + 1] * pi
        pmf[0] *= 1.0 - pi
    return float(min(1.0, pmf[: k + 1].sum()))


def holm_adjust(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: ``max_{j<=i} min(1, (m - j + 1) p_(j))`` in sorted order."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p_values[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def _consensus_logits(battles: Battles, others: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """BT logits fitted on the ``others`` rows, and which models those rows include."""
    rest = battles.take(others)
    collapsed = collapse_battles(rest)
    w_lo, w_hi = collapsed.pair_weights()
    theta = _fit_bt_logits(collapsed.n_models, collapsed.pair_lo, collapsed.pair_hi, w_lo, w_hi, l2)
    seen = np.zeros(len(battles.models), dtype=bool)
    seen[rest.model_a] = True
    seen[rest.model_b] = True
    return theta, seen


def _check_voter(battles: Battles, voter: str, rows: np.ndarray, l2: float) -> tuple[int, int, float, float] | None:
    """(votes tested, agreements, expected agreements, one-sided p) for one voter, or None if untestable."""
    mine = np.zeros(len(battles), dtype=bool)
    mine[rows] = True
    if mine.all():
        return None
    theta, seen = _consensus_logits(battles, ~mine, l2)
    a, b = battles.model_a[rows], battles.model_b[rows]
    testable = seen[a] & seen[b]
    if not testable.any():
        return None
    q = expit(theta[a[testable]] - theta[b[testable]])
    favourite_is_a = q >= 0.5
    agreed = (battles.winner[rows][testable] == MODEL_A_WINS) == favourite_is_a
    p = np.where(favourite_is_a, q, 1.0 - q)
    observed = int(agreed.sum())
    return int(testable.sum()), observed, float(p.sum()), poisson_binomial_cdf(p, observed)


def flag_outlier_voters(
    battles: Battles, *, min_votes: int = 10, alpha: float = 0.05, l2: float = 1e-4
) -> OutlierReport:
    """Test every voter with ``min_votes`` decisive votes or more (see the module docstring)."""
    if battles.voter is None:
        raise ArenaError("the battles carry no voter ids, so no voter can be checked",
                         hint="rate stored votes, or a battles file with a voter (or judge) field")
    if min_votes < 1 or not 0.0 < alpha < 1.0:
        raise ArenaError(f"invalid outlier settings: min_votes={min_votes}, alpha={alpha}",
                         hint="use min_votes >= 1 and 0 < alpha < 1 (defaults 10 and 0.05)")
    decisive = np.flatnonzero(battles.winner < TIE)
    voters = battles.voter[decisive]
    names, counts = np.unique(np.array([v for v in voters if v is not None], dtype=object), return_counts=True)
    results: list[tuple[str, tuple[int, int, float, float]]] = []
    with _single_threaded_blas():
        for name in names[counts >= min_votes].tolist():
            outcome = _check_voter(battles, name, decisive[voters == name], l2)
            if outcome is not None:
                results.append((name, outcome))
    adjusted = holm_adjust(np.array([r[1][3] for r in results])) if results else np.array([])
    checks = [
        VoterCheck(voter=name, votes=n, agreements=agreed, expected=expected, p_value=p,
                   adjusted_p=float(adj), flagged=bool(adj <= alpha))
        for (name, (n, agreed, expected, p)), adj in zip(results, adjusted)
    ]
    checks.sort(key=lambda c: (c.p_value, c.voter))
    return OutlierReport(checks=tuple(checks), alpha=alpha, min_votes=min_votes,
                         untested_voters=len(names) - len(checks))
