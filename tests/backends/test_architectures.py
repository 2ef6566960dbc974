"""Every decoder family the transformers backend claims gives lm-eval HFLM's numbers, request by request.

Tiny random models (2 layers, hidden 64, sharp weights, the test BPE) of Llama,
Mistral, Gemma 2 and 3, Phi-3 and Qwen2 with a 16-token sliding window (shorter
than every prompt), GPT-2, GPT-NeoX and Bloom (ALiBi, eager attention only);
Gemma 2 soft-caps its logits. Each is scored by ``TransformersLM`` and by lm-eval's
``HFLM`` (a plain ``model(input_ids)`` forward: the model's own masks) on ARC
multiple choice, within 1e-4 nats per request, and rolling WikiText (several
128-token windows per document), within 1e-4 nats or 1e-6 of the document's sum:
HFLM adds hundreds of float32 terms, so its own rounding grows with length.

Run with ``-s`` to see the table (family, window, worst difference, path taken).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import transformers
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from evalsuite.backends.transformers import TransformersLM
from evalsuite.devtools.reference_requests import arc_docs, choice_requests, wikitext_articles
from evalsuite.devtools.tiny_models import DECODER_FAMILIES, save_bpe_tokenizer, save_random_decoder

LOGLIK_TOLERANCE = 1e-4
MAX_LENGTH = 128
WINDOW = 16


@pytest.fixture(scope="module")
def bpe(tmp_path_factory: pytest.TempPathFactory) -> transformers.PreTrainedTokenizerFast:
    return save_bpe_tokenizer(tmp_path_factory.mktemp("bpe"), 2000)


@pytest.fixture(scope="module")
def table() -> Iterator[list[str]]:
    """Rows of the summary table, printed once every family has run."""
    rows: list[str] = []
    yield rows
    print(f"\n{'family':<10} {'window':>6} {'multiple choice':>16} {'rolling':>10} {'rolling rel':>11}  path")
    print("\n".join(rows))


def path_taken(lm: TransformersLM) -> str:
    limit = lm.get_model_info()["pack_limit"]
    return "packed" if limit is None else "fallback (unpacked)" if limit == 0 else f"packed up to {limit} tokens, fallback beyond"


@pytest.mark.parametrize("family", DECODER_FAMILIES)
def test_family_matches_hflm_request_by_request(
    family: str, bpe: transformers.PreTrainedTokenizerFast, tmp_path: Path, table: list[str]
) -> None:
    directory, window = save_random_decoder(tmp_path, family, bpe, window=WINDOW)
    ours = TransformersLM(str(directory), dtype="float32", max_length=MAX_LENGTH)
    reference = HFLM(pretrained=str(directory), device="cpu", dtype="float32", batch_size=4, max_length=MAX_LENGTH)
    docs = arc_docs(limit=6)
    if window is not None:  # the window must be shorter than the prompts, or it is not exercised
        assert min(len(ours.tok_encode(context)) for context, _ in docs) > window
    requests = choice_requests(docs)
    got, expected = ours.loglikelihood(requests), reference.loglikelihood(requests)
    worst = max(abs(g - e) for (g, _), (e, _) in zip(got, expected, strict=True))
    greedy_agrees = [g for _, g in got] == [g for _, g in expected]

    articles = wikitext_articles(limit=2, max_chars=1200)
    assert all(ours.count_tokens(article) > MAX_LENGTH for article in articles)  # several rolling windows
    rolling = [Instance("loglikelihood_rolling", {}, (article,), 0) for article in articles]
    got_rolling, expected_rolling = ours.loglikelihood_rolling(rolling), reference.loglikelihood_rolling(rolling)
    worst_rolling = max(abs(g - e) for g, e in zip(got_rolling, expected_rolling, strict=True))
    worst_relative = max(abs(g - e) / abs(e) for g, e in zip(got_rolling, expected_rolling, strict=True))

    table.append(f"{family:<10} {window or '-':>6} {worst:>16.1e} {worst_rolling:>10.1e} {worst_relative:>11.1e}  {path_taken(ours)}")
    assert worst <= LOGLIK_TOLERANCE and greedy_agrees
    assert got_rolling == pytest.approx(expected_rolling, rel=1e-6, abs=LOGLIK_TOLERANCE)
