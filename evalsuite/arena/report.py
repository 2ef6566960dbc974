"""Everything the ratings page and `evalsuite arena ratings` show, computed in one place.

Order of work: the identity-leak filter first (a vote on an answer that named its
model is not blind, so it counts nowhere), then the plain ratings and, when asked,
style-controlled ratings, per-category ratings and the outlier-voter test, all on the
same kept battles.  Stored votes reach it through :mod:`evalsuite.arena.pipeline`;
the CLI, the API and the Streamlit pages only lay the result out.

Few votes: a report says so (:meth:`RatingReport.cautions`) when a model has fewer
than :data:`FEW_BATTLES` battles, and -- for the human tables, ``ReportOptions.
allow_unbounded`` -- shows the online Elo instead of failing while Bradley–Terry is
unbounded (a newcomer's first votes: one model never lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalsuite.arena.battles import Battles
from evalsuite.arena.leaks import DEFAULT_LEAK_WORDS, LeakReport, filter_leaks
from evalsuite.arena.outliers import OutlierReport, flag_outlier_voters
from evalsuite.arena.ratings import (
    CategoryRatings,
    Method,
    RatingTable,
    compute_ratings,
    ratings_by_category,
    unbounded_reason,
)
from evalsuite.arena.style import StyleControl, compute_style_control

# Below this many battles a model's 95% interval is too wide to rank it: even at an even
# record the binomial standard error of its win rate is 0.5 / sqrt(20) = 0.11, i.e. about
# ±160 rating points, and in bootstrap resamples it often never loses or never wins
# (Bradley–Terry then runs off to ±thousands, as two votes give −1483 … 3483).
FEW_BATTLES = 20


@dataclass(frozen=True)
class ReportOptions:
    """What to compute; the defaults are `evalsuite arena ratings` without options."""

    method: Method = "bt"
    bootstrap_rounds: int = 100
    seed: int = 0
    anchor: Mapping[str, float] | None = None
    leak_filter: bool = True
    leak_words: tuple[str, ...] = DEFAULT_LEAK_WORDS
    leak_own_names: bool = False
    style_control: bool = False
    by_category: bool = False
    flag_outliers: bool = False
    outlier_min_votes: int = 10
    outlier_alpha: float = 0.05
    allow_unbounded: bool = False
    online_elo: bool = True  # Bradley–Terry tables also carry the online Elo; the board's column skips that fit


@dataclass(frozen=True)
class RatingReport:
    """Plain ratings plus whichever extras were asked for (None when not)."""

    table: RatingTable
    battles: Battles
    leaks: LeakReport | None
    style: StyleControl | None = None
    categories: list[CategoryRatings] | None = None
    outliers: OutlierReport | None = None
    unbounded: str | None = None

    def cautions(self) -> list[str]:
        """Sentences a reader must see before trusting the table (empty when there is nothing to say)."""
        notes = []
        if self.unbounded is not None:
            notes.append(f"Bradley–Terry ratings are not bounded yet: {self.unbounded}; "
                         "the table shows online Elo instead (style control needs Bradley–Terry too) — collect more votes")
        few = [row.model for row in self.table.rows if row.battles < FEW_BATTLES]
        if few:
            notes.append(f"{len(few)} of {len(self.table.rows)} models have fewer than {FEW_BATTLES} battles "
                         f"({', '.join(few)}): their 95% intervals are too wide to rank them — collect more votes")
        return notes

    @property
    def has_extras(self) -> bool:
        """True when more than the plain table was asked for (``--json`` then prints an object)."""
        return self.style is not None or self.categories is not None or self.outliers is not None

    def to_json(self) -> dict[str, Any]:
        """``ratings`` (the ``--json`` rows) plus ``leaks``, ``style_control``, ``categories``, ``outliers``."""
        out: dict[str, Any] = {"ratings": self.table.to_json_rows()}
        if self.leaks is not None:
            out["leaks"] = {
                "checked": self.leaks.checked, "excluded": self.leaks.excluded,
                "answers": [vars(leak) for leak in self.leaks.leaks],
            }
        if self.style is not None:
            out["style_control"] = self.style.to_json()
        if self.categories is not None:
            out["categories"] = [
                {"category": c.category, "battles": c.battles, "note": c.note,
                 "ratings": None if c.table is None else c.table.to_json_rows()}
                for c in self.categories
            ]
        if self.outliers is not None:
            out["outliers"] = self.outliers.to_json()
        return out


def rating_report(battles: Battles, options: ReportOptions = ReportOptions()) -> RatingReport:
    """Leak filter, then the plain ratings and the extras ``options`` asks for, on the kept battles."""
    leaks = filter_leaks(battles, options.leak_words, own_names=options.leak_own_names) if options.leak_filter else None
    kept = leaks.kept if leaks is not None else battles
    rounds, seed, anchor = options.bootstrap_rounds, options.seed, options.anchor
    unbounded = unbounded_reason(kept) if options.allow_unbounded and options.method == "bt" and len(kept) else None
    method: Method = "elo" if unbounded is not None else options.method
    table = compute_ratings(kept, method, bootstrap_rounds=rounds, seed=seed, anchor=anchor, with_online_elo=options.online_elo)
    style = compute_style_control(kept, rounds, seed, anchor) if options.style_control and unbounded is None else None
    categories = (
        ratings_by_category(kept, options.method, rounds, seed, anchor) if options.by_category else None
    )
    outliers = (
        flag_outlier_voters(kept, min_votes=options.outlier_min_votes, alpha=options.outlier_alpha)
        if options.flag_outliers else None
    )
    return RatingReport(table=table, battles=kept, leaks=leaks, style=style, categories=categories, outliers=outliers,
                        unbounded=unbounded)
