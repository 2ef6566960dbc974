"""MT-Bench: 80 two-turn questions, answered by the model under test and graded out of 10 by a judge.

What carries over from FastChat's ``llm_judge`` (``gen_model_answer.py``, ``gen_judgment.py``,
``show_result.py``; facts, not code):

* **Answers.** Both turns through the model's chat template, turn 2 after turn 1's
  question and answer; temperature by category (writing, roleplay 0.7; extraction,
  math, coding, reasoning 0.0; stem, humanities 0.1; greedy below 1e-4), at most 1024
  new tokens (``--gen-kwarg max_gen_toks=N`` lowers it), answers stripped.
* **Judgments.** Turn 1 with ``single-v1``, turn 2 with ``single-v1-multi-turn`` (the
  whole conversation); math, reasoning and coding questions with ``single-math-v1`` and
  ``single-math-v1-multi-turn`` and GPT-4's reference answers. The judge gets the
  prompt's system message and the user prompt, answers greedily, at most 2048 tokens.
* **Scores** (``show_result``): judgments without a rating are dropped; turn 1 and
  turn 2 are the mean rating of their judgments, the score the mean over both turns'
  judgments together. Here a missing rating is also counted and stored (``no_rating``).

Nothing is generated or judged from a cut prompt: a turn whose prompt leaves no room in
the model's (or the judge's) context window is counted as too long and not scored, and
new tokens are capped to the room left, so backends never truncate a prompt.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from evalsuite.errors import JudgeOutputError, TaskFileError
from evalsuite.judged.base import JudgedContext, JudgedOutcome, chat_context, generate_texts, generation_room
from evalsuite.judged.prompts import JudgePrompt, chat_turns, extract_rating, load_judge_prompts, single_fields
from evalsuite.store.schema import MetricRecord, SampleRecord
from evalsuite.tasks.index import TASKS_ROOT

NAME = "mt_bench"
VERSION = "1.0"  # bump when prompts, settings or scoring change: the board never mixes versions
PROMPT_SET = "fastchat-single-v1"  # which judge prompts grade the answers (part of the judge's key)
QUESTIONS_FILE = TASKS_ROOT / "arena" / "mt_bench_questions.jsonl"  # shared with the arena
REFERENCES_FILE = TASKS_ROOT / "mt_bench" / "reference_answer_gpt-4.jsonl"
TEMPERATURES = {
    "writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0, "reasoning": 0.0, "stem": 0.1, "humanities": 0.1,
}
DEFAULT_TEMPERATURE = 0.7  # FastChat's, for a category it does not list
GREEDY_BELOW = 1e-4
NEEDS_REFERENCE = ("math", "reasoning", "coding")
MAX_NEW_TOKENS = 1024
JUDGE_MAX_TOKENS = 2048
COUNTS = ("judgments", "no_rating", "too_long")  # tallies stored beside the scores: no direction, never a board column
METRICS = ("score", "score_turn1", "score_turn2", *COUNTS)
Reporter = Callable[[str], None]


@dataclass(frozen=True)
class Question:
    question_id: int
    category: str
    turns: tuple[str, str]
    references: tuple[str, str] | None  # GPT-4's answers, for the categories that need them


@dataclass(frozen=True)
class JudgeCall:
    """One judgment to make: which question and turn, with which prompt, saying what."""

    question: Question
    turn: int
    prompt: JudgePrompt
    user_prompt: str
    answer: str


@dataclass(frozen=True)
class Judgment:
    """A judge's answer and the rating read from it (None: no rating; output None: too long to judge)."""

    call: JudgeCall
    output: str | None
    rating: float | None


@dataclass(frozen=True)
class Summary:
    """FastChat's ``show_result`` figures, plus what it drops silently."""

    turn1: float | None
    turn2: float | None
    score: float | None
    rated: tuple[list[float], list[float]]
    no_rating: int
    too_long: int

    @property
    def judgments(self) -> int:
        return len(self.rated[0]) + len(self.rated[1]) + self.no_rating


# ----------------------------------------------------------------- data


def load_questions(questions_file: Path | None = None, references_file: Path | None = None) -> tuple[Question, ...]:
    """The 80 questions in file order, with reference answers where the category needs them.

    The one reader of MT-Bench's questions: the judged task and the arena (its prompts and
    its pairwise judge) all call it. The files default to the shipped ones, looked up at
    call time so a test can point the whole product at another copy.
    """
    return _read_questions(questions_file or QUESTIONS_FILE, references_file or REFERENCES_FILE)


@lru_cache(maxsize=2)
def _read_questions(questions_file: Path, references_file: Path) -> tuple[Question, ...]:
    references = {int(row["question_id"]): tuple(row["choices"][0]["turns"][:2]) for row in _jsonl(references_file)}
    questions = []
    for row in _jsonl(questions_file):
        category = str(row["category"])
        refs = references.get(int(row["question_id"])) if category in NEEDS_REFERENCE else None
        if category in NEEDS_REFERENCE and refs is None:
            raise TaskFileError(f"{references_file}: no reference answer for question {row['question_id']}", "reinstall evalsuite")
        questions.append(Question(int(row["question_id"]), category, (row["turns"][0], row["turns"][1]), refs))  # type: ignore[arg-type]
    return tuple(questions)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise TaskFileError(f"cannot read MT-Bench data {path}: {exc}", "reinstall evalsuite") from exc


def temperature(category: str) -> float:
    return TEMPERATURES.get(category, DEFAULT_TEMPERATURE)


def judge_prompt(question: Question, turn: int, prompts: Mapping[str, JudgePrompt] | None = None) -> JudgePrompt:
    """``single-v1`` or ``single-math-v1`` (reference-based), ``-multi-turn`` for turn 2."""
    name = ("single-math-v1" if question.references is not None else "single-v1") + ("-multi-turn" if turn == 2 else "")
    return (prompts or load_judge_prompts())[name]


def judge_calls(questions: Sequence[Question], answers: Mapping[int, Sequence[str | None]]) -> list[JudgeCall]:
    """Every judgment for the answered turns: turn 1 of each question, then turn 2 of each."""
    calls = []
    for turn in (1, 2):
        for question in questions:
            given = answers[question.question_id]
            if any(answer is None for answer in given[:turn]):
                continue  # a turn too long to answer is not judged
            prompt = judge_prompt(question, turn)
            fields = single_fields(question.turns, [str(a) for a in given], question.references, multi_turn=turn == 2)
            calls.append(JudgeCall(question, turn, prompt, prompt.render(**fields), str(given[turn - 1])))
    return calls


def summarize(ratings: Sequence[tuple[int, float | None]], too_long: int = 0) -> Summary:
    """``show_result``: (turn, rating) pairs -> mean of turn 1, of turn 2, of both together."""
    rated: tuple[list[float], list[float]] = ([], [])
    missing = 0
    for turn, rating in ratings:
        if rating is None:
            missing += 1
        else:
            rated[turn - 1].append(rating)
    both = rated[0] + rated[1]
    return Summary(_mean(rated[0]), _mean(rated[1]), _mean(both), rated, missing, too_long)


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _stderr(values: Sequence[float]) -> float | None:
    """Standard error of the mean (sample standard deviation / sqrt(n)), as lm-eval's ``mean``."""
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None


# ----------------------------------------------------------------- the task


class MTBench:
    """The judged task ``mt_bench`` (see the module docstring)."""

    name = NAME
    version = VERSION
    prompt_set = PROMPT_SET
    metrics = METRICS
    description = "MT-Bench (FastChat): 80 two-turn questions, each turn rated 1-10 by a judge (--judge)"
    judge_max_tokens = JUDGE_MAX_TOKENS
    turns = 2  # both turns of a question are answered, and each answered turn is judged

    def available(self) -> int:
        return len(load_questions())

    def documents(self, limit: int | None) -> int:
        return min(limit, self.available()) if limit is not None else self.available()

    def data_source(self) -> str:
        return "shipped tasks/arena/mt_bench_questions.jsonl + tasks/mt_bench/"

    def evaluate(self, context: JudgedContext) -> JudgedOutcome:
        questions = list(load_questions())[: self.documents(context.limit)]
        context.report(f"{NAME}: {len(questions)} questions x 2 turns, answers from the model")
        answers = generate_answers(context, questions)
        context.release_model()  # every answer is in (and cached): the judge may have the memory
        calls = judge_calls(questions, answers)
        context.report(f"{NAME}: {len(calls)} judgments by {context.judge_label}")
        judgments = judge(context, calls)
        too_long = sum(answer is None for pair in answers.values() for answer in pair) + sum(j.output is None for j in judgments)
        summary = summarize([(j.call.turn, j.rating) for j in judgments if j.output is not None], too_long)
        if summary.judgments and summary.score is None:
            example = next(j.output for j in judgments if j.output is not None)
            raise JudgeOutputError(
                f"judge {context.judge_label} gave no [[rating]] in any of its {summary.judgments} judgments "
                f"(first answer: {str(example)[:80]!r})",
                "use a judge that follows FastChat's prompt (it must write 'Rating: [[5]]'), or raise --judge-max-tokens",
            )
        if summary.judgments == 0:
            raise JudgeOutputError(
                f"no MT-Bench turn fitted the context windows ({too_long} too long)",
                "use models with a longer context, or lower --gen-kwarg max_gen_toks",
            )
        return JudgedOutcome(
            metrics=self._metrics(context, summary, len(questions)),
            samples=[_sample(context.run_id, j) for j in judgments],
            summary_line=_summary_line(summary),
        )

    def _metrics(self, context: JudgedContext, summary: Summary, documents: int) -> list[MetricRecord]:
        details = {"judge": context.judge_label, "judge_key": context.judge_key, "prompts": PROMPT_SET,
                   "rated_turn1": len(summary.rated[0]), "rated_turn2": len(summary.rated[1])}
        rows: list[tuple[str, float | None, float | None, bool | None]] = [
            ("score", summary.score, _stderr(summary.rated[0] + summary.rated[1]), True),
            ("score_turn1", summary.turn1, _stderr(summary.rated[0]), True),
            ("score_turn2", summary.turn2, _stderr(summary.rated[1]), True),
            *((name, float(count), None, None) for name, count in zip(COUNTS, (summary.judgments, summary.no_rating, summary.too_long))),
        ]
        return [
            MetricRecord(
                run_id=context.run_id, task=NAME, metric=metric, filter="none", value=value, stderr=stderr,
                n_samples=documents, n_shot=0, higher_is_better=higher, details=details, task_version=VERSION,
                n_total_docs=self.available(),
            )
            for metric, value, stderr, higher in rows
        ]


def _summary_line(summary: Summary) -> str:
    shown = {key: "—" if value is None else f"{value:.2f}" for key, value in (("t1", summary.turn1), ("t2", summary.turn2), ("all", summary.score))}
    return (
        f"{NAME}: score {shown['all']} (turn 1 {shown['t1']}, turn 2 {shown['t2']}) from {summary.judgments - summary.no_rating} "
        f"rated judgments; {summary.no_rating} without a rating (not scored); {summary.too_long} turn(s) too long"
    )


def _sample(run_id: int, judgment: Judgment) -> SampleRecord:
    call = judgment.call
    reference = call.question.references[call.turn - 1] if call.question.references is not None else None
    return SampleRecord(
        run_id=run_id, task=NAME, doc_id=call.question.question_id, filter=f"turn{call.turn}", prompt=call.user_prompt,
        target=reference, responses=[judgment.output],
        metrics={"rating": judgment.rating, "judge_prompt": call.prompt.name, "system_prompt": call.prompt.system_prompt,
                 "category": call.question.category, "answer": call.answer, "too_long": judgment.output is None},
        correct=None,
    )


# ----------------------------------------------------------------- generation and judging


def generate_answers(context: JudgedContext, questions: Sequence[Question]) -> dict[int, list[str | None]]:
    """Both turns of every question; turn 2 sees turn 1's question and answer (None: too long)."""
    lm = context.model_lm
    wanted = context.max_new_tokens or MAX_NEW_TOKENS
    answers: dict[int, list[str | None]] = {q.question_id: [] for q in questions}
    history: dict[int, list[dict[str, str]]] = {
        q.question_id: [{"role": "system", "content": context.system_instruction}] if context.system_instruction else [] for q in questions
    }
    for turn in (0, 1):
        pending = []
        for question in questions:
            if turn == 1 and answers[question.question_id][0] is None:
                answers[question.question_id].append(None)
                continue
            messages = [*history[question.question_id], {"role": "user", "content": question.turns[turn]}]
            prompt = chat_context(lm, messages, context.model_label)
            room = generation_room(lm, prompt, wanted)
            if room < 1:
                answers[question.question_id].append(None)
                continue
            pending.append((question, messages, prompt, _sampling(question.category, room)))
        texts = generate_texts(lm, [(prompt, kwargs) for _, _, prompt, kwargs in pending], context.seed)
        for (question, messages, _, _), text in zip(pending, texts, strict=True):
            answer = text.strip()
            answers[question.question_id].append(answer)
            history[question.question_id] = [*messages, {"role": "assistant", "content": answer}]
    return answers


def _sampling(category: str, max_new_tokens: int) -> dict[str, Any]:
    value = temperature(category)
    if value < GREEDY_BELOW:
        return {"until": [], "max_gen_toks": max_new_tokens, "do_sample": False, "temperature": 0.0}
    return {"until": [], "max_gen_toks": max_new_tokens, "do_sample": True, "temperature": value}


def judge(context: JudgedContext, calls: Sequence[JudgeCall]) -> list[Judgment]:
    """Each call through the judge's chat template, greedy; the rating read as FastChat reads it."""
    lm = context.judge_lm()
    wanted = context.judge_max_tokens or JUDGE_MAX_TOKENS
    pending: list[tuple[int, str, dict[str, Any]]] = []
    outputs: list[str | None] = [None] * len(calls)
    for index, call in enumerate(calls):
        prompt = chat_context(lm, chat_turns(call.prompt.system_prompt, call.user_prompt), context.judge_label)
        room = generation_room(lm, prompt, wanted)
        if room >= 1:
            pending.append((index, prompt, {"until": [], "max_gen_toks": room, "do_sample": False, "temperature": 0.0}))
    texts = generate_texts(lm, [(prompt, kwargs) for _, prompt, kwargs in pending], None)
    for (index, _, _), text in zip(pending, texts, strict=True):
        outputs[index] = text
    return [Judgment(call, output, extract_rating(output) if output is not None else None) for call, output in zip(calls, outputs, strict=True)]


TASK = MTBench()
