"""FastChat's judge prompts as data, and how a judge's answer is read back.

The prompts are FastChat's ``judge_prompts.jsonl``, shipped unchanged in
``tasks/mt_bench/``; each has a system prompt, a ``str.format`` template and an output
format. What carries over from FastChat's ``llm_judge`` (its rules, not its code):

* **Single-answer grading** (``[[rating]]``): the first ``[[number]]`` in the judge's
  answer, else the first ``[number]``; a number is digits with an optional decimal part
  (``8``, ``8.5``, ``8.``). No match means no rating: FastChat writes -1 and
  ``show_result`` drops it; we keep ``None`` and count it, never score it.
* **Pairwise** (``[[A]]``): ``[[A]]`` anywhere wins for A, else ``[[B]]`` for B, else
  ``[[C]]`` is a tie, else no verdict (an error, left out of win rates). A pair is
  judged twice with the answers swapped; two verdicts that disagree are a tie.
* Template keywords: ``question``/``answer`` (one turn), ``question_1``/``question_2``/
  ``answer_1``/``answer_2`` (multi-turn), ``answer_a``/``answer_b`` (pairwise),
  ``ref_answer_1``/``ref_answer_2`` (reference-based).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from evalsuite.errors import TaskFileError
from evalsuite.tasks.index import TASKS_ROOT

PROMPTS_FILE = TASKS_ROOT / "mt_bench" / "judge_prompts.jsonl"
RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
RATING_FALLBACK = re.compile(r"\[(\d+\.?\d*)\]")
VERDICT_TIE = "tie"


@dataclass(frozen=True)
class JudgePrompt:
    """One line of ``judge_prompts.jsonl``."""

    name: str
    type: str  # "single" or "pairwise"
    system_prompt: str
    template: str
    output_format: str  # "[[rating]]" or "[[A]]"

    def render(self, **fields: str) -> str:
        """The user prompt: the template filled with FastChat's keywords (unused ones are ignored)."""
        return self.template.format(**fields)


@lru_cache(maxsize=4)
def load_judge_prompts(path: Path = PROMPTS_FILE) -> dict[str, JudgePrompt]:
    """Every prompt of a judge-prompts file by name."""
    prompts: dict[str, JudgePrompt] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TaskFileError(f"cannot read the judge prompts {path}: {exc.strerror}", "reinstall evalsuite") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            prompts[record["name"]] = JudgePrompt(
                name=record["name"], type=record["type"], system_prompt=record["system_prompt"],
                template=record["prompt_template"], output_format=record["output_format"],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise TaskFileError(f"{path}, line {number}: not a judge prompt ({exc})") from exc
    return prompts


def single_fields(
    questions: Sequence[str], answers: Sequence[str], references: Sequence[str] | None, *, multi_turn: bool
) -> dict[str, str]:
    """Template keywords for grading one answer (turn 1) or a whole conversation (turn 2)."""
    fields: dict[str, str] = {}
    if references is not None:
        fields.update(ref_answer_1=references[0], ref_answer_2=references[1])
    if multi_turn:
        fields.update(question_1=questions[0], question_2=questions[1], answer_1=answers[0], answer_2=answers[1])
    else:
        fields.update(question=questions[0], answer=answers[0])
    return fields


def pair_fields(
    questions: Sequence[str], answers_a: Sequence[str], answers_b: Sequence[str], references: Sequence[str] | None, *, multi_turn: bool
) -> dict[str, str]:
    """Template keywords for comparing two answers (turn 1) or two conversations (turn 2)."""
    fields: dict[str, str] = {}
    if references is not None:
        fields.update(ref_answer_1=references[0], ref_answer_2=references[1])
    if multi_turn:
        fields.update(
            question_1=questions[0], question_2=questions[1], answer_a_1=answers_a[0], answer_a_2=answers_a[1],
            answer_b_1=answers_b[0], answer_b_2=answers_b[1],
        )
    else:
        fields.update(question=questions[0], answer_a=answers_a[0], answer_b=answers_b[0])
    return fields


def extract_rating(judgment: str) -> float | None:
    """The judge's rating: first ``[[n]]``, else first ``[n]``; None when there is neither."""
    match = RATING.search(judgment) or RATING_FALLBACK.search(judgment)
    return float(match.group(1)) if match else None


def extract_verdict(judgment: str) -> str | None:
    """``"A"``, ``"B"`` or ``"tie"`` from ``[[A]]``/``[[B]]``/``[[C]]`` (in that precedence); None without one."""
    for token, verdict in (("[[A]]", "A"), ("[[B]]", "B"), ("[[C]]", VERDICT_TIE)):
        if token in judgment:
            return verdict
    return None


def combine_swapped(first: str | None, swapped: str | None) -> str | None:
    """Outcome for (x, y) from the verdict with x shown as A and the one with y shown as A.

    Returns ``"x"``, ``"y"``, ``"tie"`` (a tie verdict, or the two orders disagree), or None
    when either judgment gave no verdict (FastChat drops such games).
    """
    if first is None or swapped is None:
        return None
    as_x = {"A": "x", "B": "y"}.get(first, VERDICT_TIE)
    as_x_swapped = {"A": "y", "B": "x"}.get(swapped, VERDICT_TIE)
    return as_x if as_x == as_x_swapped else VERDICT_TIE


def chat_turns(system_prompt: str, user_prompt: str) -> list[dict[str, str]]:
    """The judge's conversation: FastChat sets the system message, then one user turn."""
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": user_prompt}]


def prompt_names(mapping: Mapping[str, JudgePrompt], kind: str) -> list[str]:
    """Names of the prompts of one type (``single`` or ``pairwise``)."""
    return [name for name, prompt in mapping.items() if prompt.type == kind]
