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

vLLM starts worker processes with ``spawn``, which re-imports the parent's
``__main__``; that breaks under an interactive or embedded interpreter (pytest,
Streamlit, ``python -c``). :func:`generate_answers` therefore runs vLLM generation
in a fresh ``python -m evalsuite.arena.generate`` child whose main module is this
import-safe file, and reads its report back as JSON.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from evalsuite import errors
from evalsuite.arena.prompts import mt_bench_prompts
from evalsuite.backends import VLLM_INSTALL_HINT, close_backend, import_backend_module, pick_device
from evalsuite.errors import ArenaError, BackendNotInstalledError, EvalsuiteError
from evalsuite.store import arena_queries
from evalsuite.store.db import open_database

if TYPE_CHECKING:
    from lm_eval.api.model import TemplateLM

    from evalsuite.models import ModelSpec

BACKENDS = ("transformers", "vllm")
DEFAULT_MAX_TOKENS = 256
PLAIN_PROMPT = "Question: {prompt}\nAnswer:"
PLAIN_STOP = "\nQuestion:"


@dataclass(frozen=True)
class GenerationRequest:
    """Everything one `evalsuite arena generate` needs (plain values, so it crosses to a child process).

    Attributes:
        model: Hub id, local directory or demo alias; also the name answers are stored under.
        db: database path or SQLAlchemy URL.
        backend: ``transformers`` or ``vllm``.
        max_tokens: new tokens per answer at most.
        temperature: 0 means greedy decoding.
        seed: sampling seed (only matters with a temperature).
        limit: answer at most this many prompts (oldest unanswered first).
        chat_template: None applies the tokenizer's chat template when it has one.
        chunk_size: prompts generated together and then stored.
        device, dtype: as for `evalsuite run`.
        backend_args: extra keyword arguments for the backend class.
    """

    model: str
    db: str
    backend: str = "transformers"
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0
    seed: int = 0
    limit: int | None = None
    chat_template: bool | None = None
    chunk_size: int = 8
    device: str = "auto"
    dtype: str = "auto"
    backend_args: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.backend not in BACKENDS:
            raise ArenaError(f"unknown backend {self.backend!r} for arena answers", hint=f"use one of {', '.join(BACKENDS)}")
        if self.max_tokens < 1:
            raise ArenaError(f"--max-tokens must be at least 1, got {self.max_tokens}", hint="pass e.g. --max-tokens 256")
        if self.temperature < 0:
            raise ArenaError(f"--temperature must be 0 (greedy) or more, got {self.temperature}")
        if self.limit is not None and self.limit < 0:
            raise ArenaError(f"--limit must be 0 or more, got {self.limit}")
        if self.chunk_size < 1:
            raise ArenaError(f"chunk size must be at least 1, got {self.chunk_size}")
        for option in ("dtype", "device"):
            if option in self.backend_args:
                raise ArenaError(f"--backend-arg {option}=… duplicates an option", hint=f"pass --{option} instead")


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


def answer_model_key(spec: ModelSpec) -> str:
    """The identity arena answers are stored under: sha256 over weights, tokenizer, config and revision.

    Generation settings are stored beside each answer (``Completion.settings``) but are
    not part of the key: one model is one contestant however it was sampled.
    """
    parts = {
        "weights_sha256": spec.weights_sha256,
        "tokenizer_sha256": getattr(spec, "tokenizer_sha256", ""),
        "config_sha256": getattr(spec, "config_sha256", ""),
        "revision": spec.revision or "",
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------- backends


def load_lm(spec: ModelSpec, backend: str, device: str = "auto", dtype: str = "auto", **backend_args: Any) -> TemplateLM:
    """The backend's lm-eval LM for a resolved model (arena answers and the judge share it)."""
    if backend == "vllm":
        if importlib.util.find_spec("vllm") is None:
            raise BackendNotInstalledError("--backend vllm needs the vllm package, which is not installed", VLLM_INSTALL_HINT)
        module = import_backend_module("evalsuite.backends.vllm", VLLM_INSTALL_HINT)
        return module.VLLMLM(str(spec.path), dtype=dtype, **backend_args)  # type: ignore[no-any-return]
    if backend == "transformers":
        module = import_backend_module("evalsuite.backends.transformers", "pip install evalsuite")
        return module.TransformersLM(str(spec.path), device=pick_device(device), dtype=dtype, **backend_args)  # type: ignore[no-any-return]
    raise ArenaError(f"unknown backend {backend!r}", hint=f"use one of {', '.join(BACKENDS)}")


def has_chat_template(lm: Any) -> bool:
    return bool(getattr(getattr(lm, "tokenizer", None), "chat_template", None))


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
    if request.backend == "vllm":
        return _generate_in_child(request)
    return generate_in_process(request, show_progress)


def generate_in_process(request: GenerationRequest, show_progress: bool) -> GenerationReport:
    from evalsuite.models import resolve_model

    database = open_database(request.db)
    try:
        loaded_mt_bench = False
        if arena_queries.prompt_count(database) == 0:
            arena_queries.add_prompts(database, mt_bench_prompts())
            loaded_mt_bench = True
        spec = resolve_model(request.model)
        key = answer_model_key(spec)
        todo = arena_queries.prompts_without_answer(database, key, request.limit)
        outcome = _Outcome()
        if todo:
            lm = load_lm(spec, request.backend, request.device, request.dtype, **request.backend_args)
            try:
                outcome = _answer(database, request, spec, lm, todo, show_progress)
            finally:
                close_backend(lm)
        remaining = len(arena_queries.prompts_without_answer(database, key))
    finally:
        database.close()
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
        "backend": request.backend, "max_tokens": request.max_tokens, "temperature": request.temperature,
        "greedy": request.temperature == 0, "seed": request.seed, "chat_template": use_chat,
        "prompt_format": "chat_template" if use_chat else PLAIN_PROMPT, "stop": gen_kwargs["until"],
        "weights_sha256": spec.weights_sha256, "revision": spec.revision,
        "tokenizer_sha256": getattr(spec, "tokenizer_sha256", None), "config_sha256": getattr(spec, "config_sha256", None),
    }
    key = answer_model_key(spec)
    outcome = _Outcome(context_tokens=int(lm.max_length))
    if request.temperature > 0:
        import torch

        torch.manual_seed(request.seed)
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


# ---------------------------------------------------------------- vLLM in a child process


def run_in_child(kind: str, request: Any) -> dict[str, Any]:
    """Run ``generate`` or ``judge`` with this module as ``__main__`` in a new interpreter.

    Progress and vLLM's logs go to the shared stderr; the last stdout line is the
    report (or the user error, re-raised here as the same class).
    """
    command = [sys.executable, "-m", "evalsuite.arena.generate", kind, json.dumps(asdict(request))]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    try:
        reply = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        reply = {}
    if "error" in reply:
        error_class = getattr(errors, reply.get("kind", ""), EvalsuiteError)
        raise error_class(reply["error"], reply.get("hint"))
    if done.returncode != 0 or "report" not in reply:
        raise errors.BackendError(
            f"the vLLM {kind} process exited with status {done.returncode}",
            hint="rerun with --backend transformers, or see the messages above",
        )
    return dict(reply["report"])


def _generate_in_child(request: GenerationRequest) -> GenerationReport:
    return GenerationReport(**run_in_child("generate", request))


def _child_main(argv: list[str]) -> int:
    kind, payload = argv[1], json.loads(argv[2])
    try:
        if kind == "judge":
            from evalsuite.arena import judge

            report: Any = judge.judge_in_process(judge.JudgeRequest(**payload), show_progress=True)
        else:
            report = generate_in_process(GenerationRequest(**payload), show_progress=True)
    except EvalsuiteError as error:
        print(json.dumps({"error": error.message, "hint": error.hint, "kind": type(error).__name__}))
        return 1
    print(json.dumps({"report": asdict(report)}))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv))
