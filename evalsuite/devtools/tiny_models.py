"""Randomly initialised Llamas with a real byte-level BPE, for backend tests and benches.

Random weights suffice wherever two implementations score the same checkpoint
(fidelity) or only speed matters (benches). A larger ``initializer_range``
makes next-token distributions peaked, so greedy choices are not near-ties
that float rounding could flip.
"""

from __future__ import annotations

from pathlib import Path

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
) -> Path:
    """Save a seeded random Llama of this shape with a BPE tokenizer; returns ``directory``.

    ``vocab_size`` defaults to the tokenizer's; a larger one (e.g. 32000) gives
    a real model's LM-head cost for benches.
    """
    tokenizer = save_bpe_tokenizer(directory, tokenizer_vocab)
    config = transformers.LlamaConfig(
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
    model = transformers.LlamaForCausalLM(config)
    torch.nn.Module.to(model, dtype)  # transformers' typed ``to`` wrapper does not accept a bare dtype for mypy
    model.save_pretrained(directory)
    return directory
