"""Tasks and suites: names -> lm-eval task objects, the task-file index, suites as data, the runnable-task protocol.

May import store, metrics and the base modules (the protocol names identity and backend types, for typing only).
"""

from __future__ import annotations
