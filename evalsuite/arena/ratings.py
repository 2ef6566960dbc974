"""Ratings from arena battles: online Elo, Bradley–Terry MLE, bootstrap CIs, win matrices.

Every function here is pure: the result depends only on (battles, parameters, seed).
Ratings live on the Elo scale: ``P(a beats b) = 1 / (1 + base ** ((R_b - R_a) / scale))``
with base 10, scale 400, so 400 points = 10:1 odds, and the ratings average 1000.

Ties and "both bad" count as half a win for each side everywhere (online Elo score
0.5; Bradley–Terry half a win each way; observed win rates).

Entry point for the CLI and the leaderboard: :func:`compute_ratings`, which returns a
:class:`RatingTable` whose ``to_json_rows()`` is what ``evalsuite arena ratings
--json`` prints.
"""

from __future__ import annotations

import contextlib
import difflib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from evalsuite.arena.battles import MODEL_A_WINS, TIE, Battles, filter_battles
from evalsuite.errors import ArenaError

Method = Literal["bt", "elo"]
METHODS: tuple[Method, ...] = ("bt", "elo")

# Score of model_a per winner code (model_a, model_b, tie, tie (bothbad)).
_SCORE_A = np.array([1.0, 0.0, 0.5, 0.5])
# Share of a collapsed row's battles credited to the lower-coded / higher-coded model,
# per outcome code (0 = lower won, 1 = higher won, 2 = tie or both bad).
_LO_SHARE = np.array([1.0, 0.0, 0.5])
_HI_SHARE = np.array([0.0, 1.0, 0.5])
# Caps the memory of the Elo bootstrap's resampled index matrix (rounds x battles x 4 B).
_ELO_BOOTSTRAP_INDEX_BYTES = 512 * 2**20
_ELO_STEP_CHUNK = 8192


@dataclass(frozen=True)
class RatingScale:
    """How log-odds map to rating points: ``rating = initial + scale * log_base(odds)``."""

    base: float = 10.0
    scale: float = 400.0
    initial: float = 1000.0

    @property
    def points_per_logit(self) -> float:
        """Rating points per natural-log odds unit (400 / ln 10 ≈ 173.7)."""
        return self.scale / math.log(self.base)


@dataclass(frozen=True)
class EloParams:
    """Online Elo: after each vote ``R_a += k * (S_a - E_a)`` and ``R_b -= k * (S_a - E_a)``."""

    k: float = 4.0
    scale: RatingScale = field(default_factory=RatingScale)


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Keep BLAS to one thread while fitting.

    L-BFGS-B calls BLAS on 130-long vectors thousands of times; waking a thread pool
    for each costs far more than the arithmetic, and on a busy machine made the 100-round
    bootstrap 15-50x slower.  Uses threadpoolctl when installed (it ships with
    scikit-learn); without it the fit is the same, only possibly slower.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is normally present
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ---------------------------------------------------------------- online Elo


def _online_elo_array(
    a: np.ndarray, b: np.ndarray, score_a: np.ndarray, n_models: int, params: EloParams
) -> np.ndarray:
    """Sequential Elo over the given rows (plain Python floats: ~0.6 µs per vote)."""
    k, base, s = params.k, params.scale.base, params.scale.scale
    r = [params.scale.initial] * n_models
    for x, y, sa in zip(a.tolist(), b.tolist(), score_a.tolist()):
        ra, rb = r[x], r[y]
        delta = k * (sa - 1.0 / (1.0 + base ** ((rb - ra) / s)))
        r[x] = ra + delta
        r[y] = rb - delta
    return np.array(r)


def online_elo(battles: Battles, params: EloParams = EloParams()) -> dict[str, float]:
    """Online Elo in vote order (see :meth:`Battles.vote_order`), every model starting at 1000.

    ``E_a = 1 / (1 + 10 ** ((R_b - R_a) / 400))``; ``S_a`` is 1 for a win, 0 for a
    loss, 0.5 for a tie or both-bad.  Updates are zero-sum, so the ratings keep
    averaging ``initial``.  Order-dependent by design: recent votes weigh more.
    """
    _require_battles(battles)
    order = battles.vote_order()
    ratings = _online_elo_array(
        battles.model_a[order],
        battles.model_b[order],
        _SCORE_A[battles.winner[order]],
        len(battles.models),
        params,
    )
    return dict(zip(battles.models, ratings.tolist()))


def _elo_lockstep(
    a: np.ndarray, b: np.ndarray, score_a: np.ndarray, rows: np.ndarray,
    n_models: int, params: EloParams,
) -> np.ndarray:
    """Run one online Elo per row of ``rows`` (battle indices), all rounds in lockstep.

    Each Python step updates every round at once with numpy, so R rounds cost about
    as many interpreter steps as one pass; rounds never share a rating slot.
    """
    rounds, n = rows.shape
    flat = np.full(rounds * n_models, params.scale.initial)
    offset = (np.arange(rounds, dtype=np.int64) * n_models)[:, None]
    k, base, s = params.k, params.scale.base, params.scale.scale
    for start in range(0, n, _ELO_STEP_CHUNK):
        chunk = rows[:, start : start + _ELO_STEP_CHUNK]
        slots_a = np.ascontiguousarray((a[chunk] + offset).T)
        slots_b = np.ascontiguousarray((b[chunk] + offset).T)
        scores = np.ascontiguousarray(score_a[chunk].T)
        for ia, ib, sa in zip(slots_a, slots_b, scores):
            ra, rb = flat[ia], flat[ib]
            delta = k * (sa - 1.0 / (1.0 + base ** ((rb - ra) / s)))
            flat[ia] = ra + delta
            flat[ib] = rb - delta
    return flat.reshape(rounds, n_models)


def bootstrap_online_elo(
    battles: Battles, rounds: int = 100, seed: int = 0, params: EloParams = EloParams()
) -> pd.DataFrame:
    """Online Elo on ``rounds`` bootstrap resamples; one row per round, one column per model.

    Each round draws ``n`` battles with replacement and replays them *in vote order*
    (the drawn indices are sorted).  We keep the order rather than shuffling because
    the point estimate is the vote-order Elo: shuffling would measure a different
    quantity (order-free Elo) and its interval need not contain the point estimate.
    """
    _require_battles(battles)
    rng = np.random.default_rng(seed)
    order = battles.vote_order()
    a = battles.model_a[order]
    b = battles.model_b[order]
    score_a = _SCORE_A[battles.winner[order]]
    n = len(order)
    per_batch = max(1, min(rounds, _ELO_BOOTSTRAP_INDEX_BYTES // (4 * n)))
    samples = []
    for done in range(0, rounds, per_batch):
        size = min(per_batch, rounds - done)
        rows = np.sort(rng.integers(0, n, size=(size, n), dtype=np.int32), axis=1)
        samples.append(_elo_lockstep(a, b, score_a, rows, len(battles.models), params))
    return pd.DataFrame(np.vstack(samples), columns=list(battles.models))


# ---------------------------------------------------------------- Bradley–Terry


@dataclass(frozen=True, eq=False)
class CollapsedBattles:
    """Battles collapsed to unique (unordered pair, outcome) rows with counts.

    Bradley–Terry sees a battle only through (pair, outcome) -- ties and both-bad
    alike -- so 1.7M battles shrink to at most 3 rows per pair (~25k for 130 models).

    Attributes:
        n_models: size of the model table.
        pair_lo, pair_hi: model codes of each distinct pair (``lo < hi``).
        row_pair: for each unique row, its index into the pair arrays.
        row_outcome: 0 = lower code won, 1 = higher code won, 2 = tie / both bad.
        row_count: battles in each unique row.
    """

    n_models: int
    pair_lo: np.ndarray
    pair_hi: np.ndarray
    row_pair: np.ndarray
    row_outcome: np.ndarray
    row_count: np.ndarray

    def pair_weights(self, row_count: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Wins of the lower / higher model per pair, ties counted half to each."""
        counts = self.row_count if row_count is None else row_count
        n_pairs = len(self.pair_lo)
        w_lo = np.bincount(self.row_pair, counts * _LO_SHARE[self.row_outcome], n_pairs)
        w_hi = np.bincount(self.row_pair, counts * _HI_SHARE[self.row_outcome], n_pairs)
        return w_lo, w_hi


def collapse_battles(battles: Battles) -> CollapsedBattles:
    """Group identical (pair, outcome) battles into weighted rows."""
    n_models = len(battles.models)
    a = battles.model_a.astype(np.int64)
    b = battles.model_b.astype(np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    lower_won = (battles.winner == MODEL_A_WINS) == (a < b)
    outcome = np.where(battles.winner >= TIE, 2, np.where(lower_won, 0, 1))
    keys, counts = np.unique((lo * n_models + hi) * 3 + outcome, return_counts=True)
    pair_keys, row_pair = np.unique(keys // 3, return_inverse=True)
    return CollapsedBattles(
        n_models=n_models,
        pair_lo=pair_keys // n_models,
        pair_hi=pair_keys % n_models,
        row_pair=row_pair,
        row_outcome=keys % 3,
        row_count=counts,
    )


def _fit_bt_logits(
    n_models: int, lo: np.ndarray, hi: np.ndarray, w_lo: np.ndarray, w_hi: np.ndarray,
    l2: float = 0.0, start: np.ndarray | None = None,
) -> np.ndarray:
    """Maximise the weighted Bradley–Terry log-likelihood; strengths in natural logits.

    Loss (per battle): ``-[w_lo log σ(θ_lo - θ_hi) + w_hi log σ(θ_hi - θ_lo)] / W``
    plus ``l2/2 |θ|²``.  Its gradient sums to zero over models (adding a constant to
    every θ changes nothing), so L-BFGS started from a mean-zero point never moves
    along that direction; the result is re-centred anyway.

    L-BFGS runs on ``u = θ * sqrt(h)``, h the Hessian diagonal at θ = 0 (a quarter of
    each model's share of battles): arena battle counts are skewed ~100:1, and this
    diagonal preconditioning roughly halves the iterations without changing the optimum.
    """
    total = float(w_lo.sum() + w_hi.sum())
    wl, wh = w_lo / total, w_hi / total
    played = wl + wh
    diag = 0.25 * (np.bincount(lo, played, n_models) + np.bincount(hi, played, n_models)) + l2
    unit = np.sqrt(np.maximum(diag, 1e-12))

    def loss_and_grad(u: np.ndarray) -> tuple[float, np.ndarray]:
        theta = u / unit
        d = theta[lo] - theta[hi]
        # Elementwise sums, not `@`: a BLAS dot spins up its thread pool on every call,
        # which costs more than the arithmetic here (5x slower on a busy 2-core box).
        loss = (wl * np.logaddexp(0.0, -d)).sum() + (wh * np.logaddexp(0.0, d)).sum()
        g_d = played * expit(d) - wl
        grad = np.bincount(lo, g_d, n_models) - np.bincount(hi, g_d, n_models)
        return float(loss + 0.5 * l2 * (theta * theta).sum()), (grad + l2 * theta) / unit

    u0 = np.zeros(n_models) if start is None else start * unit
    result = minimize(
        loss_and_grad, u0, jac=True, method="L-BFGS-B",
        options={"maxiter": 10_000, "gtol": 1e-12, "ftol": 1e-15, "maxcor": 20},
    )
    theta = result.x / unit
    return theta - theta.mean()


def unbounded_reason(battles: Battles) -> str | None:
    """Why the Bradley–Terry MLE of ``battles`` is not finite, or None when it is.

    The MLE is finite iff the directed "i beat j at least once" graph is strongly
    connected (Zermelo 1929; Ford 1957); otherwise some group's ratings run to infinity.
    The reason names the models that never lost to another group and those that never
    beat one (or, when some models never met the rest, that).  A newcomer's first votes
    are the usual case, so callers can show the online Elo instead of failing (see
    :mod:`evalsuite.arena.report`).
    """
    return _unbounded_reason(collapse_battles(battles), battles.models)


def _unbounded_reason(collapsed: CollapsedBattles, models: tuple[str, ...]) -> str | None:
    w_lo, w_hi = collapsed.pair_weights()
    src = np.concatenate([collapsed.pair_lo[w_lo > 0], collapsed.pair_hi[w_hi > 0]])
    dst = np.concatenate([collapsed.pair_hi[w_lo > 0], collapsed.pair_lo[w_hi > 0]])
    n = collapsed.n_models
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    n_groups, label = connected_components(graph, directed=True, connection="strong")
    if n_groups == 1:
        return None
    n_apart, apart = connected_components(graph, directed=True, connection="weak")
    if n_apart > 1:
        first = [m for i, m in enumerate(models) if apart[i] == 0][:5]
        return f"the models fall into {n_apart} groups that never met (e.g. {', '.join(first)} met none of the others)"
    across = label[src] != label[dst]
    beaten, beat = set(label[dst[across]].tolist()), set(label[src[across]].tolist())
    unbeaten = [m for i, m in enumerate(models) if label[i] not in beaten][:5]
    winless = [m for i, m in enumerate(models) if label[i] not in beat][:5]
    return (f"the models split into {n_groups} groups with one-sided results between them "
            f"({', '.join(unbeaten)} never lost to another group; {', '.join(winless)} never beat another group)")


def _check_identifiable(collapsed: CollapsedBattles, models: tuple[str, ...]) -> None:
    """Raise unless every split of the models has wins both ways across it (:func:`unbounded_reason`)."""
    reason = _unbounded_reason(collapsed, models)
    if reason is not None:
        raise ArenaError(
            f"Bradley–Terry ratings are unbounded: {reason}",
            hint="collect more votes for those models, filter them out, pass l2=1e-4, "
            "or use method 'elo'",
        )


def bradley_terry(
    battles: Battles, scale: RatingScale = RatingScale(),
    anchor: Mapping[str, float] | None = None, l2: float = 0.0,
) -> dict[str, float]:
    """Bradley–Terry maximum-likelihood ratings, ties as half a win each way.

    Model: ``P(a beats b) = 1 / (1 + 10 ** ((R_b - R_a) / 400))`` with
    ``R = 400 r + 1000`` (``r`` in base-10 log-odds).  Each battle weighs 1; identical
    (pair, outcome) battles are collapsed into one weighted row first.  Optimised by
    scipy L-BFGS from zero with the analytic gradient.

    Translation invariance: adding c to every ``r`` leaves every probability
    unchanged, so we fix it by centring (mean ``r`` = 0, i.e. mean rating 1000) or,
    with ``anchor={"model": R}``, by shifting so that model has rating R.
    ``l2 > 0`` adds a ridge penalty ``l2/2 |θ|²`` (θ in natural logits, loss per
    battle) that keeps ratings finite when some models never lose or never win.
    """
    _require_battles(battles)
    collapsed = collapse_battles(battles)
    if l2 == 0.0:
        _check_identifiable(collapsed, battles.models)
    w_lo, w_hi = collapsed.pair_weights()
    with _single_threaded_blas():
        theta = _fit_bt_logits(
            collapsed.n_models, collapsed.pair_lo, collapsed.pair_hi, w_lo, w_hi, l2
        )
    ratings = _logits_to_ratings(theta, scale, _anchor_index(anchor, battles.models))
    return dict(zip(battles.models, ratings.tolist()))


def bootstrap_bradley_terry(
    battles: Battles, rounds: int = 100, seed: int = 0, scale: RatingScale = RatingScale(),
    anchor: Mapping[str, float] | None = None, l2: float = 0.0,
) -> pd.DataFrame:
    """Bradley–Terry on ``rounds`` bootstrap resamples (rows) per model (columns).

    Resampling n battles with replacement gives every battle a count, and battles in
    the same collapsed (pair, outcome) row are interchangeable for the likelihood;
    so the row counts of a resample are ``Multinomial(n, row_count / n)`` -- exactly
    the same distribution, drawn in one call over ~25k rows instead of 1.7M.  Each
    round is normalised like the point estimate (centred, or anchored).  A resample
    in which a rare model never loses has no finite MLE; L-BFGS then stops at a large
    finite value, which only widens that model's interval.
    """
    _require_battles(battles)
    rng = np.random.default_rng(seed)
    collapsed = collapse_battles(battles)
    w_lo, w_hi = collapsed.pair_weights()
    lo, hi, n_models = collapsed.pair_lo, collapsed.pair_hi, collapsed.n_models
    n = int(collapsed.row_count.sum())
    counts = rng.multinomial(n, collapsed.row_count / n, size=rounds)
    anchor_at = _anchor_index(anchor, battles.models)
    samples = np.empty((rounds, n_models))
    with _single_threaded_blas():
        start = _fit_bt_logits(n_models, lo, hi, w_lo, w_hi, l2)
        for r in range(rounds):
            w_lo, w_hi = collapsed.pair_weights(counts[r])
            theta = _fit_bt_logits(n_models, lo, hi, w_lo, w_hi, l2, start=start)
            samples[r] = _logits_to_ratings(theta, scale, anchor_at)
    return pd.DataFrame(samples, columns=list(battles.models))


def _logits_to_ratings(
    theta: np.ndarray, scale: RatingScale, anchor_at: tuple[int, float] | None
) -> np.ndarray:
    ratings = scale.initial + scale.points_per_logit * (theta - theta.mean())
    if anchor_at is not None:
        index, value = anchor_at
        ratings = ratings + (value - ratings[index])
    return ratings


def _anchor_index(
    anchor: Mapping[str, float] | None, models: tuple[str, ...]
) -> tuple[int, float] | None:
    if not anchor:
        return None
    if len(anchor) != 1:
        raise ArenaError(
            f"anchor must name exactly one model, got {len(anchor)}",
            hint="pass one MODEL=RATING pair, e.g. anchor={'mixtral-8x7b-instruct-v0.1': 1114}",
        )
    (model, value), = anchor.items()
    if model not in models:
        close = difflib.get_close_matches(model, models, n=1)
        suggestion = f"did you mean {close[0]!r}?" if close else "name a model that has battles"
        raise ArenaError(f"anchor model {model!r} has no battles", hint=suggestion)
    return models.index(model), float(value)


# ---------------------------------------------------------------- intervals and ranks


def percentile_interval(
    samples: pd.DataFrame, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper percentile bounds per column (2.5 / 97.5 for level 0.95)."""
    tail = 100.0 * (1.0 - level) / 2.0
    lower, upper = np.percentile(samples.to_numpy(), [tail, 100.0 - tail], axis=0)
    return lower, upper


def rank_by_intervals(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """``rank_i = 1 + #{j : lower_j > upper_i}``: only clearly better models outrank you.

    Models whose intervals overlap share a rank, so ranks can repeat and skip.
    """
    return 1 + (lower[None, :] > upper[:, None]).sum(axis=1)


# ---------------------------------------------------------------- win-rate matrices


def pair_battle_counts(battles: Battles) -> pd.DataFrame:
    """Symmetric matrix of battles fought between each pair of models."""
    n = len(battles.models)
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (battles.model_a, battles.model_b), 1)
    counts += counts.T
    return pd.DataFrame(counts, index=list(battles.models), columns=list(battles.models))


def observed_win_rates(battles: Battles) -> pd.DataFrame:
    """``[i, j]`` = (wins of i over j + ties / 2) / battles between them; NaN if none.

    Ties and both-bad count half, matching the likelihood the ratings maximise, so
    this is directly comparable with :func:`predicted_win_rates`.
    """
    n = len(battles.models)
    wins = np.zeros((n, n))
    score_a = _SCORE_A[battles.winner]
    np.add.at(wins, (battles.model_a, battles.model_b), score_a)
    np.add.at(wins, (battles.model_b, battles.model_a), 1.0 - score_a)
    counts = pair_battle_counts(battles).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(counts > 0, wins / counts, np.nan)
    return pd.DataFrame(rates, index=list(battles.models), columns=list(battles.models))


def predicted_win_rates(
    ratings: Mapping[str, float], scale: RatingScale = RatingScale()
) -> pd.DataFrame:
    """``[i, j] = 1 / (1 + base ** ((R_j - R_i) / scale))``; the diagonal is NaN."""
    names = list(ratings)
    r = np.array([ratings[m] for m in names])
    rates = 1.0 / (1.0 + scale.base ** ((r[None, :] - r[:, None]) / scale.scale))
    np.fill_diagonal(rates, np.nan)
    return pd.DataFrame(rates, index=names, columns=names)


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class ModelRating:
    """One leaderboard row: point rating, percentile interval, rank, battle count."""

    model: str
    rating: float
    lower: float
    upper: float
    rank: int
    battles: int
    elo_online: float | None = None

    def to_json_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "model": self.model, "rating": self.rating, "lower": self.lower,
            "upper": self.upper, "rank": self.rank, "battles": self.battles,
        }
        if self.elo_online is not None:
            row["elo_online"] = self.elo_online
        return row


@dataclass(frozen=True)
class RatingTable:
    """Ratings of every model, best first, with how they were computed."""

    method: Method
    rows: tuple[ModelRating, ...]
    bootstrap_rounds: int
    seed: int
    ci_level: float
    anchor: Mapping[str, float] | None = None

    def to_json_rows(self) -> list[dict[str, Any]]:
        """``model, rating, lower, upper, rank, battles`` (+ ``elo_online`` if computed)."""
        return [row.to_json_row() for row in self.rows]

    def ratings(self) -> dict[str, float]:
        return {row.model: row.rating for row in self.rows}

    def __getitem__(self, model: str) -> ModelRating:
        for row in self.rows:
            if row.model == model:
                return row
        raise KeyError(model)


def compute_ratings(
    battles: Battles, method: Method = "bt", bootstrap_rounds: int = 100, seed: int = 0,
    anchor: Mapping[str, float] | None = None, *, with_online_elo: bool = True,
    l2: float = 0.0, ci_level: float = 0.95,
) -> RatingTable:
    """Ratings, percentile CIs and interval ranks: what the CLI and leaderboard show.

    ``method="bt"``: Bradley–Terry MLE with a multinomial bootstrap; also reports the
    online Elo as ``elo_online`` unless ``with_online_elo=False``.
    ``method="elo"``: online Elo in vote order with a vote-order bootstrap.
    ``bootstrap_rounds=0`` gives zero-width intervals (rank then follows the rating).
    """
    check_options(method, bootstrap_rounds, ci_level)
    _require_battles(battles)
    anchor_at = _anchor_index(anchor, battles.models)  # validate before the heavy work
    if method == "bt":
        point = np.array(list(bradley_terry(battles, anchor=anchor, l2=l2).values()))
        samples = None
        if bootstrap_rounds:
            samples = bootstrap_bradley_terry(
                battles, bootstrap_rounds, seed, anchor=anchor, l2=l2
            )
    else:
        point = _anchored(np.array(list(online_elo(battles).values())), anchor_at)
        samples = None
        if bootstrap_rounds:
            samples = bootstrap_online_elo(battles, bootstrap_rounds, seed)
            if anchor_at is not None:
                index, value = anchor_at
                samples = samples.sub(samples.iloc[:, index], axis=0) + value
    elo = online_elo(battles) if method == "bt" and with_online_elo else None
    return assemble_table(battles, method, point, samples, elo, bootstrap_rounds, seed,
                          ci_level, anchor)


@dataclass(frozen=True)
class CategoryRatings:
    """The ratings of one prompt category, or why it has none (``table`` None, ``note`` says)."""

    category: str
    battles: int
    table: RatingTable | None
    note: str | None = None


def ratings_by_category(
    battles: Battles, method: Method = "bt", bootstrap_rounds: int = 100, seed: int = 0,
    anchor: Mapping[str, float] | None = None, *, l2: float = 0.0, ci_level: float = 0.95,
) -> list[CategoryRatings]:
    """:func:`compute_ratings` on each category's battles (``filter_battles(category=...)``), sorted by name.

    A category whose battles cannot be rated (a model unbeaten there, the anchor model
    absent) gets the error message as its ``note`` instead of failing the others.
    Battles without a category belong to none.
    """
    check_options(method, bootstrap_rounds, ci_level)
    if battles.category is None:
        raise ArenaError("the battles have no category field, so there is nothing to split by",
                         hint="drop --by-category, or add a category to each battle (prompts have one)")
    categories = sorted({c for c in battles.category.tolist() if c is not None})
    results = []
    for category in categories:
        selected = filter_battles(battles, category=category)
        try:
            table = compute_ratings(selected, method, bootstrap_rounds, seed, anchor,
                                    with_online_elo=False, l2=l2, ci_level=ci_level)
        except ArenaError as error:
            results.append(CategoryRatings(category, len(selected), None, f"{error.message} ({error.hint})"))
            continue
        results.append(CategoryRatings(category, len(selected), table))
    return results


def _anchored(ratings: np.ndarray, anchor_at: tuple[int, float] | None) -> np.ndarray:
    if anchor_at is None:
        return ratings
    return ratings + (anchor_at[1] - ratings[anchor_at[0]])


def assemble_table(
    battles: Battles, method: Method, point: np.ndarray, samples: pd.DataFrame | np.ndarray | None,
    elo: dict[str, float] | None, rounds: int, seed: int, ci_level: float,
    anchor: Mapping[str, float] | None,
) -> RatingTable:
    """Point ratings and bootstrap samples (rounds x models) -> the ranked table.

    Shared by plain and style-controlled ratings so both rank and round alike.
    """
    if samples is None:
        lower, upper = point.copy(), point.copy()
    else:
        lower, upper = percentile_interval(pd.DataFrame(samples), ci_level)
    ranks = rank_by_intervals(lower, upper)
    counts = battles.battle_counts()
    rows = [
        ModelRating(
            model=m, rating=float(point[i]), lower=float(lower[i]), upper=float(upper[i]),
            rank=int(ranks[i]), battles=counts[m],
            elo_online=None if elo is None else elo[m],
        )
        for i, m in enumerate(battles.models)
    ]
    rows.sort(key=lambda row: (-row.rating, row.model))
    return RatingTable(
        method=method, rows=tuple(rows), bootstrap_rounds=rounds, seed=seed,
        ci_level=ci_level, anchor=dict(anchor) if anchor else None,
    )


def check_options(method: str, rounds: int, ci_level: float) -> None:
    """Raise ArenaError for an unknown method, negative rounds or a level outside (0, 1)."""
    if method not in METHODS:
        raise ArenaError(f"unknown rating method {method!r}", hint="use 'bt' or 'elo'")
    if rounds < 0:
        raise ArenaError(f"bootstrap rounds must be >= 0, got {rounds}",
                         hint="pass 100 (the default) or 0 to skip intervals")
    if not 0.0 < ci_level < 1.0:
        raise ArenaError(f"confidence level must be between 0 and 1, got {ci_level}",
                         hint="pass 0.95 for a 95% interval")


def _require_battles(battles: Battles) -> None:
    if len(battles) == 0:
        raise ArenaError("no battles to rate", hint="record some votes or widen the filters")
