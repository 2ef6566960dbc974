"""Render the requests of the lm-eval v0.3 fork that LLM AutoEval runs, from its own task code.

The fork's task files (``../shared/reference/nous-suite/fork_*.py``, read in place, never copied)
import the v0.3 API (``lm_eval.base.Task``/``MultipleChoiceTask``/``rf``, ``lm_eval.metrics``),
which lm-eval 0.4 no longer has. They are executed here with a namespace whose ``__import__``
answers those three modules with the small shim below (the zero-shot path of v0.3's
``lm_eval/base.py`` at the fork's commit ca333d9: ``fewshot_context`` = description + the
document's text; ``MultipleChoiceTask`` asks ``" " + choice`` per choice and scores acc and
acc_norm, the latter over log-likelihoods divided by the choice's length in characters). Every other import is
the real one. A rendered request is ``(kind, context, continuation)``.
"""

from __future__ import annotations

import builtins
import random
import statistics
import types
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Request = tuple[str, str, Any]


class _RequestFactory:
    """v0.3's ``rf``: ``rf.loglikelihood(ctx, cont)`` is indexable (``[0]``) and unpackable in two."""

    @staticmethod
    def loglikelihood(context: str, continuation: str) -> tuple[Request, Request]:
        request = ("loglikelihood", context, continuation)
        return request, request

    @staticmethod
    def greedy_until(context: str, arguments: Any) -> Request:
        return ("greedy_until", context, arguments)


class _Task:
    """The parts of v0.3's ``lm_eval.base.Task`` a zero-shot run uses (no download: ``dataset`` is set by the caller)."""

    VERSION = 0
    DATASET_PATH: str | None = None
    DATASET_NAME: str | None = None

    def __init__(self, data_dir: Any = None, cache_dir: Any = None, download_mode: Any = None) -> None:
        self._training_docs = None
        self._fewshot_docs = None
        self.dataset: dict[str, list[dict[str, Any]]] = {}

    def fewshot_context(
        self, doc: Any, num_fewshot: int, provide_description: Any = None, rnd: random.Random | None = None, description: str | None = None
    ) -> str:
        if num_fewshot != 0:
            raise ValueError("this shim renders the zero-shot context only (the Nous suite is 0-shot)")
        return (description + "\n\n" if description else "") + self.doc_to_text(doc)  # type: ignore[attr-defined]


class _MultipleChoiceTask(_Task):
    def doc_to_target(self, doc: dict[str, Any]) -> str:
        return " " + doc["choices"][doc["gold"]]

    def construct_requests(self, doc: dict[str, Any], ctx: str) -> list[Request]:
        return [_RequestFactory.loglikelihood(ctx, f" {choice}")[0] for choice in doc["choices"]]

    def process_results(self, doc: dict[str, Any], results: Sequence[float]) -> dict[str, float]:
        """acc: the most likely choice is gold; acc_norm: the same with log-likelihoods divided by characters."""
        lengths = np.array([float(len(choice)) for choice in doc["choices"]])
        return {
            "acc": 1.0 if np.argmax(results) == doc["gold"] else 0.0,
            "acc_norm": 1.0 if np.argmax(np.asarray(results) / lengths) == doc["gold"] else 0.0,
        }


def _unused(name: str) -> Callable[..., Any]:
    def missing(*_args: Any, **_kwargs: Any) -> Any:
        raise NotImplementedError(f"{name} is not needed to build requests")

    return missing


_SHIMS = {
    "lm_eval.base": types.SimpleNamespace(Task=_Task, MultipleChoiceTask=_MultipleChoiceTask, rf=_RequestFactory),
    "lm_eval.metrics": types.SimpleNamespace(
        mean=statistics.fmean, acc_all=_unused("acc_all"),
        metric_max_over_ground_truths=_unused("metric_max_over_ground_truths"),
        yesno=lambda x: "yes" if x else "no",
    ),
    "lm_eval.utils": types.SimpleNamespace(general_detokenize=_unused("general_detokenize")),
}  # fmt: skip


def _import(name: str, globals: Any = None, locals: Any = None, fromlist: Sequence[str] = (), level: int = 0) -> Any:
    if name in _SHIMS:
        return _SHIMS[name]
    return builtins.__import__(name, globals, locals, fromlist, level)


def load_fork_module(path: Path) -> dict[str, Any]:
    """Execute one fork task file with the v0.3 shim; its globals (classes, functions) by name."""
    namespace: dict[str, Any] = {"__name__": f"fork_{path.stem}", "__builtins__": {**vars(builtins), "__import__": _import}}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return namespace


def eval_docs(task: Any) -> list[dict[str, Any]]:
    """The documents v0.3's evaluator scores: test docs if the task has them, else validation docs."""
    return list(task.test_docs() if task.has_test_docs() else task.validation_docs())


def requests_for(task: Any, docs: Iterable[dict[str, Any]]) -> list[list[Request]]:
    """Per document, the fork's requests for a zero-shot run (v0.3's evaluator: context, then requests)."""
    rendered = []
    for doc in docs:
        context = task.fewshot_context(doc=doc, num_fewshot=0, rnd=random.Random(1234), description="")
        requests = task.construct_requests(doc, context)
        rendered.append(list(requests))
    return rendered
