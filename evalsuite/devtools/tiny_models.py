"""Randomly initialised Llamas with a real byte-level BPE, for backend tests and benches.

Random weights suffice wherever two implementations score the same checkpoint
(fidelity) or only speed matters (benches). A larger ``initializer_range``
makes next-token distributions peaked, so greedy choices are not near-ties
that float rounding could flip.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from evalsuite.devtools.reference_requests import bpe_training_text

CHAT_TEMPLATE = "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"


def save_bpe_tokenizer(directory: Path, vocab_size: int) -> transformers.PreTrainedTokenizerFast:
    """Byte-level BPE that prepends <s> like Llama's tokenizer; saved next to the model."""
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(bpe_training_text(), trainer=trainer)
    bpe.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bpe.token_to_id("<s>"))])
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)
    return tokenizer


def save_random_llama(
    directory: Path,
    *,
    tokenizer_vocab: int = 2000,
    hidden_size: int = 64,
    intermediate_size: int = 128,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    head_dim: int | None = None,
    max_positions: int = 128,
    initializer_range: float = 0.2,
    vocab_size: int | None = None,
    tie_word_embeddings: bool = False,
    dtype: torch.dtype = torch.float32,
    sliding_window: int | None = None,
) -> Path:
    """Save a seeded random Llama of this shape with a BPE tokenizer; returns ``directory``.

    ``vocab_size`` defaults to the tokenizer's; a larger one (e.g. 32000) gives
    a real model's LM-head cost for benches. A ``sliding_window`` makes it a
    Mistral (a Llama whose every layer attends within that many positions).
    """
    tokenizer = save_bpe_tokenizer(directory, tokenizer_vocab)
    windowed = sliding_window is not None
    config_class = transformers.MistralConfig if windowed else transformers.LlamaConfig
    window: dict[str, Any] = {"sliding_window": sliding_window} if windowed else {}
    config = config_class(
        **window,
        vocab_size=vocab_size or len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=head_dim or hidden_size // heads,
        max_position_embeddings=max_positions,
        initializer_range=initializer_range,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=tie_word_embeddings,
    )
    torch.manual_seed(0)
    model = (transformers.MistralForCausalLM if windowed else transformers.LlamaForCausalLM)(config)
    torch.nn.Module.to(model, dtype)  # transformers' typed ``to`` wrapper does not accept a bare dtype for mypy
    model.save_pretrained(directory)
    return directory


# One tiny random config per decoder family the transformers backend claims to run.
# ``window`` is the sliding window (None: the family has none here); every family is
# 2 layers, hidden 64, 4 heads, 128 positions, sharp (initializer_range 0.2).
_SHAPE = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
_ROPE = {**_SHAPE, "num_key_value_heads": 2, "max_position_embeddings": 128, "initializer_range": 0.2}


def _family_configs(window: int) -> dict[str, tuple[type[transformers.PretrainedConfig], dict[str, Any], int | None]]:
    """(config class, options, declared window) per family."""
    gemma = {**_ROPE, "head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": window}
    return {
        "llama": (transformers.LlamaConfig, dict(_ROPE), None),
        "mistral": (transformers.MistralConfig, {**_ROPE, "sliding_window": window}, window),
        # Gemma 2: sliding and global layers alternate; final logits soft-capped at 30, attention at 50.
        "gemma2": (transformers.Gemma2Config, {**gemma, "final_logit_softcapping": 30.0}, window),
        "gemma3": (transformers.Gemma3TextConfig, {**gemma, "layer_types": ["sliding_attention", "full_attention"]}, window),
        "phi3": (transformers.Phi3Config, {**_ROPE, "sliding_window": window, "original_max_position_embeddings": 128}, window),
        # Qwen2: layers from max_window_layers on slide, so layer 0 is global and layer 1 local.
        "qwen2": (transformers.Qwen2Config, {**_ROPE, "use_sliding_window": True, "sliding_window": window, "max_window_layers": 1}, window),
        "gpt2": (transformers.GPT2Config, {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 128, "initializer_range": 0.2}, None),
        "gpt_neox": (transformers.GPTNeoXConfig, {k: v for k, v in _ROPE.items() if k != "num_key_value_heads"}, None),
        "bloom": (transformers.BloomConfig, {"hidden_size": 64, "n_layer": 2, "n_head": 4, "initializer_range": 0.2}, None),
    }


DECODER_FAMILIES = tuple(_family_configs(16))


def save_random_decoder(
    directory: Path, family: str, tokenizer: transformers.PreTrainedTokenizerFast, *, window: int = 16
) -> tuple[Path, int | None]:
    """Save a seeded random model of ``family`` (see ``DECODER_FAMILIES``) with ``tokenizer``.

    Returns the directory and the sliding window the config declares (None: none).
    """
    config_class, options, declared = _family_configs(window)[family]
    special = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.eos_token_id}
    config = config_class(**{"vocab_size": len(tokenizer), **options, **special})
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(directory)
    # An explicit pad token: otherwise a family's own tokenizer class (Qwen2's) adds one outside the vocabulary.
    padded = copy.deepcopy(tokenizer)
    padded.pad_token = padded.eos_token
    padded.save_pretrained(directory)
    return directory, declared


def save_random_encoder(directory: Path, *, layers: int = 2, max_tokens: int = 128) -> Path:
    """Save a seeded random RoBERTa encoder with a BPE tokenizer (pad token set); returns ``directory``.

    For metrics that embed text with an encoder (BERTScore): random weights still give
    deterministic embeddings, so the metric's code path runs offline without the Hub.
    The tokenizer truncates at ``max_tokens``, which the position table covers (RoBERTa
    counts positions from its pad id + 1).
    """
    tokenizer = save_bpe_tokenizer(directory, 2000)
    tokenizer.pad_token = tokenizer.unk_token
    tokenizer.model_max_length = max_tokens
    tokenizer.save_pretrained(directory)
    config = transformers.RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=layers, num_attention_heads=4,
        max_position_embeddings=max_tokens + tokenizer.pad_token_id + 1, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    transformers.RobertaModel(config).save_pretrained(directory)
    return directory
