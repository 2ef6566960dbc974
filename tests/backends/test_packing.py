"""Packing rows of different questions into lines, and scoring them as if each ran alone."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
import transformers

from evalsuite.backends import _loading
from evalsuite.backends._scoring import Branch, PackedLine, ScoringRow, pack_lines, score_batch


def _rows(lengths: list[int]) -> list[ScoringRow]:
    return [ScoringRow(tuple(range(n)), [Branch(i, (7,))]) for i, n in enumerate(lengths)]  # length n each


def test_every_row_is_packed_once_and_no_line_overflows() -> None:
    rng = random.Random(0)
    rows = _rows([rng.randint(20, 140) for _ in range(500)])
    lines = pack_lines(rows, min_width=384)
    packed = [row for line in lines for row in line.rows]
    assert sorted(id(r) for r in packed) == sorted(id(r) for r in rows)
    assert all(line.length <= 384 for line in lines)
    # Best-fit decreasing leaves little room: total padding under 10% of the tokens.
    padding = sum(384 - line.length for line in lines)
    assert padding < 0.1 * sum(row.length for row in rows)


def test_line_width_grows_to_the_longest_row() -> None:
    lines = pack_lines(_rows([900, 30, 40]), min_width=384)
    assert max(line.length for line in lines) == 900
    assert pack_lines([], min_width=384) == []


def test_packed_rows_score_exactly_as_rows_run_alone(tiny_llama: Path) -> None:
    """A row's log-probabilities do not depend on what shares its line (block-diagonal mask, restarting positions)."""
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    parts = _loading.model_parts(model, pad_token_id=0, max_length=128)
    rng = random.Random(1)
    rows = [
        ScoringRow(tuple(rng.randrange(3, 500) for _ in range(rng.randint(5, 60))),
                   [Branch(10 * i + b, tuple(rng.randrange(3, 500) for _ in range(rng.randint(1, 6)))) for b in range(3)])
        for i in range(8)
    ]
    device = torch.device("cpu")
    with torch.inference_mode():
        alone = {s.key: s for row in rows for s in score_batch(parts, [PackedLine([row])], device)}
        together = {s.key: s for s in score_batch(parts, pack_lines(rows, min_width=384), device)}
    assert len(pack_lines(rows, min_width=384)) < len(rows)
    assert together.keys() == alone.keys()
    for key, score in alone.items():
        assert together[key].logprob == pytest.approx(score.logprob, abs=1e-4)
        assert together[key].is_greedy == score.is_greedy
