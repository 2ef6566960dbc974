"""The board's comparability key: when two stored scores of one task may share a column.

The SQL reader (``evalsuite.store.leaderboard_queries``) hands over the raw run and
identity columns of each score; this module decides what they mean. Which fields of a run
and of its model identity belong in the key is said once, in :mod:`evalsuite.identity.numbers`
(``BOARD_RUN_FIELDS``, ``BOARD_IDENTITY_FIELDS``); :data:`KEY_PARTS` says where each of them
lands in :class:`ComparabilityKey`, and ``tests/leaderboard/test_board_keys.py`` fails when
the two disagree. The task's own version and its number of documents come from the metric row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from evalsuite.store.import_queries import imported_scoring
from evalsuite.store.leaderboard_queries import BoardCell

# Each field that evalsuite.identity.numbers puts in the board key -> the ComparabilityKey part that holds it.
KEY_PARTS: dict[str, str] = {
    "limit": "n_docs",  # the documents scored, and whether fewer than the task has ("limited")
    "num_fewshot": "n_shot",
    "text_file": "data",  # the scored text's sha256
    "apply_chat_template": "chat_template",
    "fewshot_as_multiturn": "fewshot_as_multiturn",
    "scoring_version": "scoring",
    "chat_template_sha256": "scoring",
    "system_instruction": "scoring",
    "judge": "scoring",  # a judged run's judge: scores by different judges never share a column
}


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


# The fields of ``scoring`` in the order they are written, each as its short text (``v3 · template 1a2b3c4d``).
SCORING_PARTS: dict[str, Callable[[Any], str]] = {
    "scoring_version": lambda version: f"v{version}",
    "chat_template_sha256": lambda sha: f"template {str(sha)[:8]}",
    "system_instruction": lambda text: f"system {_short_hash(text)}",
    "judge": lambda label: f"judge {label}",
}


@dataclass(frozen=True, order=True)
class ComparabilityKey:
    """What must be equal for two scores of one task to share a column.

    ``n_docs`` is the number of documents scored; ``limited`` says it is fewer than the
    task has (``--limit`` or a suite's per-task limit). ``scoring`` carries the run's
    identity fields that change numbers (scoring-code version and the like) when stored,
    and for a judged task (MT-Bench) its judge: scores by different judges never share a column.
    """

    task_version: str | None = None
    n_shot: int | None = None
    n_docs: int | None = None
    limited: bool = False
    chat_template: bool = False
    fewshot_as_multiturn: bool = False
    scoring: str | None = None
    data: str | None = None  # sha256 of the scored text when the user supplied it (--text-file)

    def describe(self) -> str:
        """``25-shot · n=5 of 1172 (limited) · v1.0``: every part of the key a reader needs."""
        parts = [f"{self.n_shot}-shot" if self.n_shot is not None else "shots ?"]
        parts.append(self.docs_label())
        if self.task_version is not None:
            parts.append(f"v{self.task_version}")
        if self.chat_template:
            parts.append("chat template" + (", multiturn few-shot" if self.fewshot_as_multiturn else ""))
        if self.scoring:
            parts.append(f"scoring {self.scoring}")
        if self.data:
            parts.append(self.data_label())
        return " · ".join(parts)

    def data_label(self) -> str:
        return f"text {self.data[:8]}" if self.data else "shipped data"

    def docs_label(self) -> str:
        if self.n_docs is None:
            return "n=?"
        return f"n={self.n_docs} (limited)" if self.limited else f"n={self.n_docs}"

    def preference(self) -> tuple[int, int]:
        """Sort key: a full run before a limited one, then more documents."""
        return (0 if self.limited else 1, self.n_docs or 0)


def comparability_key(cell: BoardCell) -> ComparabilityKey:
    """The key of a stored score (one place where it is built).

    Few-shot examples are chat turns only inside a chat template; a run that did not
    choose (``fewshot_as_multiturn`` None) followed the template, as the runner does.
    """
    n_docs = cell.n_samples
    limited = n_docs is not None and cell.n_total_docs is not None and n_docs < cell.n_total_docs
    chat = bool(cell.apply_chat_template)
    multiturn = chat if cell.fewshot_as_multiturn is None else bool(cell.fewshot_as_multiturn)
    return ComparabilityKey(
        task_version=cell.task_version,
        n_shot=cell.n_shot,
        n_docs=n_docs,
        limited=limited,
        chat_template=chat,
        fewshot_as_multiturn=chat and multiturn,
        scoring=scoring_text(imported_scoring(cell.backend), *(getattr(cell, name) for name in SCORING_PARTS)),
        data=cell.data_sha256,
    )


@lru_cache(maxsize=4096)
def scoring_text(imported: str | None, *values: Any) -> str | None:
    """``v2 · template 1a2b3c4d · system 5e6f7a8b · judge J``: the identity parts that change numbers, short
    (``values`` in :data:`SCORING_PARTS` order); an imported lm-eval run (no identity) says whose scoring
    it is (``lm-eval hf (imported)``). Cached: a board holds few runs and many cells."""
    parts = [imported] if imported else []
    parts += [write(value) for write, value in zip(SCORING_PARTS.values(), values) if value is not None and value != ""]
    return " · ".join(parts) or None
