"""Answers as they are produced: one protocol, two sources (an OpenAI-compatible server, a model in this process).

A live battle shows both answers growing, so a contestant does not return a text: it
returns a :class:`StreamedAnswer`, an iterator of text pieces in the order they arrive,
which also knows, once finished, how many tokens were generated. Every way a source can
fail — nothing listens, the server answers an error, no piece within the stall timeout,
the stream breaks off — raises one error, :class:`~evalsuite.errors.ContestantFailed`,
naming the contestant and the reason (secrets masked), so the battle needs one handler.

* :class:`EndpointSource`: ``POST /v1/chat/completions`` with ``"stream": true`` through
  the backends' one HTTP client (:class:`~evalsuite.backends._endpoint_client.EndpointClient`);
  the server applies the model's chat template.
* :class:`InProcessSource`: a model loaded once through the backend registry, generating in
  a thread into transformers' ``TextIteratorStreamer``, prompts framed by the tokenizer's
  chat template (the demo models ship one).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from evalsuite.backends import BackendOptions, close_backend, load_backend
from evalsuite.backends._endpoint_client import EndpointClient
from evalsuite.backends.openai_compat import make_client
from evalsuite.errors import ContestantFailed, EvalsuiteError
from evalsuite.redact import mask_secrets

if TYPE_CHECKING:
    from evalsuite.identity.models import ModelSpec

Messages = list[dict[str, str]]
STREAM_CONNECTIONS = 64  # answers in flight at once to one server (many people, two sides each)
# transformers' loading is not thread-safe (two models loading at once in two threads can be left on
# the meta device): models load one at a time, whichever battle asks first.
_LOAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class Sampling:
    """How a contestant samples: stored beside every answer it gives."""

    temperature: float = 0.7
    max_new_tokens: int = 256


class StreamedAnswer:
    """Text pieces as they arrive (iterate it once); ``tokens`` is known when it is exhausted."""

    def __init__(self, pieces: Iterator[str], tokens: Callable[[], int | None]) -> None:
        self._pieces = pieces
        self._tokens = tokens

    def __iter__(self) -> Iterator[str]:
        return self._pieces

    @property
    def tokens(self) -> int | None:
        return self._tokens()


class AnswerSource(Protocol):
    """Where a contestant's answers come from."""

    def stream(self, messages: Messages, sampling: Sampling) -> StreamedAnswer: ...

    def healthy(self) -> bool:
        """Whether it can answer now (asked when a round starts: a source that cannot is skipped)."""
        ...

    def close(self) -> None: ...


def failed(contestant: str, error: BaseException | str) -> ContestantFailed:
    """The one error of a failing source, its reason one line with secrets masked."""
    reason = error.message if isinstance(error, EvalsuiteError) else str(error) or type(error).__name__
    return ContestantFailed(contestant, mask_secrets(reason.splitlines()[0] if reason else "no detail"))


# ---------------------------------------------------------------- an OpenAI-compatible server


class EndpointSource:
    """``/v1/chat/completions`` streamed from a server that serves the contestant as ``served_name``."""

    def __init__(self, contestant: str, base_url: str, served_name: str, api_key_env: str | None, stall_s: float) -> None:
        self.contestant = contestant
        self.served_name = served_name
        self.stall_s = stall_s
        self.client: EndpointClient = make_client(base_url, api_key_env, {"max_retries": 0, "timeout_s": 30.0}, STREAM_CONNECTIONS)

    def stream(self, messages: Messages, sampling: Sampling) -> StreamedAnswer:
        payload = {
            "model": self.served_name, "messages": messages, "max_tokens": sampling.max_new_tokens,
            "temperature": sampling.temperature, "stream_options": {"include_usage": True},
        }
        counted: dict[str, int] = {}
        return StreamedAnswer(self._pieces(payload, counted), lambda: counted.get("tokens"))

    def _pieces(self, payload: dict[str, Any], counted: dict[str, int]) -> Iterator[str]:
        pieces = 0
        try:
            for event in self.client.stream("/chat/completions", payload, stall_s=self.stall_s):
                usage = event.get("usage") if isinstance(event, dict) else None
                if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                    counted["tokens"] = usage["completion_tokens"]
                text = _delta_text(event)
                if text:
                    pieces += 1
                    yield text
        except EvalsuiteError as error:
            raise failed(self.contestant, error) from error
        counted.setdefault("tokens", pieces)  # a server that reports no usage: one piece is about one token

    def healthy(self) -> bool:
        try:
            self.client.get("/models", first_contact=True)
        except EvalsuiteError:
            return False
        return True

    def close(self) -> None:
        self.client.close()


def _delta_text(event: Any) -> str:
    choices = event.get("choices") if isinstance(event, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""  # the usage event at the end has no choices
    delta = choices[0].get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


# ---------------------------------------------------------------- a model in this process


class InProcessSource:
    """A local model loaded once (on first use) through the backend registry, generating into a streamer."""

    def __init__(self, contestant: str, spec: ModelSpec, options: BackendOptions, stall_s: float) -> None:
        self.contestant = contestant
        self.spec = spec
        self.options = options
        self.stall_s = stall_s
        self._lm: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        with self._lock:
            if self._lm is None:
                with _LOAD_LOCK:
                    self._lm = load_backend(self.spec, self.options)
            return self._lm

    def warm(self) -> None:
        """Load the model now (a server does this before its first visitor)."""
        self._model()

    def stream(self, messages: Messages, sampling: Sampling) -> StreamedAnswer:
        try:
            lm = self._model()
            inputs = lm.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        except Exception as error:  # a model that cannot load or frame the turns fails this round, not the server
            raise failed(self.contestant, error) from error
        streamer = _streamer(lm.tokenizer, self.stall_s)
        device = next(lm.model.parameters()).device
        kwargs: dict[str, Any] = {
            **{name: tensor.to(device) for name, tensor in inputs.items()}, "streamer": streamer,
            "max_new_tokens": sampling.max_new_tokens, "pad_token_id": lm.tokenizer.pad_token_id,
        }
        kwargs.update({"do_sample": True, "temperature": sampling.temperature} if sampling.temperature > 0 else {"do_sample": False})
        errors: list[BaseException] = []
        worker = threading.Thread(target=_generate, args=(lm.model, kwargs, streamer, errors), daemon=True)
        worker.start()
        return StreamedAnswer(self._pieces(streamer, errors), lambda: streamer.generated)

    def _pieces(self, streamer: Any, errors: list[BaseException]) -> Iterator[str]:
        try:
            for text in streamer:
                if text:
                    yield text
        except queue.Empty as stalled:
            raise failed(self.contestant, f"no piece of the answer within {self.stall_s:g} s") from stalled
        if errors:
            raise failed(self.contestant, errors[0]) from errors[0]

    def healthy(self) -> bool:
        return True  # in this process: it answers when this process does

    def close(self) -> None:
        with self._lock:
            if self._lm is not None:
                close_backend(self._lm)
                self._lm = None


def _generate(model: Any, kwargs: dict[str, Any], streamer: Any, errors: list[BaseException]) -> None:
    """``model.generate`` in a worker thread; an error is kept for the reader and the stream ended."""
    import torch

    try:
        with torch.inference_mode():
            model.generate(**kwargs)
    except Exception as error:  # handed to the reading thread, which raises it as the contestant's failure
        errors.append(error)
        streamer.end()


def _streamer(tokenizer: Any, stall_s: float) -> Any:
    """A ``TextIteratorStreamer`` that also counts the tokens generated (``generated``)."""
    from transformers import TextIteratorStreamer

    class CountingStreamer(TextIteratorStreamer):
        generated = 0

        def put(self, value: Any) -> None:
            if not self.next_tokens_are_prompt:
                self.generated += int(value.numel())
            super().put(value)

    return CountingStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=stall_s)
