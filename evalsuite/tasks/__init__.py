"""Tasks and suites: names -> lm-eval task objects, the task-file index, suites as data.

May import store, metrics and the base modules only.
"""

from __future__ import annotations
