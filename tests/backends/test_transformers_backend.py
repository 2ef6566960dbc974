"""TransformersLM gives lm-eval HFLM's numbers on the same model and requests.

HFLM (lm-eval's own Hugging Face backend) is the independent reference: both
load the same tiny random Llama from disk, in float32 on CPU, and score the
same lm-eval ``Instance`` requests built from real PubMedQA, HellaSwag, ARC,
GSM8K and WikiText data. The model's 128-token window makes PubMedQA prompts
and WikiText documents exceed it, so left truncation and rolling windows are
exercised too.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import transformers
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from evalsuite.backends.transformers import TransformersLM
from evalsuite.devtools.reference_requests import arc_docs, choice_requests, gsm8k_requests, hellaswag_docs, pubmedqa_docs, wikitext_articles
from evalsuite.errors import BackendError, RequestError, UnknownModelError

LOGLIK_TOLERANCE = 1e-4


def predictions(scores: list[tuple[float, bool]], docs: list[tuple[str, list[str]]]) -> Iterator[int]:
    """Index of the most likely choice per document (lm-eval's acc)."""
    position = 0
    for _, choices in docs:
        chunk = [score for score, _ in scores[position : position + len(choices)]]
        yield chunk.index(max(chunk))
        position += len(choices)


# ----- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ours(tiny_llama: Path) -> TransformersLM:
    return TransformersLM(str(tiny_llama), dtype="float32")


@pytest.fixture(scope="module")
def reference(tiny_llama: Path) -> HFLM:
    return HFLM(pretrained=str(tiny_llama), device="cpu", dtype="float32", batch_size=8)


def assert_same_loglikelihoods(ours: TransformersLM, reference: HFLM, docs: list[tuple[str, list[str]]]) -> None:
    requests = choice_requests(docs)
    got = ours.loglikelihood(requests)
    expected = reference.loglikelihood(requests)
    assert [g for _, g in got] == [g for _, g in expected]
    for (value, _), (want, _) in zip(got, expected, strict=True):
        assert value == pytest.approx(want, abs=LOGLIK_TOLERANCE)
    assert list(predictions(got, docs)) == list(predictions(expected, docs))


# ----- loglikelihood ---------------------------------------------------------------------------


def test_pubmedqa_loglikelihoods_match_hflm_with_truncated_contexts(ours: TransformersLM, reference: HFLM) -> None:
    docs = pubmedqa_docs()
    assert all(len(ours.tok_encode(context)) > ours.max_length for context, _ in docs)
    assert_same_loglikelihoods(ours, reference, docs)


def test_hellaswag_multi_token_endings_match_hflm(ours: TransformersLM, reference: HFLM) -> None:
    assert_same_loglikelihoods(ours, reference, hellaswag_docs())


def test_arc_loglikelihoods_match_hflm(ours: TransformersLM, reference: HFLM) -> None:
    assert_same_loglikelihoods(ours, reference, arc_docs())


def test_empty_context_trailing_space_and_duplicates_match_hflm(ours: TransformersLM, reference: HFLM) -> None:
    docs = [("", [" yes", "Hello there", "<s> starts with the prefix"]), ("The answer is ", ["yes", "yes", "no way"])]
    assert_same_loglikelihoods(ours, reference, docs)


def test_short_window_splits_rows_and_matches_hflm(tiny_llama: Path) -> None:
    """A 40-token window truncates HellaSwag contexts and forces a context's endings into several rows."""
    small = TransformersLM(str(tiny_llama), dtype="float32", max_length=40, max_batch_tokens=90)
    reference = HFLM(pretrained=str(tiny_llama), device="cpu", dtype="float32", batch_size=3, max_length=40)
    assert_same_loglikelihoods(small, reference, hellaswag_docs(limit=5))


# ----- rolling loglikelihood -------------------------------------------------------------------


def test_rolling_loglikelihoods_match_hflm_over_several_windows(ours: TransformersLM, reference: HFLM) -> None:
    articles = wikitext_articles()
    assert all(ours.count_tokens(article) > 3 * ours.max_length for article in articles)
    requests = [Instance("loglikelihood_rolling", {}, (article,), 0) for article in articles]
    got = ours.loglikelihood_rolling(requests)
    expected = reference.loglikelihood_rolling(requests)
    # Sums over ~600 tokens: float32 rounding grows with length, so compare relatively.
    assert got == pytest.approx(expected, rel=1e-6, abs=LOGLIK_TOLERANCE)


def test_count_tokens_is_the_number_of_predicted_tokens(ours: TransformersLM, tiny_llama: Path) -> None:
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_llama)
    text = wikitext_articles(limit=1)[0]
    assert ours.count_tokens(text) == len(tokenizer(text)["input_ids"])


# ----- generation ------------------------------------------------------------------------------


def test_gsm8k_greedy_generations_match_hflm(ours: TransformersLM, reference: HFLM) -> None:
    requests = gsm8k_requests()
    got = ours.generate_until(requests)
    assert got == reference.generate_until(requests)
    assert any(got)


def test_generation_cut_at_a_stop_string_matches_hflm(ours: TransformersLM, reference: HFLM) -> None:
    """Stop at a string the model really produces, so the cut-off path is exercised."""
    free = reference.generate_until(gsm8k_requests(limit=3, until=["\n\n\n\n"]))
    longest = max(free, key=len)
    stop = longest[len(longest) // 2 : len(longest) // 2 + 2]
    requests = gsm8k_requests(limit=3, until=[stop])
    got = ours.generate_until(requests)
    assert got == reference.generate_until(requests)
    assert len(min(got, key=len)) < len(longest)


# ----- chat template and identity ------------------------------------------------------------------


def test_chat_template_and_tokenizer_name_match_hflm(ours: TransformersLM, reference: HFLM) -> None:
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    assert ours.apply_chat_template(chat) == reference.apply_chat_template(chat)
    assert ours.apply_chat_template(chat, add_generation_prompt=False) == reference.apply_chat_template(
        chat, add_generation_prompt=False
    )
    assert ours.tokenizer_name == reference.tokenizer_name
    assert (ours.eot_token_id, ours.max_length) == (reference.eot_token_id, reference.max_length)


# ----- errors ----------------------------------------------------------------------------------


def test_empty_continuation_is_a_request_error(ours: TransformersLM) -> None:
    with pytest.raises(RequestError, match="request 1 has an empty continuation"):
        ours.loglikelihood([Instance("loglikelihood", {}, ("a", " b"), 0), Instance("loglikelihood", {}, ("a", ""), 1)])


def test_continuation_longer_than_window_is_a_request_error(ours: TransformersLM) -> None:
    too_long = " word" * (ours.max_length + 5)
    with pytest.raises(RequestError, match="does not fit"):
        ours.loglikelihood([Instance("loglikelihood", {}, ("Context", too_long), 0)])


def test_empty_rolling_document_names_the_request(ours: TransformersLM) -> None:
    requests = [Instance("loglikelihood_rolling", {}, (text,), 0) for text in ["Some text.", ""]]
    with pytest.raises(RequestError, match="rolling request 1 is an empty document"):
        ours.loglikelihood_rolling(requests)


def test_cuda_without_cuda_is_a_backend_error(tiny_llama: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(BackendError, match="no CUDA device") as raised:
        TransformersLM(str(tiny_llama), device="cuda")
    assert "--device cpu" in raised.value.hint


def test_directory_without_model_is_unknown_model(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match="without config.json"):
        TransformersLM(str(tmp_path))


def test_missing_hub_model_offline_is_unknown_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UnknownModelError, match="cannot load model"):
        TransformersLM("evalsuite-test/no-such-model")


def test_encoder_decoder_architecture_is_a_backend_error(tiny_llama: Path, tmp_path: Path) -> None:
    transformers.T5Config(d_model=32, d_ff=64, num_layers=1, num_heads=2, d_kv=16).save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_llama / name, tmp_path / name)
    with pytest.raises(BackendError, match="not a causal language model"):
        TransformersLM(str(tmp_path))
