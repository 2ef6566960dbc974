"""Perplexity family from per-document rolling log-likelihoods.

Input per document: the summed natural-log likelihood of its text (what lm-eval's
``loglikelihood_rolling`` returns) and a count of the units it is normalised by (words,
UTF-8 bytes or model tokens). Every metric here is *corpus-weighted*: log-likelihoods and
counts are summed over all documents before dividing, so a long document counts more than a
short one (this is lm-eval's ``weighted_perplexity`` / ``bits_per_byte`` definition, not a
mean of per-document perplexities).

Word and byte counts follow lm-eval's ``wikitext`` task: words = ``len(re.split(r"\\s+", text))``
and bytes = ``len(text.encode("utf-8"))`` of the ORIGINAL document text. Token perplexity is
only comparable between models that share a tokenizer; word/byte perplexity and bits per byte
compare across tokenizers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence


def _check_lengths(logliks: Sequence[float], counts: Sequence[int]) -> None:
    if len(logliks) != len(counts):
        raise ValueError(f"{len(logliks)} log-likelihoods but {len(counts)} counts")
    if not logliks:
        raise ValueError("no documents")
    if sum(counts) <= 0:
        raise ValueError("total count must be positive")


def mean_negative_loglik(logliks: Sequence[float], counts: Sequence[int]) -> float:
    """−Σ loglik / Σ count: average negative log-likelihood (nats) per unit, corpus-weighted."""
    _check_lengths(logliks, counts)
    return -math.fsum(logliks) / sum(counts)


def word_perplexity(logliks: Sequence[float], word_counts: Sequence[int]) -> float:
    """exp(−Σ loglik / Σ words): perplexity per whitespace-separated word."""
    return math.exp(mean_negative_loglik(logliks, word_counts))


def byte_perplexity(logliks: Sequence[float], byte_counts: Sequence[int]) -> float:
    """exp(−Σ loglik / Σ bytes): perplexity per UTF-8 byte."""
    return math.exp(mean_negative_loglik(logliks, byte_counts))


def bits_per_byte(logliks: Sequence[float], byte_counts: Sequence[int]) -> float:
    """−Σ loglik / (Σ bytes · ln 2): bits needed per UTF-8 byte (= log2 of byte perplexity)."""
    return mean_negative_loglik(logliks, byte_counts) / math.log(2)


def token_perplexity(logliks: Sequence[float], token_counts: Sequence[int]) -> float:
    """exp(−Σ loglik / Σ tokens): perplexity per model token.

    ``token_counts`` are the number of tokens whose likelihood was scored in each document
    (the runner takes them from the model's tokenizer); tokenizer-dependent, see module doc.
    """
    return math.exp(mean_negative_loglik(logliks, token_counts))


def count_words(text: str) -> int:
    """Words as lm-eval's wikitext task counts them: ``len(re.split(r"\\s+", text))``.

    Note the quirk kept for comparability: leading/trailing whitespace adds an empty field.
    """
    return len(re.split(r"\s+", text))


def count_bytes(text: str) -> int:
    """UTF-8 bytes of ``text``."""
    return len(text.encode("utf-8"))
