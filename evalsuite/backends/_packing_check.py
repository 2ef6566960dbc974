"""The load-time check that packed, shared-context scoring equals the model's own forward.

Packed rows replace the model's mask with ours (``_attention``), which is only
right if ours reproduces every attention rule of the model: sliding windows
per layer type, ALiBi biases, recurrent or chunked layers, and whatever a new
architecture adds. Rather than trusting a list of architectures, each model is
probed once at load: two rows (each a context with two continuations) share one
line, and every continuation's log-probabilities are compared with a plain
``model(context + continuation)`` forward, as lm-eval's ``HFLM`` runs it.

Two probes, so that a model whose window rule we get wrong still packs the rows
its window cannot touch:

* a short probe, every row shorter than the smallest window: if it differs,
  nothing of ours is trusted and every row is scored unpacked;
* a long probe, its first context longer than the smallest window: if it
  differs, rows up to the window's length are packed, longer ones are not.
"""

from __future__ import annotations

import logging

import torch
import transformers

from evalsuite.backends._scoring import Branch, ModelParts, PackedLine, ScoringRow, score_batch

log = logging.getLogger(__name__)

# Continuation lengths of the probe's two branches: different, so the second branch's
# columns run ahead of its positions (the case a column-based rule gets wrong).
PROBE_BRANCHES = (4, 2)
# Input tokens a probe row has beyond its context (each branch but its last token).
ROW_EXTRA = sum(length - 1 for length in PROBE_BRANCHES)
# Context tokens of the probe's second row, and of the first when no window applies.
SHORT_CONTEXT = 8
# The long probe's first context reaches this far past the smallest window.
PAST_WINDOW = 8


def pack_limit(model: transformers.PreTrainedModel, parts: ModelParts, max_length: int) -> int | None:
    """The longest row that packed scoring reproduces for this model (None: any; 0: none).

    Warns, naming the architecture, when a probe differs from the model's forward.
    """
    name = type(model).__name__
    if parts.layout.unknown_types:
        log.warning("%s: layer types %s cannot share a packed row; every request is scored unpacked (slower)",
                    name, ", ".join(parts.layout.unknown_types))
        return 0
    window = parts.layout.smallest_window
    short = min(SHORT_CONTEXT, max_length - ROW_EXTRA, window - ROW_EXTRA if window is not None else SHORT_CONTEXT)
    if short < 1:
        return 0  # a window of a few tokens: too short to probe, and too short for packing to pay
    if not _probe_matches(model, parts, short, short):
        log.warning("%s: packed scoring differs from the model's own forward; every request is scored unpacked (slower)", name)
        return 0
    if window is None or window >= max_length:  # rows never exceed max_length tokens: the window never bites
        return None
    long = min(window + PAST_WINDOW, max_length - ROW_EXTRA)
    reaches = long + max(PROBE_BRANCHES) - 2 >= window  # the probe's last position is that far from its first
    if reaches and _probe_matches(model, parts, long, short):
        return None
    if reaches:
        log.warning("%s: packed scoring differs from the model's own forward past its %d-token attention window; "
                    "longer rows are scored unpacked (slower)", name, window)
    return window


def _probe_matches(model: transformers.PreTrainedModel, parts: ModelParts, first: int, second: int) -> bool:
    """Score two rows (contexts of ``first`` and ``second`` tokens, two branches each) packed and plainly."""
    embeddings: torch.nn.Embedding = model.get_input_embeddings()  # type: ignore[assignment]
    vocab = int(embeddings.num_embeddings)
    rows = [_probe_row(first, 0, vocab), _probe_row(second, 1, vocab)]
    device = next(model.parameters()).device
    try:
        with torch.inference_mode():
            packed = {score.key: score.logprob for score in score_batch(parts, [PackedLine(rows)], device)}
            plain = {branch.key: _plain_logprob(model, row.context, branch.tokens) for row in rows for branch in row.branches}
    except Exception as error:  # noqa: BLE001  # any failure (a mask form the model rejects) means: do not pack
        log.info("%s: packed probe failed (%s: %s)", type(model).__name__, type(error).__name__, error)
        return False
    per_token = 1e-4 if _parameter_dtype(model) == torch.float32 else 5e-2  # half precision rounds per kernel
    lengths = {branch.key: len(branch.tokens) for row in rows for branch in row.branches}
    return all(abs(packed[key] - plain[key]) <= per_token * lengths[key] for key in plain)


def _probe_row(context_length: int, row: int, vocab: int) -> ScoringRow:
    """Deterministic spread-out token ids (never the first few, which are often special tokens)."""
    def token(i: int) -> int:
        return 3 + (i * 7919 + row * 104729) % max(1, vocab - 3)

    context = tuple(token(i) for i in range(context_length))
    branches, start = [], context_length
    for number, length in enumerate(PROBE_BRANCHES):
        branches.append(Branch(2 * row + number, tuple(token(start + i) for i in range(length))))
        start += length
    return ScoringRow(context, branches)


def _plain_logprob(model: transformers.PreTrainedModel, context: tuple[int, ...], continuation: tuple[int, ...]) -> float:
    """log P(continuation | context) from the model's own forward over context + continuation."""
    device = next(model.parameters()).device
    tokens = torch.tensor([[*context, *continuation[:-1]]], device=device)
    logits = model(input_ids=tokens).logits[0, len(context) - 1 :].float()
    targets = torch.tensor(continuation, device=device)
    return float(torch.log_softmax(logits, dim=-1).gather(1, targets[:, None]).sum())


def _parameter_dtype(model: torch.nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype
