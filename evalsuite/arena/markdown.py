"""Per-answer style counts -- length, headers, list items, bold spans -- as FastChat counts them.

Style control (:mod:`evalsuite.arena.style`) needs four numbers per answer.  FastChat
battle files carry them in ``conv_metadata`` (``sum_assistant_a_tokens``,
``header_count_a`` = ``{h1..h6}``, ``list_count_a`` = ``{ordered, unordered}``,
``bold_count_a`` = ``{"**", "__"}``, the same with ``_b``); a sub-dict counts as the sum
of its values, as FastChat's ``preprocess_for_style`` does.  For votes stored in our
database we count them from the stored answer texts here:

* **markdown**: FastChat's regexes (``add_markdown_info.py``), applied after deleting
  the contents of fenced code blocks (```` ```...``` ````), so a ``#`` comment in code is no
  header: a header is ``#``..``######`` at a line start followed by whitespace, a list
  item a line starting (after spaces) with ``1.``-style numbers or ``-``/``*``/``+`` and
  whitespace, bold ``**...**`` or ``__...__`` on one line.
* **length**: FastChat counts GPT-3.5 (tiktoken ``cl100k_base``) tokens, whose BPE
  table must be downloaded; we cannot assume a network, so we count *word pieces*:
  maximal runs of letters/digits/underscore, plus every other non-space character on
  its own (regex ``\\w+|[^\\w\\s]``), over the whole answer, code included.  English
  prose gives ~1.0-1.3 tiktoken tokens per word piece; as style control uses
  ``(a - b) / (a + b + 1)`` and then standardises, the unit mostly cancels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

STYLE_COUNTS = ("tokens", "headers", "lists", "bold")
"""The per-answer counts, in the order of every (n, 4) style array."""

_METADATA_KEYS = ("sum_assistant_{}_tokens", "header_count_{}", "list_count_{}", "bold_count_{}")
_CODE_BLOCK = re.compile(r"```[^`]*```")
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_ORDERED = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
_UNORDERED = re.compile(r"^\s*[-*+]\s", re.MULTILINE)
_BOLD_STARS = re.compile(r"\*\*[^*\n]+\*\*")
_BOLD_UNDERSCORES = re.compile(r"__[^_\n]+__")
_WORD_PIECE = re.compile(r"\w+|[^\w\s]")


def count_style(text: str) -> tuple[int, int, int, int]:
    """(word pieces, headers, list items, bold spans) of one answer (see the module docstring).

    ``^#{1,6}\\s`` counts each header once: FastChat's six patterns ``^#{k}\\s`` match
    disjoint lines (``## x`` fails ``^#{1}\\s`` because its second character is ``#``).
    """
    prose = _CODE_BLOCK.sub("", text)
    return (
        len(_WORD_PIECE.findall(text)),
        len(_HEADER.findall(prose)),
        len(_ORDERED.findall(prose)) + len(_UNORDERED.findall(prose)),
        len(_BOLD_STARS.findall(prose)) + len(_BOLD_UNDERSCORES.findall(prose)),
    )


def count_styles(texts: Any) -> np.ndarray:
    """:func:`count_style` of each text as a float (n, 4) array; NaN rows where a text is None."""
    out = np.full((len(texts), len(STYLE_COUNTS)), np.nan)
    for i, text in enumerate(texts):
        if text is not None:
            out[i] = count_style(text)
    return out


def _metadata_value(value: Any) -> float:
    """An int, or a dict of sub-counts (``{h1: 2, h2: 0, ...}``) that counts as its sum."""
    if isinstance(value, Mapping):
        return float(sum(value.values()))
    return float(value)


def counts_from_metadata(meta: Mapping[str, Any], side: str) -> tuple[float, ...] | None:
    """The four counts of answer ``side`` ("a" or "b") from a FastChat ``conv_metadata``.

    None when a key is missing; ValueError/TypeError when a value is not a number.
    """
    keys = [template.format(side) for template in _METADATA_KEYS]
    if not all(key in meta for key in keys):
        return None
    return tuple(_metadata_value(meta[key]) for key in keys)


def to_metadata(counts_a: np.ndarray, counts_b: np.ndarray) -> dict[str, int]:
    """FastChat ``conv_metadata`` keys for one battle (sub-dicts written as their sums)."""
    meta: dict[str, int] = {}
    for side, counts in (("a", counts_a), ("b", counts_b)):
        for template, value in zip(_METADATA_KEYS, counts.tolist()):
            meta[template.format(side)] = int(value)
    return meta
