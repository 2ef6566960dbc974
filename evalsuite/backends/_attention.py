"""A model's attention layout as its config declares it, and packed-row masks that follow it.

Shared-context scoring (``_scoring``) replaces the mask a model would build for
itself with its own 4D mask, so that mask must reproduce everything the model's
mask does. Besides causality, that is the **sliding window**: a layer of type
``sliding_attention`` lets a query see only keys whose position is within the
window. In a packed row a branch token's column is not its position (branches
follow one another after the shared context), so the window is applied to
positions, never to columns. Models with several layer types (Gemma 2/3,
Qwen2 with ``max_window_layers``) take a dict of masks keyed by layer type.

The window convention itself (``key > query - window``) is transformers' own
``sliding_window_overlay``, applied to position tensors, so it stays written in
one place. Whether a model really takes these masks is not assumed: the load
check in ``_loading`` compares packed scoring with the model's plain forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PretrainedConfig
from transformers.masking_utils import sliding_window_overlay

FULL = "full_attention"
SLIDING = "sliding_attention"

Masks = torch.Tensor | dict[str, torch.Tensor]


@dataclass(frozen=True)
class AttentionLayout:
    """What the model's own mask does, per layer type.

    Attributes:
        implementation: transformers' attention implementation (``sdpa``, ``eager``, ...).
        windows: per layer type, the sliding window in positions (None: full causal).
        unknown_types: layer types this module cannot build a mask for (chunked,
            linear or recurrent layers); packed rows are never used for such a model.
    """

    implementation: str
    windows: dict[str, int | None]
    unknown_types: tuple[str, ...] = ()

    @property
    def smallest_window(self) -> int | None:
        """The shortest sliding window of any layer (None: no layer has one)."""
        sizes = [size for size in self.windows.values() if size is not None]
        return min(sizes) if sizes else None

    @property
    def boolean_mask(self) -> bool:
        """SDPA-style kernels take a boolean mask (True = attend); eager adds a float mask."""
        return self.implementation != "eager"


def attention_layout(config: PretrainedConfig) -> AttentionLayout:
    """Read layer types and the sliding window from a model config.

    A config without ``layer_types`` applies ``sliding_window`` (when set) to
    every layer, as Mistral, Phi-3 and Starcoder2 do.
    """
    implementation = getattr(config, "_attn_implementation", None) or "eager"
    window = getattr(config, "sliding_window", None)
    window = int(window) if isinstance(window, int) and window > 0 else None
    layer_types = getattr(config, "layer_types", None)
    if not layer_types:
        return AttentionLayout(implementation, {SLIDING if window else FULL: window})
    known = {FULL: None, SLIDING: window}
    unknown = tuple(sorted({kind for kind in layer_types if kind not in known or (kind == SLIDING and not window)}))
    windows = {kind: known[kind] for kind in dict.fromkeys(layer_types) if kind not in unknown}
    return AttentionLayout(implementation, windows, unknown)


def packed_masks(
    layout: AttentionLayout, document_ids: torch.Tensor, segment_ids: torch.Tensor, position_ids: torch.Tensor, dtype: torch.dtype
) -> Masks:
    """4D masks [batch, 1, q, k] for packed rows: one tensor when every layer type sees the same, else a dict by type."""
    allowed = _packed_allowed(document_ids, segment_ids)
    by_window: dict[int | None, torch.Tensor] = {}
    for window in layout.windows.values():
        if window not in by_window:
            keep = allowed if window is None else allowed & _within_window(position_ids, window)
            by_window[window] = _mask_form(keep, layout.boolean_mask, dtype)
    if len(by_window) == 1:
        return next(iter(by_window.values()))
    return {kind: by_window[window] for kind, window in layout.windows.items()}


def _packed_allowed(document_ids: torch.Tensor, segment_ids: torch.Tensor) -> torch.Tensor:
    """[batch, q, k]: causal, within one row of the line, and a branch sees only its context and itself.

    Padding (document -1, segment -1) attends to earlier padding and itself, so
    no query row is fully masked (a fully masked row would make SDPA return NaN);
    its outputs are unused.
    """
    width = segment_ids.shape[1]
    index = torch.arange(width, device=segment_ids.device)
    causal = index[None, :] <= index[:, None]
    same_document = document_ids[:, :, None] == document_ids[:, None, :]
    same_segment = segment_ids[:, :, None] == segment_ids[:, None, :]
    key_in_context = (segment_ids == 0)[:, None, :]
    return causal[None] & same_document & (same_segment | key_in_context)


def _within_window(position_ids: torch.Tensor, window: int) -> torch.Tensor:
    """[batch, q, k]: the key's position is inside the query's window (transformers' convention, on positions)."""
    queries = position_ids[:, :, None]
    keys = position_ids[:, None, :]
    overlay = sliding_window_overlay(window)
    return overlay(0, 0, queries, keys)  # type: ignore[no-any-return]  # index-based, so it broadcasts over tensors


def _mask_form(allowed: torch.Tensor, boolean: bool, dtype: torch.dtype) -> torch.Tensor:
    """The form the attention implementation expects, with a head axis: bool, or 0 / dtype-min to add."""
    if boolean:
        return allowed[:, None]
    blocked = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    blocked.masked_fill_(~allowed, torch.finfo(dtype).min)
    return blocked[:, None]
