"""Shared-context scoring: the tensor work behind ``TransformersLM.loglikelihood``.

Multiple-choice tasks ask for ``log P(continuation | context)`` for several
continuations of one context. lm-eval's ``HFLM`` runs ``context + continuation``
once per choice. Here a context is run once and its continuations ride along in
the same row::

    row tokens    c0 c1 c2 c3 | a0 a1 | b0 b1 b2
    positions      0  1  2  3 |  4  5 |  4  5  6      (restart after the context)
    attends to    causal ctx  | ctx+a | ctx+b          (a and b never see each other)

A continuation ``a = [a0 a1 a2]`` is predicted from the hidden states at
``c3, a0, a1``; its last token is never fed in. So a one-token continuation
costs no extra input token at all, only one more vocabulary projection.

The vocabulary projection (the LM head, ``hidden x vocab`` per position) is
applied only at those predicting positions, never over the whole context.

Rows of different questions are then packed side by side into lines (best-fit
decreasing, positions restarting per row, a block-diagonal mask) so a batch
carries almost no padding: padding is work too.

The mask must do everything the model's own mask does, sliding windows
included (``_attention``). A model whose layout the packed mask cannot
reproduce (checked at load, ``_loading``) has a *pack limit*: rows longer than
it are scored one continuation per row with the model's own mask, as lm-eval's
``HFLM`` runs them (:func:`plan_lines`).

Everything here is model-agnostic torch; loading lives in ``_loading``,
tokenisation in ``_hf_tokenizer``, the lm-eval interface in ``transformers``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import torch

from evalsuite.backends._attention import AttentionLayout, packed_masks

# Lines are at least this wide when packing rows: wide enough that short rows share a
# line (padding is wasted compute), narrow enough that the masked attention over a
# line stays a small share of the work (its cost grows with the line width).
PACK_MIN_WIDTH = 384

# Positions projected onto the vocabulary at once: bounds the float32 logits
# buffer to LM_HEAD_CHUNK x vocab (1024 x 32000 x 4 B = 131 MB).
LM_HEAD_CHUNK = 1024


@dataclass(frozen=True)
class Branch:
    """One continuation to score after a row's context.

    Attributes:
        key: caller's handle for the result (e.g. the request index).
        tokens: continuation token ids, at least one.
    """

    key: int
    tokens: tuple[int, ...]


@dataclass
class ScoringRow:
    """A context and the continuations that share it, laid out as one sequence."""

    context: tuple[int, ...]
    branches: list[Branch] = field(default_factory=list)

    @property
    def length(self) -> int:
        """Input tokens: the context plus every continuation but its last token."""
        return len(self.context) + sum(len(b.tokens) - 1 for b in self.branches)

    def length_with(self, branch: Branch) -> int:
        return self.length + len(branch.tokens) - 1


@dataclass
class PackedLine:
    """Rows of different contexts laid side by side in one sequence (they never attend to each other)."""

    rows: list[ScoringRow]

    @property
    def length(self) -> int:
        return sum(row.length for row in self.rows)


def pack_lines(rows: Sequence[ScoringRow], min_width: int = PACK_MIN_WIDTH) -> list[PackedLine]:
    """Best-fit decreasing packing of rows into lines of ``max(longest row, min_width)`` tokens.

    Each row goes into the line with the least room that still fits it, so lines
    come out nearly full and a batch of lines needs almost no padding.
    """
    if not rows:
        return []
    ordered = sorted(rows, key=lambda r: r.length, reverse=True)
    capacity = max(ordered[0].length, min_width)
    lines: list[PackedLine] = []
    rooms: list[tuple[int, int]] = []  # (free tokens, line index), sorted
    for row in ordered:
        spot = bisect.bisect_left(rooms, (row.length, -1))
        if spot < len(rooms):
            room, index = rooms.pop(spot)
            lines[index].rows.append(row)
        else:
            room, index = capacity, len(lines)
            lines.append(PackedLine([row]))
        if room - row.length > 0:
            bisect.insort(rooms, (room - row.length, index))
    return lines


def plan_lines(rows: Sequence[ScoringRow], pack_limit: int | None) -> tuple[list[PackedLine], list[PackedLine]]:
    """(packed lines, unpacked lines): rows within ``pack_limit`` are packed, longer ones split per continuation.

    An unpacked line holds one context and one continuation, so it needs no mask
    of ours: the model builds its own (windows, ALiBi and all). The two kinds are
    returned apart because one forward pass takes one kind of mask.
    """
    fits = [row for row in rows if pack_limit is None or row.length <= pack_limit]
    alone = [
        PackedLine([ScoringRow(row.context, [branch])])
        for row in rows
        if pack_limit is not None and row.length > pack_limit
        for branch in row.branches
    ]
    return pack_lines(fits), alone


@dataclass(frozen=True)
class BranchScore:
    """Summed log-probability of a continuation and whether greedy decoding yields it."""

    key: int
    logprob: float
    is_greedy: bool


@dataclass(frozen=True)
class ModelParts:
    """The pieces of a causal LM that selective scoring needs.

    Attributes:
        body: the decoder stack without the LM head (``model.base_model``);
            returns hidden states after the final norm.
        head: the vocabulary projection (``model.get_output_embeddings()``).
        finish_logits: what the model's own ``forward`` does to logits after
            the head (soft-capping, scaling); identity for most models.
        layout: the model's attention layout, which packed masks reproduce.
        pad_token_id: id fed at padded positions (never scored).
        pack_limit: rows of at most this many tokens may share a context and a
            line; longer rows are scored unpacked (None: no limit, 0: never packed).
    """

    body: torch.nn.Module
    head: torch.nn.Module
    finish_logits: Callable[[torch.Tensor], torch.Tensor]
    layout: AttentionLayout
    pad_token_id: int
    pack_limit: int | None = None


def pack_rows(groups: dict[tuple[int, ...], list[Branch]], max_row_tokens: int) -> list[ScoringRow]:
    """Pack each context's branches into as few rows as fit in ``max_row_tokens``.

    A context whose branches do not all fit is repeated in a second row; a
    single branch always fits because the caller truncated context+continuation
    to the model's window.
    """
    rows: list[ScoringRow] = []
    for context, branches in groups.items():
        row = ScoringRow(context)
        for branch in sorted(branches, key=lambda b: len(b.tokens)):
            if row.branches and row.length_with(branch) > max_row_tokens:
                rows.append(row)
                row = ScoringRow(context)
            row.branches.append(branch)
        rows.append(row)
    return rows


class _HasLength(Protocol):
    @property
    def length(self) -> int: ...


Sized = TypeVar("Sized", bound=_HasLength)


def plan_batches(rows: Sequence[Sized], token_budget: int | None, max_rows: int | None) -> list[list[Sized]]:
    """Length-sorted batches whose padded size (rows x longest row) fits the budget.

    Sorting longest first keeps padding minimal and makes any out-of-memory
    error happen on the first batch rather than at the end.
    """
    ordered = sorted(rows, key=lambda r: r.length, reverse=True)
    batches: list[list[Sized]] = []
    current: list[Sized] = []
    for row in ordered:
        width = current[0].length if current else row.length
        too_many = max_rows is not None and len(current) >= max_rows
        too_big = token_budget is not None and (len(current) + 1) * width > token_budget
        if current and (too_many or too_big):
            batches.append(current)
            current = []
        current.append(row)
    if current:
        batches.append(current)
    return batches


@dataclass
class _BatchLayout:
    """Python-side description of one padded batch of lines, turned into tensors once."""

    input_ids: list[list[int]]
    position_ids: list[list[int]]
    document_ids: list[list[int]]  # which row of its line a token belongs to; -1 padding
    segment_ids: list[list[int]]  # 0 the row's context, 1..k its branches; -1 padding
    predict_at: list[int]  # flat index (line * width + column) of each predicting position
    targets: list[int]
    owners: list[int]  # branch number (within the batch) each predicting position belongs to
    branches: list[Branch]
    width: int
    needs_mask: bool


def _layout(lines: Sequence[PackedLine], pad_token_id: int) -> _BatchLayout:
    """Lay out lines: per row its context, then each branch minus its last token; right padding."""
    width = max(line.length for line in lines)
    layout = _BatchLayout([], [], [], [], [], [], [], [], width, False)
    for line_number, line in enumerate(lines):
        ids: list[int] = []
        positions: list[int] = []
        documents: list[int] = []
        segments: list[int] = []
        for document, row in enumerate(line.rows):
            start = len(ids)
            ids.extend(row.context)
            positions.extend(range(len(row.context)))
            segments.extend([0] * len(row.context))
            for branch_number, branch in enumerate(row.branches, start=1):
                layout.owners.extend([len(layout.branches)] * len(branch.tokens))
                layout.branches.append(branch)
                predictors = [start + len(row.context) - 1, *range(len(ids), len(ids) + len(branch.tokens) - 1)]
                layout.predict_at.extend(line_number * width + p for p in predictors)
                layout.targets.extend(branch.tokens)
                ids.extend(branch.tokens[:-1])
                positions.extend(range(len(row.context), len(row.context) + len(branch.tokens) - 1))
                segments.extend([branch_number] * (len(branch.tokens) - 1))
            documents.extend([document] * (len(ids) - start))
        padding = width - len(ids)
        # Right padding alone needs no mask: under causal attention no real token sees it.
        layout.needs_mask = layout.needs_mask or len(line.rows) > 1 or len(line.rows[0].branches) > 1
        layout.input_ids.append(ids + [pad_token_id] * padding)
        layout.position_ids.append(positions + [0] * padding)
        layout.document_ids.append(documents + [-1] * padding)
        layout.segment_ids.append(segments + [-1] * padding)
    return layout


def score_batch(parts: ModelParts, lines: Sequence[PackedLine], device: torch.device) -> list[BranchScore]:
    """One forward pass over ``lines``; returns a score for every branch in them."""
    layout = _layout(lines, parts.pad_token_id)
    input_ids = torch.tensor(layout.input_ids, dtype=torch.long, device=device)
    hidden = parts.body(input_ids=input_ids, use_cache=False, **_shared_context_inputs(parts, layout, device))
    hidden_states = hidden.last_hidden_state.reshape(-1, hidden.last_hidden_state.shape[-1])
    predict_at = torch.tensor(layout.predict_at, dtype=torch.long, device=device)
    targets = torch.tensor(layout.targets, dtype=torch.long, device=device)
    token_logprobs, token_greedy = _project_and_score(parts, hidden_states, predict_at, targets)
    owners = torch.tensor(layout.owners, dtype=torch.long, device=device)
    count = len(layout.branches)
    # Accumulate in float64: a long document's sum of float32 log-probabilities would
    # otherwise carry rounding error of ~1e-3 nats, as large as real backend differences.
    # On the CPU, because Apple's MPS has no float64.
    sums = torch.zeros(count, dtype=torch.float64).index_add_(0, owners.cpu(), token_logprobs.cpu().double())
    misses = torch.zeros(count, dtype=torch.long, device=device).index_add_(0, owners, (~token_greedy).long())
    return [
        BranchScore(branch.key, float(total), bool(missed == 0))
        for branch, total, missed in zip(layout.branches, sums.tolist(), misses.tolist(), strict=True)
    ]


def _shared_context_inputs(parts: ModelParts, layout: _BatchLayout, device: torch.device) -> dict[str, Any]:
    """Our masks and restarting positions where rows share a line or a context; else nothing.

    Without them the model builds its own mask and positions, which is exactly
    right for one context and one continuation per line (and works for models
    that take no ``position_ids``, such as Bloom).
    """
    if not layout.needs_mask:
        return {}
    document_ids = torch.tensor(layout.document_ids, dtype=torch.long, device=device)
    segment_ids = torch.tensor(layout.segment_ids, dtype=torch.long, device=device)
    position_ids = torch.tensor(layout.position_ids, dtype=torch.long, device=device)
    masks = packed_masks(parts.layout, document_ids, segment_ids, position_ids, _parameter_dtype(parts.body))
    return {"attention_mask": masks, "position_ids": position_ids}


def _project_and_score(
    parts: ModelParts, hidden_states: torch.Tensor, predict_at: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(target) = logit[target] - logsumexp(logits), and argmax == target, per position.

    Computed in float32 chunk by chunk so the full [positions, vocab]
    log-softmax is never materialised.
    """
    logprobs: list[torch.Tensor] = []
    greedy: list[torch.Tensor] = []
    for start in range(0, predict_at.numel(), LM_HEAD_CHUNK):
        where = predict_at[start : start + LM_HEAD_CHUNK]
        wanted = targets[start : start + LM_HEAD_CHUNK]
        logits = parts.finish_logits(parts.head(hidden_states.index_select(0, where))).float()
        picked = logits.gather(1, wanted[:, None]).squeeze(1)
        logprobs.append(picked - torch.logsumexp(logits, dim=-1))
        greedy.append(logits.argmax(dim=-1) == wanted)
    return torch.cat(logprobs), torch.cat(greedy)


def _parameter_dtype(module: torch.nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


def iter_with_oom_split(
    batches: list[list[PackedLine]],
    run: Callable[[list[PackedLine]], list[BranchScore]],
    on_oom: Callable[[], None],
) -> Iterator[tuple[list[PackedLine], list[BranchScore]]]:
    """Run batches; a batch that runs out of accelerator memory is halved and retried.

    ``on_oom`` lets the caller shrink its token budget for later planning.
    A single row that still does not fit re-raises the error.
    """
    pending = list(reversed(batches))
    while pending:
        batch = pending.pop()
        try:
            yield batch, run(batch)
        except torch.OutOfMemoryError:
            if len(batch) == 1:
                raise
            on_oom()
            _empty_accelerator_cache()
            half = len(batch) // 2
            pending.extend([batch[half:], batch[:half]])


def _empty_accelerator_cache() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
