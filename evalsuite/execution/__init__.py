"""A run from description to stored numbers: the run description (`config`), the plan, the runner, the model queue, fault points.

Named `execution` because `evalsuite.run` is the public API function.
May import the board, formats, arena, judged, cloud-free layers below (tasks, backends, identity, store, metrics, base);
not the CLI or the leaderboard.
"""

from __future__ import annotations
