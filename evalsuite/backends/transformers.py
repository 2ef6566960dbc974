"""evalsuite's lm-eval ``LM`` over Hugging Face transformers.

Produces the same numbers as lm-eval's ``HFLM`` (backend ``hf``): the same
tokenisation, the same left truncation, the same rolling windows, the same
greedy generations. It does less work to get them:

* requests that share a context run the context once, with every continuation
  attached in the same row (see ``_scoring``), where HFLM reruns the context per
  choice (4x for HellaSwag);
* the vocabulary projection runs only at positions whose log-probabilities are
  needed, and log-probabilities are taken as ``logit - logsumexp`` in chunks
  instead of a full ``[batch, seq, vocab]`` log-softmax;
* batches are length-sorted and sized by a token budget, so padding is minimal;
* rolling windows of all documents are batched together.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import transformers
from lm_eval.api.instance import Instance
from lm_eval.api.model import TemplateLM
from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs, postprocess_generated_text
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window
from tqdm import tqdm

from evalsuite.backends import _loading
from evalsuite.backends._hf_tokenizer import HFTokenizerRules
from evalsuite.backends._scoring import (
    Branch,
    BranchScore,
    PackedLine,
    ScoringRow,
    iter_with_oom_split,
    pack_rows,
    plan_batches,
    plan_lines,
    score_batch,
)
from evalsuite.errors import BackendError, RequestError

log = logging.getLogger(__name__)

# Token budget per forward pass on CPU: large enough for efficient matmuls,
# small enough that activations stay in cache-friendly sizes (measured in bench/).
CPU_TOKEN_BUDGET = 2048
# Upper bound on rows per batch when the batch size is automatic.
AUTO_MAX_ROWS = 256
# lm-eval's default for generate_until when a task sets no max_gen_toks.
DEFAULT_MAX_GEN_TOKS = 256


class TransformersLM(HFTokenizerRules, TemplateLM):
    """lm-eval ``LM`` for decoder-only Hugging Face models, HFLM-identical but faster.

    Args:
        pretrained: Hub id or local model directory.
        revision: Hub branch, tag or commit (ignored for local paths).
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        dtype: ``auto`` (checkpoint dtype, as HFLM), ``float32``, ``bfloat16``, ``float16``.
        batch_size: rows per forward pass, or ``auto`` to size batches by a token
            budget (on CUDA, the largest that fits, found by probing for OOM).
        max_length: context window; default from the model config like HFLM.
        max_batch_tokens: padded tokens per forward pass; overrides ``auto`` sizing.
        trust_remote_code: allow model code from the Hub.
        token: Hugging Face token for gated models.
        add_bos_token: False: prompts without BOS (lm-eval v0.3, the Nous suite); None: the tokenizer's default.
    """

    def __init__(
        self,
        pretrained: str,
        *,
        revision: str | None = None,
        device: str = "cpu",
        dtype: str = "auto",
        batch_size: int | str = "auto",
        max_length: int | None = None,
        max_batch_tokens: int | None = None,
        trust_remote_code: bool = False,
        token: str | None = None,
        add_bos_token: bool | None = None,
    ) -> None:
        super().__init__()
        self.add_bos_token = add_bos_token
        self._device = _loading.resolve_device(device)
        hub_kwargs = _loading.hub_kwargs(revision, trust_remote_code, token)
        config = _loading.load_config(pretrained, hub_kwargs)
        self.tokenizer = _loading.load_tokenizer(pretrained, config, hub_kwargs)
        self.model = _loading.load_model(pretrained, _loading.resolve_dtype(dtype, self._device), self._device, hub_kwargs)
        self.pretrained = pretrained
        self._max_length = _loading.max_context_length(self.model, self.tokenizer, max_length)
        self._max_rows = _parse_batch_size(batch_size)
        self._parts = _loading.model_parts(self.model, int(self.tokenizer.pad_token_id), self._max_length)
        self._told_unpacked = False
        self._token_budget = max_batch_tokens or self._default_token_budget()
        self._remember_prefix_text()

    def get_model_info(self) -> dict[str, Any]:
        """What lm-eval records in a run's config: the attention kernel (it can change rounding) and packing."""
        return {
            "attn_implementation": _loading.attention_implementation(self.model),
            "pack_limit": self._parts.pack_limit,
        }

    @property
    def token_budget(self) -> int | None:
        """Padded tokens per forward pass (None: only the row count limits a batch)."""
        return self._token_budget

    def _encode_requests(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
        """(context, continuation) token pairs exactly as lm-eval's ``TemplateLM`` makes them.

        Trailing spaces of the context move to the continuation; the continuation's
        tokens are ``encode(context + continuation)[len(encode(context)):]``; an
        empty context becomes the prefix token. Each distinct context is encoded once.
        """
        moved = [_move_trailing_spaces(context, continuation) for context, continuation in pairs]
        # lm-eval tests emptiness before moving spaces: a context of only spaces encodes as "".
        with_context = [i for i, (context, _) in enumerate(pairs) if context]
        contexts = sorted({moved[i][0] for i in with_context})
        context_ids = dict(zip(contexts, self.encode_many(contexts), strict=True))
        wholes = self.encode_many([moved[i][0] + moved[i][1] for i in with_context])
        result = [self._encode_without_context(continuation) if not context else ([], []) for context, continuation in pairs]
        for i, whole in zip(with_context, wholes, strict=True):
            context_enc = context_ids[moved[i][0]]
            result[i] = (context_enc, whole[len(context_enc) :])
        return result

    def _encode_without_context(self, continuation: str) -> tuple[list[int], list[int]]:
        tokens = self.tok_encode(continuation, add_special_tokens=False)
        if tokens and tokens[0] == self.prefix_token_id:
            return tokens[:1], tokens[1:]
        return [self.prefix_token_id], tokens

    # ----- loglikelihood ------------------------------------------------------------------

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """(log P(continuation | context), is_greedy) per request, as HFLM computes them."""
        pairs = [tuple(request.args) for request in requests]
        for number, (context, continuation) in enumerate(pairs):
            if not continuation:
                raise RequestError(f"request {number} has an empty continuation (context {context[-60:]!r})")
        encoded = self._encode_requests(pairs)  # type: ignore[arg-type]
        tokenized = [((c, x), ctx, cont) for (c, x), (ctx, cont) in zip(pairs, encoded, strict=True)]
        return self._loglikelihood_tokens(tokenized, disable_tqdm=disable_tqdm)

    def _loglikelihood_tokens(
        self,
        requests: list[tuple[tuple[str, str], list[int], list[int]]],
        disable_tqdm: bool = False,
        **kwargs: Any,
    ) -> list[tuple[float, bool]]:
        """Score pre-tokenised requests; identical (context, continuation) pairs are computed once."""
        groups: dict[tuple[int, ...], list[Branch]] = defaultdict(list)
        first_key: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
        duplicate_of: list[int] = []
        for number, (_, context_enc, continuation_enc) in enumerate(requests):
            context, continuation = self._truncate(number, context_enc, continuation_enc)
            key = first_key.setdefault((context, continuation), number)
            duplicate_of.append(key)
            if key == number:
                groups[context].append(Branch(number, continuation))
        scores = self._score_rows(pack_rows(groups, self.max_length), len(first_key), disable_tqdm)
        results = [(score.logprob, score.is_greedy) for score in (scores[key] for key in duplicate_of)]
        if self.cache_hook is not None:
            for (request_strings, _, _), answer in zip(requests, results, strict=True):
                if request_strings is not None:
                    self.cache_hook.add_partial("loglikelihood", request_strings, answer)
        return results

    def _truncate(
        self, number: int, context_enc: list[int], continuation_enc: list[int]
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """HFLM's left truncation: keep the last max_length+1 tokens of context+continuation."""
        if not continuation_enc:
            raise RequestError(f"request {number}: the continuation encodes to no tokens")
        if len(continuation_enc) > self.max_length:
            raise RequestError(
                f"request {number}: continuation of {len(continuation_enc)} tokens does not fit "
                f"the model's context window of {self.max_length} tokens"
            )
        if not context_enc:
            raise RequestError(f"request {number}: the context encodes to no tokens")
        window = (context_enc + continuation_enc)[-(self.max_length + 1) :]
        return tuple(window[: -len(continuation_enc)]), tuple(continuation_enc)

    def _score_rows(self, rows: list[ScoringRow], expected: int, disable_tqdm: bool) -> dict[int, BranchScore]:
        scores: dict[int, BranchScore] = {}
        packed, unpacked = plan_lines(rows, self._parts.pack_limit)
        self._tell_unpacked(len(unpacked), expected)
        batches = plan_batches(packed, self._token_budget, self._max_rows) + plan_batches(unpacked, self._token_budget, self._max_rows)
        progress = tqdm(total=expected, disable=disable_tqdm, desc="Scoring loglikelihood requests")
        with torch.inference_mode():
            for _batch, batch_scores in iter_with_oom_split(batches, self._run_batch, self._shrink_budget):
                scores.update((score.key, score) for score in batch_scores)
                progress.update(len(batch_scores))
        progress.close()
        return scores

    def _tell_unpacked(self, unpacked: int, expected: int) -> None:
        """Say once per model that some requests took the slower unpacked path, and why."""
        if unpacked and not self._told_unpacked:
            self._told_unpacked = True
            limit = self._parts.pack_limit
            reason = f"are longer than the {limit} tokens packed scoring reproduces" if limit else "cannot be packed"
            log.warning(
                "%s: %d of %d requests %s; they are scored one per row with the model's own attention mask "
                "(slower, same numbers)", type(self.model).__name__, unpacked, expected, reason,
            )

    def _run_batch(self, lines: list[PackedLine]) -> list[BranchScore]:
        return score_batch(self._parts, lines, self._device)

    # ----- rolling loglikelihood ----------------------------------------------------------

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        """Sum of log-probabilities of every token of each document, in lm-eval's windows.

        Windows come from lm-eval's own ``get_rolling_token_windows`` (context 1,
        prefix token first) and ``make_disjoint_window``; windows of all
        documents are scored together in length-sorted batches.
        """
        documents = [request.args[0] for request in requests]
        for number, text in enumerate(documents):
            if not text:
                raise RequestError(f"rolling request {number} is an empty document; it has no tokens to score")
        rows: list[ScoringRow] = []
        owner: list[int] = []
        for number, tokens in enumerate(self.encode_many(documents)):
            windows = get_rolling_token_windows(tokens, self.prefix_token_id, self.max_length, context_len=1)
            for context_enc, continuation_enc in map(make_disjoint_window, windows):
                context, continuation = self._truncate(number, context_enc, continuation_enc)
                rows.append(ScoringRow(context, [Branch(len(owner), continuation)]))
                owner.append(number)
        scores = self._score_rows(rows, len(rows), disable_tqdm)
        totals = [0.0] * len(documents)
        for window, document in enumerate(owner):
            totals[document] += scores[window].logprob
        if self.cache_hook is not None:
            for text, total in zip(documents, totals, strict=True):
                self.cache_hook.add_partial("loglikelihood_rolling", (text,), total)
        return totals

    # ----- generation ---------------------------------------------------------------------

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """Greedy (or as requested) generation until a stop string, EOS or max_gen_toks."""
        by_settings: dict[str, list[int]] = defaultdict(list)
        for number, request in enumerate(requests):
            by_settings[repr(sorted(request.args[1].items()))].append(number)
        outputs: list[str] = [""] * len(requests)
        progress = tqdm(total=len(requests), disable=disable_tqdm, desc="Generating")
        for numbers in by_settings.values():
            contexts = [requests[n].args[0] for n in numbers]
            for number, text in zip(numbers, self._generate_group(contexts, requests[numbers[0]].args[1], progress)):
                outputs[number] = text
                if self.cache_hook is not None:
                    self.cache_hook.add_partial("generate_until", requests[number].args, text)
        progress.close()
        return outputs

    def _generate_group(self, contexts: list[str], gen_kwargs: dict[str, Any], progress: tqdm) -> list[str]:
        """Generate for contexts sharing generation settings, longest first, budgeted batches."""
        settings = normalize_gen_kwargs(gen_kwargs, DEFAULT_MAX_GEN_TOKS)
        eos_text = self.tokenizer.decode(self.eot_token_id, skip_special_tokens=False)
        stops = handle_stop_sequences(settings.pop("until", None), eos=eos_text)
        max_gen_toks = int(settings.pop("max_gen_toks"))
        max_context = self.max_length - max_gen_toks
        if max_context <= 0:
            raise RequestError(
                f"max_gen_toks={max_gen_toks} leaves no room for a prompt in a {self.max_length}-token window"
            )
        encoded = [tokens[-max_context:] for tokens in self.encode_many(contexts)]
        order = sorted(range(len(contexts)), key=lambda i: len(encoded[i]), reverse=True)
        texts: list[str] = [""] * len(contexts)
        for batch in self._generation_batches(order, encoded, max_gen_toks):
            generated = self._generate_batch([encoded[i] for i in batch], max_gen_toks, stops, settings)
            for index, tokens in zip(batch, generated, strict=True):
                text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                texts[index] = postprocess_generated_text(text, stops, None)
            progress.update(len(batch))
        return texts

    def _generation_batches(
        self, order: list[int], encoded: list[list[int]], max_gen_toks: int
    ) -> Iterable[list[int]]:
        # A row of prompt + max_gen_toks tokens: what the KV cache will hold at the end.
        rows = [ScoringRow(tuple(encoded[i]), [Branch(i, (0,) * (max_gen_toks + 1))]) for i in order]
        for batch in plan_batches(rows, self._token_budget, self._max_rows):
            yield [row.branches[0].key for row in batch]

    def _generate_batch(
        self, contexts: list[list[int]], max_gen_toks: int, stops: list[str], settings: dict[str, Any]
    ) -> list[list[int]]:
        """Left-padded batched ``generate`` with a per-row stop-string check; returns new tokens."""
        width = max(len(c) for c in contexts)
        pad = int(self.tokenizer.pad_token_id)
        input_ids = torch.tensor([[pad] * (width - len(c)) + c for c in contexts], device=self._device)
        attention_mask = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in contexts], device=self._device)
        stopping = transformers.StoppingCriteriaList([_StopStrings(self.tokenizer, stops, width)])
        with torch.inference_mode():
            output = self.model.generate(  # type: ignore[operator]  # GenerationMixin is untyped here
                input_ids=input_ids,
                attention_mask=attention_mask,
                max_new_tokens=max_gen_toks,
                stopping_criteria=stopping,
                pad_token_id=pad,
                use_cache=True,
                **_generate_options(settings),
            )
        return [row[width:] for row in output.tolist()]

    # ----- batch sizing -------------------------------------------------------------------

    def _default_token_budget(self) -> int | None:
        if self._max_rows is not None:
            return None
        if self._device.type == "cuda":
            return self._probe_cuda_budget()
        return max(CPU_TOKEN_BUDGET, self.max_length)

    def _probe_cuda_budget(self) -> int:
        """Largest number of max_length rows whose full scoring pass fits in GPU memory.

        Doubles the row count until a pass runs out of memory, then binary-searches
        between the last success and the failure.
        """
        fits, fails = 0, None
        rows = 1
        while fails is None or fails - fits > 1:
            if self._probe_fits(rows):
                fits = rows
                if rows >= AUTO_MAX_ROWS:
                    break
            else:
                fails = rows
            rows = rows * 2 if fails is None else (fits + fails) // 2
        if fits == 0:
            raise BackendError(
                f"one sequence of {self.max_length} tokens does not fit in GPU memory",
                hint="pass --backend-arg max_length=N with a smaller N, or a smaller --dtype",
            )
        log.info("auto batch: %d rows of %d tokens per forward pass", fits, self.max_length)
        return fits * self.max_length

    def _probe_fits(self, rows: int) -> bool:
        probe = [PackedLine([ScoringRow(tuple([self.eot_token_id] * 2), [Branch(0, (self.eot_token_id,) * (self.max_length - 1))])])]
        try:
            with torch.inference_mode():
                score_batch(self._parts, probe * rows, self._device)
            return True
        except torch.OutOfMemoryError:
            return False
        finally:
            torch.cuda.empty_cache()

    def _shrink_budget(self) -> None:
        if self._token_budget is not None:
            self._token_budget = max(self.max_length, self._token_budget // 2)
        if self._max_rows is not None:
            self._max_rows = max(1, self._max_rows // 2)


class _StopStrings(transformers.StoppingCriteria):
    """Marks a row finished once its decoded new text contains a stop string.

    The final text is cut at the first stop string, so stopping at or after its
    first appearance gives the same text HFLM returns.
    """

    def __init__(self, tokenizer: transformers.PreTrainedTokenizerBase, stops: list[str], prompt_width: int) -> None:
        self.tokenizer = tokenizer
        self.stops = [stop for stop in stops if stop]
        self.prompt_width = prompt_width

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_width :], skip_special_tokens=True)
        done = [any(stop in text for stop in self.stops) for text in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _generate_options(settings: dict[str, Any]) -> dict[str, Any]:
    """HFLM's handling of sampling options: temperature 0 means greedy."""
    options = dict(settings)
    options.pop("max_length", None)
    temperature = options.get("temperature", 0.0)
    if temperature == 0.0 and options.get("do_sample") is None:
        options["do_sample"] = False
    if options.get("do_sample") is False and temperature == 0.0:
        options.pop("temperature", None)
    return options


def _move_trailing_spaces(context: str, continuation: str) -> tuple[str, str]:
    """Trailing whitespace belongs to the continuation (lm-eval's word-boundary rule)."""
    stripped = context.rstrip()
    return stripped, context[len(stripped) :] + continuation


def _parse_batch_size(batch_size: int | str) -> int | None:
    """Rows per forward pass, or None for automatic (token-budget) sizing."""
    if isinstance(batch_size, str) and batch_size.startswith("auto"):
        return None
    try:
        rows = int(batch_size)
    except ValueError as error:
        raise BackendError(f"batch_size must be an integer or 'auto', got {batch_size!r}") from error
    if rows < 1:
        raise BackendError(f"batch_size must be at least 1, got {rows}")
    return rows
