"""What every judged task shares: the protocol the judged adapter calls, the context it hands over,
and the chat and generation plumbing both the model under test and the judge go through.

Both models are lm-eval ``LM`` objects wrapped in the request cache
(:class:`evalsuite.backends.cache.CachedLM`), so answers and judgments are resumable and
re-served; generation goes through ``generate_until`` as any generation task's does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from evalsuite.errors import JudgeError
from evalsuite.store.schema import MetricRecord, SampleRecord


@dataclass(frozen=True)
class JudgedContext:
    """What a judged task gets from the runner.

    Attributes:
        run_id: the run the metric and sample rows belong to.
        model_lm: the model under test (cached).
        judge_lm: builds (once) and returns the judge (cached); called only when needed.
        limit: at most this many documents (None: all).
        seed: seeds torch before sampled generation.
        system_instruction: a system message for the model under test (``--system-instruction``).
        max_new_tokens: the model's new tokens per turn (``--gen-kwarg max_gen_toks``; None: the task's).
        judge_max_tokens: the judge's new tokens per judgment (None: the task's).
        judge_label: the judge in words (``name [backend] key8``), for messages and rows.
        judge_key: the judge's fingerprint (identity key, prompt set, settings).
        model_label: the model's name, for messages.
        report: progress lines.
        release_model: frees the model under test once its answers are in (a GPU then holds one
            engine at a time: the model's, then the judge's).
    """

    run_id: int
    model_lm: Any
    judge_lm: Callable[[], Any]
    limit: int | None = None
    seed: int | None = None
    system_instruction: str | None = None
    max_new_tokens: int | None = None
    judge_max_tokens: int | None = None
    judge_label: str = ""
    judge_key: str = ""
    model_label: str = ""
    report: Callable[[str], None] = print
    release_model: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class JudgedOutcome:
    """Rows to store and the line to print."""

    metrics: list[MetricRecord]
    samples: list[SampleRecord] = field(default_factory=list)
    summary_line: str = ""


class JudgedTask(Protocol):
    """A task whose answers are graded by a judge model (see :mod:`evalsuite.judged`)."""

    name: str
    version: str
    prompt_set: str
    metrics: tuple[str, ...]
    description: str
    judge_max_tokens: int
    turns: int  # answers per document, each graded by one judgment (the run's request counts follow from it)

    def available(self) -> int: ...
    def documents(self, limit: int | None) -> int: ...
    def data_source(self) -> str: ...
    def evaluate(self, context: JudgedContext) -> JudgedOutcome: ...


def speaks_chat(lm: Any) -> bool:
    """Whether ``lm`` can take a conversation: a tokenizer chat template, or a chat endpoint (its server's template)."""
    if getattr(lm, "api", None) == "chat":  # --backend openai with api=chat: the server applies its template
        return True
    return bool(getattr(getattr(lm, "tokenizer", None), "chat_template", None))


def chat_context(lm: Any, messages: list[dict[str, str]], label: str) -> str:
    """``messages`` through ``lm``'s chat template, generation prompt appended; a clear error without one."""
    if not speaks_chat(lm):
        raise JudgeError(f"{label} has no chat template, which MT-Bench needs (both turns are chat turns)", "use a chat (instruct) model")
    try:
        return str(lm.apply_chat_template(messages, add_generation_prompt=True))
    except Exception as exc:  # jinja's TemplateError and raise_exception: the template refuses these roles
        raise JudgeError(
            f"the chat template of {label} refuses this conversation ({', '.join(m['role'] for m in messages)}): {exc}".splitlines()[0],
            "use a model whose chat template takes system, user and assistant turns",
        ) from exc


def generation_room(lm: Any, context: str, wanted: int) -> int:
    """New tokens that fit after ``context`` in ``lm``'s window, at most ``wanted`` (< 1: the prompt does not fit).

    A chat endpoint's context is its JSON turns; with the served model's tokenizer at hand
    they are measured through its chat template (what a vLLM server applies), else (no
    local tokenizer or template: OpenAI's API) ``wanted`` is returned and the server decides.
    """
    tokenizer = getattr(lm, "tokenizer", None)
    if tokenizer is None:
        return wanted
    if getattr(lm, "api", None) == "chat":
        if not getattr(tokenizer, "chat_template", None):
            return wanted
        text = tokenizer.apply_chat_template(json.loads(context), add_generation_prompt=True, tokenize=False)
        used = len(tokenizer.encode(str(text), add_special_tokens=False))
    else:
        used = len(lm.tok_encode(context))
    return min(wanted, int(lm.max_length) - used)


def generate_texts(lm: Any, items: Sequence[tuple[str, dict[str, Any]]], seed: int | None) -> list[str]:
    """``generate_until`` on (context, settings) pairs, in order; torch seeded first when a seed is given."""
    from lm_eval.api.instance import Instance

    if not items:
        return []
    if seed is not None:
        import torch

        torch.manual_seed(seed)
    requests = [Instance("generate_until", {}, (context, dict(kwargs)), index) for index, (context, kwargs) in enumerate(items)]
    return [str(text) for text in lm.generate_until(requests)]
