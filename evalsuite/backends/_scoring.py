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

Everything here is model-agnostic torch; loading and tokenisation live in
``evalsuite.backends.transformers``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch

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
        mask_is_boolean: True for SDPA/flash-style kernels (True = attend),
            False for eager attention, which adds a float mask.
        pad_token_id: id fed at padded positions (never scored).
    """

    body: torch.nn.Module
    head: torch.nn.Module
    finish_logits: Callable[[torch.Tensor], torch.Tensor]
    mask_is_boolean: bool
    pad_token_id: int


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


def plan_batches(
    rows: Sequence[ScoringRow], token_budget: int | None, max_rows: int | None
) -> list[list[ScoringRow]]:
    """Length-sorted batches whose padded size (rows x longest row) fits the budget.

    Sorting longest first keeps padding minimal and makes any out-of-memory
    error happen on the first batch rather than at the end.
    """
    ordered = sorted(rows, key=lambda r: r.length, reverse=True)
    batches: list[list[ScoringRow]] = []
    current: list[ScoringRow] = []
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
    """Python-side description of one padded batch, turned into tensors once."""

    input_ids: list[list[int]]
    position_ids: list[list[int]]
    segment_ids: list[list[int]]
    predict_at: list[int]  # flat index (row * width + column) of each predicting position
    targets: list[int]
    owners: list[int]  # branch number (within the batch) each predicting position belongs to
    branches: list[Branch]
    width: int
    needs_mask: bool


def _layout(rows: Sequence[ScoringRow], pad_token_id: int) -> _BatchLayout:
    """Lay out rows: context, then each branch minus its last token; right padding."""
    width = max(r.length for r in rows)
    layout = _BatchLayout([], [], [], [], [], [], [], width, False)
    for row_number, row in enumerate(rows):
        ids, positions, segments = list(row.context), list(range(len(row.context))), [0] * len(row.context)
        for branch_number, branch in enumerate(row.branches, start=1):
            layout.owners.extend([len(layout.branches)] * len(branch.tokens))
            layout.branches.append(branch)
            predictors = [len(row.context) - 1] + list(range(len(ids), len(ids) + len(branch.tokens) - 1))
            layout.predict_at.extend(row_number * width + p for p in predictors)
            layout.targets.extend(branch.tokens)
            ids.extend(branch.tokens[:-1])
            positions.extend(range(len(row.context), len(row.context) + len(branch.tokens) - 1))
            segments.extend([branch_number] * (len(branch.tokens) - 1))
        padding = width - len(ids)
        layout.needs_mask = layout.needs_mask or padding > 0 or len(row.branches) > 1
        layout.input_ids.append(ids + [pad_token_id] * padding)
        layout.position_ids.append(positions + [0] * padding)
        segments_with_pad = segments + [-1] * padding
        layout.segment_ids.append(segments_with_pad)
    return layout


def _attention_mask(segment_ids: torch.Tensor, boolean: bool, dtype: torch.dtype) -> torch.Tensor:
    """4D mask [batch, 1, q, k]: causal, and a branch sees only the context and itself.

    Segment 0 is the context, 1..k the branches, -1 padding. Padding queries
    attend to the context and earlier padding, so no query row is fully masked
    (a fully masked row would make SDPA return NaN); their outputs are unused.
    """
    width = segment_ids.shape[1]
    index = torch.arange(width, device=segment_ids.device)
    causal = index[None, :] <= index[:, None]
    same_segment = segment_ids[:, :, None] == segment_ids[:, None, :]
    key_in_context = (segment_ids == 0)[:, None, :]
    allowed = causal[None] & (same_segment | key_in_context)
    if boolean:
        return allowed[:, None]
    blocked = torch.zeros(allowed.shape, dtype=dtype, device=segment_ids.device)
    blocked.masked_fill_(~allowed, torch.finfo(dtype).min)
    return blocked[:, None]


def score_batch(parts: ModelParts, rows: Sequence[ScoringRow], device: torch.device) -> list[BranchScore]:
    """One forward pass over ``rows``; returns a score for every branch in them."""
    layout = _layout(rows, parts.pad_token_id)
    input_ids = torch.tensor(layout.input_ids, dtype=torch.long, device=device)
    position_ids = torch.tensor(layout.position_ids, dtype=torch.long, device=device)
    mask = None
    if layout.needs_mask:
        segment_ids = torch.tensor(layout.segment_ids, dtype=torch.long, device=device)
        mask = _attention_mask(segment_ids, parts.mask_is_boolean, _parameter_dtype(parts.body))
    hidden = parts.body(input_ids=input_ids, attention_mask=mask, position_ids=position_ids, use_cache=False)
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
    batches: list[list[ScoringRow]],
    run: Callable[[list[ScoringRow]], list[BranchScore]],
    on_oom: Callable[[], None],
) -> Iterator[tuple[list[ScoringRow], list[BranchScore]]]:
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
