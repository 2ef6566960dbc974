"""An OpenAI-compatible endpoint (vLLM's server, llama.cpp, TGI, OpenAI itself) as an lm-eval ``LM``.

``evalsuite run --backend openai --base-url URL --model SERVED_NAME`` sends every
request to ``URL`` (HTTP in :mod:`evalsuite.backends._endpoint_client`: retries with
backoff on 429/5xx, timeouts, ``--batch-size`` requests in flight). lm-eval's
``local-completions`` model is the reference for the protocol; this class is evalsuite's
own, so that its numbers equal the in-process backends' and its failures are one line:

* **Tokenisation is local and HFLM's.** Log-likelihoods need the context/continuation
  split in tokens, so the client needs the model's tokenizer: ``--backend-arg
  tokenizer=DIR_OR_HUB_ID``, else the ``root`` the server reports in ``/v1/models``
  (vLLM: the directory or Hub id it loaded), else the served name as a Hub id. Prompts go
  to the server as token ids (the same ids as ``--backend vllm`` and ``transformers``:
  TemplateLM's split, HFLM's ``tok_encode`` and left truncation, lm-eval's rolling
  windows), so the server's tokenizer never decides what is scored. Without a tokenizer,
  generation sends text, and log-likelihood requests are refused with a hint.
* **Log-likelihoods** come from the completions endpoint's prompt log-probabilities
  (``echo=true, logprobs=1, max_tokens=1``, as ``local-completions``): the prompt is
  ``(context + continuation)[-(max_length + 1):]`` and the continuation's tokens are its
  last ones. Greediness is the token's rank 1 where the server reports ranks by token id
  (vLLM's ``prompt_logprobs``, which also confirms the server scored our token ids), else
  OpenAI's ``top_logprobs`` rule (the token's log-probability is the top one).
* **Generation** through ``/completions`` (default) or ``/chat/completions``
  (``--backend-arg api=chat``, for chat-only APIs; the server applies its chat template).
  Stop sequences are sent (the first four: OpenAI's limit) and applied again to the text,
  so a fifth one still cuts. A chat endpoint offers no prompt log-probabilities, so
  log-likelihood tasks there stop with an error naming the fix.
* ``max_length`` (lm-eval's window): ``--backend-arg max_length=N``, else HFLM's rule on
  the local config and tokenizer, capped at the server's ``max_model_len - 2`` (a scored
  prompt of ``max_length + 1`` tokens plus the one generated token must fit). The echo
  protocol feeds the scored token itself, so its window is two tokens shorter than
  ``--backend vllm``'s (which feeds ``max_length`` tokens and reads the next one): texts
  and prompts within the window score identically, rolling windows over longer texts
  are cut two tokens earlier. (Raising the server's ``--max-model-len`` past the model's
  positions to close that gap reads outside its rotary tables: garbage, seen as NaN.)
  A vLLM server gives ``--backend vllm``'s numbers for a float32 checkpoint when started
  with ``--dtype float32`` (its ``auto`` runs those in 16 bits; the in-process backend keeps float32).

The model's identity for the request cache and the board is the endpoint's fingerprint
(:func:`evalsuite.identity.models.endpoint_spec`: base URL, served name, what ``/v1/models`` reports,
the local tokenizer's hash), built by :func:`resolve_endpoint` before the run starts.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import transformers
from lm_eval.api.instance import Instance
from lm_eval.api.model import TemplateLM
from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs, postprocess_generated_text, resolve_max_length
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

from evalsuite.backends._endpoint_client import EndpointClient, RetryPolicy
from evalsuite.backends._hf_tokenizer import HFTokenizerRules
from evalsuite.errors import ConfigError, EndpointError, RequestError

log = logging.getLogger(__name__)

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_GEN_TOKS = 256  # lm-eval's default when a task sets no max_gen_toks
DEFAULT_MAX_LENGTH = 2048  # HFLM's, when neither the config, the tokenizer nor the server gives one
APIS = ("completions", "chat")
MAX_STOP_SEQUENCES = 4  # OpenAI's limit on `stop`; the rest are applied to the text here
# Files fetched for a Hub-id tokenizer (no weights).
TOKENIZER_PATTERNS = ["tokenizer*", "special_tokens_map.json", "added_tokens.json", "vocab.*", "merges.txt", "*.model", "*.tiktoken",
                      "chat_template.*", "config.json", "generation_config.json"]


# ----------------------------------------------------------------- before the run: key, server, identity


def api_key(api_key_env: str | None) -> str | None:
    """The key from ``api_key_env`` (which must then be set), else ``OPENAI_API_KEY`` if set, else none."""
    if api_key_env is not None:
        value = os.environ.get(api_key_env)
        if not value:
            raise EndpointError(
                f"--api-key-env {api_key_env}: the environment variable {api_key_env} is not set",
                f"export {api_key_env}=YOUR_KEY, or drop --api-key-env to use OPENAI_API_KEY (or no key, for a local server)",
            )
        return value
    return os.environ.get(DEFAULT_KEY_ENV) or None


def key_hint(api_key_env: str | None) -> str:
    name = api_key_env or DEFAULT_KEY_ENV
    return f"put the endpoint's key in ${name}" + ("" if api_key_env else ", or name the variable holding it with --api-key-env")


def check_options(base_url: str | None, api_key_env: str | None, device: str, dtype: str) -> None:
    """What can be refused before anything runs: no URL, an unset key variable, settings the server owns."""
    if not base_url:
        raise ConfigError("--backend openai needs --base-url", "pass the server's OpenAI API root, e.g. --base-url http://127.0.0.1:8000/v1")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"--base-url {base_url!r} is not an http(s) URL", "e.g. --base-url http://127.0.0.1:8000/v1")
    for flag, value in (("--device", device), ("--dtype", dtype)):
        if value != "auto":
            raise ConfigError(f"{flag} {value} has no effect on an endpoint: the server decides it", f"drop {flag}, or set it where the server starts")
    api_key(api_key_env)


def served_models(client: EndpointClient) -> list[dict[str, Any]]:
    """The ``data`` list of ``GET /models``; a malformed answer is an error."""
    answer = client.get("/models", first_contact=True)
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or not all(isinstance(entry, dict) and "id" in entry for entry in data):
        raise EndpointError(
            f"GET {client.base_url}/models: the answer has no list of models (got {str(answer)[:80]!r})",
            "is --base-url an OpenAI-compatible API? It should end in /v1",
        )
    return data


def served_entry(client: EndpointClient, model: str) -> dict[str, Any]:
    """The ``/v1/models`` entry of ``model``; an unknown name is refused with the names served."""
    entries = served_models(client)
    for entry in entries:
        if entry["id"] == model:
            return entry
    names = ", ".join(str(entry["id"]) for entry in entries) or "none"
    raise EndpointError(f"{client.base_url} does not serve a model named {model!r}", f"models served there: {names}; pass one as --model")


def resolve_endpoint(model: str, base_url: str, api_key_env: str | None, args: dict[str, Any]) -> Any:
    """The :class:`~evalsuite.identity.models.ModelSpec` of ``model`` as served at ``base_url`` (asks ``/v1/models``)."""
    from evalsuite.identity.models import endpoint_spec

    client = make_client(base_url, api_key_env, args)
    try:
        entry = served_entry(client, model)
    finally:
        client.close()
    return endpoint_spec(model, base_url.rstrip("/"), entry, find_tokenizer(model, entry, args.get("tokenizer")))


def find_tokenizer(model: str, entry: dict[str, Any], explicit: str | None) -> Path | None:
    """A local directory with the served model's tokenizer: ``explicit``, else the server's ``root``, else ``model``."""
    if explicit is not None:
        found = _tokenizer_dir(str(explicit))
        if found is None:
            raise ConfigError(
                f"--backend-arg tokenizer={explicit}: neither a folder with tokenizer files nor a Hub id whose tokenizer can be fetched",
                "pass the served model's folder or Hub id (online, or already in the Hugging Face cache)",
            )
        return found
    for candidate in (entry.get("root"), model):
        if isinstance(candidate, str) and candidate:
            found = _tokenizer_dir(candidate)
            if found is not None:
                return found
    log.warning("no local tokenizer for %s: generation sends text, log-likelihood tasks are refused", model)
    return None


def _tokenizer_dir(candidate: str) -> Path | None:
    local = Path(candidate).expanduser()
    if local.is_dir():
        return local.resolve() if any(local.glob("tokenizer*")) else None
    if candidate.count("/") > 1 or ":" in candidate or " " in candidate:
        return None  # not a Hub id
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(candidate, allow_patterns=TOKENIZER_PATTERNS, token=os.environ.get("HF_TOKEN")))
    except Exception:  # offline and not cached, not on the Hub, gated: no tokenizer from here
        return None
    return folder if any(folder.glob("tokenizer*")) else None


def make_client(base_url: str, api_key_env: str | None, args: dict[str, Any], concurrency: int = DEFAULT_CONCURRENCY) -> EndpointClient:
    retry = RetryPolicy(max_retries=int(args.get("max_retries", 5)), backoff_s=float(args.get("retry_backoff_s", 1.0)))
    return EndpointClient(
        base_url, api_key(api_key_env), timeout_s=float(args.get("timeout_s", 300.0)), retry=retry, concurrency=concurrency,
        key_hint=key_hint(api_key_env),
    )


# ----------------------------------------------------------------- the LM


class OpenAICompatLM(HFTokenizerRules, TemplateLM):
    """lm-eval ``LM`` over an OpenAI-compatible endpoint (see the module docstring).

    Args:
        model: the served model name (``--model``).
        base_url: the API root, ending in ``/v1`` (``--base-url``).
        api_key_env: variable holding the key (``--api-key-env``); default ``OPENAI_API_KEY`` if set.
        tokenizer: local tokenizer directory or Hub id; None: the server's ``root``, then ``model``.
        api: ``completions`` (default; log-likelihoods and generation) or ``chat`` (generation only).
        batch_size: requests in flight at once (``--batch-size``; ``auto``: 8).
        seed: sent with every request (sampled generation only; greedy answers do not depend on it).
        max_length: lm-eval's window (default: see the module docstring).
        max_retries: extra attempts on 429, 5xx, timeouts and dropped connections.
        retry_backoff_s: first wait before a retry; it doubles each time (``Retry-After`` wins).
        timeout_s: per request.
        add_bos_token: False: prompts without BOS (lm-eval v0.3, the Nous suite); None: the tokenizer's default.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key_env: str | None = None,
        tokenizer: str | None = None,
        api: str = "completions",
        batch_size: int | str = "auto",
        seed: int = 0,
        max_length: int | None = None,
        max_retries: int = 5,
        retry_backoff_s: float = 1.0,
        timeout_s: float = 300.0,
        add_bos_token: bool | None = None,
    ) -> None:
        super().__init__()
        self.add_bos_token = add_bos_token
        if api not in APIS:
            raise ConfigError(f"--backend-arg api={api} is not one of {', '.join(APIS)}", "pass api=completions (default) or api=chat")
        self.model = model
        self.api = api
        self.seed = seed
        concurrency = DEFAULT_CONCURRENCY if batch_size == "auto" else int(batch_size)
        options = {"max_retries": max_retries, "retry_backoff_s": retry_backoff_s, "timeout_s": timeout_s}
        self.client = make_client(base_url, api_key_env, options, concurrency)
        entry = served_entry(self.client, model)
        self._tokenizer_path = tokenizer
        self.tokenizer = _load_tokenizer(tokenizer) if tokenizer else None  # type: ignore[assignment]
        self._max_length = _window(max_length, tokenizer, self.tokenizer, entry.get("max_model_len"))
        if self.tokenizer is not None:
            self._remember_prefix_text()

    def close(self) -> None:
        self.client.close()

    # ----- tokenizer members without a tokenizer ---------------------------------------

    def _need_tokenizer(self, what: str) -> transformers.PreTrainedTokenizerBase:
        if self.tokenizer is None:
            raise EndpointError(
                f"{what} with --backend openai needs the model's tokenizer, and none was found for {self.model!r}",
                "pass --backend-arg tokenizer=DIR_OR_HUB_ID (the served model's tokenizer)",
            )
        return self.tokenizer

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
        self._need_tokenizer("tokenising a prompt")
        return super().tok_encode(string, add_special_tokens, **kwargs)

    @property
    def eot_token_id(self) -> int:
        return int(self._need_tokenizer("the end-of-text token").eos_token_id)

    @property
    def tokenizer_name(self) -> str:
        return str(self.tokenizer.name_or_path).replace("/", "__") if self.tokenizer is not None else self.model.replace("/", "__")

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """Completions: the local tokenizer's template. Chat: the turns as JSON, for the server's template."""
        if self.api == "chat":
            return json.dumps(chat_history, ensure_ascii=False)
        self._need_tokenizer("--apply-chat-template")
        return super().apply_chat_template(chat_history, add_generation_prompt)

    # ----- log-likelihood ---------------------------------------------------------------

    def _check_scoring(self) -> None:
        if self.api == "chat":
            raise EndpointError(
                f"log-likelihood tasks need prompt log-probabilities, which a chat endpoint ({self.client.base_url}/chat/completions) does not give",
                "run them against a completions endpoint (drop --backend-arg api=chat; vLLM's server offers one), or choose generation tasks",
            )
        self._need_tokenizer("log-likelihood scoring")

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        self._check_scoring()
        return super().loglikelihood(requests, disable_tqdm)

    def _loglikelihood_tokens(
        self, requests: list[tuple[tuple[str, str], list[int], list[int]]], disable_tqdm: bool = False, **kwargs: Any
    ) -> list[tuple[float, bool]]:
        """(log P(continuation | context), is_greedy), scored from the echoed prompt's log-probabilities."""
        for number, (strings, _, continuation) in enumerate(requests):
            if not continuation:
                raise RequestError(f"request {number} has an empty continuation (context {strings[0][-60:]!r})")
            if len(continuation) > self.max_length:
                raise RequestError(f"request {number}: continuation of {len(continuation)} tokens exceeds max_length {self.max_length}")
        results = self._score([(context, continuation) for _, context, continuation in requests], disable_tqdm)
        for (strings, _, _), result in zip(requests, results, strict=True):
            self.cache_hook.add_partial("loglikelihood", strings, result)
        return results

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        """Sum of log-probabilities of every token of each text, in lm-eval's disjoint windows."""
        self._check_scoring()
        windows: list[tuple[list[int], list[int]]] = []
        owner: list[int] = []
        for document, request in enumerate(requests):
            for context, continuation in map(
                make_disjoint_window,
                get_rolling_token_windows(self.tok_encode(request.args[0]), self.prefix_token_id, self.max_length, 1),
            ):
                windows.append((list(context), list(continuation)))
                owner.append(document)
        totals = [0.0] * len(requests)
        for document, (logprob, _) in zip(owner, self._score(windows, disable_tqdm), strict=True):
            totals[document] += logprob
        for request, total in zip(requests, totals, strict=True):
            self.cache_hook.add_partial("loglikelihood_rolling", (request.args[0],), total)
        return totals

    def _score(self, pairs: Sequence[tuple[list[int], list[int]]], disable_tqdm: bool) -> list[tuple[float, bool]]:
        prompts = [(list(context) + list(continuation))[-(self.max_length + 1) :] for context, continuation in pairs]
        payloads = [
            {"model": self.model, "prompt": prompt, "max_tokens": 1, "temperature": 0, "logprobs": 1, "echo": True, "seed": self.seed}
            for prompt in prompts
        ]
        answers = self.client.post_many("/completions", payloads, desc="loglikelihood requests", disable_tqdm=disable_tqdm)
        return [
            continuation_score(answer, prompt, len(continuation), self.client.base_url)
            for answer, prompt, (_, continuation) in zip(answers, prompts, pairs, strict=True)
        ]

    # ----- generation -------------------------------------------------------------------

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """Continuations (greedy unless the task samples), cut at the first stop sequence."""
        eos = self.tok_decode([self.eot_token_id], skip_special_tokens=False) if self.tokenizer is not None else None
        payloads, stops = [], []
        for context, gen_kwargs in (request.args for request in requests):
            options = normalize_gen_kwargs(dict(gen_kwargs), DEFAULT_MAX_GEN_TOKS)
            until = handle_stop_sequences(options.pop("until", None), eos=eos)
            max_gen_toks = int(options.pop("max_gen_toks"))
            payloads.append(self._generation_payload(context, max_gen_toks, until, options))
            stops.append(until)
        path = "/chat/completions" if self.api == "chat" else "/completions"
        answers = self.client.post_many(path, payloads, desc="generate_until requests", disable_tqdm=disable_tqdm)
        texts = []
        for request, answer, until in zip(requests, answers, stops, strict=True):
            text = postprocess_generated_text(generation=generated_text(answer, self.api, self.client.base_url), stop=until, think_end_token=None)
            self.cache_hook.add_partial("generate_until", request.args, text)
            texts.append(text)
        return texts

    def _generation_payload(self, context: str, max_gen_toks: int, until: list[str], options: dict[str, Any]) -> dict[str, Any]:
        sampling = bool(options.get("do_sample")) and float(options.get("temperature", 1.0)) > 0
        payload: dict[str, Any] = {"model": self.model, "max_tokens": max_gen_toks, "seed": self.seed}
        payload.update({"temperature": float(options.get("temperature", 1.0)), "top_p": float(options.get("top_p", 1.0))} if sampling else {"temperature": 0})
        if until:
            payload["stop"] = until[:MAX_STOP_SEQUENCES]
        if self.api == "chat":
            payload["messages"] = chat_messages(context)
        elif self.tokenizer is not None:
            room = self.max_length - max_gen_toks
            if room <= 0:
                raise RequestError(f"max_gen_toks={max_gen_toks} leaves no room for a prompt in max_length {self.max_length}")
            payload["prompt"] = self.tok_encode(context)[-room:]  # HFLM's left truncation
        else:
            payload["prompt"] = context
        return payload

    def generate(self, prompts: list[str], max_tokens: int = DEFAULT_MAX_GEN_TOKS, stop: list[str] | None = None) -> list[str]:
        """Greedy answers to plain prompts, cut at ``stop``."""
        requests = [Instance("generate_until", {}, (prompt, {"until": list(stop or []), "max_gen_toks": max_tokens}), i) for i, prompt in enumerate(prompts)]
        return self.generate_until(requests, disable_tqdm=True)


# ----------------------------------------------------------------- reading answers


def continuation_score(answer: Any, prompt: Sequence[int], n_continuation: int, base_url: str) -> tuple[float, bool]:
    """Sum and greediness of the last ``n_continuation`` prompt tokens' log-probabilities in an echo answer."""
    choice = _first_choice(answer, base_url, "/completions")
    raw = choice.get("logprobs")
    logprobs: dict[str, Any] = raw if isinstance(raw, dict) else {}
    values = logprobs.get("token_logprobs")
    if not isinstance(values, list) or len(values) < len(prompt):
        raise EndpointError(
            f"{base_url}/completions returned no log-probabilities for the prompt's tokens (echo=true, logprobs=1)",
            "log-likelihood tasks need a server that echoes prompt log-probabilities (vLLM's server does; "
            "OpenAI's hosted models do not): use such a server, or generation tasks only",
        )
    start = len(prompt) - n_continuation
    scored = values[start : len(prompt)]
    if any(not isinstance(value, int | float) for value in scored):
        raise EndpointError(f"{base_url}/completions returned a prompt log-probability that is not a number", "check the server's version and log")
    ranked = _ranks(choice.get("prompt_logprobs"), prompt, start)
    if ranked is not None:
        greedy = all(rank == 1 for rank in ranked)
    else:
        tops = logprobs.get("top_logprobs") or []
        greedy = all(
            isinstance(top, dict) and bool(top) and float(value) >= max(float(v) for v in top.values())
            for value, top in zip(scored, tops[start : len(prompt)], strict=False)
        )
    return float(sum(float(value) for value in scored)), greedy


def _ranks(prompt_logprobs: Any, prompt: Sequence[int], start: int) -> list[int] | None:
    """vLLM's per-position ``{token_id: {logprob, rank}}``: the ranks of our tokens, or None if absent.

    A server that scored other token ids than ours (it re-tokenised the prompt) is an error.
    """
    if not isinstance(prompt_logprobs, list) or len(prompt_logprobs) < len(prompt):
        return None
    ranks = []
    for position in range(start, len(prompt)):
        entry = prompt_logprobs[position]
        found = entry.get(str(prompt[position])) if isinstance(entry, dict) else None
        if not isinstance(found, dict) or "rank" not in found:
            raise EndpointError(
                "the server's prompt log-probabilities are not for the token ids sent (it scored another tokenisation)",
                "the server must accept token-id prompts; check --backend-arg tokenizer is the served model's",
            )
        ranks.append(int(found["rank"]))
    return ranks


def generated_text(answer: Any, api: str, base_url: str) -> str:
    """The generated text of a completions or chat answer."""
    path = "/chat/completions" if api == "chat" else "/completions"
    choice = _first_choice(answer, base_url, path)
    text = (choice.get("message") or {}).get("content") if api == "chat" else choice.get("text")
    if text is None and api == "chat":
        return ""  # a chat answer with no content (a refusal, a tool call): an empty generation
    if not isinstance(text, str):
        raise EndpointError(f"{base_url}{path} returned a choice without text", "check the server's version and log")
    return text


def _first_choice(answer: Any, base_url: str, path: str) -> dict[str, Any]:
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise EndpointError(
            f"{base_url}{path} returned no choices (got {str(answer)[:80]!r})",
            "is --base-url an OpenAI-compatible API? It should end in /v1",
        )
    return choices[0]


def chat_messages(context: str) -> list[dict[str, str]]:
    """A chat-templated context (JSON turns, from ``apply_chat_template``) or plain text as one user turn."""
    try:
        turns = json.loads(context)
    except ValueError:
        turns = None
    if isinstance(turns, list) and turns and all(isinstance(turn, dict) and "role" in turn and "content" in turn for turn in turns):
        return turns
    return [{"role": "user", "content": context}]


def _load_tokenizer(path: str) -> transformers.PreTrainedTokenizerBase:
    try:
        return transformers.AutoTokenizer.from_pretrained(path, use_fast=True)
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot load the tokenizer at {path}: {error}".splitlines()[0], "pass --backend-arg tokenizer=DIR_OR_HUB_ID") from error


def _window(explicit: int | None, path: str | None, tokenizer: Any, server_max: Any) -> int:
    """lm-eval's window: explicit, else HFLM's rule on the local files, capped by what the server accepts."""
    if explicit is not None:
        if explicit < 2:
            raise ConfigError(f"max_length must be at least 2, got {explicit}", "pass --backend-arg max_length=N with N >= 2")
        return int(explicit)
    local: int | None = None
    if path is not None and tokenizer is not None and (Path(path) / "config.json").is_file():
        local = int(resolve_max_length(transformers.AutoConfig.from_pretrained(path), tokenizer, default=DEFAULT_MAX_LENGTH))
    # A scored prompt is max_length + 1 tokens, and the server generates one more.
    server = int(server_max) - 2 if isinstance(server_max, int) and server_max > 3 else None
    known = [value for value in (local, server) if value is not None]
    return min(known) if known else DEFAULT_MAX_LENGTH
