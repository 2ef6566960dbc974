"""The load-time packing check: it catches masks that differ from the model's own, and the fallback scores right."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import transformers
from lm_eval.models.huggingface import HFLM

from evalsuite.backends import _loading, _packing_check
from evalsuite.backends._attention import FULL, AttentionLayout
from evalsuite.backends.transformers import TransformersLM
from evalsuite.devtools.reference_requests import arc_docs, choice_requests
from evalsuite.devtools.tiny_models import save_bpe_tokenizer, save_random_decoder

WINDOW = 16


@pytest.fixture(scope="module")
def bpe(tmp_path_factory: pytest.TempPathFactory) -> transformers.PreTrainedTokenizerFast:
    return save_bpe_tokenizer(tmp_path_factory.mktemp("bpe"), 2000)


def test_long_probe_catches_a_mask_without_the_window(bpe: transformers.PreTrainedTokenizerFast, tmp_path: Path) -> None:
    """The probe would have caught issue 25: packed masks that ignore Mistral's window differ past the window."""
    directory, _ = save_random_decoder(tmp_path, "mistral", bpe, window=WINDOW)
    model = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    parts = _loading.model_parts(model, pad_token_id=0, max_length=128)
    assert parts.pack_limit is None  # the window-aware masks pass
    windowless = replace(parts, layout=AttentionLayout(parts.layout.implementation, {FULL: None}))
    long = WINDOW + _packing_check.PAST_WINDOW
    assert _packing_check._probe_matches(model, parts, long, _packing_check.SHORT_CONTEXT)
    assert not _packing_check._probe_matches(model, windowless, long, _packing_check.SHORT_CONTEXT)
    assert _packing_check._probe_matches(model, windowless, 4, 4)  # rows inside the window cannot tell them apart


def test_window_the_model_does_not_apply_packs_only_short_rows(
    bpe: transformers.PreTrainedTokenizerFast, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """GPT-2's config can carry a sliding_window its attention ignores: our window mask is then wrong past it.

    The check finds that, warns naming the architecture, packs only rows within
    the window, and the scores still equal HFLM's (the rest run unpacked).
    """
    directory, _ = save_random_decoder(tmp_path, "gpt2", bpe)
    config = transformers.AutoConfig.from_pretrained(directory)
    config.sliding_window = WINDOW
    config.save_pretrained(directory)
    with caplog.at_level(logging.WARNING, logger="evalsuite"):  # an earlier CLI test may have quieted evalsuite's loggers
        ours = TransformersLM(str(directory), dtype="float32")
        docs = arc_docs(limit=4) + [("Q: 2+2?", [" 4", " 5"])]  # one question short enough to pack
        requests = choice_requests(docs)
        got = ours.loglikelihood(requests)
        ours.loglikelihood(requests)
    assert ours.get_model_info()["pack_limit"] == WINDOW
    assert "GPT2LMHeadModel: packed scoring differs from the model's own forward past its 16-token" in caplog.text
    told = [r.getMessage() for r in caplog.records if "scored one per row" in r.getMessage()]
    assert told == [f"GPT2LMHeadModel: {len(requests) - 2} of {len(requests)} requests are longer than the 16 tokens "
                    "packed scoring reproduces; they are scored one per row with the model's own attention mask "
                    "(slower, same numbers)"]  # said once, though scored twice
    expected = HFLM(pretrained=str(directory), device="cpu", dtype="float32", batch_size=4).loglikelihood(requests)
    for (value, greedy), (want, want_greedy) in zip(got, expected, strict=True):
        assert value == pytest.approx(want, abs=1e-4) and greedy == want_greedy


def test_bloom_loads_with_eager_attention_and_is_scored_unpacked(
    bpe: transformers.PreTrainedTokenizerFast, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """ALiBi (Bloom) has no SDPA: the default eager attention loads, and the check keeps it off packed rows."""
    directory, _ = save_random_decoder(tmp_path, "bloom", bpe)
    with caplog.at_level(logging.WARNING, logger="evalsuite"):  # an earlier CLI test may have quieted evalsuite's loggers
        ours = TransformersLM(str(directory), dtype="float32")
    assert ours.get_model_info() == {"attn_implementation": "eager", "pack_limit": 0}
    assert "BloomForCausalLM: packed scoring differs from the model's own forward; every request is scored unpacked" in caplog.text
