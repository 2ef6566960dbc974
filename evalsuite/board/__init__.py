"""The board: which stored scores are comparable, suite scores and ranking, two runs compared, operator writes.

May import tasks, identity, store, metrics and the base modules; not the execution layer, the CLI or the leaderboard.
"""

from __future__ import annotations
