"""A run from description to stored numbers: resolution (registry checks), the plan, the runner, the task kinds, the model queue.

Named `execution` because `evalsuite.run` is the public API function.
May import every layer below it (formats, board, arena, judged, cloud; tasks, backends, identity; store;
metrics and the base modules); not the CLI or the leaderboard (``tests/test_import_graph.py``).
"""

from __future__ import annotations
