"""Loading a Hugging Face causal LM and its tokenizer, with errors a user can act on.

Kept apart from ``transformers.py`` so the scoring class reads as the lm-eval
interface only. The selective LM-head split (body + head) is verified here once
per model against the model's own ``forward``; a model whose logits we cannot
reproduce falls back to full logits instead of giving different numbers. The
packed, shared-context scoring is verified the same way (``_packing_check``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import torch
import transformers
from lm_eval.models.utils import configure_pad_token, resolve_max_length
from lm_eval.models.utils_hf import get_dtype

from evalsuite.backends import _packing_check
from evalsuite.backends._attention import attention_layout
from evalsuite.backends._scoring import ModelParts
from evalsuite.errors import BackendError, UnknownModelError

log = logging.getLogger(__name__)

# lm-eval's HFLM falls back to this context length when neither config nor tokenizer has one.
DEFAULT_MAX_LENGTH = 2048


def resolve_device(device: str) -> torch.device:
    """Map ``--device`` to a torch device, refusing CUDA where there is none."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError(
            f"device {device!r} requested but torch sees no CUDA device (torch {torch.__version__})",
            hint="pass --device cpu, or install a CUDA build of torch on a machine with an NVIDIA GPU",
        )
    if device.startswith("mps") and not torch.backends.mps.is_available():
        raise BackendError(f"device {device!r} requested but MPS is unavailable", hint="pass --device cpu")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise BackendError(f"unknown device {device!r}: {error}", hint="use cpu, cuda or cuda:N") from error


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype | str:
    """``auto`` keeps the checkpoint's dtype, as HFLM does; names map to torch dtypes."""
    if dtype == "auto":
        return "auto"
    resolved = get_dtype(dtype) if hasattr(torch, dtype) else None
    if not isinstance(resolved, torch.dtype):
        raise BackendError(f"unknown dtype {dtype!r}", hint="use auto, float32, bfloat16 or float16")
    if resolved == torch.float16 and device.type == "cpu":
        log.warning("float16 on CPU is slow and imprecise; bfloat16 or float32 is better there")
    return resolved


def hub_kwargs(revision: str | None, trust_remote_code: bool, token: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if revision is not None:
        kwargs["revision"] = revision
    if token is not None:
        kwargs["token"] = token
    return kwargs


def load_config(pretrained: str, hub_kwargs: dict[str, Any]) -> transformers.PretrainedConfig:
    """Read ``config.json``; a path or id without one is not a model."""
    if os.path.isdir(pretrained) and not os.path.isfile(os.path.join(pretrained, "config.json")):
        raise UnknownModelError(f"{pretrained!r} is a directory without config.json, so not a model")
    try:
        return transformers.AutoConfig.from_pretrained(pretrained, **hub_kwargs)
    except OSError as error:
        raise UnknownModelError(f"cannot load model {pretrained!r}: {error}".splitlines()[0]) from error
    except ValueError as error:
        raise BackendError(
            f"unsupported model {pretrained!r}: {error}".splitlines()[0],
            hint="upgrade transformers, or pass --backend-arg trust_remote_code=true for custom code",
        ) from error


def load_tokenizer(
    pretrained: str, config: transformers.PretrainedConfig, hub_kwargs: dict[str, Any]
) -> transformers.PreTrainedTokenizerBase:
    """Fast tokenizer with a pad token chosen exactly as lm-eval's HFLM chooses it."""
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(pretrained, use_fast=True, **hub_kwargs)
    except (OSError, ValueError) as error:
        raise BackendError(
            f"cannot load the tokenizer of {pretrained!r}: {error}".splitlines()[0],
            hint="the model directory needs tokenizer.json or tokenizer_config.json",
        ) from error
    return configure_pad_token(tokenizer, model_config=config)


def load_model(
    pretrained: str, dtype: torch.dtype | str, device: torch.device, hub_kwargs: dict[str, Any]
) -> transformers.PreTrainedModel:
    """``AutoModelForCausalLM`` on ``device`` in eval mode, with transformers' default attention.

    The default is SDPA where the architecture supports it and eager attention
    otherwise (Bloom, ...), the same choice lm-eval's ``HFLM`` gets; scoring
    builds its masks in the form the chosen implementation takes.
    """
    report: list[str] = []
    try:
        with _loading_report(report):
            model = transformers.AutoModelForCausalLM.from_pretrained(pretrained, dtype=dtype, **hub_kwargs)
    except RuntimeError as error:
        mismatch = _shape_mismatch(str(error), report)
        if mismatch is None:
            raise
        raise BackendError(
            f"the config.json of {pretrained!r} does not match its weights: {mismatch}",
            hint="use the config.json saved with these weights (hidden_size, layer, head and vocabulary counts set every tensor's shape)",
        ) from error
    except ValueError as error:
        raise BackendError(
            f"{pretrained!r} is not a causal language model transformers can load: {error}".splitlines()[0],
            hint="evalsuite's transformers backend runs models AutoModelForCausalLM loads (decoder-only); "
            "encoder-decoder and encoder-only models are not supported",
        ) from error
    except OSError as error:
        raise UnknownModelError(f"cannot load weights of {pretrained!r}: {error}".splitlines()[0]) from error
    return model.to(device).eval()  # type: ignore[arg-type]  # transformers' stub types .to() too narrowly


# transformers logs the per-tensor table of a failed load on this logger, then raises "look at the above report".
_LOADING_REPORT_LOGGER = "transformers.modeling_utils"


@contextmanager
def _loading_report(lines: list[str]) -> Iterator[None]:
    """Keep transformers' load report, to put it in the error, even when its logs are quieted.

    A filter on the logger (not a handler): records below the level the user chose are read
    here and then dropped, so a quiet run still prints nothing of it.
    """
    logger = logging.getLogger(_LOADING_REPORT_LOGGER)
    shown_from, level = logger.getEffectiveLevel(), logger.level

    def keep(record: logging.LogRecord) -> bool:
        lines.extend(record.getMessage().splitlines())
        return record.levelno >= shown_from

    logger.addFilter(keep)
    logger.setLevel(min(shown_from, logging.WARNING))
    try:
        yield
    finally:
        logger.removeFilter(keep)
        logger.setLevel(level)


def _shape_mismatch(error: str, report: list[str]) -> str | None:
    """A tensor whose shape in the weights differs from the one config.json implies, in words; None for other errors."""
    rows = sorted(line for line in report if "size mismatch" in line)
    if rows:
        key, _, detail = (part.strip() for part in rows[0].split("|", 2))
        shapes = re.findall(r"Size\((\[[^\]]*\])\)", detail)
        if len(shapes) == 2:
            return f"{key} is {shapes[0]} in the weights but {shapes[1]} by the config"
        return f"{key}: {detail}"
    if "size mismatch" in error:  # older transformers: torch's load_state_dict message
        return next(line.strip() for line in error.splitlines() if "size mismatch" in line)
    return None


def attention_implementation(model: transformers.PreTrainedModel) -> str:
    """The attention kernel transformers chose (``sdpa``, ``eager``, ...): it can change rounding."""
    return str(getattr(model.config, "_attn_implementation", None) or "eager")


def max_context_length(
    model: transformers.PreTrainedModel, tokenizer: transformers.PreTrainedTokenizerBase, override: int | None
) -> int:
    """The window HFLM uses: explicit value, else config / tokenizer, else 2048."""
    if override is not None:
        if override < 2:
            raise BackendError(f"max_length must be at least 2, got {override}", hint="pass max_length=N with N >= 2")
        return override
    return resolve_max_length(model.config, tokenizer, default=DEFAULT_MAX_LENGTH)


@dataclass(frozen=True)
class _HiddenOnly:
    """Mimics a model output whose 'hidden state' is already the logits (fallback path)."""

    last_hidden_state: torch.Tensor


class _FullLogitsBody(torch.nn.Module):
    """Fallback body: the whole model, logits over every position (as HFLM computes)."""

    def __init__(self, model: transformers.PreTrainedModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, **inputs: Any) -> _HiddenOnly:
        return _HiddenOnly(self.model(**inputs).logits)


def _logit_finisher(model: transformers.PreTrainedModel) -> Callable[[torch.Tensor], torch.Tensor]:
    """What known architectures do to logits after the head (Gemma soft-cap, Cohere/Granite scale)."""
    config = model.config
    cap = getattr(config, "final_logit_softcapping", None)
    scale = getattr(model, "logit_scale", None)
    divisor = getattr(config, "logits_scaling", None)

    def finish(logits: torch.Tensor) -> torch.Tensor:
        if isinstance(scale, (int, float)):
            logits = logits * scale
        if isinstance(divisor, (int, float)):
            logits = logits / divisor
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits

    return finish


def model_parts(model: transformers.PreTrainedModel, pad_token_id: int, max_length: int) -> ModelParts:
    """Split the model into body and LM head, both checked against the model's own forward.

    The split check runs a 7-token input both ways; if the split's logits differ
    (an architecture with an unusual head), scoring uses full logits instead.
    Then the packed-row check (``_packing_check``) sets how long a row may be
    and still share its context and line.
    """
    layout = attention_layout(model.config)
    head = model.get_output_embeddings()
    body = model.base_model
    parts = None
    if head is not None and body is not model:
        parts = ModelParts(body, head, _logit_finisher(model), layout, pad_token_id)
        if not _split_matches_forward(model, parts):
            parts = None
    if parts is None:
        log.warning("%s: LM head cannot be applied selectively; scoring uses full logits", type(model).__name__)
        parts = ModelParts(_FullLogitsBody(model), torch.nn.Identity(), lambda x: x, layout, pad_token_id)
    return replace(parts, pack_limit=_packing_check.pack_limit(model, parts, max_length))


def _split_matches_forward(model: transformers.PreTrainedModel, parts: ModelParts) -> bool:
    device = next(model.parameters()).device
    embeddings: torch.nn.Embedding = model.get_input_embeddings()  # type: ignore[assignment]
    vocab = int(embeddings.num_embeddings)
    probe = torch.arange(7, device=device)[None] * 7 % vocab
    with torch.inference_mode():
        reference = model(input_ids=probe).logits.float()
        hidden = parts.body(input_ids=probe, use_cache=False).last_hidden_state
        split = parts.finish_logits(parts.head(hidden)).float()
    tolerance = 1e-4 if reference.dtype == torch.float32 and split.dtype == torch.float32 else 5e-2
    return split.shape == reference.shape and bool(torch.allclose(split, reference, atol=tolerance, rtol=tolerance))
