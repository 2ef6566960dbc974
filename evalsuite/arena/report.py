"""Everything the ratings page and `evalsuite arena ratings` show, computed in one place.

Order of work: the identity-leak filter first (a vote on an answer that named its
model is not blind, so it counts nowhere), then the plain ratings and, when asked,
style-controlled ratings, per-category ratings and the outlier-voter test, all on the
same kept battles.  The CLI and the Streamlit page only lay the result out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalsuite.arena.battles import Battles
from evalsuite.arena.leaks import DEFAULT_LEAK_WORDS, LeakReport, filter_leaks
from evalsuite.arena.outliers import OutlierReport, flag_outlier_voters
from evalsuite.arena.ratings import CategoryRatings, Method, RatingTable, compute_ratings, ratings_by_category
from evalsuite.arena.style import StyleControl, compute_style_control


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


@dataclass(frozen=True)
class RatingReport:
    """Plain ratings plus whichever extras were asked for (None when not)."""

    table: RatingTable
    battles: Battles
    leaks: LeakReport | None
    style: StyleControl | None = None
    categories: list[CategoryRatings] | None = None
    outliers: OutlierReport | None = None

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
    table = compute_ratings(kept, options.method, bootstrap_rounds=rounds, seed=seed, anchor=anchor)
    style = compute_style_control(kept, rounds, seed, anchor) if options.style_control else None
    categories = (
        ratings_by_category(kept, options.method, rounds, seed, anchor) if options.by_category else None
    )
    outliers = (
        flag_outlier_voters(kept, min_votes=options.outlier_min_votes, alpha=options.outlier_alpha)
        if options.flag_outliers else None
    )
    return RatingReport(table=table, battles=kept, leaks=leaks, style=style, categories=categories, outliers=outliers)
