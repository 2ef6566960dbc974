"""Judged tasks: a model answers, a judge model grades (MT-Bench).

A judged task is data (``tasks/mt_bench/``) plus one module here that exposes ``TASK``, an
object following :class:`evalsuite.judged.base.JudgedTask`. The runner never names a task:
the task-kind table asks this registry whether a requested name is judged (:func:`is_judged`)
and, if so, the judged adapter (:mod:`evalsuite.judged.runnable`) hands the task a
:class:`~evalsuite.judged.base.JudgedContext` with the model under test and the judge, both
loaded through the one backend registry and wrapped in the request cache
(:mod:`evalsuite.judged.session`). Modules import lazily: naming a task loads nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from evalsuite.errors import UnknownTaskError

if TYPE_CHECKING:
    from evalsuite.judged.base import JudgedTask

REGISTRY: dict[str, str] = {"mt_bench": "evalsuite.judged.mt_bench"}  # task name -> module exposing TASK


def judged_task_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def is_judged(name: str) -> bool:
    return name.strip() in REGISTRY


def judged_task(name: str) -> JudgedTask:
    """The task object of a judged task name."""
    if name not in REGISTRY:
        raise UnknownTaskError(f"{name!r} is not a judged task", f"judged tasks: {', '.join(REGISTRY)}")
    return importlib.import_module(REGISTRY[name]).TASK  # type: ignore[no-any-return]


__all__ = ["REGISTRY", "is_judged", "judged_task", "judged_task_names"]
