"""The arena: pairwise votes on model answers turned into Elo / Bradley–Terry ratings.

Pure parts (battles, ratings, pairing, prompt files) import eagerly; answer
generation and the judge load torch and a backend, so their names are resolved
on first use (``from evalsuite.arena import generate_answers`` still works).
"""

from __future__ import annotations

import importlib
from typing import Any

from evalsuite.arena.battles import (
    Battle,
    Battles,
    battles_from_records,
    filter_battles,
    read_battles,
    write_battles,
)
from evalsuite.arena.leaks import LeakReport, filter_leaks
from evalsuite.arena.outliers import OutlierReport, flag_outlier_voters
from evalsuite.arena.pairing import choose_pair, pair_counts_from_battles, pair_weights
from evalsuite.arena.prompts import mt_bench_prompts, read_prompt_file
from evalsuite.arena.ratings import (
    ModelRating,
    RatingTable,
    compute_ratings,
    observed_win_rates,
    pair_battle_counts,
    predicted_win_rates,
    ratings_by_category,
)
from evalsuite.arena.report import RatingReport, ReportOptions, rating_report
from evalsuite.arena.style import StyleControl, compute_style_control

_LAZY = {
    "GenerationRequest": "evalsuite.arena.generate",
    "GenerationReport": "evalsuite.arena.generate",
    "generate_answers": "evalsuite.arena.generate",
    "answer_model_key": "evalsuite.arena.contestant",
    "JudgeRequest": "evalsuite.arena.judge",
    "JudgeReport": "evalsuite.arena.judge",
    "run_judge": "evalsuite.arena.judge",
    "RatingRequest": "evalsuite.arena.pipeline",
    "ratings_from_store": "evalsuite.arena.pipeline",
}

__all__ = [
    "Battle",
    "Battles",
    "GenerationReport",
    "GenerationRequest",
    "JudgeReport",
    "JudgeRequest",
    "LeakReport",
    "ModelRating",
    "OutlierReport",
    "RatingReport",
    "RatingRequest",
    "RatingTable",
    "ReportOptions",
    "StyleControl",
    "answer_model_key",
    "battles_from_records",
    "choose_pair",
    "compute_ratings",
    "compute_style_control",
    "filter_battles",
    "filter_leaks",
    "flag_outlier_voters",
    "generate_answers",
    "mt_bench_prompts",
    "observed_win_rates",
    "pair_battle_counts",
    "pair_counts_from_battles",
    "pair_weights",
    "predicted_win_rates",
    "rating_report",
    "ratings_by_category",
    "ratings_from_store",
    "read_battles",
    "read_prompt_file",
    "run_judge",
    "write_battles",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'evalsuite.arena' has no attribute {name!r}")
