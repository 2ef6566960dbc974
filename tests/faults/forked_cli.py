"""Imported once by the forkserver of tests/faults/forked_runs.py: everything a run imports, warmed.

A dry run loads the tasks the fault tests use (lm-eval's task index, the datasets) without
loading a model or running a torch operation, so each fork starts with them in memory.
Importing this module never raises: a failed warm-up only makes the forks slower.
"""

from __future__ import annotations

import contextlib
import io
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

WARM_TASKS = "pubmedqa,arc_easy_200"

try:
    import tqdm

    tqdm.tqdm.monitor_interval = 0  # no monitor thread in the server: a fork copies no thread's held locks
    import lm_eval.evaluator  # noqa: F401
    import transformers.models.llama.modeling_llama  # noqa: F401
    from typer.testing import CliRunner

    import evalsuite.backends.transformers  # noqa: F401
    import evalsuite.execution.runner  # noqa: F401
    from evalsuite.cli.app import app

    with contextlib.redirect_stderr(io.StringIO()):
        CliRunner().invoke(app, ["run", "--model", "demo/pico-s", "--tasks", WARM_TASKS, "--limit", "1", "--dry-run"])
except Exception:  # noqa: BLE001 (a warm-up only)
    pass
