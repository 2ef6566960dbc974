"""Arena answers: every stored prompt a model has not answered yet, generated and stored as it goes.

Generation goes through the backends' lm-eval ``generate_until`` (the same code path
`evalsuite run` uses for generation tasks), greedy unless a temperature is given.
Prompts are wrapped in the model's chat template when its tokenizer has one (a
single user turn, generation prompt appended); a model without one gets
``Question: …\\nAnswer:`` and stops at the next ``\\nQuestion:``. What was done is
stored with each answer in ``Completion.settings``, including the weights' sha256.

Answers belong to a model *identity* (:func:`answer_model_key`: weights, tokenizer
files, config and revision), not to a name: new weights saved under an old name
answer every prompt again, and are rated apart from the old ones.

Nothing is answered from a cut prompt: a prompt whose tokens do not fit the model's
context together with ``max_tokens`` new ones is skipped (the backend would otherwise
drop its beginning silently), and the report counts it, as it counts empty answers.

Answers are written chunk by chunk, so an interrupted run keeps what it finished
and the next run continues with the prompts still unanswered.

The model loads through the one backend registry (:mod:`evalsuite.backends.registry`)
from the request's :class:`BackendOptions`, as in `evalsuite run`: revision, seed,
trust-remote-code and every ``--backend-arg`` reach it. vLLM runs in a child
process (:mod:`evalsuite.arena.child`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from evalsuite.arena.child import run_in_child
from evalsuite.arena.contestant import answer_model_key, has_chat_template
from evalsuite.arena.prompts import mt_bench_prompts
from evalsuite.backends import BackendOptions, check_backend_options, close_backend, load_backend, resolve
from evalsuite.backends.registry import DEFAULT_BACKEND, backend_entry
from evalsuite.errors import ArenaError
from evalsuite.store import arena_queries
from evalsuite.store.db import open_database

if TYPE_CHECKING:
    from evalsuite.identity.models import ModelSpec

DEFAULT_MAX_TOKENS = 256
PLAIN_PROMPT = "Question: {prompt}\nAnswer:"
PLAIN_STOP = "\nQuestion:"


@dataclass(frozen=True)
class GenerationRequest:
    """Everything one `evalsuite arena generate` needs (plain values, so it crosses to a child process).

    Attributes:
        model: Hub id, local directory or demo alias; also the name answers are stored under.
        db: database path or SQLAlchemy URL.
        options: how the model loads (backend, device, dtype, seed, revision, backend args);
            ``options.seed`` also seeds sampling (only matters with a temperature).
        max_tokens: new tokens per answer at most.
        temperature: 0 means greedy decoding.
        limit: answer at most this many prompts (oldest unanswered first).
        chat_template: None applies the tokenizer's chat template when it has one.
        chunk_size: prompts generated together and then stored.
    """

    model: str
    db: str
    options: BackendOptions = field(default_factory=lambda: BackendOptions(backend=DEFAULT_BACKEND))
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0
    limit: int | None = None
    chat_template: bool | None = None
    chunk_size: int = 8

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GenerationRequest:
        """The inverse of ``dataclasses.asdict`` (the request crosses to a child process as JSON)."""
        return cls(**{**data, "options": BackendOptions.from_json(data["options"])})

    def check(self) -> None:
        """Plain values, checked before the database opens or a model loads."""
        backend_entry(self.options.backend, for_arena=True)
        self.options.check_values()
        if self.max_tokens < 1:
            raise ArenaError(f"--max-tokens must be at least 1, got {self.max_tokens}", hint="pass e.g. --max-tokens 256")
        if self.temperature < 0:
            raise ArenaError(f"--temperature must be 0 (greedy) or more, got {self.temperature}")
        if self.limit is not None and self.limit < 0:
            raise ArenaError(f"--limit must be 0 or more, got {self.limit}")
        if self.chunk_size < 1:
            raise ArenaError(f"chunk size must be at least 1, got {self.chunk_size}")


@dataclass(frozen=True)
class GenerationReport:
    """What one `arena generate` did; ``empty`` answers are stored, ``too_long`` prompts are not answered."""

    model: str
    generated: int
    still_unanswered: int
    loaded_mt_bench: bool = False
    empty: int = 0
    too_long: int = 0
    context_tokens: int | None = None


def format_prompt(lm: Any, prompt: str, use_chat_template: bool) -> str:
    """One user turn through the chat template, or the plain question/answer frame."""
    if use_chat_template:
        return str(lm.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True))
    return PLAIN_PROMPT.format(prompt=prompt)


def generate_texts(lm: Any, contexts: list[str], gen_kwargs: dict[str, Any]) -> list[str]:
    """lm-eval ``generate_until`` on plain contexts (one settings dict for all)."""
    from lm_eval.api.instance import Instance

    requests = [Instance("generate_until", {}, (context, dict(gen_kwargs)), i) for i, context in enumerate(contexts)]
    return [text.strip() for text in lm.generate_until(requests, disable_tqdm=True)]


def _gen_kwargs(request: GenerationRequest, use_chat_template: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"until": [] if use_chat_template else [PLAIN_STOP], "max_gen_toks": request.max_tokens}
    if request.temperature > 0:
        options.update(do_sample=True, temperature=request.temperature)
    else:
        options.update(do_sample=False, temperature=0.0)
    return options


# ---------------------------------------------------------------- the command


def generate_answers(request: GenerationRequest, show_progress: bool = True) -> GenerationReport:
    """Answer every stored prompt ``request.model`` has not answered (vLLM: in a child process).

    Loads MT-Bench's 80 prompts first when the prompt table is empty.
    """
    request.check()
    if backend_entry(request.options.backend).capabilities.child_process:
        return GenerationReport(**run_in_child(generate_in_process, request))
    return generate_in_process(request, show_progress)


def generate_in_process(request: GenerationRequest, show_progress: bool) -> GenerationReport:
    """Answer in this interpreter; the backend's options are checked before the database opens."""
    check_backend_options(request.options)
    with open_database(request.db) as database:
        loaded_mt_bench = False
        if arena_queries.prompt_count(database) == 0:
            arena_queries.add_prompts(database, mt_bench_prompts())
            loaded_mt_bench = True
        spec = resolve(request.model, request.options)
        key = answer_model_key(spec)
        todo = arena_queries.prompts_without_answer(database, key, request.limit)
        outcome = _Outcome()
        if todo:
            lm = load_backend(spec, request.options)
            try:
                outcome = _answer(database, request, spec, lm, todo, show_progress)
            finally:
                close_backend(lm)
        remaining = len(arena_queries.prompts_without_answer(database, key))
    return GenerationReport(
        request.model, outcome.generated, remaining, loaded_mt_bench, outcome.empty, outcome.too_long, outcome.context_tokens
    )


@dataclass
class _Outcome:
    generated: int = 0
    empty: int = 0
    too_long: int = 0
    context_tokens: int | None = None


def fits_context(lm: Any, context: str, max_tokens: int) -> bool:
    """Whether ``context`` plus ``max_tokens`` new tokens fit the model's window uncut."""
    return len(lm.tok_encode(context)) + max_tokens <= int(lm.max_length)


def _answer(database: Any, request: GenerationRequest, spec: ModelSpec, lm: Any, todo: list[Any], show_progress: bool) -> _Outcome:
    """Generate and store answers chunk by chunk; prompts that would be cut are left unanswered."""
    use_chat = has_chat_template(lm) if request.chat_template is None else request.chat_template
    if use_chat and not has_chat_template(lm):
        raise ArenaError(f"{request.model} has no chat template", hint="drop --chat-template, or use a chat model")
    gen_kwargs = _gen_kwargs(request, use_chat)
    settings = {
        "backend": request.options.backend, "max_tokens": request.max_tokens, "temperature": request.temperature,
        "greedy": request.temperature == 0, "seed": request.options.seed, "chat_template": use_chat,
        "prompt_format": "chat_template" if use_chat else PLAIN_PROMPT, "stop": gen_kwargs["until"],
        "backend_args": request.options.args, "weights_sha256": spec.weights_sha256, "revision": spec.revision,
        "tokenizer_sha256": getattr(spec, "tokenizer_sha256", None), "config_sha256": getattr(spec, "config_sha256", None),
    }
    key = answer_model_key(spec)
    outcome = _Outcome(context_tokens=int(lm.max_length))
    if request.temperature > 0:
        import torch

        torch.manual_seed(request.options.seed)
    with tqdm(total=len(todo), desc=f"answers from {request.model}", unit="prompt", disable=not show_progress, file=sys.stderr) as bar:
        for start in range(0, len(todo), request.chunk_size):
            framed = [(prompt, format_prompt(lm, prompt.text, use_chat)) for prompt in todo[start : start + request.chunk_size]]
            fitting = [(prompt, context) for prompt, context in framed if fits_context(lm, context, request.max_tokens)]
            outcome.too_long += len(framed) - len(fitting)
            texts = generate_texts(lm, [context for _, context in fitting], gen_kwargs) if fitting else []
            for (prompt, _), text in zip(fitting, texts, strict=True):
                if arena_queries.add_completion(database, prompt.id, request.model, text, settings, model_key=key):
                    outcome.generated += 1
                    outcome.empty += not text
            bar.update(len(framed))
    return outcome
