"""MT-Bench as FastChat computes it: the judge prompts byte for byte, the scores of ``show_result``.

The reference is FastChat's own output, kept in ``../shared/data/mt_bench/``: two answer
sets of Llama-3-8B-Instruct, GPT-4's judgments of them (each with the exact ``user_prompt``
FastChat built) and ``show_result``'s figures (``show_result_golden.json``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evalsuite.judged import mt_bench
from evalsuite.judged.prompts import extract_rating, load_judge_prompts

ANSWER_SETS = ("Meta-Llama-3-8B-Instruct-Griffin", "Meta-Llama-3-8B-Instruct-Normal")
JUDGMENTS = "judgments_gpt-4_single-origin_dreaming-panda.jsonl"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def judgments(shared_data: Path) -> list[dict[str, Any]]:
    return _jsonl(shared_data / "mt_bench" / JUDGMENTS)


def _answers(shared_data: Path, model: str) -> dict[int, list[str]]:
    return {row["question_id"]: row["choices"][0]["turns"] for row in _jsonl(shared_data / "mt_bench" / f"model_answer_{model}.jsonl")}


def test_shipped_data_is_fastchats(shared_data: Path) -> None:
    """The package ships FastChat's files unchanged (questions with the arena, prompts and references here)."""
    source = shared_data / "mt_bench"
    assert mt_bench.QUESTIONS_FILE.read_bytes() == (source / "question.jsonl").read_bytes()
    assert mt_bench.REFERENCES_FILE.read_bytes() == (source / "reference_answer_gpt-4.jsonl").read_bytes()
    assert (mt_bench.REFERENCES_FILE.parent / "judge_prompts.jsonl").read_bytes() == (source / "judge_prompts.jsonl").read_bytes()
    assert (mt_bench.REFERENCES_FILE.parent / "LICENSE").read_bytes() == (source / "LICENSE").read_bytes()


@pytest.mark.parametrize("model", ANSWER_SETS)
def test_judge_prompts_equal_fastchats_byte_for_byte(shared_data: Path, judgments: list[dict[str, Any]], model: str) -> None:
    calls = {(call.question.question_id, call.turn): call for call in mt_bench.judge_calls(mt_bench.load_questions(), _answers(shared_data, model))}
    assert len(calls) == 160  # 80 questions x 2 turns, every one answered
    recorded = [row for row in judgments if row["model"] == model]
    assert {(row["question_id"], row["turn"]) for row in recorded} == set(calls)  # every prompt has its recorded twin
    system_prompts = {row["name"]: row["system_prompt"] for row in _jsonl(shared_data / "mt_bench" / "judge_prompts.jsonl")}
    for row in recorded:
        call = calls[(row["question_id"], row["turn"])]
        assert call.user_prompt == row["user_prompt"], (row["question_id"], row["turn"])
        assert call.prompt.name == row["judge"][1]
        assert call.prompt.system_prompt == system_prompts[row["judge"][1]]


def test_prompt_choice_follows_fastchats_categories(shared_data: Path) -> None:
    """Reference-based prompts exactly for math, reasoning and coding, multi-turn prompts for turn 2."""
    calls = mt_bench.judge_calls(mt_bench.load_questions(), _answers(shared_data, ANSWER_SETS[0]))
    used = Counter((call.question.category in ("math", "reasoning", "coding"), call.turn, call.prompt.name) for call in calls)
    assert used == Counter({
        (False, 1, "single-v1"): 50, (False, 2, "single-v1-multi-turn"): 50,
        (True, 1, "single-math-v1"): 30, (True, 2, "single-math-v1-multi-turn"): 30,
    })


def test_extraction_agrees_with_every_recorded_fastchat_score(judgments: list[dict[str, Any]]) -> None:
    """FastChat wrote -1 where it found no rating; we find none there, and its number everywhere else."""
    for row in judgments:
        rating = extract_rating(row["judgment"])
        assert (-1 if rating is None else rating) == row["score"], row["judgment"][-80:]
    assert sum(extract_rating(row["judgment"]) is None for row in judgments) == sum(row["score"] == -1 for row in judgments) == 4


@pytest.mark.parametrize("model", ANSWER_SETS)
def test_scores_equal_fastchats_show_result(shared_data: Path, judgments: list[dict[str, Any]], model: str) -> None:
    golden = json.loads((shared_data / "mt_bench" / "show_result_golden.json").read_text())["scores"][model]
    rows = [row for row in judgments if row["model"] == model]  # duplicates kept, as show_result keeps them
    summary = mt_bench.summarize([(row["turn"], extract_rating(row["judgment"])) for row in rows])
    assert summary.turn1 == pytest.approx(golden["turn1"], abs=0.01)
    assert summary.turn2 == pytest.approx(golden["turn2"], abs=0.01)
    assert summary.score == pytest.approx(golden["average"], abs=0.01)
    assert (len(summary.rated[0]), len(summary.rated[1])) == (golden["judgments_turn1"], golden["judgments_turn2"])
    assert summary.no_rating == sum(row["score"] == -1 for row in rows)  # dropped from the means, and counted


def test_temperatures_and_lengths_are_fastchats() -> None:
    assert {q.category: mt_bench.temperature(q.category) for q in mt_bench.load_questions()} == {
        "writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0, "reasoning": 0.0, "stem": 0.1, "humanities": 0.1,
    }
    assert (mt_bench.MAX_NEW_TOKENS, mt_bench.JUDGE_MAX_TOKENS) == (1024, 2048)
    assert set(load_judge_prompts()) >= {"single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn", "pair-v2", "pair-math-v1"}
