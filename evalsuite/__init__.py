"""evalsuite: evaluate language models on lm-eval tasks, store results in SQLite,
show them on a Streamlit leaderboard, and rate models in a pairwise arena."""

from __future__ import annotations

__version__ = "0.1.0"
