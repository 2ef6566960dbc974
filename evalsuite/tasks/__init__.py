"""Tasks and suites: names -> lm-eval task objects, the task-file index, suites as data, the runnable-task protocol.

May import store, metrics and the base modules (the protocol names identity and backend types, for typing only).
"""

from __future__ import annotations

from typing import Any

# The functions task YAMLs name (``custom_dataset: !function evalsuite.tasks.jsonl_dataset``), a public
# path users' own YAMLs carry: kept here, resolved lazily so that importing a lookup module stays cheap.
YAML_FUNCTIONS = ("jsonl_dataset", "text_file_dataset")


def __getattr__(name: str) -> Any:
    if name in YAML_FUNCTIONS:
        from evalsuite.tasks import loading

        return getattr(loading, name)
    raise AttributeError(f"module 'evalsuite.tasks' has no attribute {name!r}")
