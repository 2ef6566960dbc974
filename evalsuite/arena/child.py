"""Running an arena job (answers or judging) in a fresh interpreter, for vLLM.

vLLM starts worker processes with ``spawn``, which re-imports the parent's
``__main__``; that breaks under an interactive or embedded interpreter (pytest,
Streamlit, ``python -c``). :func:`run_in_child` therefore runs the job in a fresh
``python -m evalsuite.arena.child`` whose main module is this import-safe file. The
job is named by its function and request class (``module:name``), so this module
imports neither :mod:`generate` nor :mod:`judge`: no import cycle.

Progress and vLLM's logs go to the shared stderr; the last stdout line is the
report (or the user error, re-raised in the parent as the same class).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from evalsuite import errors
from evalsuite.errors import EvalsuiteError


def run_in_child(job: Callable[..., Any], request: Any) -> dict[str, Any]:
    """Run ``job(request, show_progress=True)`` in a new interpreter; its report as a dict.

    ``request`` is a dataclass with a ``from_json`` classmethod (the inverse of ``asdict``).
    """
    command = [sys.executable, "-m", "evalsuite.arena.child", _qualified(job), _qualified(type(request)), json.dumps(asdict(request))]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    try:
        reply = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        reply = {}
    if "error" in reply:
        error_class = getattr(errors, reply.get("kind", ""), EvalsuiteError)
        raise error_class(reply["error"], reply.get("hint"))
    if done.returncode != 0 or "report" not in reply:
        raise errors.BackendError(
            f"the vLLM {job.__name__} process exited with status {done.returncode}",
            hint="rerun with --backend transformers, or see the messages above",
        )
    return dict(reply["report"])


def _qualified(thing: Any) -> str:
    return f"{thing.__module__}:{thing.__qualname__}"


def _resolve(name: str) -> Any:
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _child_main(argv: list[str]) -> int:
    job, request_class, payload = _resolve(argv[1]), _resolve(argv[2]), json.loads(argv[3])
    try:
        report = job(request_class.from_json(payload), show_progress=True)
    except EvalsuiteError as error:
        print(json.dumps({"error": error.message, "hint": error.hint, "kind": type(error).__name__}))
        return 1
    print(json.dumps({"report": asdict(report)}))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv))
