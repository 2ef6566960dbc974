"""Fixtures for backend tests: a tiny randomly initialised Llama with a real BPE tokenizer.

Random weights are enough for fidelity tests (both backends see the same model);
a larger initializer range makes next-token distributions peaked, so greedy
choices are not near-ties that float rounding could flip.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

DATA = Path("/work/shared/data")
CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def training_text(limit_chars: int = 400_000) -> list[str]:
    """Real text for the BPE merges: WikiText-2 test rows plus some HellaSwag and PubMedQA."""
    rows = (DATA / "wikitext2" / "wikitext-2-raw-v1_test_rows.jsonl").read_text().splitlines()
    texts = [json.loads(row)["text"] for row in rows]
    hellaswag = (DATA / "hellaswag" / "hellaswag_val_preprocessed.jsonl").read_text().splitlines()[:300]
    texts += [" ".join([d["ctx"], *d["endings"]]) for d in map(json.loads, hellaswag)]
    pubmed = json.loads((DATA / "pubmedqa" / "ori_pqal.json").read_text())
    texts += [" ".join(doc["CONTEXTS"]) for doc in itertools.islice(pubmed.values(), 100)]
    kept, total = [], 0
    for text in texts:
        kept.append(text)
        total += len(text)
        if total > limit_chars:
            break
    return kept


def save_bpe_tokenizer(directory: Path, vocab_size: int) -> transformers.PreTrainedTokenizerFast:
    """Byte-level BPE that prepends <s> like Llama's tokenizer; saved next to the model."""
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(training_text(), trainer=trainer)
    bpe.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bpe.token_to_id("<s>"))]
    )
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)
    return tokenizer


def save_random_llama(directory: Path, *, vocab_size: int = 2000, max_positions: int = 128) -> Path:
    tokenizer = save_bpe_tokenizer(directory, vocab_size)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama (hidden 64, 128-token window) with a 2000-token BPE, float32."""
    return save_random_llama(tmp_path_factory.mktemp("tiny_llama"))
