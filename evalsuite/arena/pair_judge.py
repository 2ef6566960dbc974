"""Pairwise MT-Bench judging (``evalsuite arena judge --protocol pair-v2``), FastChat's way.

Where the default arena judge compares log p("A") with log p("B"), this protocol has the
judge *write* a verdict with FastChat's pairwise prompts (shipped in
``tasks/mt_bench/judge_prompts.jsonl``): ``pair-v2`` for general questions,
``pair-math-v1`` with GPT-4's reference answer for MT-Bench's math, reasoning and coding
questions (found by the prompt's text). The judge answers greedily through its chat
template (the prompt's system message, then the user prompt); the verdict is read as
FastChat reads it (``[[A]]``, else ``[[B]]``, else ``[[C]]`` for a tie). Every pair is
judged twice with the answers swapped, and two verdicts that disagree are a tie; a
judgment without a verdict drops the pair (counted as an error), as ``show_result``
drops it. Arena answers are single-turn, so the single-turn prompts apply.

:func:`win_rates` is ``show_result``'s pairwise-baseline table: per model, wins, losses
and ties against the baseline, ``win_rate = wins / n`` and ``win_rate_adjusted =
(wins + ties / 2) / n``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from evalsuite.judged.base import chat_context, generate_texts, generation_room
from evalsuite.judged.mt_bench import NEEDS_REFERENCE, Question, load_questions
from evalsuite.judged.prompts import chat_turns, combine_swapped, extract_verdict, load_judge_prompts, pair_fields

PROTOCOL = "pair-v2"
DEFAULT_MAX_TOKENS = 2048  # FastChat's judge limit


@dataclass(frozen=True)
class PairJudgment:
    """Both orders of one pair: the judge's two answers and the combined outcome (``x``, ``y``, ``tie``, None)."""

    prompt_name: str
    user_prompts: tuple[str, str]
    outputs: tuple[str, str]
    outcome: str | None


@dataclass(frozen=True)
class WinRate:
    model: str
    wins: int
    losses: int
    ties: int

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def win_rate(self) -> float:
        return self.wins / self.n

    @property
    def win_rate_adjusted(self) -> float:
        return (self.wins + 0.5 * self.ties) / self.n


@lru_cache(maxsize=1)
def _mt_bench_by_text() -> dict[str, Question]:
    return {question.turns[0].strip(): question for question in load_questions()}


def pair_prompt(question: str, category: str | None, answer_a: str, answer_b: str) -> tuple[str, str, str]:
    """(prompt name, system prompt, user prompt) for one order of a pair."""
    known = _mt_bench_by_text().get(question.strip())
    references = known.references if known is not None and (category or known.category) in NEEDS_REFERENCE else None
    prompt = load_judge_prompts()["pair-math-v1" if references is not None else "pair-v2"]
    text = known.turns[0] if known is not None else question
    return prompt.name, prompt.system_prompt, prompt.render(**pair_fields([text], [answer_a], [answer_b], references, multi_turn=False))


def judge_pairs(lm: Any, pairs: Sequence[Any], max_tokens: int, label: str) -> list[PairJudgment | None]:
    """Judge each pair (``question``, ``category``, ``answer_x``, ``answer_y``) in both orders; None: too long."""
    items: list[tuple[str, dict[str, Any]]] = []
    built: list[tuple[str, tuple[str, str]] | None] = []
    for pair in pairs:
        orders = [pair_prompt(pair.question, pair.category, a, b) for a, b in ((pair.answer_x, pair.answer_y), (pair.answer_y, pair.answer_x))]
        contexts = [chat_context(lm, chat_turns(system, user), label) for _, system, user in orders]
        rooms = [generation_room(lm, context, max_tokens) for context in contexts]
        if min(rooms) < 1:
            built.append(None)
            continue
        built.append((orders[0][0], (orders[0][2], orders[1][2])))
        items.extend((context, {"until": [], "max_gen_toks": room, "do_sample": False, "temperature": 0.0}) for context, room in zip(contexts, rooms))
    texts = iter(generate_texts(lm, items, None))
    results: list[PairJudgment | None] = []
    for entry in built:
        if entry is None:
            results.append(None)
            continue
        first, swapped = next(texts), next(texts)
        outcome = combine_swapped(extract_verdict(first), extract_verdict(swapped))
        results.append(PairJudgment(entry[0], entry[1], (first, swapped), outcome))
    return results


def win_rates(records: Iterable[Mapping[str, Any]], baseline: str) -> list[WinRate]:
    """``show_result``'s pairwise-baseline table from battle records (``model_a``, ``model_b``, ``winner``), best first."""
    counts: dict[str, list[int]] = {}
    for record in records:
        a, b, winner = record["model_a"], record["model_b"], record["winner"]
        if baseline not in (a, b) or a == b:
            continue
        model = b if a == baseline else a
        won = winner == ("model_a" if model == a else "model_b")
        lost = winner == ("model_b" if model == a else "model_a")
        tally = counts.setdefault(model, [0, 0, 0])
        tally[0 if won else 1 if lost else 2] += 1
    rates = [WinRate(model, *tally) for model, tally in counts.items()]
    return sorted(rates, key=lambda rate: (-rate.win_rate_adjusted, rate.model))
