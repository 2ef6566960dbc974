"""Agreement on the arena's own data: model judges against people, and arena ratings against the board's benchmarks.

* **Judge vs people** (the MT-Bench paper's agreement, Zheng et al. 2023, Table 2 "w/ tie"
  and "w/o tie"): for every battle a judge and at least one person voted on (the same
  prompt and the same two model identities, in either order), every (judge vote, person
  vote) pair counts once; they agree when they name the same winner or both a tie
  (``both_bad`` is a tie, as FastChat counts it). Without ties, only pairs where neither
  voted a tie count.
* **Arena vs benchmarks**: the arena's Bradley–Terry ratings (people's votes, through
  :func:`evalsuite.arena.pipeline.ratings_from_store` with the board's settings) against
  each score column of the board's "all tasks" view, over the models both cover; a
  column is matched to a rating by the model's name, as the board's arena column is.
  A lower-is-better column (perplexity) correlates negatively when the two agree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from evalsuite.arena.pipeline import RatingRequest, ratings_from_store
from evalsuite.arena.report import ReportOptions
from evalsuite.board import rules
from evalsuite.errors import ArenaError
from evalsuite.metrics import agreement
from evalsuite.store import agreement_queries, leaderboard_queries
from evalsuite.store.agreement_queries import VoteOnPair
from evalsuite.store.db import Database


@dataclass(frozen=True)
class JudgeAgreement:
    judge: str
    battles: int  # battles the judge and a person both voted on
    agreement: agreement.VoteAgreement


@dataclass(frozen=True)
class BenchmarkAgreement:
    column: str
    higher_is_better: bool | None
    models: int
    spearman: float | None
    kendall: float | None


def _winner(vote: VoteOnPair) -> str:
    return {"a": vote.model_a, "b": vote.model_b}.get(vote.outcome, agreement.TIE)


def _battle(vote: VoteOnPair) -> tuple[int | None, frozenset[str]]:
    return vote.prompt_id, frozenset((vote.model_a, vote.model_b))


def judge_agreement(database: Database) -> list[JudgeAgreement]:
    """Each judge's agreement with the people who voted on the same battles, judges by name."""
    people: dict[tuple[int | None, frozenset[str]], list[str]] = defaultdict(list)
    judges: dict[str, dict[tuple[int | None, frozenset[str]], list[str]]] = defaultdict(lambda: defaultdict(list))
    for vote in agreement_queries.votes_on_pairs(database):
        if vote.voter_kind == "human":
            people[_battle(vote)].append(_winner(vote))
        else:
            judges[vote.voter][_battle(vote)].append(_winner(vote))
    results = []
    for judge in sorted(judges):
        shared = [battle for battle in judges[judge] if battle in people]
        pairs = [(mine, theirs) for battle in shared for mine in judges[judge][battle] for theirs in people[battle]]
        results.append(JudgeAgreement(judge, len(shared), agreement.vote_agreement(pairs)))
    return results


def arena_ratings(database: Database) -> dict[str, float]:
    """Model name -> the board's arena rating (people's votes, point ratings); empty when nothing can be rated."""
    request = RatingRequest(report=ReportOptions(bootstrap_rounds=0, online_elo=False))
    try:
        return ratings_from_store(database, request).table.ratings()
    except ArenaError:
        return {}


def benchmark_agreement(database: Database) -> list[BenchmarkAgreement]:
    """Rank correlation of arena ratings with each board column, over the models both cover."""
    ratings = arena_ratings(database)
    view = rules.all_tasks_view(list(leaderboard_queries.leaderboard_cells(database)))
    results = []
    for column in view.columns:
        values = {row.model.split(" @")[0]: cell.value for row in view.rows if (cell := row.cells.get(column.label)) is not None and cell.value is not None}
        spearman, models = agreement.paired_rank_correlation(ratings, values, "spearman")
        kendall, _ = agreement.paired_rank_correlation(ratings, values, "kendall")
        results.append(BenchmarkAgreement(column.label, column.higher_is_better, models, spearman, kendall))
    return results
