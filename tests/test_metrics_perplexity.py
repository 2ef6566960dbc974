"""Perplexity family against hand-computed values and lm-eval's own aggregations."""

from __future__ import annotations

import math

import pytest
from lm_eval.api import metrics as lm_metrics
from lm_eval.tasks.wikitext.preprocess_wikitext import process_results

from evalsuite.metrics import perplexity as P

# Two documents: log-likelihoods (nats) and their word / byte / token counts.
LOGLIKS = [-20.0, -10.0]
WORDS = [5, 5]
BYTES = [30, 10]
TOKENS = [8, 4]


def test_word_perplexity_hand_computed() -> None:
    # exp(30 / 10) = e^3
    assert P.word_perplexity(LOGLIKS, WORDS) == pytest.approx(math.exp(3.0))


def test_byte_perplexity_and_bits_per_byte_hand_computed() -> None:
    # 30 nats over 40 bytes = 0.75 nats/byte
    assert P.byte_perplexity(LOGLIKS, BYTES) == pytest.approx(math.exp(0.75))
    assert P.bits_per_byte(LOGLIKS, BYTES) == pytest.approx(0.75 / math.log(2))
    assert P.bits_per_byte(LOGLIKS, BYTES) == pytest.approx(math.log2(P.byte_perplexity(LOGLIKS, BYTES)))


def test_token_perplexity_weights_by_tokens_not_documents() -> None:
    # corpus-weighted: exp(30 / 12) = e^2.5
    assert P.token_perplexity(LOGLIKS, TOKENS) == pytest.approx(math.exp(2.5))
    # with 10 and 4 tokens: exp(30 / 14), not the mean of per-document exp(20/10), exp(10/4)
    assert P.token_perplexity(LOGLIKS, [10, 4]) == pytest.approx(math.exp(30 / 14))
    assert P.token_perplexity(LOGLIKS, [10, 4]) != pytest.approx((math.exp(2.0) + math.exp(2.5)) / 2)


def test_matches_lm_eval_aggregations() -> None:
    items = list(zip(LOGLIKS, BYTES))
    assert P.byte_perplexity(LOGLIKS, BYTES) == pytest.approx(lm_metrics.weighted_perplexity(items))
    assert P.bits_per_byte(LOGLIKS, BYTES) == pytest.approx(lm_metrics.bits_per_byte(items))


def test_word_and_byte_counts_match_lm_eval_wikitext() -> None:
    page = " = Title = \n\n Some text , with @-@ marks ünï . \n"
    counted = process_results({"page": page}, [-1.0])
    assert counted["word_perplexity"][1] == P.count_words(page)
    assert counted["byte_perplexity"][1] == P.count_bytes(page)


def test_rejects_mismatched_or_empty_input() -> None:
    with pytest.raises(ValueError, match="counts"):
        P.word_perplexity([-1.0], [1, 2])
    with pytest.raises(ValueError, match="no documents"):
        P.word_perplexity([], [])
    with pytest.raises(ValueError, match="positive"):
        P.token_perplexity([-1.0], [0])
