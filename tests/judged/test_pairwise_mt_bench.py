"""Pairwise MT-Bench through the arena judge: `evalsuite arena judge --protocol pair-v2`.

Fixed answers by three contestants to two MT-Bench prompts (a writing one and a math one),
judged by a loopback OpenAI-compatible stand-in that writes verdicts by a rule the test
knows; prompts sent are rebuilt from FastChat's raw files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from judge_stand_in import judge_server
from typer.testing import CliRunner

from evalsuite.arena.pair_judge import WinRate, pair_prompt, win_rates
from evalsuite.arena.prompts import mt_bench_prompts
from evalsuite.cli.app import app
from evalsuite.store import arena_queries
from evalsuite.store.db import open_database

cli = CliRunner()
QUESTION_IDS = (81, 111)  # writing (pair-v2), math (pair-math-v1 with GPT-4's reference)
ANSWERS = {"baseline": "A plain answer.", "strong": "A strong answer.", "weak": "A weak answer."}
NO_VERDICT = "NO-VERDICT"  # weak's answer to the math question makes the stand-in give no verdict
ANSWER_A = re.compile(r"\[The Start of Assistant A's Answer\]\n(.*?)\n\[The End of Assistant A's Answer\]", re.S)
ANSWER_B = re.compile(r"\[The Start of Assistant B's Answer\]\n(.*?)\n\[The End of Assistant B's Answer\]", re.S)


def _raw(shared_data: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (shared_data / "mt_bench" / name).read_text().splitlines() if line.strip()]


def verdict(messages: list[dict[str, str]]) -> str:
    """The stand-in's rule: a 'strong' answer wins; otherwise it always says A (a position bias)."""
    user = messages[-1]["content"]
    a, b = ANSWER_A.search(user).group(1), ANSWER_B.search(user).group(1)  # type: ignore[union-attr]
    if NO_VERDICT in (a + b):
        return "Both answers are hard to compare."
    if "strong" in a and "strong" not in b:
        return "Assistant A is more helpful. [[A]]"
    if "strong" in b and "strong" not in a:
        return "Assistant B is more helpful. [[B]]"
    return "I prefer the first one. [[A]]"


@pytest.fixture
def answered_db(tmp_path: Path) -> Path:
    db = tmp_path / "arena.db"
    with open_database(db) as database:
        prompts = {int(p.source.split(":")[1]): p for p in mt_bench_prompts()}
        arena_queries.add_prompts(database, [prompts[q] for q in QUESTION_IDS])
        for row in arena_queries.list_prompts(database):
            for model, text in ANSWERS.items():
                weak_math = model == "weak" and row.category == "math"
                arena_queries.add_completion(database, row.id, model, NO_VERDICT if weak_math else text, {"source": "fixed test text"})
    return db


def test_pair_v2_votes_follow_fastchat_and_win_rates_count_ties_half(answered_db: Path, shared_data: Path) -> None:
    with judge_server(verdict) as judge:
        result = cli.invoke(app, [
            "arena", "judge", "--judge", judge.served, "--backend", "openai", "--base-url", judge.url, "--backend-arg", "api=chat",
            "--protocol", "pair-v2", "--baseline", "baseline", "--db", str(answered_db),
        ])
    assert result.exit_code == 0, result.output
    # Pairs with the baseline: strong x2 prompts, weak x2 prompts; both orders each: 8 judgments.
    assert len(judge.requests) == 8
    assert "stand-in-judge (pair-v2) judged 3 battles" in result.output
    assert "warning: 1 pairs not stored: a judgment had no [[A]], [[B]] or [[C]] verdict" in result.output
    with open_database(answered_db, create=False) as database:
        votes = arena_queries.vote_records(database, voter_kinds=("judge",))
    assert {vote["voter"] for vote in votes} == {"stand-in-judge (pair-v2)"}
    outcomes = sorted((tuple(sorted((v["model_a"], v["model_b"]))), v["winner"] if v["winner"] == "tie" else v[v["winner"]]) for v in votes)
    # strong wins both orders on both prompts; weak vs baseline: the judge always said A -> inconsistent -> tie.
    assert outcomes == [(("baseline", "strong"), "strong"), (("baseline", "strong"), "strong"), (("baseline", "weak"), "tie")]
    assert win_rates(votes, "baseline") == [WinRate("strong", 2, 0, 0), WinRate("weak", 0, 0, 1)]
    assert re.search(r"strong\s+│\s+2\s+│\s+0\s+│\s+0\s+│\s+1\.0000\s+│\s+1\.0000", result.output), result.output
    assert re.search(r"weak\s+│\s+0\s+│\s+0\s+│\s+1\s+│\s+0\.0000\s+│\s+0\.5000", result.output), result.output
    _check_prompts_sent(judge.requests, shared_data)


def _check_prompts_sent(requests: list[dict[str, Any]], shared_data: Path) -> None:
    """Every judgment is FastChat's pairwise prompt for its question, greedy, at most 2048 tokens."""
    prompts = {row["name"]: row for row in _raw(shared_data, "judge_prompts.jsonl")}
    questions = {row["question_id"]: row for row in _raw(shared_data, "question.jsonl")}
    references = {row["question_id"]: row["choices"][0]["turns"] for row in _raw(shared_data, "reference_answer_gpt-4.jsonl")}
    expected = []
    for qid in QUESTION_IDS:
        math = questions[qid]["category"] == "math"
        prompt = prompts["pair-math-v1" if math else "pair-v2"]
        refs = {"ref_answer_1": references[qid][0], "ref_answer_2": references[qid][1]} if math else {}
        for other in ("strong", "weak"):
            answer = NO_VERDICT if other == "weak" and math else ANSWERS[other]
            for a, b in ((ANSWERS["baseline"], answer), (answer, ANSWERS["baseline"])):
                user = prompt["prompt_template"].format(question=questions[qid]["turns"][0], answer_a=a, answer_b=b, **refs)
                expected.append([{"role": "system", "content": prompt["system_prompt"]}, {"role": "user", "content": user}])
    assert sorted(json.dumps(r["messages"]) for r in requests) == sorted(json.dumps(m) for m in expected)
    assert {(r["temperature"], r["max_tokens"]) for r in requests} == {(0, 2048)}


def test_pair_prompt_picks_the_reference_prompt_for_math_reasoning_and_coding(shared_data: Path) -> None:
    chosen = {row["category"]: pair_prompt(row["turns"][0], row["category"], "x", "y")[0] for row in _raw(shared_data, "question.jsonl")}
    assert chosen == {
        "writing": "pair-v2", "roleplay": "pair-v2", "extraction": "pair-v2", "stem": "pair-v2", "humanities": "pair-v2",
        "math": "pair-math-v1", "reasoning": "pair-math-v1", "coding": "pair-math-v1",
    }
    assert pair_prompt("Not an MT-Bench question", None, "x", "y")[0] == "pair-v2"


def test_win_rates_are_show_results_pairwise_baseline_table() -> None:
    """Hand-worked: m1 beats the baseline twice and ties once; m2 loses once; battles without the baseline are ignored."""
    records = [
        {"model_a": "m1", "model_b": "base", "winner": "model_a"},
        {"model_a": "base", "model_b": "m1", "winner": "model_b"},
        {"model_a": "m1", "model_b": "base", "winner": "tie"},
        {"model_a": "base", "model_b": "m2", "winner": "model_a"},
        {"model_a": "m1", "model_b": "m2", "winner": "model_a"},
    ]
    rates = win_rates(records, "base")
    assert rates == [WinRate("m1", 2, 0, 1), WinRate("m2", 0, 1, 0)]
    assert (rates[0].win_rate, rates[0].win_rate_adjusted) == (pytest.approx(2 / 3), pytest.approx(2.5 / 3))
    assert (rates[1].win_rate, rates[1].win_rate_adjusted) == (0.0, 0.0)


def test_unknown_protocol_is_refused(answered_db: Path) -> None:
    result = cli.invoke(app, ["arena", "judge", "--judge", "demo/pico-judge", "--protocol", "pair-v9", "--db", str(answered_db)])
    assert result.exit_code == 1
    assert "error: unknown --protocol 'pair-v9' — hint: choose one of: loglik, pair-v2" in result.output


def test_pair_v2_with_a_real_demo_judge_counts_what_it_cannot_read(answered_db: Path) -> None:
    """demo/pico-judge (transformers) writes no [[A]]/[[B]]/[[C]]: every pair is counted as without a verdict, none stored."""
    result = cli.invoke(app, ["arena", "judge", "--judge", "demo/pico-judge", "--protocol", "pair-v2", "--max-tokens", "16", "--db", str(answered_db)])
    assert result.exit_code == 0, result.output
    with open_database(answered_db, create=False) as database:
        stored = arena_queries.vote_records(database, voter_kinds=("judge",))
    judged = int(re.search(r"judged (\d+) battles", result.output).group(1))  # type: ignore[union-attr]
    missing = re.search(r"warning: (\d+) pairs not stored", result.output)
    assert judged == len(stored) == 0
    assert missing is not None and int(missing.group(1)) == 2 * 3  # 2 prompts x 3 pairs of contestants
