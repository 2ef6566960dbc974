"""Stored votes to a rating report: the one pipeline every reader of the ratings calls.

`evalsuite arena ratings`, :func:`evalsuite.ratings`, the Arena ratings page and the
board's arena column each describe what they want as a :class:`RatingRequest` and call
:func:`ratings_from_store`; none of them reads votes, filters or fits on its own, so a
rule added here (a filter, a hidden model, a leak) reaches all four at once. The order
is fixed: the stored votes of the chosen voter kinds (never a hidden model's, with their
answer texts), then the request's filters (category, vote dates, ties), then
:func:`evalsuite.arena.report.rating_report` (leak filter, fit, bootstrap, anchor, extras).
A battles file takes the same filters and report through :func:`rate_battles`.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalsuite.arena import voting
from evalsuite.arena.battles import Battles, TimeBound, filter_battles
from evalsuite.arena.report import RatingReport, ReportOptions, rating_report
from evalsuite.store.arena_queries import selected_kinds
from evalsuite.store.db import Database


@dataclass(frozen=True)
class RatingRequest:
    """Which votes to rate and how to rate them; the defaults are `evalsuite arena ratings` without options."""

    voter_kinds: tuple[str, ...] = ("human",)
    category: str | None = None
    since: TimeBound = None
    until: TimeBound = None
    exclude_ties: bool = False
    report: ReportOptions = ReportOptions()


def voter_kinds(include_judges: bool) -> tuple[str, ...]:
    """People only, or people and model judges: what ``--include-judges`` / ``include_judges=`` select."""
    return selected_kinds(include_judges, None)


def rate_battles(battles: Battles, request: RatingRequest) -> RatingReport:
    """The request's filters, then the report it asks for (the part a battles file shares with the store)."""
    selected = filter_battles(
        battles, category=request.category, since=request.since, until=request.until, exclude_ties=request.exclude_ties,
    )
    return rating_report(selected, request.report)


def ratings_from_store(database: Database, request: RatingRequest) -> RatingReport:
    """Rate the stored votes ``request`` selects; ArenaError saying why when there are none to rate."""
    # with_answers: the leak filter and style control read the answer texts
    battles = voting.stored_battles(database, voter_kinds=request.voter_kinds, with_answers=True)
    return rate_battles(battles, request)
