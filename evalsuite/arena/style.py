"""Style control: Bradley–Terry with answer length and markdown as covariates.

People prefer longer, more formatted answers whatever their substance.  Style control
(LMSYS, "Does style matter? Disentangling style and substance in Chatbot Arena",
Aug 2024) fits the model strengths *jointly* with a coefficient per style feature, so a
model's rating no longer rewards its length or its headers; the Chatbot Arena board
shows these ratings beside the plain ones, and so do we.

Features, as FastChat defines them (``rating_systems.preprocess_for_style``): for each
battle and each count c in (tokens, headers, list items, bold spans; see
:mod:`evalsuite.arena.markdown`), ``x_c = (c_a - c_b) / (c_a + c_b + 1)``; then each
feature is standardised over the battles, ``(x - mean) / std`` (population std).  A
feature with no variation (std 0) carries nothing: its column is all zero and its
coefficient stays 0, where FastChat would divide by zero.

Model, with θ in natural logits and β per standardised feature:
``P(a beats b) = σ(θ_a - θ_b + β·x)``, ties and both-bad counted as half a win each
way (as in :func:`evalsuite.arena.ratings.bradley_terry`); ratings are
``1000 + 400/ln 10 · (θ - mean θ)``, the same Elo scale.  FastChat adds a ridge of
0.5 on the *summed* loss (negligible at arena sizes); we default to none, so with
features that carry nothing the ratings equal :func:`bradley_terry`'s exactly; ``l2``
is per battle, as there.

Fitted by damped Newton's method (the Hessian is (models + 4)²), which reaches the
optimum to rounding error in a handful of steps; the direction that adds a constant
to every θ is flat and handled by a least-squares solve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from evalsuite.arena.battles import Battles
from evalsuite.arena.markdown import STYLE_COUNTS, count_styles
from evalsuite.arena.ratings import (
    RatingScale,
    RatingTable,
    _anchor_index,
    _check_identifiable,
    _logits_to_ratings,
    _require_battles,
    assemble_table,
    check_options,
    collapse_battles,
)
from evalsuite.errors import ArenaError

_SCORE_A = np.array([1.0, 0.0, 0.5, 0.5])
_MAX_NEWTON_STEPS = 100


@dataclass(frozen=True)
class StyleFeatures:
    """The standardised per-battle style features and how they were standardised.

    Attributes:
        names: feature names, :data:`~evalsuite.arena.markdown.STYLE_COUNTS`.
        ratio: (n, 4) ``(c_a - c_b) / (c_a + c_b + 1)`` before standardising.
        mean, std: per feature, over the battles (std with ddof 0, as numpy's default).
        matrix: (n, 4) ``(ratio - mean) / std``; all-zero columns where std is 0.
    """

    names: tuple[str, ...]
    ratio: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    matrix: np.ndarray


def style_counts(battles: Battles) -> tuple[np.ndarray, np.ndarray]:
    """Per-answer counts (n, 4) for answers A and B: ``conv_metadata`` first, else counted from texts.

    Raises ArenaError naming how many battles have neither.
    """
    n = len(battles)
    counts = {}
    for side in ("a", "b"):
        given = getattr(battles, f"style_{side}")
        side_counts = np.full((n, len(STYLE_COUNTS)), np.nan) if given is None else given.copy()
        texts = getattr(battles, f"answer_{side}")
        missing = np.isnan(side_counts).any(axis=1)
        if texts is not None and missing.any():
            side_counts[missing] = count_styles(texts[missing])
        counts[side] = side_counts
    unknown = int((np.isnan(counts["a"]).any(axis=1) | np.isnan(counts["b"]).any(axis=1)).sum())
    if unknown:
        raise ArenaError(
            f"style control needs answer lengths and markdown counts, but {unknown} of {n} battles have none",
            hint="rate votes from the database (answer texts are stored), or a battles file with FastChat's "
            "conv_metadata or conversation_a/conversation_b; or drop --style-control",
        )
    return counts["a"], counts["b"]


def style_features(counts_a: np.ndarray, counts_b: np.ndarray) -> StyleFeatures:
    """FastChat's features: ``(a - b) / (a + b + 1)`` per count, then standardised."""
    ratio = (counts_a - counts_b) / (counts_a + counts_b + 1.0)
    mean = ratio.mean(axis=0)
    std = ratio.std(axis=0)
    centred = ratio - mean
    varies = std > 0.0
    matrix = np.zeros_like(ratio)
    matrix[:, varies] = centred[:, varies] / std[varies]
    return StyleFeatures(names=STYLE_COUNTS, ratio=ratio, mean=mean, std=std, matrix=matrix)


@dataclass(frozen=True)
class _Design:
    """One battle per row: model codes, A's score and the feature matrix."""

    n_models: int
    a: np.ndarray
    b: np.ndarray
    score_a: np.ndarray
    features: np.ndarray


def _loss(design: _Design, params: np.ndarray, weight: np.ndarray, l2: float) -> float:
    m = design.n_models
    d = params[design.a] - params[design.b] + design.features @ params[m:]
    s = design.score_a
    per_battle = s * np.logaddexp(0.0, -d) + (1.0 - s) * np.logaddexp(0.0, d)
    return float((weight * per_battle).sum() + 0.5 * l2 * (params * params).sum())


def _gradient_and_hessian(
    design: _Design, params: np.ndarray, weight: np.ndarray, l2: float
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of :func:`_loss` (weights already divided by their total)."""
    m, k = design.n_models, design.features.shape[1]
    a, b, f = design.a, design.b, design.features
    p = expit(params[a] - params[b] + f @ params[m:])
    r = weight * (p - design.score_a)
    h = weight * p * (1.0 - p)
    grad = np.concatenate([np.bincount(a, r, m) - np.bincount(b, r, m), f.T @ r]) + l2 * params
    pair = np.bincount(a * m + b, h, m * m).reshape(m, m)
    h_tt = np.diag(pair.sum(axis=0) + pair.sum(axis=1)) - pair - pair.T
    h_tb = np.stack([np.bincount(a, h * f[:, j], m) - np.bincount(b, h * f[:, j], m) for j in range(k)], axis=1)
    h_bb = f.T @ (h[:, None] * f)
    hessian = np.block([[h_tt, h_tb], [h_tb.T, h_bb]]) + l2 * np.eye(m + k)
    return grad, hessian


def _newton(design: _Design, weight: np.ndarray, l2: float, start: np.ndarray, strict: bool) -> np.ndarray:
    """Damped Newton (step halving until the loss does not rise) from ``start``.

    ``strict=False`` (bootstrap rounds) returns the last iterate when a resample has no
    finite optimum (a rare model that never loses), which only widens its interval.
    """
    params = start.copy()
    loss = _loss(design, params, weight, l2)
    for _ in range(_MAX_NEWTON_STEPS):
        grad, hessian = _gradient_and_hessian(design, params, weight, l2)
        step = np.linalg.lstsq(hessian, grad, rcond=None)[0]
        t = 1.0
        while t > 1e-10:
            trial = params - t * step
            trial_loss = _loss(design, trial, weight, l2)
            if trial_loss <= loss + 1e-15:
                break
            t /= 2.0
        params, loss = trial, trial_loss
        if np.abs(t * step).max() < 1e-12:
            return params
    if not strict:
        return params
    raise ArenaError(
        "the style-controlled Bradley–Terry fit did not converge",
        hint="some model or style feature decides every vote it is in; collect more votes or pass l2=1e-4",
    )


def fit_style_bt(
    battles: Battles, features: np.ndarray, l2: float = 0.0, weight: np.ndarray | None = None,
    start: np.ndarray | None = None, *, strict: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """θ (natural logits, centred) per model and β per feature column, maximising the likelihood.

    ``weight``: battle counts (a bootstrap resample); each battle weighs 1 by default.
    The loss is per battle: ``Σ w·nll / Σ w + l2/2 |(θ, β)|²``.
    """
    design = _Design(
        n_models=len(battles.models), a=battles.model_a.astype(np.int64), b=battles.model_b.astype(np.int64),
        score_a=_SCORE_A[battles.winner], features=np.asarray(features, dtype=np.float64),
    )
    w = np.ones(len(battles)) if weight is None else np.asarray(weight, dtype=np.float64)
    k = design.features.shape[1]
    x0 = np.zeros(design.n_models + k) if start is None else start
    params = _newton(design, w / w.sum(), l2, x0, strict)
    theta = params[: design.n_models]
    return theta - theta.mean(), params[design.n_models :]


@dataclass(frozen=True)
class StyleControl:
    """Style-controlled ratings beside the fitted style coefficients.

    Attributes:
        table: ratings on the Elo scale with bootstrap intervals and ranks, as
            :func:`~evalsuite.arena.ratings.compute_ratings` gives the plain ones.
        features: the feature definitions and standardisation used.
        coefficients: β per feature, natural log-odds per standard deviation of the
            feature; > 0 means the side longer / more formatted than usual is favoured.
        coefficient_lower, coefficient_upper: percentile bootstrap bounds of β
            (equal to β without bootstrap rounds).
    """

    table: RatingTable
    features: StyleFeatures
    coefficients: dict[str, float]
    coefficient_lower: dict[str, float]
    coefficient_upper: dict[str, float]

    def to_json(self) -> dict[str, object]:
        """``ratings`` rows (as ``--json``) and ``coefficients`` with their intervals."""
        return {
            "ratings": self.table.to_json_rows(),
            "coefficients": [
                {"feature": name, "coefficient": self.coefficients[name],
                 "lower": self.coefficient_lower[name], "upper": self.coefficient_upper[name],
                 "feature_mean": float(self.features.mean[i]), "feature_std": float(self.features.std[i])}
                for i, name in enumerate(self.features.names)
            ],
        }


def compute_style_control(
    battles: Battles, bootstrap_rounds: int = 100, seed: int = 0,
    anchor: Mapping[str, float] | None = None, *, l2: float = 0.0, ci_level: float = 0.95,
    scale: RatingScale = RatingScale(),
) -> StyleControl:
    """Style-controlled Bradley–Terry ratings with bootstrap intervals, plus the style coefficients.

    The bootstrap resamples battles with replacement (features keep the full-data
    standardisation, as in FastChat) and refits from the point estimate.
    """
    check_options("bt", bootstrap_rounds, ci_level)
    _require_battles(battles)
    anchor_at = _anchor_index(anchor, battles.models)
    if l2 == 0.0:
        _check_identifiable(collapse_battles(battles), battles.models)
    features = style_features(*style_counts(battles))
    theta, beta = fit_style_bt(battles, features.matrix, l2)
    point = _logits_to_ratings(theta, scale, anchor_at)
    samples, beta_samples = None, np.tile(beta, (1, 1))
    if bootstrap_rounds:
        rng = np.random.default_rng(seed)
        n = len(battles)
        start = np.concatenate([theta, beta])
        draws = []
        for _ in range(bootstrap_rounds):
            weight = np.bincount(rng.integers(0, n, n), minlength=n)
            draws.append(np.concatenate(fit_style_bt(battles, features.matrix, l2, weight, start, strict=False)))
        stacked = np.array(draws)
        m = len(battles.models)
        samples = np.array([_logits_to_ratings(row[:m], scale, anchor_at) for row in stacked])
        beta_samples = stacked[:, m:]
    table = assemble_table(battles, "bt", point, samples, None, bootstrap_rounds, seed, ci_level, anchor)
    tail = 100.0 * (1.0 - ci_level) / 2.0
    lower, upper = np.percentile(beta_samples, [tail, 100.0 - tail], axis=0)
    names = features.names
    return StyleControl(
        table=table, features=features,
        coefficients=dict(zip(names, beta.tolist())),
        coefficient_lower=dict(zip(names, (lower if bootstrap_rounds else beta).tolist())),
        coefficient_upper=dict(zip(names, (upper if bootstrap_rounds else beta).tolist())),
    )
