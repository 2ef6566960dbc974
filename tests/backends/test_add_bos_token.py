"""`--backend-arg add_bos_token=false`: prompts without BOS, as lm-eval v0.3's `hf-causal` scored them.

LLM AutoEval's published Nous numbers come from that fork, which encoded every prompt with
``add_special_tokens=False``; Llama-family tokenizers add a BOS by default. The tiny Llama's
BPE tokenizer here adds ``<s>`` like theirs, so the setting changes both the tokens and the
scores. lm-eval 0.4.13's HFLM (its own ``add_bos_token``) is the independent reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from evalsuite.backends.transformers import TransformersLM
from evalsuite.execution.resolve import resolve
from evalsuite.identity.run_config import RunConfig

REQUESTS = [
    Instance("loglikelihood", {}, ("Question: Is the sky blue?\nAnswer:", " yes"), 0),
    Instance("loglikelihood", {}, ("Question: Is the sky blue?\nAnswer:", " no"), 1),
    Instance("loglikelihood", {}, ("The cat sat on the", " mat"), 2),
]


@pytest.fixture(scope="module")
def ours_without_bos(tiny_llama: Path) -> TransformersLM:
    return TransformersLM(str(tiny_llama), device="cpu", dtype="float32", batch_size=4, add_bos_token=False)


def test_without_bos_the_prompt_tokens_lack_the_bos_the_tokenizer_adds(tiny_llama: Path, ours_without_bos: TransformersLM) -> None:
    default = TransformersLM(str(tiny_llama), device="cpu", dtype="float32", batch_size=4)
    bos = default.tokenizer.bos_token_id
    assert default.tok_encode("The cat")[0] == bos  # the tokenizer's default adds it
    assert ours_without_bos.tok_encode("The cat") == default.tok_encode("The cat")[1:]


def test_without_bos_loglikelihoods_equal_hflm_with_add_bos_token_false(tiny_llama: Path, ours_without_bos: TransformersLM) -> None:
    reference = HFLM(pretrained=str(tiny_llama), device="cpu", dtype="float32", batch_size=4, add_bos_token=False)
    expected = reference.loglikelihood(REQUESTS, disable_tqdm=True)
    got = ours_without_bos.loglikelihood(REQUESTS, disable_tqdm=True)
    for (ours, ours_greedy), (theirs, theirs_greedy) in zip(got, expected, strict=True):
        assert ours == pytest.approx(theirs, abs=1e-4)
        assert ours_greedy == theirs_greedy
    with_bos = TransformersLM(str(tiny_llama), device="cpu", dtype="float32", batch_size=4).loglikelihood(REQUESTS, disable_tqdm=True)
    assert any(abs(a[0] - b[0]) > 1e-3 for a, b in zip(with_bos, got))  # the setting really changes the numbers


def test_the_nous_suite_runs_without_bos_unless_the_user_says_otherwise() -> None:
    suite_default = resolve(RunConfig.from_flat(model="demo/pico-m", suite="nous"))
    assert ("add_bos_token", "false") in suite_default.model.backend_args
    assert suite_default.model.decoded_args()["add_bos_token"] is False
    overridden = resolve(RunConfig.from_flat(model="demo/pico-m", suite="nous", backend_args=(("add_bos_token", "true"),)))
    assert overridden.model.decoded_args()["add_bos_token"] is True
    assert [key for key, _ in overridden.model.backend_args].count("add_bos_token") == 1
    assert "add_bos_token" not in resolve(RunConfig.from_flat(model="demo/pico-m", suite="quick")).model.decoded_args()
    # A suite's setting is part of what identifies the numbers: a stored config reloads unchanged.
    assert suite_default.with_changes(limit=3).model.backend_args == suite_default.model.backend_args
    assert resolve(suite_default) == suite_default  # resolving twice adds nothing
