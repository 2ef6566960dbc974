"""`evalsuite arena judge`: verdicts recomputed with a plain transformers forward pass, stored as judge votes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import torch
from arena_flow_fixtures import copy_db
from transformers import AutoModelForCausalLM, AutoTokenizer
from typer.testing import CliRunner

from evalsuite.arena.judge import JUDGE_PROMPT, PLAIN_SUFFIX, combine_orders
from evalsuite.cli.app import app


@pytest.mark.parametrize(
    ("first", "swapped", "expected"),
    [
        ((-1.0, -2.0), (-3.0, -0.5), "a"),   # x shown as A wins, x shown as B wins
        ((-2.0, -1.0), (-0.5, -3.0), "b"),   # y wins in both orders
        ((-1.0, -2.0), (-1.0, -2.0), "tie"),  # the judge always prefers position A
        ((-2.0, -1.0), (-2.0, -1.0), "tie"),  # ... or always position B
        ((-1.0, -1.0), (-3.0, -0.5), "tie"),  # no preference in one order
    ],
)
def test_combine_orders_needs_both_orders_to_agree(first: tuple, swapped: tuple, expected: str) -> None:
    assert combine_orders(first, swapped) == expected


def _sql(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


@torch.no_grad()
def _loglik(model: torch.nn.Module, tokenizer: object, context: str, continuation: str, window: int) -> float:
    """Sum of log p(continuation tokens), HFLM's split and left truncation, written out by hand."""
    context_ids = tokenizer(context).input_ids  # type: ignore[operator]
    whole = tokenizer(context + continuation).input_ids  # type: ignore[operator]
    target = whole[len(context_ids):]
    inputs = whole[-(window + 1):][:-1]
    logprobs = torch.log_softmax(model(torch.tensor([inputs])).logits[0].float(), dim=-1)
    rows = logprobs[-len(target):]
    return float(sum(rows[i, token] for i, token in enumerate(target)))


def test_judge_votes_match_a_hand_computed_verdict_and_stay_out_of_ratings(
    generated_db: Path, tiny_llama: Path, tmp_path: Path
) -> None:
    db = copy_db(generated_db, tmp_path / "judged.db")
    runner = CliRunner()
    result = runner.invoke(app, ["arena", "judge", "--judge", str(tiny_llama), "--device", "cpu", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert f"{tiny_llama} judged 3 battles" in result.output

    votes = _sql(db, "SELECT prompt_id, model_a, model_b, outcome, voter, voter_kind, position_a FROM vote ORDER BY id")
    assert len(votes) == 3 and all(v[4:] == (str(tiny_llama), "judge", "both") for v in votes)
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32).eval()
    window = model.config.max_position_embeddings
    answers = {(p, m): t for p, m, t in _sql(db, "SELECT prompt_id, model_name, text FROM completion")}
    questions = dict(_sql(db, "SELECT id, text FROM prompt"))
    for prompt_id, x, y, outcome, *_ in votes:
        scores = []
        for a, b in ((x, y), (y, x)):
            context = JUDGE_PROMPT.format(question=questions[prompt_id], answer_a=answers[prompt_id, a], answer_b=answers[prompt_id, b]) + PLAIN_SUFFIX
            scores.append(tuple(_loglik(model, tokenizer, context, letter, window) for letter in (" A", " B")))
        x_first, x_swapped = scores[0][0] > scores[0][1], scores[1][1] > scores[1][0]
        expected = "a" if x_first and x_swapped else "b" if not (x_first or x_swapped) else "tie"
        assert outcome == expected, (scores, outcome)

    again = runner.invoke(app, ["arena", "judge", "--judge", str(tiny_llama), "--device", "cpu", "--db", str(db)])
    assert f"{tiny_llama} judged 0 battles" in again.output  # no pair judged twice
    humans_only = runner.invoke(app, ["arena", "ratings", "--json", "--db", str(db)])
    assert humans_only.exit_code == 1 and "no votes by people yet" in humans_only.output
    with_judges = runner.invoke(app, ["arena", "ratings", "--json", "--bootstrap", "0", "--include-judges", "--db", str(db)])
    assert with_judges.exit_code == 0, with_judges.output
    assert sum(row["battles"] for row in json.loads(with_judges.stdout)) == 2 * 3


def test_a_judge_never_rates_pairs_with_its_own_answers(generated_db: Path, tmp_path: Path) -> None:
    db = copy_db(generated_db, tmp_path / "self.db")
    result = CliRunner().invoke(app, ["arena", "judge", "--judge", "demo/pico-s", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "demo/pico-s judged 0 battles" in result.output and "skipped 3 pairs with its own answers" in result.output
    assert _sql(db, "SELECT COUNT(*) FROM vote") == [(0,)]
