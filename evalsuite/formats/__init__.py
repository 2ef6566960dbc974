"""Result formats: lm-eval's results layout, exports (JSON, CSV, Markdown), LLM AutoEval tables, bundles.

Named `formats` because `evalsuite.results` is the public API function.
May import the board, tasks, identity, store, metrics and the base modules; not the execution layer, the CLI or the leaderboard.
"""

from __future__ import annotations
